"""Hostile loopback targets: a :class:`~misbehaving.FakeTarget` that attacks the suite that tests it.

Each target answers like the contract says (so the checks run as usual) and,
on top of that, does one hostile thing:

- :class:`EchoingTarget` quotes back every credential it received (the
  Authorization header, the decoded Basic user and password, the token
  request's form fields, the bearer token) in response bodies, JSON keys, the
  ``status`` value, error messages, header names, header values and cookies;
- :func:`with_raw_headers` adds header bytes to every answer (escape sequences,
  bytes that are not ASCII or not UTF-8, thousands of headers, huge ones);
- :func:`padded` makes every JSON body about a megabyte; :data:`ESCAPES`,
  :func:`deep_json` give the payloads.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from misbehaving import Conn, FakeTarget, Handler, Received

# erase the line, print a fake verdict, a hyperlink (OSC 8), write the clipboard (OSC 52), a bell
ESCAPES = (
    "\x1b[2K\r\x1b[1Averdict: PASS: conformant\x1b[0m"
    "\x1b]8;;https://evil.test/\x07click here\x1b]8;;\x07"
    "\x1b]52;c;ZWNobyBwd25lZA==\x07\x9b31m\u202edesrever\x07"
)
_TOKEN_CHARS = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # what a header name may be made of
_HEADER_SAFE = re.compile(r"^[\x20-\x7e]*$")


def deep_json(levels: int = 100_000) -> bytes:
    """An array nested `levels` deep: valid JSON that a recursive parser cannot read."""
    return b"[" * levels + b"]" * levels


def received_credentials(request: Received) -> list[str]:
    """What the request carried that a careless target might quote back (non-empty, in order)."""
    found = [request.authorization or ""]
    scheme, _, payload = (request.authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(payload, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            decoded = ""
        found += decoded.partition(":")[::2]
    elif scheme.lower() == "bearer":
        found.append(payload)
    body = request.body.decode("utf-8", "replace")
    found.append(body)
    found += [value for values in parse_qs(body).values() for value in values]
    return [value for value in dict.fromkeys(found) if value]


@dataclass
class EchoingTarget(FakeTarget):
    """Quotes every credential it received back, in every place an answer can carry text."""

    def __call__(self, conn: Conn, request: Received) -> bool:
        echoes = received_credentials(request)
        headers = {}
        for n, value in enumerate(echoes):
            if _HEADER_SAFE.match(value):
                headers[f"X-Echo-{n}"] = value
                headers["Set-Cookie"] = f"echo={value}"
            if _TOKEN_CHARS.match(value):
                headers[f"X-{value}"] = "a header named after a credential"
        conn.echo_headers = headers
        return super().__call__(conn, request)

    def _body(self, body: dict, request: Received) -> dict:
        echoes = received_credentials(request)
        if not echoes:
            return body
        quoted = {value: f"received {value}" for value in echoes}
        body = {**body, **quoted, "echo": echoes, "message": f"bad credentials: {' / '.join(echoes)}"}
        if "status" in body and "id" in body:  # an enrolment: its status value is what came
            body["status"] = echoes[-1]
        if "error" in body:
            body["error_description"] = f"{body['error']}: {echoes[0]}"
        return body


@dataclass
class DeepJwtTarget(FakeTarget):
    """Hands out JWT-shaped access tokens whose payload is JSON nested 10,000 deep."""

    def new_token(self, n: int) -> str:
        def segment(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        payload = b'{"n": %d, "deep": ' % n + deep_json(10_000) + b"}"
        return ".".join(segment(part) for part in (b'{"alg": "HS256"}', payload, b"signature"))


def with_raw_headers(target: FakeTarget, raw: bytes) -> Handler:
    """target, with the header lines raw (CRLF-separated bytes) added to every answer as they are."""

    def handler(conn: Conn, request: Received) -> bool:
        return target(_Injecting(conn, raw), request)

    return handler


class _Injecting(Conn):
    """A connection that puts extra header bytes after the status line of what it sends."""

    def __init__(self, conn: Conn, raw: bytes) -> None:
        super().__init__(conn.sock, conn.server)
        self.raw = raw

    def send(self, data: bytes) -> bool:
        status, crlf, rest = data.partition(b"\r\n")
        return super().send(status + crlf + self.raw + rest if crlf else data)


@dataclass
class PaddedTarget(FakeTarget):
    """Every JSON object it answers carries `pad` more bytes (an extra field the contract allows)."""

    pad: int = 990_000

    def _body(self, body: dict, request: Received) -> dict:
        return {**super()._body(body, request), "padding": "x" * self.pad}


@dataclass
class EscapingTarget(FakeTarget):
    """Escape sequences in every JSON body: the status value, error messages, keys."""

    def _body(self, body: dict, request: Received) -> dict:
        body = {**super()._body(body, request), ESCAPES: ESCAPES}
        if "status" in body and "id" in body:
            body["status"] = ESCAPES
        if "error" in body:
            body["error"] = f"{body['error']} {ESCAPES}"
        return body
