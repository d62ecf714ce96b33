"""What several check modules share: IDs no target holds, the error requests, and their fixture.

Not a check module (it defines no ``check_*``); the plugin registers it with pytest so
that its fixture (``error_request``) is available to every check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BasicAuth, BearerAuth
from conformance.client import Client
from conformance.config import FixtureEnrolment, Settings
from conformance.skips import not_applicable
from conformance.tokens import TokenUnavailable

# Well-formed IDs that no target should hold (all-zero ObjectIds are never generated).
UNKNOWN_ASSIGNMENT_ID = "000000000000000000000a55"
UNKNOWN_ENROLMENT_ID = "000000000000000000000e41"
UNKNOWN_ID_PREFIX = "ffffffffffffffff"
# The requests the contract answers with an error, by that status: what each request has wrong.
ERROR_REQUESTS = {
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


def non_hex_id(valid: str) -> str:
    """A malformed variant of a well-formed ID: its last two characters replaced by non-hex letters."""
    return valid[:22] + "gz"


@pytest.fixture(scope="session")
def error_request(
    settings: Settings,
    client: Client,
    basic: BasicAuth,
    bearer: Callable[..., BearerAuth],
    known_enrolment: FixtureEnrolment,
) -> Callable[[int], tuple[str, httpx.Response]]:
    """error_request(status) -> (what was sent, response): the request the contract answers with
    status (an ERROR_REQUESTS key), for the known enrolment."""

    def send(status: int) -> tuple[str, httpx.Response]:
        assignment_id, enrolment_id = known_enrolment.assignment_id, known_enrolment.enrolment_id
        auth: BasicAuth | BearerAuth | None = basic
        if status == 401:
            auth = None
        elif status == 403:
            try:
                auth = bearer("api/write")
            except TokenUnavailable as exc:
                not_applicable(f"needs a token holding only api/write to provoke a 403: {exc}")
        elif status == 404:
            enrolment_id = unknown_id(settings, "unknown-enrolment")
        else:
            enrolment_id = non_hex_id(enrolment_id)
        sent = f"a request with {ERROR_REQUESTS[status]}"
        return sent, client.get_enrolment(assignment_id, enrolment_id, auth=auth, note=sent)

    return send
