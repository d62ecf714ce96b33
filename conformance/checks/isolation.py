"""ISO: an enrolment is only reachable under its own assignment and by its own tenant."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BasicAuth, BearerAuth
from conformance.checks._support import unknown_id
from conformance.checks.errors import judge_not_found
from conformance.client import Client
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.expect import expect_status
from conformance.skips import skip_needing

# 404 hides that the enrolment exists; 403 also refuses it. Anything else (above all 200) does not isolate.
REFUSED = (403, 404)


def judge_isolated(response: httpx.Response, what: str) -> None:
    """ISO-003, ISO-004 over one exchange: a tenant's request for another tenant's enrolment is refused
    (404 or 403), never answered with the record."""
    expect_status(response, REFUSED, what)


@pytest.mark.requirement(id="ISO-001")
def check_enrolment_under_random_assignment_is_404(
    client: Client, basic: BasicAuth, settings: Settings, enrolment: FixtureEnrolment
) -> None:
    """ISO-001: a fixture enrolment requested under a random well-formed assignmentId gets 404."""
    assignment_id = unknown_id(settings, "random-assignment")
    response = client.get_enrolment(
        assignment_id, enrolment.enrolment_id, auth=basic, note="existing enrolment, random assignment"
    )
    judge_not_found(
        response,
        f"GET of existing enrolment {enrolment.enrolment_id} under unknown assignment {assignment_id}",
    )


@pytest.mark.requirement(id="ISO-002")
def check_enrolment_under_another_assignment_is_404(
    client: Client, basic: BasicAuth, settings: Settings, enrolment: FixtureEnrolment
) -> None:
    """ISO-002: a fixture enrolment requested under another fixture's (existing) assignmentId gets 404."""
    holding = {f.assignment_id for f in settings.fixtures if f.enrolment_id == enrolment.enrolment_id}
    others = [f.assignment_id for f in settings.fixtures if f.assignment_id not in holding]
    if not others:
        skip_needing(
            "fixtures.enrolments",
            f"every fixture enrolment is under assignment {', '.join(sorted(holding))}: "
            "configure fixtures under two assignments to check ISO-002",
        )
    response = client.get_enrolment(
        others[0], enrolment.enrolment_id, auth=basic, note="existing enrolment, another existing assignment"
    )
    judge_not_found(
        response,
        f"GET of enrolment {enrolment.enrolment_id} (of assignment {enrolment.assignment_id}) "
        f"under another existing assignment {others[0]}",
    )


@pytest.mark.requirement(id="ISO-003")
@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def check_other_tenant_cannot_read(
    client: Client,
    bearer: Callable[..., BearerAuth],
    other_tenant: Credentials,
    enrolment: FixtureEnrolment,
    scheme: str,
) -> None:
    """ISO-003: the other tenant (Basic, or its own api/read token) gets 404 or 403 for ours, never 200."""
    auth = BasicAuth(other_tenant) if scheme == "basic" else bearer("api/read", credentials=other_tenant)
    response = client.get_enrolment(
        enrolment.assignment_id, enrolment.enrolment_id, auth=auth, note=f"other tenant ({scheme}) reads ours"
    )
    judge_isolated(
        response,
        f"GET of the first tenant's enrolment {enrolment.label} by {other_tenant.tenant_id} ({scheme})",
    )


@pytest.mark.requirement(id="ISO-004")
def check_cannot_read_other_tenants_enrolment(
    client: Client, basic: BasicAuth, other_tenant_enrolment: FixtureEnrolment
) -> None:
    """ISO-004: the first tenant gets 404 or 403 for an enrolment of the other tenant, never 200."""
    response = client.get_enrolment(
        other_tenant_enrolment.assignment_id,
        other_tenant_enrolment.enrolment_id,
        auth=basic,
        note="first tenant reads the other tenant's enrolment",
    )
    judge_isolated(response, f"GET of the other tenant's enrolment {other_tenant_enrolment.label}")
