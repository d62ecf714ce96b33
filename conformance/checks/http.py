"""HTTP: methods other than GET, HEAD, and answering without redirects."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BasicAuth
from conformance.client import Client
from conformance.config import FixtureEnrolment
from conformance.expect import CheckFailed, describe, expect_status, media_type
from conformance.plugin import EnrolmentRead

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# The error requests whose answers must not be redirects (keys of checks._support.ERROR_REQUESTS).
ERROR_STATUSES = (401, 404, 422)


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


@pytest.mark.requirement(id="HTTP-001")
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


@pytest.mark.requirement(id="HTTP-002")
def check_head_is_get_without_body(client: Client, basic: BasicAuth, enrolment_read: EnrolmentRead) -> None:
    """HTTP-002: HEAD gets 200 (with the GET's media type, if it sends one) or 405 with Allow.

    A HEAD response never has a body on the wire (RFC 9110 §9.3.2): the HTTP client reads none, so bytes
    sent after a HEAD response are taken for the start of the next response on the connection and show
    up as a protocol error, which the run reports as an error.
    """
    fixture = enrolment_read.fixture
    response = client.get_enrolment(
        fixture.assignment_id, fixture.enrolment_id, auth=basic, method="HEAD", note="HEAD of the enrolment"
    )
    what = "HEAD on the enrolment URL with valid Basic credentials"
    expect_status(response, (200, 405), what)
    if response.status_code == 405:
        expect_allow_lists_get(response, what)
        return
    head_type = media_type(response.headers.get("content-type", ""))
    get_type = media_type(enrolment_read.response.headers.get("content-type", ""))
    if head_type and head_type != get_type:
        raise CheckFailed(
            f"{what}: expected the GET's Content-Type ({get_type or 'none'}), "
            f"received Content-Type: {head_type}",
            response=response,
        )


@pytest.mark.requirement(id="HTTP-003")
def check_valid_read_is_not_a_redirect(enrolment_response: httpx.Response) -> None:
    """HTTP-003: a valid GET of a fixture enrolment is answered directly, not with a 3xx."""
    expect_no_redirect(enrolment_response, "GET of a fixture enrolment with valid Basic credentials")


@pytest.mark.requirement(id="HTTP-003")
@pytest.mark.parametrize("status", ERROR_STATUSES)
def check_error_is_not_a_redirect(
    error_request: Callable[[int], tuple[str, httpx.Response]], status: int
) -> None:
    """HTTP-003: requests the contract answers with 401, 404 or 422 are answered directly, not with a 3xx."""
    sent, response = error_request(status)
    expect_no_redirect(response, sent)
