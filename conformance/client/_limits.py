"""The bounds a run keeps to (:class:`ClientLimits`), and its whole-run deadline (:class:`RunDeadline`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from conformance.client._errors import RunDeadlineExceeded

DEFAULT_MAX_DURATION_S = 1800.0  # 30 minutes: a full run takes seconds, a throttled one minutes
# the first backoff from the bundled reference target (no Retry-After): it is the suite's own, no need
# to back off politely from it
REFERENCE_BACKOFF_BASE_S = 0.01
# Generated requests in flight at once. Enough to keep to the default --max-rps (20) of a named target
# with round trips up to 200 ms (20 rps x 0.2 s = 4 in flight); few enough that a target without a rate
# limit (loopback) sees a handful of connections, not a flood, and threads do not fight over a small CI box.
DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True)
class ClientLimits:
    """The bounds a run keeps to. None means unbounded."""

    timeout_s: float = 10.0  # the whole of one request: connect, send, headers and body
    max_requests: int | None = 2_000
    max_rps: float | None = None
    max_body_bytes: int = 1_000_000
    # retries of one throttled request (with 1 in 4 throttled, 11 throttled tries in a row: 1 in 4 million)
    max_retries: int = 10
    max_retry_wait_s: float = 60.0  # a longer Retry-After is waited for this long, then retried
    backoff_base_s: float = 0.5  # no Retry-After: a random wait of up to base * 2**retry (full jitter)...
    backoff_cap_s: float = 30.0  # ... and never more than this
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S  # the whole run; past it the run has no verdict
    max_failures_in_a_row: int = 3  # timeouts / failed connections in a row before the breaker opens
    max_failures: int = 10  # timeouts / failed connections in total before the breaker opens
    concurrency: int = DEFAULT_CONCURRENCY  # generated requests in flight at once (1: one after another)


class RunDeadline:
    """The moment the run must stop sending (--max-duration after it started); None: no deadline."""

    def __init__(self, max_duration_s: float | None) -> None:
        self.max_duration_s = max_duration_s
        self._at = None if max_duration_s is None else time.monotonic() + max_duration_s
        self.passed = False

    def check(self, wait_s: float = 0.0, why: str = "") -> None:
        """Raise RunDeadlineExceeded when the deadline has passed, or would pass during a wait of wait_s."""
        if self._at is None or time.monotonic() + wait_s < self._at:
            return
        self.passed = True
        waiting = f" ({why}, the wait would end after it)" if why and wait_s else ""
        raise RunDeadlineExceeded(
            f"the run reached its --max-duration of {self.max_duration_s:g} s{waiting}; "
            "the suite sent no more requests"
        )
