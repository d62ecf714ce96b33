"""FUZZ: property-based checks driven by the spec (schemathesis), for positive and negative data.

Four sessions run once per run and are shared by every FUZZ check: positive and
negative generation, each with Basic credentials and with an api/read bearer
token; ``--max-examples`` cases each, seeded by ``--seed``. How cases are
generated, sent (through the suite's client, to the target only) and judged is
described in :mod:`conformance.fuzzing`. Each check reads, for its session, the
failures of the one schemathesis check that enforces its requirement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.auth import READ_SCOPES, BasicAuth, BearerAuth
from conformance.client import Client
from conformance.config import Credentials, Settings
from conformance.expect import CheckFailed, describe
from conformance.fuzzing import CHECKS, Fuzzer, FuzzSession
from conformance.plugin import requirement_of
from conformance.skips import NOT_APPLICABLE

INVALID_TOKEN = "fuzz-invalid-token-0000000000000000"
DETAIL_LIMIT = 400

# What each schemathesis check expects of a response, for the failure message.
EXPECTED = {
    "not_a_server_error": "a status below 500",
    "status_code_conformance": "a status the spec documents for the operation",
    "content_type_conformance": "a Content-Type the spec documents for that status",
    "response_schema_conformance": "a body that matches the spec's schema for that status",
    "negative_data_rejection": "a 4xx rejection of input that violates the spec (the contract's code is 422)",
    "ignored_auth": "401 or 403: the request refused without valid credentials",
}
SESSIONS = [("positive", "basic"), ("positive", "bearer"), ("negative", "basic"), ("negative", "bearer")]
# The requirements judged on every session, each by the one schemathesis check fuzzing.CHECKS names.
EVERY_SESSION = ("FUZZ-001", "FUZZ-002", "FUZZ-003", "FUZZ-004")


def session_params(*requirements: str, skip_mode: str | None = None, reason: str = "") -> list[Any]:
    """(requirement, (mode, credentials)) for each requirement and each of the four sessions, marked with
    the requirement; the sessions of skip_mode are skipped with reason."""
    return [
        pytest.param(
            requirement,
            (mode, auth),
            id=f"{requirement}-{mode}-{auth}",
            marks=[pytest.mark.requirement(id=requirement)]
            + ([pytest.mark.skip(reason=NOT_APPLICABLE + reason)] if mode == skip_mode else []),
        )
        for requirement in requirements
        for mode, auth in SESSIONS
    ]


@pytest.fixture(scope="session")
def fuzzer(settings: Settings, client: Client, spec: dict[str, Any]) -> Fuzzer:
    """The run's fuzzer: loads the spec for schemathesis once and runs each session on first use."""
    return Fuzzer(spec, client, settings.fixtures, seed=settings.seed, max_examples=settings.max_examples)


@pytest.fixture
def fuzz_session(
    request: pytest.FixtureRequest,
    fuzzer: Fuzzer,
    client: Client,
    tenant: Credentials,
    basic: BasicAuth,
    bearer: Callable[..., BearerAuth],
    note: Callable[[str], None],
) -> FuzzSession:
    """The (mode, credentials) session of this check instance, run once per run."""
    mode, scheme = request.param
    if scheme == "basic":
        auth: BasicAuth | BearerAuth = basic
        invalid: BasicAuth | BearerAuth = BasicAuth(
            Credentials(tenant.tenant_id, tenant.secret + "-invalid", tenant.secret_env)
        )
    else:
        auth, invalid = bearer(*READ_SCOPES), BearerAuth(INVALID_TOKEN)
    result = fuzzer.session(mode, scheme, auth, invalid)
    # The session's exchanges are evidence only where a check fails, or where the session broke off.
    exchanges = client.recorder.take(check=request.node.name, requirement=requirement_of(request.node) or "")
    if result.error is not None and exchanges:
        client.recorder.keep(exchanges[-1])
    note(result.summary())
    return result


def expect_no_failures(session: FuzzSession, requirement: str, client: Client) -> None:
    """Fail with the first failing generated request of the requirement's check, if any.

    A session that broke off (request budget spent, target unreachable) still reports what it found;
    if it found nothing, the check is an error, not a pass.
    """
    check = CHECKS[requirement]
    failures = session.failures(check)
    if not failures:
        if session.error is not None:
            raise session.error
        return
    first = failures[0]
    inputs = ", ".join(f"{name}={value!r}" for name, value in sorted(first.inputs.items()))
    detail = " ".join(first.detail.split())
    if len(detail) > DETAIL_LIMIT:
        detail = detail[:DETAIL_LIMIT] + "..."
    message = (
        f"{check} failed {session.count(check)} time(s) over {session.judged} distinct generated requests "
        f"({session.mode} data, {session.auth} credentials); first with {inputs}: "
        f"expected {EXPECTED[check]}, received {describe(first.response)}. {detail}. "
        f"Reproduce with --seed {session.seed} --max-examples {session.max_examples}"
    )
    raise CheckFailed(client.redactor.text(message), response=first.response)


@pytest.mark.parametrize(
    ("requirement", "fuzz_session"), session_params(*EVERY_SESSION), indirect=["fuzz_session"]
)
def check_generated_responses_conform(requirement: str, fuzz_session: FuzzSession, client: Client) -> None:
    """FUZZ-001 to FUZZ-004: no response to a generated request (positive or negative data, Basic or Bearer
    credentials) fails the requirement's schemathesis check: FUZZ-001 no 5xx, FUZZ-002 a status code the
    spec documents, FUZZ-003 a Content-Type it documents for that status, FUZZ-004 a body that matches its
    schema for that status."""
    expect_no_failures(fuzz_session, requirement, client)


@pytest.mark.parametrize(
    ("requirement", "fuzz_session"),
    session_params(
        "FUZZ-005", skip_mode="positive", reason="positive data does not violate the spec: nothing to reject"
    ),
    indirect=["fuzz_session"],
)
def check_negative_data_rejected(requirement: str, fuzz_session: FuzzSession, client: Client) -> None:
    """FUZZ-005: every generated request that violates the spec (malformed IDs) is rejected with a 4xx."""
    expect_no_failures(fuzz_session, requirement, client)


@pytest.mark.parametrize(
    ("requirement", "fuzz_session"),
    session_params(
        "FUZZ-006",
        skip_mode="negative",
        reason="a malformed path may miss the route, so its answer says nothing about authentication "
        "(as schemathesis's ignored_auth)",
    ),
    indirect=["fuzz_session"],
)
def check_authentication_enforced(requirement: str, fuzz_session: FuzzSession, client: Client) -> None:
    """FUZZ-006: a request accepted with valid credentials is refused without them and with invalid ones."""
    expect_no_failures(fuzz_session, requirement, client)
    if not fuzz_session.auth_probed:
        pytest.skip(
            "no generated request was answered 2xx with valid credentials, so there was no accepted request "
            "to replay without them (configure fixture enrolments; see AUTH-001)"
        )
