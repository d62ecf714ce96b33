"""OAUTH: the client-credentials token endpoint, and how the API treats bearer tokens."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import httpx
import pytest

from conformance import jsonbody
from conformance.auth import BearerAuth, RawAuthorization, basic_credentials
from conformance.checks.auth import expect_challenge
from conformance.client import Client
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.expect import (
    CheckFailed,
    challenge_schemes,
    describe,
    expect_status,
    is_json_content_type,
    json_object,
)
from conformance.skips import not_applicable, skip_needing
from conformance.tokens import TokenProvider, TokenUnavailable, access_token, token_fields

UNSUPPORTED_GRANT = "urn:example:params:oauth:grant-type:conformance-unsupported"
UNKNOWN_SCOPE = "api/conformance-unknown-scope"
UNKNOWN_TENANT = "eu-west-2_ConformanceX0"


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode("ascii").rstrip("=")


def garbage_tokens(tenant_id: str) -> dict[str, str]:
    """Bearer tokens no target may accept, with what each probes."""
    unsigned_jwt = ".".join(
        [
            _b64url({"alg": "none", "typ": "JWT"}),
            _b64url({"sub": tenant_id, "client_id": tenant_id, "scope": "api/all", "exp": 4102444800}),
            "",
        ]
    )
    return {
        "opaque": "conformance-garbage-token-0123456789abcdef",
        "unsigned-jwt": unsigned_jwt,
        "bad-base64-jwt": "eyJ+bGci~.eyJ/c3Vi~.c2ln+bmF0~",  # token68 characters, not base64url
        "very-long": "A" * 8192,
    }


def garbage_authorizations(tenant_id: str) -> dict[str, str]:
    """Authorization values with a bearer token no target may accept (or none at all), by kind."""
    values = {kind: f"Bearer {token}" for kind, token in garbage_tokens(tenant_id).items()}
    return values | {"scheme-only": "Bearer"}


def tamper(token: str) -> str:
    """The token with one character near its middle changed (skipping separators such as '.')."""
    for index in range(len(token) // 2, len(token)):
        if token[index].isalnum():
            replacement = "A" if token[index] != "A" else "B"
            return token[:index] + replacement + token[index + 1 :]
    raise ValueError("the token has no alphanumeric character in its second half")


def _b64url_json(segment: str) -> object:
    """The JSON value a base64url segment (padding optional) encodes; ValueError if it is not one."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", segment):
        raise ValueError("not base64url")
    return jsonbody.parse(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def jwt_parts(token: str) -> tuple[str, dict[str, object], str] | None:
    """(header segment, payload claims, signature segment) of a JWS compact token, None if it is not one."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    try:
        header, claims = _b64url_json(segments[0]), _b64url_json(segments[1])
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return segments[0], claims, segments[2]


def forge_claims(token: str) -> str:
    """A JWT with a wider scope claim in its payload, re-encoded, keeping the original signature."""
    parts = jwt_parts(token)
    if parts is None:
        raise ValueError("not a JWT")
    header, claims, signature = parts
    claims = claims | {"scope": f"{claims.get('scope', '')} api/all".strip()}
    return ".".join([header, _b64url(claims), signature])


def tamper_signature(token: str) -> str:
    """A JWT with the first character of its signature changed (the last may only carry padding bits)."""
    head, _, signature = token.rpartition(".")
    if len(signature) < 2:
        raise ValueError("the JWT has no signature to change")
    return f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


_AUTH_ITEM = re.compile(r"""([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?""")


def challenge_param(www_authenticate: str, scheme: str, name: str) -> str | None:
    """The value of auth-param `name` in the challenge for `scheme` (RFC 9110 §11.2), unquoted."""
    current = None
    for match in _AUTH_ITEM.finditer(www_authenticate):
        key, value = match.group(1).lower(), match.group(2)
        if value is None:
            current = key
        elif current == scheme.lower() and key == name.lower():
            return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
    return None


def cache_directives(response: httpx.Response) -> set[str]:
    """The Cache-Control directive names of a response, lowercased."""
    value = ",".join(response.headers.get_list("cache-control"))
    return {part.split("=", 1)[0].strip().lower() for part in value.split(",") if part.strip()}


def _error_code(response: httpx.Response, what: str) -> str:
    body = json_object(response, what)
    return body.get("error")  # type: ignore[no-any-return]


def expect_token_error(response: httpx.Response, statuses: set[int], code: str, what: str) -> None:
    """Fail unless a token error response has an allowed status and the JSON error `code` (RFC 6749 §5.2)."""
    expect_status(response, statuses, what)
    received = _error_code(response, what)
    if received != code:
        raise CheckFailed(
            f"{what}: expected error {code!r}, received error {received!r}: {describe(response)}",
            response=response,
        )


@pytest.fixture(scope="session")
def public_tokens(settings: Settings, tokens: TokenProvider) -> TokenProvider:
    """The token provider, or a skip when the target has no public token endpoint."""
    if settings.target.token_url is None:
        skip_needing("target.token_url", "the OAuth 2.0 checks need the token endpoint")
    return tokens


@pytest.fixture(scope="session")
def token_response(public_tokens: TokenProvider, tenant: Credentials) -> httpx.Response:
    """One api/read token request with client_id/client_secret in the body (shared by OAUTH-001/003/004)."""
    return public_tokens.request(tenant, note="client credentials in the body, scope api/read")


def _expect_token(response: httpx.Response, what: str) -> None:
    expect_status(response, 200, what)
    if access_token(json_object(response, what)) is None:
        raise CheckFailed(
            f"{what}: expected a non-empty access_token, received {describe(response)}", response=response
        )


@pytest.mark.requirement(id="OAUTH-001")
def check_client_credentials_in_body(token_response: httpx.Response) -> None:
    """OAUTH-001: client_id/client_secret as body parameters obtain a token with 200."""
    _expect_token(token_response, "token request with client credentials in the body")


@pytest.mark.requirement(id="OAUTH-002")
def check_client_credentials_with_basic(public_tokens: TokenProvider, tenant: Credentials) -> None:
    """OAUTH-002: client credentials sent with HTTP Basic client authentication obtain a token with 200."""
    response = public_tokens.request(tenant, client_auth="basic", note="client credentials with HTTP Basic")
    _expect_token(response, "token request with HTTP Basic client authentication")


def positive_integral(value: object) -> bool:
    """Whether a JSON value is a positive integral number (3600 or 3600.0; not a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value > 0 and float(value).is_integer()


@pytest.mark.requirement(id="OAUTH-003")
def check_token_response_fields(token_response: httpx.Response) -> None:
    """OAUTH-003: access_token non-empty, token_type Bearer, expires_in a positive integer, scope a string."""
    what = "token response"
    expect_status(token_response, 200, what)
    body = json_object(token_response, what)
    problems = []
    if access_token(body) is None:
        problems.append("access_token is missing or not a non-empty string")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        problems.append(f"token_type is {token_type!r}, expected 'Bearer' (case-insensitive)")
    expires_in = body.get("expires_in")
    if not positive_integral(expires_in):
        problems.append(f"expires_in is {expires_in!r}, expected a positive JSON integer")
    if not isinstance(body.get("scope"), str):
        problems.append(f"scope is {body.get('scope')!r}, expected a space-delimited string")
    if problems:
        raise CheckFailed(
            f"{what}: {'; '.join(problems)}; received {describe(token_response)}", response=token_response
        )


@pytest.mark.requirement(id="OAUTH-004")
def check_token_response_is_json_and_not_stored(token_response: httpx.Response) -> None:
    """OAUTH-004: the token response has a JSON Content-Type and Cache-Control: no-store."""
    what = "token response"
    expect_status(token_response, 200, what)
    if not is_json_content_type(token_response):
        raise CheckFailed(
            f"{what}: expected a JSON Content-Type, received {describe(token_response)}",
            response=token_response,
        )
    if "no-store" not in cache_directives(token_response):
        received = token_response.headers.get("cache-control", "no Cache-Control header")
        raise CheckFailed(
            f"{what}: expected Cache-Control: no-store, received {received!r}", response=token_response
        )


@pytest.mark.requirement(id="OAUTH-005")
@pytest.mark.parametrize("requested", ["api/read", "api/write"])
def check_no_scope_beyond_request(bearer: Callable[..., BearerAuth], requested: str) -> None:
    """OAUTH-005: the granted scope set is within the requested one (an absent scope means as requested)."""
    try:
        granted = set(bearer(*requested.split()).scopes)
    except TokenUnavailable as exc:
        if not exc.refused:
            raise
        pytest.skip(f"the token endpoint refuses to issue scope {requested!r}, so grants nothing: {exc}")
    beyond = granted - set(requested.split())
    if beyond:
        raise CheckFailed(
            f"token request for scope {requested!r}: expected no scope beyond it, received scope "
            f"{' '.join(sorted(granted))!r} (beyond the request: {', '.join(sorted(beyond))})"
        )


@pytest.mark.requirement(id="OAUTH-006")
@pytest.mark.parametrize("client_auth", ["body", "basic"])
def check_wrong_client_secret(public_tokens: TokenProvider, tenant: Credentials, client_auth: str) -> None:
    """OAUTH-006: a wrong client secret is refused with error invalid_client: 400 or 401 in the body,
    401 with a WWW-Authenticate challenge when sent with HTTP Basic (RFC 6749 §5.2)."""
    wrong = Credentials(tenant.tenant_id, tenant.secret + "-wrong", tenant.secret_env)
    response = public_tokens.request(
        wrong, client_auth=client_auth, note=f"wrong client secret ({client_auth})"
    )
    what = f"token request with a wrong secret ({client_auth})"
    statuses = {401} if client_auth == "basic" else {400, 401}
    expect_token_error(response, statuses, "invalid_client", what)
    if client_auth == "basic":
        expect_challenge(response, what)


@pytest.mark.requirement(id="OAUTH-007")
def check_unsupported_grant_type(public_tokens: TokenProvider, tenant: Credentials) -> None:
    """OAUTH-007: an unsupported grant_type is refused with 400 and error unsupported_grant_type."""
    form = {"grant_type": UNSUPPORTED_GRANT, "client_id": tenant.tenant_id, "client_secret": tenant.secret}
    response = public_tokens.request(tenant, form=form, note=f"unsupported grant_type {UNSUPPORTED_GRANT}")
    expect_token_error(
        response, {400}, "unsupported_grant_type", "token request with an unsupported grant_type"
    )


@pytest.mark.requirement(id="OAUTH-008")
def check_unknown_scope(public_tokens: TokenProvider, tenant: Credentials) -> None:
    """OAUTH-008: an unknown scope is refused with 400 and error invalid_scope."""
    response = public_tokens.request(tenant, scopes=(UNKNOWN_SCOPE,), note=f"unknown scope {UNKNOWN_SCOPE}")
    expect_token_error(
        response, {400}, "invalid_scope", f"token request for the unknown scope {UNKNOWN_SCOPE}"
    )


@pytest.mark.requirement(id="OAUTH-009")
def check_path_tenant_must_match_client(
    public_tokens: TokenProvider, settings: Settings, tenant: Credentials
) -> None:
    """OAUTH-009: a token request to another tenant's endpoint is refused with a 4xx and no token."""
    other = settings.other_tenant.tenant_id if settings.other_tenant else UNKNOWN_TENANT
    response = public_tokens.request(tenant, path_tenant=other, note="path tenant differs from client_id")
    what = f"token request to the endpoint of tenant {other} with the client_id {tenant.tenant_id}"
    if not 400 <= response.status_code < 500:
        raise CheckFailed(f"{what}: expected a 4xx refusal, received {describe(response)}", response=response)
    if (token_fields(response.content) or {}).get("access_token"):
        raise CheckFailed(
            f"{what}: expected no access_token, received {describe(response)}", response=response
        )


@pytest.mark.requirement(id="OAUTH-010")
def check_missing_grant_type(public_tokens: TokenProvider, tenant: Credentials) -> None:
    """OAUTH-010: a token request without grant_type is refused with 400 and error invalid_request."""
    form = {"client_id": tenant.tenant_id, "client_secret": tenant.secret, "scope": "api/read"}
    response = public_tokens.request(tenant, form=form, note="token request without grant_type")
    expect_token_error(response, {400}, "invalid_request", "token request without grant_type")


def _get_with_token(client: Client, enrolment: FixtureEnrolment, token: str, note: str) -> httpx.Response:
    auth = RawAuthorization(f"Bearer {token}")
    return client.get_enrolment(enrolment.assignment_id, enrolment.enrolment_id, auth=auth, note=note)


@pytest.mark.requirement(id="OAUTH-011")
@pytest.mark.parametrize("kind", ["opaque", "unsigned-jwt", "bad-base64-jwt", "very-long", "scheme-only"])
def check_garbage_token(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment, kind: str
) -> None:
    """OAUTH-011: a bearer token the target never issued (or none after the scheme) is refused with 401."""
    auth = RawAuthorization(garbage_authorizations(tenant.tenant_id)[kind])
    response = client.get_enrolment(
        known_enrolment.assignment_id, known_enrolment.enrolment_id, auth=auth, note=f"garbage bearer: {kind}"
    )
    expect_status(response, 401, f"GET with a garbage bearer token ({kind})")


TAMPERINGS: dict[str, tuple[Callable[[str], str], str]] = {
    "one-character": (tamper, "api/read token with one character changed"),
    "jwt-claims": (forge_claims, "api/read JWT with a wider scope claim and the original signature"),
    "jwt-signature": (tamper_signature, "api/read JWT with the first signature character changed"),
}


@pytest.mark.requirement(id="OAUTH-012")
@pytest.mark.parametrize("how", TAMPERINGS)
def check_tampered_token(
    client: Client, bearer: Callable[..., BearerAuth], known_enrolment: FixtureEnrolment, how: str
) -> None:
    """OAUTH-012: a real api/read token tampered with (a character; a JWT's claims or signature): 401."""
    token = bearer("api/read").token
    if how.startswith("jwt-") and jwt_parts(token) is None:
        not_applicable(
            "the access token is opaque (not a JWT with three base64url segments): "
            "no JWT claims or signature to tamper with"
        )
    change, what = TAMPERINGS[how]
    try:
        tampered = change(token)
    except ValueError as exc:
        not_applicable(f"cannot make this tampered token: {exc}")
    response = _get_with_token(client, known_enrolment, tampered, what)
    expect_status(response, 401, f"GET with a tampered bearer token ({what})")


@pytest.mark.requirement(id="OAUTH-013")
def check_token_in_query_is_ignored(
    client: Client, bearer: Callable[..., BearerAuth], known_enrolment: FixtureEnrolment
) -> None:
    """OAUTH-013: a valid token sent only as the access_token query parameter is not accepted (401)."""
    token = bearer("api/read").token
    response = client.get_enrolment(
        known_enrolment.assignment_id,
        known_enrolment.enrolment_id,
        auth=None,
        params={"access_token": token},
        note="valid api/read token in the query string, no Authorization header",
    )
    expect_status(response, 401, "GET with the access token only in the query string")


@pytest.mark.requirement(id="OAUTH-013")
def check_token_as_basic_password_is_refused(
    client: Client, tenant: Credentials, bearer: Callable[..., BearerAuth], known_enrolment: FixtureEnrolment
) -> None:
    """OAUTH-013: a valid token sent as the Basic password (with the Tenant ID) is not accepted (401)."""
    token = bearer("api/read").token
    payload = basic_credentials(tenant.tenant_id, token)
    response = client.get_enrolment(
        known_enrolment.assignment_id,
        known_enrolment.enrolment_id,
        auth=RawAuthorization(f"Basic {payload}"),
        note="Basic with the Tenant ID and a valid api/read access token as the password",
    )
    expect_status(response, 401, "GET with the access token as the Basic password")


def _invalid_token_challenge(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment
) -> tuple[httpx.Response, str]:
    """The 401 to an invalid bearer token and its WWW-Authenticate value (skips unless 401)."""
    token = garbage_tokens(tenant.tenant_id)["opaque"]
    response = _get_with_token(
        client, known_enrolment, token, "which challenge answers an invalid bearer token?"
    )
    if response.status_code != 401:
        pytest.skip(f"needs a 401 to an invalid bearer token, received {describe(response)} (see OAUTH-011)")
    return response, response.headers.get("www-authenticate", "")


@pytest.mark.requirement(id="OAUTH-014")
def check_bearer_challenge(client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment) -> None:
    """OAUTH-014: the 401 to a request with an invalid bearer token carries a challenge offering Bearer."""
    response, challenge = _invalid_token_challenge(client, tenant, known_enrolment)
    if "bearer" not in challenge_schemes(challenge):
        received = f"WWW-Authenticate: {challenge}" if challenge else "no WWW-Authenticate header"
        raise CheckFailed(
            f"401 to an invalid bearer token: expected a challenge offering Bearer, received {received}",
            response=response,
        )


@pytest.mark.requirement(id="OAUTH-015")
def check_bearer_challenge_names_invalid_token(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment
) -> None:
    """OAUTH-015: the Bearer challenge to an invalid token carries error="invalid_token"."""
    response, challenge = _invalid_token_challenge(client, tenant, known_enrolment)
    error = challenge_param(challenge, "Bearer", "error")
    if error != "invalid_token":
        received = f"WWW-Authenticate: {challenge}" if challenge else "no WWW-Authenticate header"
        raise CheckFailed(
            f'401 to an invalid bearer token: expected a Bearer challenge with error="invalid_token", '
            f"received {received}",
            response=response,
        )
