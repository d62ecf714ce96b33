"""ERR: unknown and malformed IDs, and the shape of error responses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BasicAuth, BearerAuth, TokenUnavailable
from conformance.client import Client
from conformance.config import FixtureEnrolment, Settings
from conformance.expect import CheckFailed, describe, expect_status, is_json_content_type, json_object

UNKNOWN_ID_PREFIX = "ffffffffffffffff"

# Malformed variants of a well-formed ID (none matches ^[0-9a-f]{24}$), by the kind of mistake each probes.
MALFORMED_IDS: dict[str, Callable[[str], str]] = {
    "too-short": lambda valid: valid[:23],
    "too-long": lambda valid: valid + "0",
    "uppercase": lambda valid: valid.upper() if valid.upper() != valid else "ABCDEF" + valid[6:],
    "non-hex": lambda valid: valid[:22] + "gz",
    "unicode": lambda valid: valid[:23] + "é",
    "emoji": lambda valid: valid[:23] + "\N{GRINNING FACE}",
    "encoded-slash": lambda valid: valid[:12] + "/" + valid[13:],
    "very-long": lambda valid: (valid * 171)[:4096],
    "blank": lambda valid: " " * 24,
    "inner-space": lambda valid: valid[:12] + " " + valid[13:],
    "trailing-newline": lambda valid: valid + "\n",
}

# What a wrong status usually means for a malformed ID, to make the failure actionable.
MALFORMED_HINTS = {
    400: "the contract's code for a malformed ID is 422, not the generic 400",
    404: "the ID was treated as well-formed but unknown: it was not validated against ^[0-9a-f]{24}$",
}
ENCODED_SLASH_HINT = (
    "the '/' was sent percent-encoded (%2F) inside the ID; a 404 suggests the server or an intermediary "
    "decoded it before routing, so the malformed ID never reached validation"
)

ERROR_KINDS = {
    401: "no credentials",
    403: "a token holding only api/write",
    404: "an unknown enrolmentId",
    422: "a malformed enrolmentId",
}


def unknown_id(settings: Settings, purpose: str) -> str:
    """A well-formed ID derived from purpose that no configured fixture (of either tenant) uses."""
    taken = {
        value
        for fixture in settings.fixtures + settings.other_tenant_fixtures
        for value in (fixture.assignment_id, fixture.enrolment_id)
    }
    counter = 0
    while True:
        candidate = UNKNOWN_ID_PREFIX + hashlib.sha256(f"{purpose}:{counter}".encode()).hexdigest()[:8]
        if candidate not in taken:
            return candidate
        counter += 1


def first_fixture(settings: Settings) -> FixtureEnrolment:
    """The first fixture enrolment; skips the check when none is configured."""
    if not settings.fixtures:
        pytest.skip("needs a fixture enrolment ([[fixtures.enrolments]])")
    return settings.fixtures[0]


def expect_unprocessable(response: httpx.Response, what: str, kind: str) -> None:
    """Fail unless a malformed-ID request got exactly 422, adding a hint on what a wrong code suggests."""
    try:
        expect_status(response, 422, what)
    except CheckFailed as failure:
        hint = MALFORMED_HINTS.get(response.status_code)
        if kind == "encoded-slash" and response.status_code == 404:
            hint = ENCODED_SLASH_HINT
        if hint is None:
            raise
        raise CheckFailed(f"{failure} ({hint})", response=response) from None


@pytest.mark.requirement("ERR-001")
def check_unknown_enrolment_is_404(client: Client, basic: BasicAuth, settings: Settings) -> None:
    """ERR-001: a well-formed but unknown enrolmentId under a fixture's assignment gets 404."""
    fixture = first_fixture(settings)
    missing = unknown_id(settings, "unknown-enrolment")
    response = client.get_enrolment(fixture.assignment_id, missing, auth=basic, note="unknown enrolmentId")
    expect_status(response, 404, f"GET of an unknown enrolmentId {missing} under {fixture.assignment_id}")


