"""Reading a response body within the cap, decoding gzip and deflate without inflating past it."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import httpx

from conformance.client._deadline import passed


def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """The decoded body, at most cap bytes of it; True when there was more.

    gzip and deflate are decoded here, never more than the cap: a small compressed body
    that inflates to gigabytes stops at the cap like a huge plain one.
    """
    decoder = bounded_decoder(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        pieces = decoder(raw, cap - size + 1) if decoder else [raw]
        for piece in pieces:
            room = cap - size
            if len(piece) > room:
                chunks.append(piece[:room])
                return b"".join(chunks), True
            chunks.append(piece)
            size += len(piece)
        if passed():
            raise httpx.ReadTimeout("the request's deadline passed", request=response.request)
    return b"".join(chunks), False


def bounded_decoder(content_encoding: str) -> Callable[[bytes, int], list[bytes]] | None:
    """A gzip/deflate decoder that never inflates more than asked at a time; None for other encodings.

    Encodings the suite did not ask for (br, zstd ...) are kept as they came, capped like any body.
    """
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        state = {"d": zlib.decompressobj(16 + zlib.MAX_WBITS)}
    elif encoding == "deflate":
        state = {"d": zlib.decompressobj(zlib.MAX_WBITS), "first": True}
    else:
        return None

    def decode(raw: bytes, max_out: int) -> list[bytes]:
        pieces: list[bytes] = []
        try:
            data = state["d"].decompress(raw, max_out)
        except zlib.error:
            if not state.pop("first", False):
                raise httpx.DecodingError(f"invalid {encoding} body") from None
            state["d"] = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, without the zlib header
            data = state["d"].decompress(raw, max_out)
        state.pop("first", None)
        pieces.append(data)
        produced = len(data)
        while state["d"].unconsumed_tail and produced < max_out:
            try:
                data = state["d"].decompress(state["d"].unconsumed_tail, max_out - produced)
            except zlib.error:
                raise httpx.DecodingError(f"invalid {encoding} body") from None
            pieces.append(data)
            produced += len(data)
        return pieces

    return decode
