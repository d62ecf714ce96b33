"""Live output while the checks run: progress per area, each failure as it is found, and (``-v``) each
request as it was sent.

On a terminal the progress is a rich display (one bar per area); anywhere else (a CI log, a pipe) it is
plain lines: one when an area finishes and one every ``interval_s`` while the run is in an area (a
timer thread, so a long check such as the first FUZZ one, which generates the cases, shows too).
rich is never used off a terminal, so a CI log holds no escape sequence. Everything printed from the
target's side (messages, paths) goes through the run's redactor (a message can quote a credential the
target sent back) and :func:`console.printable` before it is printed.

:class:`Progress` is a pytest plugin object (it counts the collected checks per area) with two
callbacks the run calls: :meth:`Progress.check_finished` for each finished check instance and
:meth:`Progress.request_sent` for each request sent (:meth:`Progress.attach` registers it).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from conformance.catalogue import area_of, load_catalogue
from conformance.client import Client
from conformance.console import NORMAL, QUIET, VERBOSE, finding_label, finding_line, finding_lines, printable
from conformance.plugin import requirement_of
from conformance.results import CheckResult, Exchange

PLAIN_INTERVAL_S = 10.0  # seconds between two "still running" lines off a terminal
Echo = Callable[[str], None]


class Progress:
    """Shows one run's progress; quiet (-q) shows nothing, verbose (-v) adds each request."""

    def __init__(
        self,
        echo: Echo,
        *,
        verbosity: int = NORMAL,
        console: Console | None = None,
        strict: bool = False,
        interval_s: float = PLAIN_INTERVAL_S,
    ) -> None:
        """echo prints one plain line; console, when given and a terminal, gets the rich display."""
        self.echo = echo
        self.verbosity = verbosity
        self.strict = strict
        self.interval_s = interval_s
        self.totals: dict[str, int] = {}
        self.done: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._current = ""  # the area of the check running now
        self._stop = threading.Event()
        self._console = console if console is not None and console.is_terminal else None
        self._bars: RichProgress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._redact: Callable[[str], str] = str

    def attach(self, client: Client) -> None:
        """Mask with the client's redactor, and hear of each request it sends."""
        self._redact = client.redactor.text
        client.observers.append(self.request_sent)

    # --- pytest hooks ------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Count the checks that will run, per area, and start the display."""
        self.totals = dict(Counter(area_of(requirement_of(item) or "") for item in session.items))
        if self.verbosity > QUIET and self._console is not None:
            self._bars = RichProgress(
                TextColumn("{task.description:7}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._tasks = {area: self._bars.add_task(area, total=n) for area, n in self.totals.items()}
            self._bars.start()
        elif self.verbosity > QUIET:
            threading.Thread(target=self._heartbeat, name="progress", daemon=True).start()

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._current = area_of(requirement_of(item) or "")

    def pytest_sessionfinish(self) -> None:
        """Stop the display (the summary follows it)."""
        self._stop.set()
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    # --- callbacks of the run ------------------------------------------------

    def check_finished(self, result: CheckResult) -> None:
        """One check instance finished: advance its area, print its failure if it is the first."""
        area = area_of(result.requirement)
        with self._lock:
            self.done[area] += 1
            if result.outcome in ("failed", "error"):
                self.failed[area] += 1
                if result.requirement not in self._reported:
                    self._reported.add(result.requirement)
                    self._print_finding(result)
            if self._bars is not None and area in self._tasks:
                self._bars.advance(self._tasks[area])
            elif self.verbosity > QUIET:
                self._plain_progress(area)

    def sent_ahead(self, requests: int, pass_number: int) -> None:
        """A planning pass's requests were sent ahead of the checks (conformance.planning)."""
        if self.verbosity > QUIET:
            with self._lock:
                self._print(
                    f"  planned: {requests} request(s) sent ahead (pass {pass_number}, {self._elapsed()})"
                )

    def request_sent(self, exchange: Exchange) -> None:
        """-v: one line per request: method, path, status (or the error) and time. Already redacted."""
        if self.verbosity < VERBOSE:
            return
        parts = urlsplit(exchange.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        answer = str(exchange.status) if exchange.status is not None else f"no answer ({exchange.error})"
        line = self._redact(f"  > {exchange.method} {path} {answer} {exchange.elapsed_ms:.0f} ms")
        with self._lock:
            self._print(printable(line))

    # --- printing ------------------------------------------------------------

    def _print_finding(self, result: CheckResult) -> None:
        if self.verbosity <= QUIET:
            return
        level = load_catalogue()[result.requirement].level if result.requirement in load_catalogue() else ""
        label = finding_label(result.outcome, level, strict=self.strict)
        message = self._redact(f"{result.name}: {result.message}")
        if self._console is not None:
            self._print("  " + finding_line(label, result.requirement, level, message))
        else:
            for line in finding_lines(label, result.requirement, level, message):
                self.echo(line)

    def _plain_progress(self, area: str) -> None:
        """Off a terminal: a line when an area is done."""
        total = self.totals.get(area, 0)
        if self.done[area] == total:
            failed = f" ({self.failed[area]} of them failed or errored)" if self.failed[area] else ""
            where = f"{self._finished_areas()}, {self._elapsed()}"
            self.echo(f"  {area}: {total} check(s) done{failed} [{where}]")

    def _heartbeat(self) -> None:
        """Off a terminal: every interval_s, where the run is (until the session finishes)."""
        while not self._stop.wait(self.interval_s):
            with self._lock:
                area = self._current
                if area and self.done[area] < self.totals.get(area, 0):
                    done, total = self.done[area], self.totals[area]
                    self.echo(f"  {area}: {done}/{total} checks ... [{self._elapsed()}]")

    def _finished_areas(self) -> str:
        finished = sum(1 for area, total in self.totals.items() if self.done[area] >= total)
        return f"{finished}/{len(self.totals)} areas"

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:.1f} s"

    def _print(self, line: str) -> None:
        if self._console is not None:
            self._console.print(Text(line), soft_wrap=False, overflow="fold", highlight=False, markup=False)
        else:
            self.echo(line)
