"""One planning pass of the client (``conformance.planning``): the requests noted, the answers used."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from conformance.client._errors import Planned
from conformance.client._memo import REMEMBERED_METHODS, Memo


@dataclass(frozen=True)
class PlannedRequest:
    """A request a planning pass noted: its key (``request_key``), and the call that sends it."""

    key: bytes
    send: Callable[[], httpx.Response]


class Plan:
    """What a planning pass asked of the client: the requests it had no answer for, in the order noted
    (each once a pass), and how many outcomes sent ahead it used (``claims``). Each use of a request
    claims the next outcome sent ahead for it, in turn, as in the run; a GET or HEAD with none left
    gets the answer the run remembers."""

    def __init__(self, memo: Memo) -> None:
        self._memo = memo
        self.requests: list[PlannedRequest] = []
        self.claims = 0
        self._uses: Counter[bytes] = Counter()
        self._noted: set[bytes] = set()

    def answer(self, key: bytes, method: str) -> httpx.Response | None:
        """The answer the run will have for this request, at this point of the pass, if any (the error
        it will get instead, raised)."""
        nth = self._uses[key]
        self._uses[key] += 1
        if (outcome := self._memo.peek(key, nth)) is not None:
            self.claims += 1
            return outcome.result()
        return self._memo.get(key) if method in REMEMBERED_METHODS else None

    def note(self, key: bytes, send: Callable[[], httpx.Response]) -> Planned:
        """Note a request with no answer yet, to be sent ahead (unless already noted in this pass: one
        answer may serve them all, as a token does; nor when its outcome could not be kept); the Planned
        that stops its check."""
        if key not in self._noted and not self._memo.dropped(key):
            self._noted.add(key)
            self.requests.append(PlannedRequest(key, send))
        return Planned("the request is sent ahead of the run")
