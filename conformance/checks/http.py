"""HTTP: methods other than GET, HEAD, and answering without redirects."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BasicAuth, BearerAuth
from conformance.checks.errors import request_error
from conformance.client import Client
from conformance.config import FixtureEnrolment, Settings
from conformance.expect import CheckFailed, describe, expect_status
from conformance.plugin import EnrolmentRead

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# The error requests whose answers must not be redirects (keys of errors.ERROR_KINDS).
ERROR_STATUSES = (401, 404, 422)


def media_type(response: httpx.Response) -> str | None:
    """The Content-Type without parameters, lowercased; None when absent."""
    value = response.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value is not None else None


def expect_allow_lists_get(response: httpx.Response, what: str) -> None:
    """Fail unless the (405) response has an Allow header whose comma-separated methods include GET."""
    allowed = {method.strip().upper() for method in response.headers.get_list("allow", split_commas=True)}
    if "GET" not in allowed:
        values = response.headers.get_list("allow")
        received = f"Allow: {', '.join(values)}" if values else "no Allow header"
        raise CheckFailed(
            f"{what}: expected a 405 with an Allow header listing GET, received {received}", response=response
        )


def expect_no_redirect(response: httpx.Response, what: str) -> None:
    """Fail if the response is a redirect (3xx)."""
    if 300 <= response.status_code < 400:
        location = response.headers.get("location", "no Location")
        raise CheckFailed(
            f"{what}: expected a direct answer, not a 3xx; received {describe(response)} to {location}",
            response=response,
        )


@pytest.mark.requirement("HTTP-001")
@pytest.mark.parametrize("method", UNSAFE_METHODS)
def check_other_methods_are_405(
    unsafe_methods: None, client: Client, basic: BasicAuth, known_enrolment: FixtureEnrolment, method: str
) -> None:
    """HTTP-001: POST, PUT, PATCH and DELETE with valid credentials get 405 with an Allow listing GET."""
    response = client.get_enrolment(
        known_enrolment.assignment_id, known_enrolment.enrolment_id, auth=basic, method=method, note=method
    )
    what = f"{method} on the enrolment URL with valid Basic credentials"
    expect_status(response, 405, what)
    expect_allow_lists_get(response, what)


@pytest.mark.requirement("HTTP-002")
def check_head_is_get_without_body(client: Client, basic: BasicAuth, enrolment_read: EnrolmentRead) -> None:
    """HTTP-002: HEAD gets 200 without a body (and the GET's media type, if any) or 405 with Allow."""
    fixture = enrolment_read.fixture
    response = client.get_enrolment(
        fixture.assignment_id, fixture.enrolment_id, auth=basic, method="HEAD", note="HEAD of the enrolment"
    )
    what = "HEAD on the enrolment URL with valid Basic credentials"
    expect_status(response, (200, 405), what)
    if response.status_code == 405:
        expect_allow_lists_get(response, what)
        return
    if response.content:
        raise CheckFailed(
            f"{what}: expected no content, received {len(response.content)} bytes", response=response
        )
    head_type, get_type = media_type(response), media_type(enrolment_read.response)
    if head_type is not None and head_type != get_type:
        raise CheckFailed(
            f"{what}: expected the GET's Content-Type ({get_type}), received Content-Type: {head_type}",
            response=response,
        )


@pytest.mark.requirement("HTTP-003")
def check_valid_read_is_not_a_redirect(enrolment_response: httpx.Response) -> None:
    """HTTP-003: a valid GET of a fixture enrolment is answered directly, not with a 3xx."""
    expect_no_redirect(enrolment_response, "GET of a fixture enrolment with valid Basic credentials")


@pytest.mark.requirement("HTTP-003")
@pytest.mark.parametrize("status", ERROR_STATUSES)
def check_error_is_not_a_redirect(
    client: Client,
    basic: BasicAuth,
    bearer: Callable[..., BearerAuth],
    settings: Settings,
    known_enrolment: FixtureEnrolment,
    status: int,
) -> None:
    """HTTP-003: requests the contract answers with 401, 404 or 422 are answered directly, not with a 3xx."""
    sent, response = request_error(client, basic, bearer, settings, known_enrolment, status)
    expect_no_redirect(response, sent)
