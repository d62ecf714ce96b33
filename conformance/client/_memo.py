"""The run's memory of answers, so that an identical request need not be sent twice.

Every answer to a GET or HEAD is remembered under a digest of the request as sent
(method, URL, every header, credentials included, and body); a request marked
``reuse`` that is identical to one already answered gets the remembered answer
instead of going out again. Only answers whose body is at most
:data:`MAX_REMEMBERED_BODY` bytes are kept, so the memory stays bounded whatever
the target sends: a request whose earlier answer was larger is sent again.
"""

from __future__ import annotations

import hashlib
import threading

import httpx

MAX_REMEMBERED_BODY = 16_384  # bytes of a body kept for reuse
REMEMBERED_METHODS = frozenset({"GET", "HEAD"})


def request_key(request: httpx.Request) -> bytes:
    """A digest of everything that goes on the wire for the request (the secrets in it never kept)."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), str(request.url).encode(), request.content):
        digest.update(len(part).to_bytes(8, "big") + part)
    for name, value in request.headers.raw:
        digest.update(len(name).to_bytes(8, "big") + name + len(value).to_bytes(8, "big") + value)
    return digest.digest()


class Memo:
    """Answers to the run's GET and HEAD requests, by request_key; thread-safe."""

    def __init__(self) -> None:
        self._answers: dict[bytes, httpx.Response] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, request: httpx.Request) -> httpx.Response | None:
        """The remembered answer to an identical request, if there is one."""
        with self._lock:
            return self._answers.get(request_key(request))

    def remember(self, request: httpx.Request, response: httpx.Response) -> None:
        """Keep the answer, if the request is a GET or HEAD and the body small enough."""
        if request.method in REMEMBERED_METHODS and len(response.content) <= MAX_REMEMBERED_BODY:
            with self._lock:
                self._answers.setdefault(request_key(request), response)
