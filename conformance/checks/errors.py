"""ERR: unknown and malformed IDs, and the shape of error responses.

The judgements that need only an exchange (``judge_not_found``, ``judge_malformed_id``, ``judge_error_body``)
send nothing: the checks here call them on the answers they get, and ``judge`` on recorded ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conformance.auth import BasicAuth
from conformance.checks._support import ERROR_REQUESTS, non_hex_id, unknown_id
from conformance.client import Client
from conformance.config import FixtureEnrolment, Settings
from conformance.expect import CheckFailed, describe, expect_status, is_json_content_type, json_object

# Malformed variants of a well-formed ID (none matches ^[0-9a-f]{24}$), by the kind of mistake each probes.
MALFORMED_IDS: dict[str, Callable[[str], str]] = {
    "too-short": lambda valid: valid[:23],
    "too-long": lambda valid: valid + "0",
    "uppercase": lambda valid: valid.upper() if valid.upper() != valid else "ABCDEF" + valid[6:],
    "non-hex": non_hex_id,
    "unicode": lambda valid: valid[:23] + "é",
    "emoji": lambda valid: valid[:23] + "\N{GRINNING FACE}",
    "encoded-slash": lambda valid: valid[:12] + "/" + valid[13:],
    "very-long": lambda valid: (valid * 171)[:4096],
    "blank": lambda valid: " " * 24,
    "inner-space": lambda valid: valid[:12] + " " + valid[13:],
    "trailing-newline": lambda valid: valid + "\n",
}
# The path parameter each requirement malforms.
MALFORMED_PARAMETERS = {"ERR-003": "enrolmentId", "ERR-004": "assignmentId"}

# What a wrong status usually means for a malformed ID, to make the failure actionable.
MALFORMED_HINTS = {
    400: "the contract's code for a malformed ID is 422; 400 is not accepted in its place",
    404: "the ID was treated as well-formed but unknown: it was not validated against ^[0-9a-f]{24}$",
}
ENCODED_SLASH_HINT = (
    "the '/' was sent percent-encoded (%2F) inside the ID, and the contract requires 422 for any malformed "
    "ID, this one included; a 400 or 404 here often comes from the server or an intermediary decoding "
    "%2F before routing, so that the request never reaches the ID validation"
)


def malformed_cases() -> list[Any]:
    """(parameter, kind) for every malformed-ID request, each marked with the requirement it checks."""
    return [
        pytest.param(parameter, kind, id=f"{parameter}-{kind}", marks=pytest.mark.requirement(id=requirement))
        for requirement, parameter in MALFORMED_PARAMETERS.items()
        for kind in MALFORMED_IDS
    ]


def judge_not_found(response: httpx.Response, what: str) -> None:
    """ERR-001, ERR-002 (and ISO-001, ISO-002) over one exchange: a well-formed ID that names no record
    (under the assignment in the path) gets 404."""
    expect_status(response, 404, what)


def judge_malformed_id(response: httpx.Response, what: str, kind: str = "") -> None:
    """ERR-003, ERR-004 over one exchange: a malformed-ID request with valid credentials gets exactly 422;
    the failure adds a hint on what a wrong code suggests (``kind``: the kind of malformed ID, if known)."""
    try:
        expect_status(response, 422, what)
    except CheckFailed as failure:
        hint = MALFORMED_HINTS.get(response.status_code)
        if kind == "encoded-slash" and response.status_code in (400, 404):
            hint = ENCODED_SLASH_HINT
        if hint is None:
            raise
        raise CheckFailed(f"{failure} ({hint})", response=response) from None


@pytest.mark.requirement(id="ERR-001")
def check_unknown_enrolment_is_404(
    client: Client, basic: BasicAuth, settings: Settings, first_enrolment: FixtureEnrolment
) -> None:
    """ERR-001: a well-formed but unknown enrolmentId under a fixture's assignment gets 404."""
    assignment_id = first_enrolment.assignment_id
    missing = unknown_id(settings, "unknown-enrolment")
    response = client.get_enrolment(assignment_id, missing, auth=basic, note="unknown enrolmentId")
    judge_not_found(response, f"GET of an unknown enrolmentId {missing} under {assignment_id}")


@pytest.mark.requirement(id="ERR-002")
def check_unknown_assignment_is_404(client: Client, basic: BasicAuth, settings: Settings) -> None:
    """ERR-002: a well-formed but unknown assignmentId (with an unknown enrolmentId) gets 404.

    ISO-001 asks the same of an existing enrolment under an unknown assignment.
    """
    assignment_id = unknown_id(settings, "unknown-assignment")
    enrolment_id = unknown_id(settings, "unknown-enrolment")
    response = client.get_enrolment(assignment_id, enrolment_id, auth=basic, note="unknown assignmentId")
    judge_not_found(
        response, f"GET of unknown enrolmentId {enrolment_id} under unknown assignmentId {assignment_id}"
    )


@pytest.mark.parametrize(("parameter", "kind"), malformed_cases())
def check_malformed_id_is_422(
    client: Client, basic: BasicAuth, known_enrolment: FixtureEnrolment, parameter: str, kind: str
) -> None:
    """ERR-003 (enrolmentId) / ERR-004 (assignmentId): a malformed ID with valid credentials gets exactly
    422 (not 400/404, never 5xx)."""
    ids = {"assignmentId": known_enrolment.assignment_id, "enrolmentId": known_enrolment.enrolment_id}
    malformed = ids[parameter] = MALFORMED_IDS[kind](ids[parameter])
    response = client.get_enrolment(
        ids["assignmentId"], ids["enrolmentId"], auth=basic, note=f"malformed {parameter}: {kind}"
    )
    judge_malformed_id(response, f"GET with a malformed {parameter} ({kind}: {malformed[:40]!r})", kind)


@pytest.mark.requirement(id="ERR-005")
@pytest.mark.parametrize("status", ERROR_REQUESTS)
def check_error_body_is_a_json_object(
    error_request: Callable[[int], tuple[str, httpx.Response]], status: int
) -> None:
    """ERR-005: the 401, 403, 404 and 422 responses carry a JSON Content-Type and a JSON object body."""
    sent, response = error_request(status)
    judge_error_body(response, sent)


def judge_error_body(response: httpx.Response, sent: str) -> None:
    """ERR-005 over one exchange: an error answer to ``sent`` has a JSON Content-Type and a JSON object
    body (a skip for an answer that is not an error). Sends nothing: ``judge`` applies it to recordings."""
    if response.status_code < 400:
        pytest.skip(f"{sent} was answered {response.status_code}, not an error (see ERR, AUTH and SCOPE)")
    what = f"the {response.status_code} response to {sent}"
    if not is_json_content_type(response):
        raise CheckFailed(
            f"{what}: expected a JSON Content-Type, received {describe(response)}", response=response
        )
    json_object(response, what)
