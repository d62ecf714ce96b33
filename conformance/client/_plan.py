"""One planning pass of the client (``conformance.planning``): the requests noted, the answers used."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import httpx

from conformance.client._errors import Planned
from conformance.client._memo import REMEMBERED_METHODS, Memo

Call = Callable[[], httpx.Response]


class Plan:
    """What a planning pass asked of the client: the requests it had no answer for, in the order noted
    (each once a pass), and how many answers sent ahead for requests other than GET or HEAD it used
    (``claims``): each use of one of those claims its own answer, in turn, as in the run."""

    def __init__(self, memo: Memo) -> None:
        self._memo = memo
        self.calls: list[Call] = []
        self.claims = 0
        self._uses: Counter[bytes] = Counter()
        self._noted: set[bytes] = set()

    def answer(self, key: bytes, method: str) -> httpx.Response | None:
        """The answer the run will have for this request, at this point of the pass, if any; the
        transport error it will get instead, raised."""
        if (failure := self._memo.failure(key)) is not None:
            raise failure[0]
        if method in REMEMBERED_METHODS:
            return self._memo.get(key)
        nth = self._uses[key]
        self._uses[key] += 1
        answer = self._memo.peek(key, nth)
        if answer is not None:
            self.claims += 1
        return answer

    def note(self, key: bytes, method: str, call: Call) -> Planned:
        """Note a request with no answer yet, to be sent ahead; the Planned that stops its check."""
        if key not in self._noted:  # once a pass: a token request's answer may serve the rest
            self._noted.add(key)
            self.calls.append(call)
        return Planned("the request is sent ahead of the run")