@pytest.mark.requirement("ERR-002")
def check_unknown_assignment_is_404(
    client: Client, basic: BasicAuth, settings: Settings, known_enrolment: FixtureEnrolment
) -> None:
    """ERR-002: a well-formed but unknown assignmentId gets 404."""
    missing = unknown_id(settings, "unknown-assignment")
    enrolment_id = known_enrolment.enrolment_id
    response = client.get_enrolment(missing, enrolment_id, auth=basic, note="unknown assignmentId")
    expect_status(response, 404, f"GET of enrolment {enrolment_id} under unknown assignmentId {missing}")


@pytest.mark.requirement("ERR-003")
@pytest.mark.parametrize("kind", MALFORMED_IDS)
def check_malformed_enrolment_id_is_422(
    client: Client, basic: BasicAuth, known_enrolment: FixtureEnrolment, kind: str
) -> None:
    """ERR-003: a malformed enrolmentId with valid credentials gets exactly 422 (not 400/404, never 5xx)."""
    malformed = MALFORMED_IDS[kind](known_enrolment.enrolment_id)
    response = client.get_enrolment(
        known_enrolment.assignment_id, malformed, auth=basic, note=f"malformed enrolmentId: {kind}"
    )
    expect_unprocessable(response, f"GET with a malformed enrolmentId ({kind}: {malformed[:40]!r})", kind)


@pytest.mark.requirement("ERR-004")
@pytest.mark.parametrize("kind", MALFORMED_IDS)
def check_malformed_assignment_id_is_422(
    client: Client, basic: BasicAuth, known_enrolment: FixtureEnrolment, kind: str
) -> None:
    """ERR-004: a malformed assignmentId with valid credentials gets exactly 422 (not 400/404, never 5xx)."""
    malformed = MALFORMED_IDS[kind](known_enrolment.assignment_id)
    response = client.get_enrolment(
        malformed, known_enrolment.enrolment_id, auth=basic, note=f"malformed assignmentId: {kind}"
    )
    expect_unprocessable(response, f"GET with a malformed assignmentId ({kind}: {malformed[:40]!r})", kind)


def request_error(
    client: Client,
    basic: BasicAuth,
    bearer: Callable[..., BearerAuth],
    settings: Settings,
    known_enrolment: FixtureEnrolment,
    status: int,
) -> tuple[str, httpx.Response]:
    """Send the request the contract answers with status (an ERROR_KINDS key): (what was sent, response)."""
    assignment_id, enrolment_id = known_enrolment.assignment_id, known_enrolment.enrolment_id
    auth: BasicAuth | BearerAuth | None = basic
    if status == 401:
        auth = None
    elif status == 403:
        try:
            auth = bearer("api/write")
        except TokenUnavailable as exc:
            pytest.skip(f"needs a token holding only api/write to provoke a 403: {exc}")
    elif status == 404:
        enrolment_id = unknown_id(settings, "unknown-enrolment")
    else:
        enrolment_id = MALFORMED_IDS["non-hex"](enrolment_id)
    sent = f"a request with {ERROR_KINDS[status]}"
    return sent, client.get_enrolment(assignment_id, enrolment_id, auth=auth, note=sent)


@pytest.mark.requirement("ERR-005")
@pytest.mark.parametrize("status", ERROR_KINDS)
def check_error_body_is_a_json_object(
    client: Client,
    basic: BasicAuth,
    bearer: Callable[..., BearerAuth],
    settings: Settings,
    known_enrolment: FixtureEnrolment,
    status: int,
) -> None:
    """ERR-005: the 401, 403, 404 and 422 responses carry a JSON Content-Type and a JSON object body."""
    sent, response = request_error(client, basic, bearer, settings, known_enrolment, status)
    if response.status_code < 400:
        pytest.skip(f"{sent} was answered {response.status_code}, not an error (see ERR, AUTH and SCOPE)")
    what = f"the {response.status_code} response to {sent}"
    if not is_json_content_type(response):
        raise CheckFailed(
            f"{what}: expected a JSON Content-Type, received {describe(response)}",
            response=response,
        )
    json_object(response, what)
