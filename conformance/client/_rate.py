"""Pacing: the rate limiter, and waiting out throttled answers (429, 503 with Retry-After)."""

from __future__ import annotations

import math
import threading
import time
from email.utils import parsedate_to_datetime

import httpx

from conformance.client._errors import Throttled
from conformance.client._limits import ClientLimits


class RateLimiter:
    """Lets a request go at least 1/max_rps seconds after the one before (thread-safe).

    The spacing counts from when the previous request was let go, with 2% slack for the
    jitter between letting a request go and its reaching the target: so no one-second
    window ever sees more than max_rps requests. Threads queue on the lock in turn.
    """

    SLACK = 1.02

    def __init__(self, max_rps: float | None) -> None:
        self._interval = self.SLACK / max_rps if max_rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            while (remaining := self._next - time.monotonic()) > 0:
                time.sleep(remaining)
            self._next = time.monotonic() + self._interval


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before trying again, or None when the answer is not a throttle."""
    if response.status_code not in (429, 503):
        return None
    default = None if response.status_code == 503 else 1.0
    value = response.headers.get("retry-after")
    if value is None:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return default
    if not math.isfinite(seconds):
        return default
    return max(seconds, 0.0)


class ThrottleWaits:
    """How long the run waited for throttling; says when a throttled request must give up instead."""

    def __init__(self, limits: ClientLimits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self.responses = 0
        self.wait_s = 0.0

    def wait(self, wait: float, attempt: int, why: str) -> None:
        """Sleep as told by Retry-After, or raise Throttled when a bound of the run forbids it."""
        limits = self._limits
        if wait > limits.max_retry_wait_s:
            raise Throttled(
                f"{why} with Retry-After {wait:.0f} s, longer than the "
                f"{limits.max_retry_wait_s:.0f} s the suite waits"
            )
        if attempt == limits.max_retries:
            raise Throttled(f"{why} to every try ({attempt + 1} tries, waiting as told by Retry-After)")
        with self._lock:
            if self.wait_s + wait > limits.max_total_retry_wait_s:
                raise Throttled(
                    f"{why}; the run already waited {self.wait_s:.0f} s for throttling, "
                    f"the most it waits in all is {limits.max_total_retry_wait_s:.0f} s"
                )
            self.responses += 1
            self.wait_s += wait
        time.sleep(wait)
