"""Pacing: the rate limiter, whose rate adapts to throttling (additive increase, multiplicative decrease)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Lets a request go at least 1/rate seconds after the one before (thread-safe); the rate adapts.

    The rate starts at max_rps (None: unlimited) and never goes above it. A throttled answer
    (:meth:`throttled`) halves it, at most once per second of sending (a burst of 429s is one
    signal, as TCP halves its window once per round trip), never below MIN_RPS; every answer that
    is not throttled (:meth:`answered`) adds a tenth of the ceiling back. A run without a rate limit that is
    throttled starts pacing at UNLIMITED_START_RPS, and is unlimited again once it has climbed back.

    Each request gets a slot, the spacing after the slot before, with 2% slack for the jitter
    between a slot and the request's reaching the target (a late wake-up included): so no
    one-second window ever sees more than max_rps requests. A waiter reserves its slot under the
    lock and sleeps outside it, so a sleeping waiter blocks neither other senders nor
    :meth:`throttled` and :meth:`answered`; slots go in the order the waiters came. A rate
    lowered meanwhile spaces the slots reserved after it.
    """

    SLACK = 1.02
    DECREASE = 0.5
    RECOVERY_STEPS = 10
    MIN_RPS = 1.0
    UNLIMITED_START_RPS = 100.0
    COOL_DOWN_S = 1.0

    def __init__(self, max_rps: float | None, halt: threading.Event | None = None) -> None:
        self._halt = halt or threading.Event()  # once set, waits end at once (a batch given up)
        self.ceiling = max_rps or None
        self.rate = self.ceiling  # requests per second now; None: unlimited
        self.lowest = self.rate  # the lowest rate the run was paced at
        self._next = 0.0
        self._calm_from = 0.0  # throttled answers before this moment do not lower the rate again
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Wait for this request's turn: the next free slot, reserved now; the halt event ends the wait."""
        with self._lock:
            if not self.rate:
                return
            slot = max(time.monotonic(), self._next)
            self._next = slot + self.SLACK / self.rate
        while (remaining := slot - time.monotonic()) > 0 and not self._halt.is_set():
            self._halt.wait(remaining)

    def throttled(self, wait_s: float = 0.0) -> None:
        """The target answered 429 or 503 and the run waits wait_s before it retries: halve the rate,
        unless it was halved within the last second of sending (waits do not count)."""
        with self._lock:
            now = time.monotonic()
            if now < self._calm_from:
                return
            self._calm_from = now + wait_s + self.COOL_DOWN_S
            self.rate = max(self.MIN_RPS, (self.rate or self.UNLIMITED_START_RPS) * self.DECREASE)
            self.lowest = min(self.lowest or self.rate, self.rate)

    def answered(self) -> None:
        """The target answered without throttling: climb back towards the ceiling by one step."""
        with self._lock:
            if self.rate is None:
                return
            top = self.ceiling or self.UNLIMITED_START_RPS
            self.rate += top / self.RECOVERY_STEPS
            if self.rate >= top:
                self.rate = self.ceiling
