"""The pytest plugin that runs the checks in ``conformance/checks`` against a target.

It collects the check modules (``check_*`` functions in the checks package's
files, whatever the session's python_files), provides the fixtures checks ask
for (the client, credentials, tokens, the fixture enrolments and their bodies),
the ``requirement`` and ``area`` markers, and turns each check instance into a
:class:`~conformance.results.CheckResult`. The result travels on the teardown
report as plain data (``report.conformance_result``), so it reaches the process
that collects ``results`` whether that is this one or a pytest-xdist controller.

A failed SHOULD check is reported to pytest as an expected failure (xfail) unless
the run is strict: it is a warning, so it fails neither the verdict nor pytest.

A check fails by raising AssertionError (``CheckFailed``); an infrastructure
problem (the target unreachable, a token that cannot be had, the request budget
spent) makes it an *error*, not a failure: it says nothing about conformance.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import jsonbody
from conformance.auth import BasicAuth
from conformance.catalogue import load_catalogue
from conformance.checks import _support
from conformance.client import INFRASTRUCTURE_ERRORS, Client, RequestBudgetExhausted, describe_error
from conformance.config import FixtureEnrolment, Settings
from conformance.results import CheckResult
from conformance.skips import classify, needs_reason
from conformance.spec import default_spec_path
from conformance.tally import RunTally
from conformance.tokens import TokenProvider, TokenUnavailable

NOTES = pytest.StashKey[list[str]]()  # a check's notes (the note fixture)
_PHASES = pytest.StashKey[dict[str, "_Phase"]]()
RUN = pytest.StashKey["ConformancePlugin"]()  # the session's run, for conformance.fixtures
CHECKS_DIR = Path(_support.__file__).parent


@dataclass(frozen=True)
class _Phase:
    """How one phase (setup, call, teardown) of a check ended, before its report is relabelled."""

    outcome: str  # "passed" | "failed" | "skipped"
    error: BaseException | None
    skip_reason: str
    duration: float


class CheckModule(pytest.Module):
    """A check module: its ``check_*`` functions are the tests, whatever the session's python_functions."""

    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("check_")

    def classnamefilter(self, name: str) -> bool:
        return False


@dataclass
class EnrolmentRead:
    """A fixture enrolment as read with Basic credentials: the response and its JSON body."""

    fixture: FixtureEnrolment
    response: httpx.Response
    body: dict[str, Any] | None


