"""SCOPE: which token scopes may read an enrolment (api/read, api/all) and which may not."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conformance.auth import BearerAuth, RawAuthorization
from conformance.checks._support import UNKNOWN_ENROLMENT_ID
from conformance.client import Client
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.expect import describe, expect_status, json_object
from conformance.skips import skip_needing
from conformance.tokens import TokenProvider, TokenUnavailable, access_token

READ_GRANTING = frozenset({"api/read", "api/all"})


def existing_enrolment(settings: Settings) -> FixtureEnrolment:
    """The first fixture enrolment: a 403 is only meaningful for a record that exists."""
    if not settings.fixtures:
        skip_needing("fixtures.enrolments", "a 403 is only meaningful for a record that exists")
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


@pytest.mark.requirement(id="SCOPE-001")
def check_read_scope_reads(
    client: Client, bearer: Callable[..., BearerAuth], enrolment: FixtureEnrolment
) -> None:
    """SCOPE-001: a token with scope api/read reads a fixture enrolment with 200."""
    response = _get(client, enrolment, bearer("api/read"), "bearer token with scope api/read")
    expect_status(response, 200, "GET with an api/read token")


@pytest.mark.requirement(id="SCOPE-001")
def check_bearer_scheme_is_case_insensitive(
    client: Client, bearer: Callable[..., BearerAuth], settings: Settings
) -> None:
    """SCOPE-001: the scheme name is case-insensitive (RFC 9110 §11.1): 'bearer <token>' reads (200)."""
    enrolment = existing_enrolment(settings)
    auth = RawAuthorization("bearer " + bearer("api/read").token)
    response = client.get_enrolment(
        enrolment.assignment_id, enrolment.enrolment_id, auth=auth, note="api/read token, scheme 'bearer'"
    )
    expect_status(response, 200, "GET with an api/read token and the scheme name in lowercase ('bearer')")


def refused_token(
    bearer: Callable[..., BearerAuth], *scopes: str, webhooks: bool = False
) -> BearerAuth | TokenUnavailable:
    """The token for the scope set, or the TokenUnavailable saying the endpoint refused it (4xx)."""
    try:
        return bearer(*scopes, webhooks=webhooks)
    except TokenUnavailable as exc:
        if not exc.refused:
            raise
        return exc


@pytest.mark.requirement(id="SCOPE-002")
def check_all_scope_reads(
    client: Client, bearer: Callable[..., BearerAuth], enrolment: FixtureEnrolment
) -> None:
    """SCOPE-002: a token with scope api/all reads a fixture enrolment with 200."""
    response = _get(client, enrolment, bearer("api/all"), "bearer token with scope api/all")
    expect_status(response, 200, "GET with an api/all token")


@pytest.mark.requirement(id="SCOPE-003")
@pytest.mark.parametrize("record", ["existing", "unknown"])
def check_write_scope_is_403(
    client: Client,
    bearer: Callable[..., BearerAuth],
    settings: Settings,
    note: Callable[[str], None],
    record: str,
) -> None:
    """SCOPE-003: a token holding only api/write is refused with 403, for an unknown enrolment too.

    The scope is checked before the lookup: a 404 for an unknown enrolment would tell an
    api/write token which IDs exist.
    """
    enrolment = existing_enrolment(settings)
    auth = refused_token(bearer, "api/write")
    if isinstance(auth, TokenUnavailable):
        note(f"the token endpoint does not issue api/write tokens ({auth}), so none can reach the API")
        return
    skip_unless_held_only(auth, "api/write")
    if record == "unknown":
        enrolment = FixtureEnrolment(enrolment.assignment_id, UNKNOWN_ENROLMENT_ID)
    response = _get(client, enrolment, auth, f"bearer token with scope api/write only, {record} enrolment")
    expect_status(response, 403, f"GET of an {record} enrolment with an api/write-only token")


def _issued_token(response: httpx.Response, client: Client, requested: tuple[str, ...]) -> BearerAuth:
    """The bearer token in a 200 token response (registered for redaction), or TokenUnavailable."""
    what = f"public token for scope {' '.join(requested)!r}"
    if response.status_code != 200:
        raise TokenUnavailable(
            f"could not obtain a {what}: the token endpoint answered {describe(response)}",
            status=response.status_code,
        )
    body = json_object(response, what)
    token = access_token(body)
    if token is None:
        raise TokenUnavailable(f"could not obtain a {what}: the token response has no access_token")
    scope = body.get("scope")
    return BearerAuth(token, tuple(scope.split()) if isinstance(scope, str) else requested)


@pytest.mark.requirement(id="SCOPE-004")
def check_webhooks_scope_is_403(
    client: Client,
    tokens: TokenProvider,
    tenant: Credentials,
    settings: Settings,
    note: Callable[[str], None],
) -> None:
    """SCOPE-004: an api/webhooks-only token gets 403, unless the public endpoint refuses to issue one."""
    if settings.target.token_url is None:
        skip_needing("target.token_url", "the OAuth 2.0 checks need the token endpoint")
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


@pytest.mark.requirement(id="SCOPE-005")
@pytest.mark.parametrize("scope", ["api/webhooks", "api/all"])
def check_webhooks_endpoint_token_is_refused(
    client: Client,
    bearer: Callable[..., BearerAuth],
    settings: Settings,
    note: Callable[[str], None],
    scope: str,
) -> None:
    """SCOPE-005: a token from the webhooks token endpoint is refused by the public API (401 or 403).

    Also when it holds api/all (which includes webhooks): it is still not a public-API token.
    """
    if settings.target.webhooks_token_url is None:
        skip_needing("target.webhooks_token_url", "cannot obtain a webhooks token without it")
    enrolment = existing_enrolment(settings)
    auth = refused_token(bearer, scope, webhooks=True)
    if isinstance(auth, TokenUnavailable):
        note(f"the webhooks token endpoint does not issue {scope} tokens ({auth}): none can reach the API")
        return
    response = _get(client, enrolment, auth, f"token from the webhooks token endpoint, scope {scope}")
    expect_status(response, {401, 403}, f"GET with a {scope} token from the webhooks token endpoint")


@pytest.mark.requirement(id="SCOPE-006")
def check_several_scopes_read(client: Client, bearer: Callable[..., BearerAuth], settings: Settings) -> None:
    """SCOPE-006: a token holding several scopes, one of them read-granting, reads with 200.

    Asks for 'api/read api/write', or 'api/read api/all' if the endpoint refuses to issue that.
    """
    enrolment = existing_enrolment(settings)
    refusals = []
    for scopes in (("api/read", "api/write"), ("api/read", "api/all")):
        auth = refused_token(bearer, *scopes)
        if isinstance(auth, BearerAuth):
            response = _get(client, enrolment, auth, f"scope {' '.join(scopes)}")
            expect_status(response, 200, f"GET with an {' '.join(scopes)!r} token")
            return
        refusals.append(str(auth))
    pytest.skip(f"the token endpoint issues no token with several scopes: {'; '.join(refusals)}")
