"""The fixtures the checks ask for, each taken from the run's ConformancePlugin.

The plugin registers this module with pytest and puts itself in the session's
stash (``RUN``); the ``conformance_run`` fixture hands it to the others. They
are plain functions, not methods of the plugin object, as pytest wants
session-scoped fixtures to be.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from conformance.auth import BasicAuth, BearerAuth
from conformance.checks._support import UNKNOWN_ASSIGNMENT_ID, UNKNOWN_ENROLMENT_ID
from conformance.client import Client
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.plugin import NOTES, RUN, ConformancePlugin, EnrolmentRead
from conformance.skips import skip_needing
from conformance.spec import load_spec
from conformance.tokens import TokenProvider


@pytest.fixture(scope="session")
def conformance_run(pytestconfig: pytest.Config) -> ConformancePlugin:
    """The run's plugin: settings, client, tokens and the once-per-run fixture reads."""
    return pytestconfig.stash[RUN]


@pytest.fixture(scope="session", name="settings")
def settings_fixture(conformance_run: ConformancePlugin) -> Settings:
    """The run's settings."""
    return conformance_run.settings


@pytest.fixture(scope="session", name="client")
def client_fixture(conformance_run: ConformancePlugin) -> Client:
    """The bounded, recording HTTP client."""
    return conformance_run.client


@pytest.fixture(scope="session", name="tokens")
def tokens_fixture(conformance_run: ConformancePlugin) -> TokenProvider:
    """Obtains (and caches) access tokens."""
    return conformance_run.tokens


@pytest.fixture(scope="session")
def tenant(conformance_run: ConformancePlugin) -> Credentials:
    """The first tenant's credentials."""
    return conformance_run.settings.tenant


@pytest.fixture(scope="session")
def basic(conformance_run: ConformancePlugin) -> BasicAuth:
    """Valid Basic credentials of the first tenant."""
    return BasicAuth(conformance_run.settings.tenant)


@pytest.fixture(scope="session")
def other_tenant(conformance_run: ConformancePlugin) -> Credentials:
    """The other tenant's credentials; checks that need them are skipped without them."""
    if conformance_run.settings.other_tenant is None:
        skip_needing("credentials.other_tenant", "no other tenant configured")
    return conformance_run.settings.other_tenant


@pytest.fixture(scope="session")
def bearer(conformance_run: ConformancePlugin) -> Callable[..., BearerAuth]:
    """bearer("api/read", ...) -> a valid BearerAuth for that scope set (one token per set per run)."""

    def get(*scopes: str, webhooks: bool = False, credentials: Credentials | None = None) -> BearerAuth:
        if conformance_run.settings.target.token_url is None and not webhooks:
            skip_needing("target.token_url", "OAuth 2.0 checks need the token endpoint")
        return conformance_run.tokens.token(
            credentials or conformance_run.settings.tenant, scopes, webhooks=webhooks
        ).auth()

    return get


@pytest.fixture(scope="session")
def known_enrolment(conformance_run: ConformancePlugin) -> FixtureEnrolment:
    """The first fixture enrolment, or well-formed IDs of an unknown one when none is configured.

    For checks whose expected answer does not depend on the record existing (401, 422 ...).
    """
    if conformance_run.settings.fixtures:
        return conformance_run.settings.fixtures[0]
    return FixtureEnrolment(UNKNOWN_ASSIGNMENT_ID, UNKNOWN_ENROLMENT_ID)


@pytest.fixture(scope="session")
def first_enrolment(conformance_run: ConformancePlugin) -> FixtureEnrolment:
    """The first fixture enrolment, for checks that need a record that exists; skipped when none is."""
    if not conformance_run.settings.fixtures:
        skip_needing("fixtures.enrolments", "needs an enrolment that exists")
    return conformance_run.settings.fixtures[0]


@pytest.fixture
def enrolment_read(conformance_run: ConformancePlugin, enrolment: FixtureEnrolment) -> EnrolmentRead:
    """The fixture enrolment's 200 body; checks on the body are skipped when it cannot be read."""
    read = conformance_run.read(enrolment)
    if read.body is None:
        pytest.skip(
            f"needs the 200 JSON body of {enrolment.label}; "
            f"the target answered {read.response.status_code} "
            "(see AUTH-001 and SCHEMA-001)"
        )
    return read


@pytest.fixture
def enrolment_response(conformance_run: ConformancePlugin, enrolment: FixtureEnrolment) -> httpx.Response:
    """The response to the run's one Basic read of the fixture enrolment, whatever its status."""
    return conformance_run.read(enrolment).response


@pytest.fixture(scope="session")
def all_enrolment_reads(conformance_run: ConformancePlugin) -> list[EnrolmentRead]:
    """Every fixture enrolment's read (the same once-per-run reads); skipped when none is configured."""
    if not conformance_run.settings.fixtures:
        skip_needing("fixtures.enrolments", "no fixture enrolments configured")
    return [conformance_run.read(fixture) for fixture in conformance_run.settings.fixtures]


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """note(text): record a finding that does not fail the check (it is shown in the report)."""
    notes = request.node.stash.setdefault(NOTES, [])
    return notes.append


@pytest.fixture(scope="session")
def unsafe_methods(conformance_run: ConformancePlugin) -> None:
    """Skips the check unless the user opted in to sending methods other than GET and HEAD."""
    if not conformance_run.allow_unsafe_methods:
        skip_needing("--allow-unsafe-methods", "sends methods other than GET/HEAD to the API")


@pytest.fixture(scope="session")
def spec(conformance_run: ConformancePlugin) -> dict[str, Any]:
    """The OpenAPI document the run checks against (--spec, or the bundled one)."""
    return load_spec(conformance_run.spec_path)


@pytest.fixture(scope="session")
def now(conformance_run: ConformancePlugin) -> datetime:
    """The run's start time (UTC), the reference for 'in the past' and 'in the future'."""
    return conformance_run.started
