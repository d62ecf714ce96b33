"""The run's memory of answers, so that an identical request is not sent twice.

Every answer to a GET or HEAD is remembered under a digest of the request as sent
(method, URL, every header, credentials included, and body): a GET or HEAD
identical to one already answered gets the remembered answer instead of going
out again. Only answers whose body is at most :data:`MAX_REMEMBERED_BODY` bytes
are kept for the run, so the memory stays bounded whatever the target sends: a
request whose earlier answer was larger is sent again.

What a request sent ahead of its check got (``conformance.planning``): an
answer, or the error that ended it (no answer, throttled on every try), with the
exchanges of every try, is kept until an identical request claims it, whatever
its method; identical requests sent ahead more than once are claimed in the
order they were sent. Those outcomes are held up to :data:`MAX_AHEAD_BYTES` of
bodies in all; a request whose outcome is not kept is marked ``dropped``, and
its check sends it itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass

import httpx

from conformance.results import Exchange

MAX_REMEMBERED_BODY = 16_384  # bytes of a body kept for reuse
MAX_AHEAD_BYTES = 32_000_000  # bytes of the bodies sent ahead held at once
REMEMBERED_METHODS = frozenset({"GET", "HEAD"})


def request_key(request: httpx.Request) -> bytes:
    """A digest of everything that goes on the wire for the request (the secrets in it never kept)."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), str(request.url).encode(), request.content):
        digest.update(len(part).to_bytes(8, "big") + part)
    for name, value in request.headers.raw:
        digest.update(len(name).to_bytes(8, "big") + name + len(value).to_bytes(8, "big") + value)
    return digest.digest()


@dataclass(frozen=True)
class Outcome:
    """What a request got: its answer, or the error that ended it; and the exchanges of its tries."""

    answer: httpx.Response | BaseException
    exchanges: tuple[Exchange, ...]

    def result(self) -> httpx.Response:
        """The answer; the error, raised."""
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class Memo:
    """Answers to the run's GET and HEAD requests, and outcomes sent ahead, by request_key; thread-safe."""

    def __init__(self) -> None:
        self._answers: dict[bytes, httpx.Response] = {}  # GET and HEAD, for the whole run
        self._ahead: dict[bytes, deque[Outcome]] = {}  # sent ahead, until claimed, in the order sent
        self._ahead_bytes = 0
        self._dropped: set[bytes] = set()  # sent ahead, outcome not kept: its check sends it again
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: bytes) -> httpx.Response | None:
        """The remembered answer to an identical GET or HEAD, if there is one."""
        with self._lock:
            return self._answers.get(key)

    def remember(self, key: bytes, request: httpx.Request, response: httpx.Response) -> None:
        """Keep the answer to a GET or HEAD for the run, if its body is small enough."""
        if request.method in REMEMBERED_METHODS and len(response.content) <= MAX_REMEMBERED_BODY:
            with self._lock:
                self._answers.setdefault(key, response)

    def keep_ahead(self, key: bytes, outcome: Outcome) -> None:
        """Keep what a request sent ahead got, for the identical request of a check to claim."""
        size = len(outcome.answer.content) if isinstance(outcome.answer, httpx.Response) else 0
        with self._lock:
            if self._ahead_bytes + size > MAX_AHEAD_BYTES:
                self._dropped.add(key)
                return
            self._ahead_bytes += size
            self._ahead.setdefault(key, deque()).append(outcome)

    def claim(self, key: bytes) -> Outcome | None:
        """The earliest outcome sent ahead for an identical request, handed out once."""
        with self._lock:
            outcomes = self._ahead.get(key)
            if not outcomes:
                return None
            outcome = outcomes.popleft()
            if isinstance(outcome.answer, httpx.Response):
                self._ahead_bytes -= len(outcome.answer.content)
            return outcome

    def peek(self, key: bytes, nth: int) -> Outcome | None:
        """The outcome the nth identical request (from 0) would claim, left in place: a planning pass."""
        with self._lock:
            outcomes = self._ahead.get(key, ())
            return outcomes[nth] if nth < len(outcomes) else None

    def dropped(self, key: bytes) -> bool:
        """Whether a request sent ahead had its outcome dropped (MAX_AHEAD_BYTES): no use planning it."""
        with self._lock:
            return key in self._dropped

    def unclaimed(self) -> int:
        """How many outcomes sent ahead no check claimed (requests planned, then not made)."""
        with self._lock:
            return sum(len(outcomes) for outcomes in self._ahead.values())
