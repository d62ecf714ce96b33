"""The circuit breaker: after a few timeouts or failed connections an endpoint gets no more requests."""

from __future__ import annotations

import threading

from conformance.client._errors import TargetUnresponsive


class Breaker:
    """Counts timeouts and failed connections of one endpoint kind; opens for the rest of the run.

    Thread-safe: requests sent concurrently count in the order their answers (or failures) come.
    """

    def __init__(self, what: str, in_a_row: int, total: int) -> None:
        self.what = what
        self._in_a_row_limit = in_a_row
        self._total_limit = total
        self.in_a_row = 0
        self.total = 0
        self.open_reason: str | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        if self.open_reason:
            raise TargetUnresponsive(self.open_reason)

    def success(self) -> None:
        with self._lock:
            self.in_a_row = 0

    def failure(self, cause: str) -> None:
        with self._lock:
            self._count(cause)

    def _count(self, cause: str) -> None:
        self.in_a_row += 1
        self.total += 1
        if self.open_reason is None and (
            self.in_a_row >= self._in_a_row_limit or self.total >= self._total_limit
        ):
            counted = (
                f"{self.in_a_row} requests in a row"
                if self.in_a_row >= self._in_a_row_limit
                else (f"{self.total} requests")
            )
            self.open_reason = (
                f"{self.what} stopped answering: {counted} failed, the last one {cause}; "
                "the suite sent it no more requests"
            )
