"""Throttled answers (429, 503): when to retry, how long to wait first, and what the run met.

A 429, or a 503 with ``Retry-After``, is retried after the wait it asks for
(``Retry-After`` in seconds or as an HTTP-date, at most ``max_retry_wait_s``);
a 429 without ``Retry-After`` after an exponential backoff with full jitter (a
random wait of up to ``backoff_base_s * 2**retry``, at most ``backoff_cap_s``).
Every 429 and 503 lowers the rate (:class:`RateLimiter`). A 503 that does not
ask for a retry is an answer to judge. There is no allowance of waits per run:
one request gives up after ``max_retries`` retries (:class:`Throttled`), and the
whole run after ``--max-duration`` (:class:`RunDeadlineExceeded`).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from email.utils import parsedate_to_datetime

import httpx

from conformance.client._errors import Throttled
from conformance.client._limits import ClientLimits, RunDeadline
from conformance.client._rate import RateLimiter

THROTTLE_STATUSES = frozenset({429, 503})


def retry_after(response: httpx.Response) -> float | None:
    """The seconds Retry-After asks for (a number or an HTTP-date); None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


class Throttling:
    """The run's throttled answers: decides each retry, waits before it, and counts what was met."""

    def __init__(
        self,
        limits: ClientLimits,
        rate: RateLimiter,
        deadline: RunDeadline,
        halt: threading.Event | None = None,
    ) -> None:
        self._halt = halt or threading.Event()  # once set, a wait ends at once (a batch given up)
        self._limits = limits
        self._rate = rate
        self._deadline = deadline
        self._lock = threading.Lock()
        self.met: Counter[int] = Counter()  # 429 and 503 answers met, by status
        self.wait_s = 0.0

    def retry(self, response: httpx.Response, attempt: int, what: str) -> bool:
        """Whether to send the request again: after a throttled answer, once its wait is over.

        Raises Throttled when the request has had its retries, RunDeadlineExceeded when the wait
        would end after the run's deadline.
        """
        status = response.status_code
        if status not in THROTTLE_STATUSES:
            self._rate.answered()
            return False
        with self._lock:
            self.met[status] += 1
        told = retry_after(response)
        if status == 503 and told is None:
            self._rate.throttled()
            return False  # unavailable, not throttled: an answer to judge
        wait = self._backoff(attempt) if told is None else min(told, self._limits.max_retry_wait_s)
        self._rate.throttled(wait)
        if attempt >= self._limits.max_retries:
            raise Throttled(
                f"{what} answered {status} to every try ({attempt + 1} tries, waiting as told by "
                "Retry-After or backing off)"
            )
        self._deadline.check(wait, f"{what} answered {status}")
        with self._lock:
            self.wait_s += wait
        self._halt.wait(wait)
        return True

    def summary(self) -> dict[str, object]:
        """429 and 503 answers met (in all and by status), the seconds waited before retries, the rate
        the run settled at and the lowest it was paced at (None: unlimited)."""
        return {
            "responses": sum(self.met.values()),
            "by_status": {str(status): self.met[status] for status in sorted(self.met)},
            "wait_s": round(self.wait_s, 1),
            "settled_rps": _rounded(self._rate.rate),
            "lowest_rps": _rounded(self._rate.lowest),
        }

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform between 0 and base * 2**attempt (capped)."""
        limits = self._limits
        return random.uniform(0.0, min(limits.backoff_cap_s, limits.backoff_base_s * 2**attempt))


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 1)
