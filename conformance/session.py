"""The checks in a team's own pytest session (``--conformance-config``): one run, whatever -n says.

:class:`ConformanceSession` is registered by the pytest11 entry point
(``conformance/pytest_plugin.py``). In every process that runs checks it sets
up the run's :class:`~conformance.plugin.ConformancePlugin` (client, tokens,
fixtures). The process that ends the session (the only one, or the
pytest-xdist controller) sends the preflight, merges the workers' tallies,
decides with the CLI's rules (``runner.run_result``), writes results.json,
report.html and junit.xml into ``--conformance-reports``, prints the CLI's
summary, and makes the exit status follow the verdict (0 pass, 1 fail,
3 error, 4 incomplete; never lower than pytest's own status).

Under pytest-xdist each worker has its own client: the request budget and the
rate limit are divided evenly among the workers (the controller's preflight
takes one request of the budget), so the run as a whole keeps to both. Each
worker fetches its tokens and reads the fixture enrolments once.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import click
import pytest

from conformance.catalogue import load_catalogue
from conformance.cli import VERDICT_EXIT, check_output_paths, claimed_option
from conformance.client import ClientLimits
from conformance.config import ConfigError, Overrides, Settings, default_rate, load_settings
from conformance.console import print_summary, printable, verdict_line
from conformance.plugin import ConformancePlugin
from conformance.reports import write_reports
from conformance.results import RunResult
from conformance.runner import (
    RunOptions,
    RunOutcome,
    checked_usable,
    open_client,
    preflight,
    run_result,
)
from conformance.selection import Selection
from conformance.tally import RunTally

_TALLY = "conformance_tally"  # the key of a worker's tally in its xdist workeroutput


class ConformanceSession:
    """One conformance run spread over the processes of a pytest session."""

    def __init__(self, config: pytest.Config, settings: Settings, options: RunOptions) -> None:
        self.config = config
        self.settings = settings
        self.options = options
        self.workerinput = getattr(config, "workerinput", None)  # set on a pytest-xdist worker
        self.client = open_client(settings, replace(options, limits=self._own_limits(options.limits)))
        self.plugin = ConformancePlugin(
            settings, self.client, allow_unsafe_methods=options.allow_unsafe_methods
        )
        self.workers_tally = RunTally()
        self.started = time.perf_counter()
        self.unreachable: str | None = None
        self.result: RunResult | None = None
        self.paths: dict[str, Path] = {}

    @classmethod
    def from_config(cls, config: pytest.Config) -> ConformanceSession:
        """The session for the --conformance-* options; pytest exits 2 with one line if they are unusable."""
        option = config.getoption
        try:
            overrides = Overrides(
                reports_dir=Path(option("conformance_reports")),
                strict=option("conformance_strict"),
                claim=claimed_option(option("conformance_claim")),
                select=config.option.keyword or None,  # pytest's own -k, as the CLI's
                only=_marker_selection(config.option.markexpr),
            )
            check_output_paths(overrides.reports_dir, None)
            settings = load_settings(Path(option("conformance_config")), overrides)
            max_rps = option("conformance_max_rps")
            if max_rps is None:
                max_rps, _ = default_rate(settings)
            options = RunOptions(
                limits=ClientLimits(max_requests=option("conformance_max_requests"), max_rps=max_rps or None),
                allow_unsafe_methods=option("conformance_allow_unsafe_methods"),
                production_confirmed=option("conformance_confirm_production"),
            )
            checked_usable(settings, options)
        except (ConfigError, click.ClickException) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            pytest.exit(f"conformance: {message}", returncode=2)
        return cls(config, settings, options)

    def _own_limits(self, limits: ClientLimits) -> ClientLimits:
        """This process's share of the budget and the rate: all of it, or a worker's 1/N."""
        if self.workerinput is None:
            return limits
        workers = int(self.workerinput["workercount"])
        budget = max(1, (limits.max_requests - 1) // workers) if limits.max_requests else None
        return replace(
            limits, max_requests=budget, max_rps=limits.max_rps / workers if limits.max_rps else None
        )

    @property
    def decides(self) -> bool:
        """Whether this process ends the run: not a pytest-xdist worker, and not a --collect-only listing."""
        return self.workerinput is None and not self.config.option.collectonly

    @pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """One request to see that the target answers; if not, the run's verdict is error (exit 3)."""
        if not self.decides:
            return
        self.unreachable = preflight(self.client)
        if self.unreachable is not None:
            result = self._finish(interrupted=None)
            reason = f"{verdict_line(result)}: {printable(self.unreachable)}"
            pytest.exit(f"conformance: {reason} (reports in {self.settings.reports_dir})", returncode=3)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        """A pytest-xdist worker finished: add what it met to the run's tally."""
        data = getattr(node, "workeroutput", {}).get(_TALLY)
        if data is not None:
            self.workers_tally = self.workers_tally.merged(RunTally(**data))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """A worker hands its tally on; the controller decides, writes the reports, sets the exit status
        (pytest's own when interrupted)."""
        if self.workerinput is not None:
            self.config.workeroutput[_TALLY] = asdict(self.plugin.tally())  # type: ignore[attr-defined]
        if not self.decides:
            return
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        result = self._finish(interrupted="SIGINT" if interrupted else None)
        if not interrupted:
            session.exitstatus = max(int(exitstatus), VERDICT_EXIT[result.verdict])

    def _finish(self, interrupted: str | None) -> RunResult:
        tally = self.plugin.tally().merged(self.workers_tally)
        outcome = RunOutcome(self.plugin.results, tally, self.plugin.started, self.unreachable, interrupted)
        self.result = run_result(self.settings, self.options, outcome, self.client.redactor)
        self.paths = write_reports(self.result, self.settings.reports_dir)
        return self.result

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The CLI's summary, ending with its verdict line."""
        if self.result is None:
            return
        terminalreporter.section("enrolment-conformance")
        seconds = time.perf_counter() - self.started
        print_summary(self.result, self.paths, seconds, terminalreporter.write_line, [])

    def pytest_unconfigure(self) -> None:
        self.client.close()


def _marker_selection(markexpr: str) -> Selection | None:
    """The session's -m, for the verdict's words: like -k, it makes a run at best incomplete. pytest
    deselects by it; the Selection itself keeps every requirement."""
    return Selection(frozenset(load_catalogue()), f"-m {markexpr}") if markexpr else None
