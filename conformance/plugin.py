"""The pytest plugin that runs the checks in ``conformance/checks`` against a target.

It provides the fixtures checks ask for (the client, credentials, tokens, the
fixture enrolments and their bodies), the ``requirement`` marker, and turns each
check instance into a :class:`~conformance.results.CheckResult`.

A check fails by raising AssertionError (``CheckFailed``); an infrastructure
problem (the target unreachable, a token that cannot be had, the request budget
spent) makes it an *error*, not a failure: it says nothing about conformance.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conformance import jsonbody
from conformance.auth import BasicAuth, BearerAuth
from conformance.catalogue import load_catalogue
from conformance.checks import _support
from conformance.checks._support import UNKNOWN_ASSIGNMENT_ID, UNKNOWN_ENROLMENT_ID
from conformance.client import INFRASTRUCTURE_ERRORS, Client, RequestBudgetExhausted, describe_error
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.results import CheckResult
from conformance.skips import classify, needs_reason, skip_needing
from conformance.spec import default_spec_path, load_spec
from conformance.tokens import TokenProvider, TokenUnavailable

_NOTES = pytest.StashKey[list[str]]()
_PHASES = pytest.StashKey[dict[str, pytest.TestReport]]()


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

    # --- pytest hooks ----------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        if not config.pluginmanager.is_registered(_support):
            config.pluginmanager.register(_support)  # the fixtures checks share
        config.addinivalue_line("markers", "requirement(id): the catalogue requirement a check enforces")

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

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Every check names a known requirement; checks of classes outside the claim do not run."""
        catalogue = load_catalogue()
        claim = self.settings.claimed_classes()
        kept, deselected = [], []
        for item in items:
            requirement = requirement_of(item)
            if requirement not in catalogue:
                found = requirement or "no requirement(id=...) marker"
                raise pytest.UsageError(f"check {item.nodeid} names an unknown requirement: {found}")
            item.extra_keyword_matches.update({requirement, requirement.split("-")[0]})
            wanted = catalogue[requirement].conformance_class in claim and self.settings.selects(requirement)
            (kept if wanted else deselected).append(item)
        # generated requests last, so that one identical to a hand-written probe reuses its answer
        kept.sort(key=lambda item: catalogue[requirement_of(item) or ""].conformance_class == "generated")
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = kept

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        report: pytest.TestReport = yield
        phases = item.stash.setdefault(_PHASES, {})
        phases[call.when] = report
        if call.excinfo is not None:
            report.conformance_error = call.excinfo  # type: ignore[attr-defined]
        if call.when == "teardown":
            self.results.append(self._check_result(item, phases))
            if self.on_result is not None:
                self.on_result(self.results[-1])
        return report

    def _check_result(self, item: pytest.Item, phases: dict[str, pytest.TestReport]) -> CheckResult:
        requirement = requirement_of(item)
        exchanges = self.client.recorder.take()
        outcome, message, needs, evidence = "passed", "", None, None
        for when in ("setup", "call", "teardown"):
            report = phases.get(when)
            if report is None or report.passed:
                continue
            if report.skipped:
                message = _skip_reason(report)
                kind, needs = classify(message)
                outcome = "not_applicable" if kind == "not_applicable" else "skipped"
                break
            excinfo = getattr(report, "conformance_error", None)
            exc = excinfo.value if excinfo is not None else None
            outcome, message, needs = _judged(exc, when)
            evidence = getattr(exc, "exchange", None) if outcome == "failed" else None
            break
        if evidence is not None and evidence not in exchanges:
            exchanges.insert(0, evidence)
        duration = sum(r.duration for r in phases.values())
        return CheckResult(
            name=item.name,
            requirement=requirement,
            outcome=outcome,  # type: ignore[arg-type]
            message=message,
            duration_s=round(duration, 4),
            exchanges=exchanges[-6:],
            notes=item.stash.get(_NOTES, []),
            needs=needs,
        )

    # --- fixtures ----------------------------------------------------------

    @pytest.fixture(scope="session", name="settings")
    def settings_fixture(self) -> Settings:
        """The run's settings."""
        return self.settings

    @pytest.fixture(scope="session", name="client")
    def client_fixture(self) -> Client:
        """The bounded, recording HTTP client."""
        return self.client

    @pytest.fixture(scope="session", name="tokens")
    def tokens_fixture(self) -> TokenProvider:
        """Obtains (and caches) access tokens."""
        return self.tokens

    @pytest.fixture(scope="session")
    def tenant(self) -> Credentials:
        """The first tenant's credentials."""
        return self.settings.tenant

    @pytest.fixture(scope="session")
    def basic(self) -> BasicAuth:
        """Valid Basic credentials of the first tenant."""
        return BasicAuth(self.settings.tenant)

    @pytest.fixture(scope="session")
    def other_tenant(self) -> Credentials:
        """The other tenant's credentials; checks that need them are skipped without them."""
        if self.settings.other_tenant is None:
            skip_needing("credentials.other_tenant", "no other tenant configured")
        return self.settings.other_tenant

    @pytest.fixture(scope="session")
    def bearer(self) -> Callable[..., BearerAuth]:
        """bearer("api/read", ...) -> a valid BearerAuth for that scope set (one token per set per run)."""

        def get(*scopes: str, webhooks: bool = False, credentials: Credentials | None = None) -> BearerAuth:
            if self.settings.target.token_url is None and not webhooks:
                skip_needing("target.token_url", "OAuth 2.0 checks need the token endpoint")
            return self.tokens.token(credentials or self.settings.tenant, scopes, webhooks=webhooks).auth()

        return get

    @pytest.fixture(scope="session")
    def known_enrolment(self) -> FixtureEnrolment:
        """The first fixture enrolment, or well-formed IDs of an unknown one when none is configured.

        For checks whose expected answer does not depend on the record existing (401, 422 ...).
        """
        if self.settings.fixtures:
            return self.settings.fixtures[0]
        return FixtureEnrolment(UNKNOWN_ASSIGNMENT_ID, UNKNOWN_ENROLMENT_ID)

    @pytest.fixture(scope="session")
    def first_enrolment(self) -> FixtureEnrolment:
        """The first fixture enrolment, for checks that need a record that exists; skipped when none is."""
        if not self.settings.fixtures:
            skip_needing("fixtures.enrolments", "needs an enrolment that exists")
        return self.settings.fixtures[0]

    @pytest.fixture
    def enrolment_read(self, enrolment: FixtureEnrolment) -> EnrolmentRead:
        """The fixture enrolment's 200 body; checks on the body are skipped when it cannot be read."""
        read = self.read(enrolment)
        if read.body is None:
            pytest.skip(
                f"needs the 200 JSON body of {enrolment.label}; "
                f"the target answered {read.response.status_code} "
                "(see AUTH-001 and SCHEMA-001)"
            )
        return read

    @pytest.fixture
    def enrolment_response(self, enrolment: FixtureEnrolment) -> httpx.Response:
        """The response to the run's one Basic read of the fixture enrolment, whatever its status."""
        return self.read(enrolment).response

    @pytest.fixture(scope="session")
    def all_enrolment_reads(self) -> list[EnrolmentRead]:
        """Every fixture enrolment's read (the same once-per-run reads); skipped when none is configured."""
        if not self.settings.fixtures:
            skip_needing("fixtures.enrolments", "no fixture enrolments configured")
        return [self.read(fixture) for fixture in self.settings.fixtures]

    @pytest.fixture
    def note(self, request: pytest.FixtureRequest) -> Callable[[str], None]:
        """note(text): record a finding that does not fail the check (it is shown in the report)."""
        notes = request.node.stash.setdefault(_NOTES, [])
        return notes.append

    @pytest.fixture(scope="session")
    def unsafe_methods(self) -> None:
        """Skips the check unless the user opted in to sending methods other than GET and HEAD."""
        if not self.allow_unsafe_methods:
            skip_needing("--allow-unsafe-methods", "sends methods other than GET/HEAD to the API")

    @pytest.fixture(scope="session")
    def spec(self) -> dict[str, Any]:
        """The OpenAPI document the run checks against (--spec, or the bundled one)."""
        return load_spec(self.spec_path)

    @pytest.fixture(scope="session")
    def now(self) -> datetime:
        """The run's start time (UTC), the reference for 'in the past' and 'in the future'."""
        return self.started


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
