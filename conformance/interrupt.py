"""Stopping a run on SIGINT or SIGTERM: the first signal stops sending and lets the run write its
reports (marked interrupted); a second one exits at once.

The first signal raises KeyboardInterrupt in the main thread, where every check runs: a request
blocked on the network is cut short, pytest ends the session after the check that was running,
and the runner builds the result from what had finished.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


@dataclass
class Interruption:
    """Which signal interrupted the run, if one did."""

    signal_name: str | None = None
    signal_number: int | None = None

    @property
    def exit_code(self) -> int | None:
        """128 + the signal number (130 for SIGINT, 143 for SIGTERM), or None when not interrupted."""
        return 128 + self.signal_number if self.signal_number is not None else None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal_number is not None:  # the second signal: no more waiting
            os._exit(128 + signum)
        self.signal_number, self.signal_name = signum, SIGNALS.get(signum, f"signal {signum}")
        raise KeyboardInterrupt(self.signal_name)


@contextmanager
def interruptible() -> Iterator[Interruption]:
    """Within the block, SIGINT and SIGTERM interrupt the run as described above (main thread only)."""
    interruption = Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield interruption
        return
    previous = {signum: signal.signal(signum, interruption._handle) for signum in SIGNALS}
    try:
        yield interruption
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
