"""SCOPE: which token scopes may read an enrolment (api/read, api/all) and which may not."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BearerAuth, TokenProvider, TokenUnavailable
from conformance.client import Client
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.expect import describe, expect_status, json_object

READ_GRANTING = frozenset({"api/read", "api/all"})


def existing_enrolment(settings: Settings) -> FixtureEnrolment:
    """The first fixture enrolment: a 403 is only meaningful for a record that exists."""
    if not settings.fixtures:
        pytest.skip("needs an existing enrolment: configure [[fixtures.enrolments]]")
    return settings.fixtures[0]


def skip_unless_held_only(auth: BearerAuth, requested: str) -> None:
    """Skip when the token endpoint granted a read-granting scope for a request that had none."""
    if READ_GRANTING & set(auth.scopes):
        granted = " ".join(auth.scopes)
        pytest.skip(
            f"asked for a token holding only {requested}, the token endpoint granted scope {granted!r} "
            "(see OAUTH-005), so no such token is available"
        )


def _get(client: Client, enrolment: FixtureEnrolment, auth: BearerAuth, note: str) -> httpx.Response:
    return client.get_enrolment(enrolment.assignment_id, enrolment.enrolment_id, auth=auth, note=note)


@pytest.mark.requirement("SCOPE-001")
def check_read_scope_reads(
    client: Client, bearer: Callable[..., BearerAuth], enrolment: FixtureEnrolment
) -> None:
    """SCOPE-001: a token with scope api/read reads a fixture enrolment with 200."""
    response = _get(client, enrolment, bearer("api/read"), "bearer token with scope api/read")
    expect_status(response, 200, "GET with an api/read token")


@pytest.mark.requirement("SCOPE-002")
def check_all_scope_reads(
    client: Client, bearer: Callable[..., BearerAuth], enrolment: FixtureEnrolment
) -> None:
    """SCOPE-002: a token with scope api/all reads a fixture enrolment with 200."""
    response = _get(client, enrolment, bearer("api/all"), "bearer token with scope api/all")
    expect_status(response, 200, "GET with an api/all token")


@pytest.mark.requirement("SCOPE-003")
def check_write_scope_is_403(client: Client, bearer: Callable[..., BearerAuth], settings: Settings) -> None:
    """SCOPE-003: a token holding only api/write is refused with 403."""
    auth = bearer("api/write")
    skip_unless_held_only(auth, "api/write")
    response = _get(client, existing_enrolment(settings), auth, "bearer token with scope api/write only")
    expect_status(response, 403, "GET with an api/write-only token")


def _issued_token(response: httpx.Response, client: Client, requested: tuple[str, ...]) -> BearerAuth:
    """The bearer token in a 200 token response (registered for redaction), or TokenUnavailable."""
    what = f"public token for scope {' '.join(requested)!r}"
    if response.status_code != 200:
        raise TokenUnavailable(f"could not obtain a {what}: the token endpoint answered {describe(response)}")
    body = json_object(response, what)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenUnavailable(f"could not obtain a {what}: the token response has no access_token")
    client.redactor.add(token)
    scope = body.get("scope")
    return BearerAuth(token, tuple(scope.split()) if isinstance(scope, str) else requested)


@pytest.mark.requirement("SCOPE-004")
def check_webhooks_scope_is_403(
    client: Client,
    tokens: TokenProvider,
    tenant: Credentials,
    settings: Settings,
    note: Callable[[str], None],
) -> None:
    """SCOPE-004: an api/webhooks-only token gets 403, unless the public endpoint refuses to issue one."""
    if settings.target.token_url is None:
        pytest.skip("no token_url configured: the OAuth 2.0 checks need the token endpoint")
    enrolment = existing_enrolment(settings)
    requested = ("api/webhooks",)
    response = tokens.request(tenant, scopes=requested, note="public token for scope api/webhooks only")
    if response.status_code == 400:
        note(
            "the public token endpoint does not issue api/webhooks-only tokens "
            f"(received {describe(response)}), so no such token can reach the API: the requirement holds"
        )
        return
    auth = _issued_token(response, client, requested)
    skip_unless_held_only(auth, "api/webhooks")
    response = _get(client, enrolment, auth, "public bearer token with scope api/webhooks only")
    expect_status(response, 403, "GET with an api/webhooks-only token")


@pytest.mark.requirement("SCOPE-005")
def check_webhooks_endpoint_token_is_refused(
    client: Client, bearer: Callable[..., BearerAuth], settings: Settings
) -> None:
    """SCOPE-005: a token from the webhooks token endpoint is refused by the public API (401 or 403)."""
    if settings.target.webhooks_token_url is None:
        pytest.skip("no webhooks_token_url configured: cannot obtain a webhooks token")
    enrolment = existing_enrolment(settings)
    auth = bearer("api/webhooks", webhooks=True)
    response = _get(client, enrolment, auth, "token from the webhooks token endpoint")
    expect_status(response, {401, 403}, "GET with a token from the webhooks token endpoint")


@pytest.mark.requirement("SCOPE-006")
def check_several_scopes_read(client: Client, bearer: Callable[..., BearerAuth], settings: Settings) -> None:
    """SCOPE-006: a token requested with scope 'api/read api/write' reads with 200."""
    response = _get(
        client, existing_enrolment(settings), bearer("api/read", "api/write"), "scope api/read api/write"
    )
    expect_status(response, 200, "GET with an 'api/read api/write' token")