class ConformancePlugin:
    """Holds one run's shared state and exposes it to the checks as fixtures."""

    def __init__(
        self,
        settings: Settings,
        client: Client,
        *,
        allow_unsafe_methods: bool = False,
        checks_dir: Path = CHECKS_DIR,
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_result = on_result  # told of each finished check instance (live progress)
        self.client = client
        self.tokens = TokenProvider(client, settings.target)
        self.allow_unsafe_methods = allow_unsafe_methods
        self.spec_path = settings.spec_path or default_spec_path()
        self.results: list[CheckResult] = []
        self.status_seen: Counter[str] = Counter()
        self.started = datetime.now(UTC)
        self.checks_dir = checks_dir
        self.catalogue = load_catalogue()
        self._reads: dict[FixtureEnrolment, EnrolmentRead] = {}
        self._read_lock = threading.Lock()

    # --- shared reads ----------------------------------------------------

    def read(self, fixture: FixtureEnrolment) -> EnrolmentRead:
        """Read a fixture enrolment once per run with Basic credentials, and remember it."""
        with self._read_lock:
            if fixture not in self._reads:
                response = self.client.get_enrolment(
                    fixture.assignment_id,
                    fixture.enrolment_id,
                    auth=BasicAuth(self.settings.tenant),
                    note="read the fixture enrolment with Basic credentials",
                )
                body = None
                if response.status_code == 200:
                    try:
                        parsed = jsonbody.response_json(response)
                    except ValueError:
                        parsed = None
                    body = parsed if isinstance(parsed, dict) else None
                if body is not None and isinstance(body.get("status"), str):
                    self.status_seen[body["status"]] += 1
                self._reads[fixture] = EnrolmentRead(fixture, response, body)
            return self._reads[fixture]

    def tally(self) -> RunTally:
        """What this process's client and token provider met so far."""
        client = self.client
        return RunTally(
            requests=dict(client.requests_by_phase),
            status_seen=dict(self.status_seen),
            tokens=list(self.tokens.obtained),
            throttling=client.throttling(),
            truncated_bodies=client.truncated_bodies,
            budget_spent=client.budget_spent,
            deadline_passed=client.deadline.passed,
            unresponsive=client.unresponsive(),
            warnings=list(client.redactor.warnings),
        )

    # --- pytest hooks ----------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUN] = self
        config.pluginmanager.import_plugin("conformance.fixtures")  # the fixtures checks ask for
        if not config.pluginmanager.is_registered(_support):
            config.pluginmanager.register(_support)  # the fixtures checks share
        config.addinivalue_line("markers", "requirement(id): the catalogue requirement a check enforces")
        config.addinivalue_line("markers", "area(id): the catalogue area of a check's requirement, e.g. AUTH")

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
        """The checks package's modules (not _support.py) are collected, and nothing else is changed."""
        if file_path.suffix == ".py" and file_path.parent == self.checks_dir and file_path.name[0] != "_":
            return CheckModule.from_parent(parent, path=file_path)
        return None

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        for argname, fixtures, key in (
            ("enrolment", self.settings.fixtures, "fixtures.enrolments"),
            (
                "other_tenant_enrolment",
                self.settings.other_tenant_fixtures,
                "fixtures.other_tenant_enrolments",
            ),
        ):
            if argname not in metafunc.fixturenames:
                continue
            if fixtures:
                metafunc.parametrize(argname, fixtures, ids=[f.label for f in fixtures])
            else:
                skip = pytest.mark.skip(reason=needs_reason(key, "no such enrolments configured"))
                metafunc.parametrize(argname, [pytest.param(None, marks=skip)], ids=["no-fixtures"])

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so that they see the area marker
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Every check names a known requirement and is marked with its area; checks of classes outside
        the claim do not run."""
        claim = self.settings.claimed_classes()
        kept, deselected = [], []
        for item in items:
            if not is_check(item):
                kept.append(item)  # a test of the session's own
                continue
            requirement = requirement_of(item)
            if requirement not in self.catalogue:
                found = requirement or "no requirement(id=...) marker"
                raise pytest.UsageError(f"check {item.nodeid} names an unknown requirement: {found}")
            entry = self.catalogue[requirement]
            item.add_marker(pytest.mark.area(id=entry.area))
            item.extra_keyword_matches.update({requirement, requirement.split("-")[0]})
            item.user_properties += [("requirement", requirement), ("level", entry.level)]
            wanted = entry.conformance_class in claim and self.settings.selects(requirement)
            (kept if wanted else deselected).append(item)
        # generated requests last, so that one identical to a hand-written probe reuses its answer
        kept.sort(key=self.is_generated)
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = kept

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        """Remember how each phase ended; mask secrets in a failure's text; a failed SHOULD check is an
        xfail unless strict; the teardown report carries the CheckResult as plain (serialisable) data."""
        report: pytest.TestReport = yield
        if not is_check(item):
            return report
        error = call.excinfo.value if call.excinfo is not None else None
        skip_reason = _skip_reason(report) if report.skipped else ""
        phases = item.stash.setdefault(_PHASES, {})
        phases[call.when] = _Phase(report.outcome, error, skip_reason, report.duration)
        if report.failed:
            report.longrepr = self.client.redactor.text(str(report.longrepr))
            if call.when == "call" and isinstance(error, AssertionError) and self._is_warning(item):
                report.outcome = "skipped"
                report.wasxfail = f"{requirement_of(item)} (SHOULD) failed: a warning unless strict"
        if call.when == "teardown":
            result = self._check_result(item, phases)
            report.conformance_result = self.client.redactor.value(asdict(result))  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect every check's result, from this process or (under pytest-xdist) from a worker."""
        data = getattr(report, "conformance_result", None)
        if data is not None:
            self.results.append(CheckResult.from_dict(data))
            if self.on_result is not None:
                self.on_result(self.results[-1])

    def is_generated(self, item: pytest.Item) -> bool:
        """Whether item is a check of the generated class (FUZZ)."""
        return is_check(item) and self.catalogue[requirement_of(item)].conformance_class == "generated"

    def _is_warning(self, item: pytest.Item) -> bool:
        return not self.settings.strict and self.catalogue[requirement_of(item)].level == "SHOULD"

    def _check_result(self, item: pytest.Item, phases: dict[str, _Phase]) -> CheckResult:
        requirement = requirement_of(item)
        exchanges = self.client.recorder.take(check=item.name, requirement=requirement or "")
        outcome, message, needs, evidence = "passed", "", None, None
        for when in ("setup", "call", "teardown"):
            phase = phases.get(when)
            if phase is None or phase.outcome == "passed":
                continue
            if phase.outcome == "skipped":
                message = phase.skip_reason
                kind, needs = classify(message)
                outcome = "not_applicable" if kind == "not_applicable" else "skipped"
                break
            outcome, message, needs = _judged(phase.error, when)
            evidence = getattr(phase.error, "exchange", None) if outcome == "failed" else None
            break
        if evidence is not None and evidence not in exchanges:
            exchanges.insert(0, evidence)
        duration = sum(phase.duration for phase in phases.values())
        return CheckResult(
            name=item.name,
            requirement=requirement,
            outcome=outcome,  # type: ignore[arg-type]
            message=message,
            duration_s=round(duration, 4),
            exchanges=exchanges[-6:],
            notes=item.stash.get(NOTES, []),
            needs=needs,
        )


def is_check(item: pytest.Item) -> bool:
    """Whether item is a conformance check (not a test of the session's own)."""
    return item.getparent(CheckModule) is not None


def requirement_of(item: pytest.Item) -> str | None:
    """The requirement ID a check names with ``@pytest.mark.requirement(id="AREA-NNN")``."""
    marker = item.get_closest_marker("requirement")
    return marker.kwargs.get("id") if marker is not None else None


def _judged(exc: BaseException | None, when: str) -> tuple[str, str, str | None]:
    """(outcome, message, needs) of a check that raised exc: a failure, or an error saying why it could
    not judge. A spent request budget is not an error: the check is not verified (raise --max-requests)."""
    if isinstance(exc, AssertionError) and when == "call":
        return "failed", str(exc) or "assertion failed", None
    if isinstance(exc, RequestBudgetExhausted):
        return "skipped", str(exc), "--max-requests"
    if isinstance(exc, httpx.TransportError):
        return "error", f"could not get an answer from the target: {describe_error(exc)}", None
    if isinstance(exc, (TokenUnavailable, *INFRASTRUCTURE_ERRORS)):
        return "error", str(exc), None
    kind = exc.__class__.__name__ if exc is not None else "error"
    return "error", f"the check itself broke ({kind}: {exc}); please report this", None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
