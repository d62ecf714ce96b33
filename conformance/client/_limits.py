"""The bounds a run keeps to (:class:`ClientLimits`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientLimits:
    """The bounds a run keeps to. None means unbounded."""

    timeout_s: float = 10.0  # the whole of one request: connect, send, headers and body
    max_requests: int | None = 2_000
    max_rps: float | None = None
    max_body_bytes: int = 1_000_000
    max_retries: int = 3  # retries of one throttled request
    max_retry_wait_s: float = 30.0  # longest Retry-After the suite waits for
    max_total_retry_wait_s: float = 120.0  # all throttling waits of the run together
    max_failures_in_a_row: int = 3  # timeouts / failed connections in a row before the breaker opens
    max_failures: int = 10  # timeouts / failed connections in total before the breaker opens
