"""The run's memory of answers, so that an identical request is not sent twice.

Every answer to a GET or HEAD is remembered under a digest of the request as sent
(method, URL, every header, credentials included, and body): a GET or HEAD
identical to one already answered gets the remembered answer instead of going
out again. An answer sent ahead of its request (``conformance.planning``) is
kept, whatever its method, until the request is made, and so is the transport
error a request sent ahead got instead of an answer. Only answers whose body
is at most :data:`MAX_REMEMBERED_BODY` bytes are kept, so the memory stays
bounded whatever the target sends: a request whose earlier answer was larger is
sent again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque

import httpx

from conformance.results import Exchange

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
    """Answers to the run's GET and HEAD requests, and answers sent ahead, by request_key; thread-safe."""

    def __init__(self) -> None:
        self._answers: dict[bytes, httpx.Response] = {}  # GET and HEAD, for the whole run
        self._ahead: dict[bytes, deque[httpx.Response]] = {}  # other methods sent ahead, in the order sent
        self._unclaimed: set[bytes] = set()  # GET and HEAD sent ahead, not yet asked for by a check
        self._failures: dict[bytes, tuple[httpx.HTTPError, Exchange]] = {}  # sent ahead, no answer
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: bytes) -> httpx.Response | None:
        """The remembered answer to an identical GET or HEAD, if there is one."""
        with self._lock:
            return self._answers.get(key)

    def first_claim(self, key: bytes) -> bool:
        """Whether the GET or HEAD answer under key was sent ahead and no check asked for it yet (then
        it counts as asked for)."""
        with self._lock:
            if key in self._unclaimed:
                self._unclaimed.discard(key)
                return True
            return False

    def claim(self, key: bytes) -> httpx.Response | None:
        """The earliest answer sent ahead for an identical request (not a GET or HEAD), handed out once."""
        with self._lock:
            answers = self._ahead.get(key)
            return answers.popleft() if answers else None

    def peek(self, key: bytes, nth: int) -> httpx.Response | None:
        """The answer the nth identical request (from 0) would claim, left in place: a planning pass."""
        with self._lock:
            answers = self._ahead.get(key, ())
            return answers[nth] if nth < len(answers) else None

    def remember(
        self, key: bytes, request: httpx.Request, response: httpx.Response, *, ahead: bool = False
    ) -> None:
        """Keep the answer if its body is small enough: a GET or HEAD for the run; an answer to any
        other method only when it was sent ahead, until an identical request claims it."""
        if len(response.content) > MAX_REMEMBERED_BODY:
            return
        with self._lock:
            if request.method in REMEMBERED_METHODS:
                self._answers.setdefault(key, response)
                if ahead:
                    self._unclaimed.add(key)
            elif ahead:
                self._ahead.setdefault(key, deque()).append(response)

    def fail(self, key: bytes, error: httpx.HTTPError, exchange: Exchange) -> None:
        """A request sent ahead got no answer: its check gets this error (and evidence) instead."""
        with self._lock:
            self._failures[key] = (error, exchange)

    def failure(self, key: bytes) -> tuple[httpx.HTTPError, Exchange] | None:
        """The error a request sent ahead got, left in place (a planning pass)."""
        with self._lock:
            return self._failures.get(key)

    def claim_failure(self, key: bytes) -> tuple[httpx.HTTPError, Exchange] | None:
        """The error a request sent ahead got, and its evidence, handed out once."""
        with self._lock:
            return self._failures.pop(key, None)

    def unclaimed(self) -> int:
        """How many answers sent ahead no check asked for (requests planned, then not made)."""
        with self._lock:
            ahead = sum(len(answers) for answers in self._ahead.values())
            return len(self._unclaimed) + ahead + len(self._failures)
