"""The OAuth 2.0 client-credentials token endpoints (RFC 6749 §4.4).

``POST /oauth2/token/{tenantId}`` issues public-API tokens and
``POST /webhooks/oauth2/token/{tenantId}`` webhooks tokens, which the public
API refuses. The client authenticates with ``client_id``/``client_secret`` body
parameters or with HTTP Basic (RFC 6749 §2.3.1), not both, and ``client_id``
must be the tenant in the path. Errors follow RFC 6749 §5.2.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from conformance.reference.access import decode_basic
from conformance.reference.context import Context
from conformance.reference.responses import json_response
from conformance.reference.tokens import PUBLIC, TOKEN_LIFETIME, WEBHOOKS


@dataclass(frozen=True)
class Audience:
    """What one token endpoint issues: the tokens' audience, the scopes it knows, the default scope."""

    name: str
    scopes: frozenset[str]
    default_scope: str


PUBLIC_AUDIENCE = Audience(
    PUBLIC, frozenset({"api/all", "api/read", "api/write", "api/webhooks"}), "api/read"
)
WEBHOOKS_AUDIENCE = Audience(WEBHOOKS, frozenset({"api/webhooks", "api/all"}), "api/webhooks")
CLIENT_CHALLENGE = 'Basic realm="oauth2"'


class OAuthError(Exception):
    """A token request refused with an RFC 6749 §5.2 error."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def token_endpoint(ctx: Context, audience: Audience) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of one token endpoint."""

    async def endpoint(request: Request) -> Response:
        try:
            tenant_id, scopes = await _grant(request, ctx, audience)
        except OAuthError as exc:
            headers = {"WWW-Authenticate": CLIENT_CHALLENGE} if exc.status == 401 else None
            body = {"error": exc.error, "error_description": exc.description}
            return json_response(body, ctx.faults, exc.status, headers)
        return _token_response(ctx, tenant_id, scopes, audience)

    return endpoint


def _token_response(ctx: Context, tenant_id: str, scopes: frozenset[str], audience: Audience) -> Response:
    faults = ctx.faults
    body: dict[str, object] = {
        "access_token": ctx.tokens.issue(tenant_id, scopes, audience.name),
        "token_type": "Bearer",
        "expires_in": str(TOKEN_LIFETIME) if "token-expires-in-string" in faults else TOKEN_LIFETIME,
        "scope": " ".join(sorted(scopes)),
    }
    if "token-type-missing" in faults:
        del body["token_type"]
    if "token-scope-missing" in faults:
        del body["scope"]
    headers = None if "token-cacheable" in faults else {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return json_response(body, faults, headers=headers)


async def _grant(request: Request, ctx: Context, audience: Audience) -> tuple[str, frozenset[str]]:
    """The (tenant, scopes) to issue a token for, or OAuthError."""
    params = _form(request.headers.get("content-type", ""), await request.body())
    tenant_id = _authenticate_client(request, params, ctx)
    _check_grant_type(params.get("grant_type"), ctx.faults)
    return tenant_id, _scopes(params.get("scope"), audience, ctx.faults)


def _form(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise OAuthError("invalid_request", f"parameter {repeated[0]} is repeated")
    return {name: values[0] for name, values in parsed.items()}


def _authenticate_client(request: Request, params: dict[str, str], ctx: Context) -> str:
    """The authenticated tenant (client_id), which must be the tenant in the path."""
    faults = ctx.faults
    header = request.headers.get("authorization")
    if header is not None:
        if "client_secret" in params:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        if "token-rejects-basic-auth" in faults:
            raise OAuthError("invalid_client", "HTTP Basic client authentication is not supported", 401)
        scheme, _, credentials = header.strip().partition(" ")
        pair = decode_basic(credentials.strip()) if scheme.lower() == "basic" else None
        if pair is None:
            raise OAuthError("invalid_client", "malformed client credentials", 401)
        client_id, secret = unquote_plus(pair[0]), unquote_plus(pair[1])
        if params.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated client")
    elif "client_id" in params and "client_secret" in params:
        if "token-rejects-body-auth" in faults:
            raise OAuthError("invalid_client", "client credentials in the body are not supported", 401)
        client_id, secret = params["client_id"], params["client_secret"]
    else:
        raise OAuthError("invalid_client", "client authentication is required", 401)
    expected = ctx.secrets.get(client_id)
    if expected is None:
        raise OAuthError("invalid_client", "client authentication failed", 401)
    if (
        not hmac.compare_digest(secret.encode(), expected.encode())
        and "token-wrong-secret-accepted" not in faults
    ):
        if "token-wrong-secret-invalid-request" in faults:
            raise OAuthError("invalid_request", "the request is invalid")
        if "token-basic-invalid-client-400" in faults and header is not None:
            raise OAuthError("invalid_client", "client authentication failed")
        raise OAuthError("invalid_client", "client authentication failed", 401)
    if client_id != request.path_params["tenantId"] and "token-ignores-path-tenant" not in faults:
        raise OAuthError("invalid_client", "client_id is not the tenant of this token endpoint", 401)
    return client_id


def _check_grant_type(grant_type: str | None, faults: frozenset[str]) -> None:
    if grant_type is None:
        if "token-missing-grant-wrong-error" in faults:
            raise OAuthError("unsupported_grant_type", "the grant type is not supported")
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type != "client_credentials" and "token-any-grant-accepted" not in faults:
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")


def _scopes(scope: str | None, audience: Audience, faults: frozenset[str]) -> frozenset[str]:
    requested = frozenset((scope or "").split()) or frozenset({audience.default_scope})
    unknown = requested - audience.scopes
    if unknown and "token-unknown-scope-granted" not in faults:
        raise OAuthError("invalid_scope", f"unknown scope {sorted(unknown)[0]}")
    if "token-over-grants" in faults and requested == {"api/read"}:
        return requested | {"api/write"}
    return requested
