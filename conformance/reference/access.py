"""Who is asking, and may they read: Basic and Bearer authentication, scopes, challenges.

:func:`authenticate` turns a request into a :class:`Principal` or a
:class:`Refusal`; :func:`may_read` applies the scope rule to bearer principals;
:func:`challenge` builds the ``WWW-Authenticate`` value of a 401.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Collection
from dataclasses import dataclass

from starlette.requests import Request

from conformance.reference.context import Context
from conformance.reference.data import TENANT_A
from conformance.reference.tokens import PUBLIC

REALM = 'realm="enrolments"'
READ_SCOPES = frozenset({"api/read", "api/all"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``scopes`` is None when scopes do not limit it (Basic)."""

    tenant_id: str
    scheme: str  # "basic" or "bearer"
    scopes: frozenset[str] | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a request is not authenticated: a 401 (or, under faults, 403/500) with a message."""

    message: str
    status: int = 401
    invalid_token: bool = False  # a bearer token was presented and is not valid
    unknown_scheme: bool = False  # the Authorization scheme is neither Basic nor Bearer


def decode_basic(credentials: str) -> tuple[str, str] | None:
    """The (user, password) of a Basic credentials string (RFC 7617), or None if it is malformed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon and user else None


def authenticate(request: Request, ctx: Context) -> Principal | Refusal:
    """Authenticate the request with Basic or Bearer (the token only in the Authorization header)."""
    header = request.headers.get("authorization")
    if header is None:
        query_token = request.query_params.get("access_token")
        if query_token and "query-token-accepted" in ctx.faults:
            return _bearer(query_token, ctx)
        if "no-auth-accepted" in ctx.faults:
            return Principal(TENANT_A, "basic")
        return Refusal("authentication required: send Basic credentials or a Bearer token")
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if "case-sensitive-schemes" in ctx.faults:
        scheme = {"Basic": "basic", "Bearer": "bearer"}.get(scheme, "")
    if scheme.lower() == "basic":
        return _basic(credentials, ctx)
    if scheme.lower() == "bearer":
        return _bearer(credentials, ctx)
    if "unknown-scheme-accepted" in ctx.faults:
        return Principal(TENANT_A, "basic")
    return Refusal("unsupported authorization scheme: use Basic or Bearer", unknown_scheme=True)


def _basic(credentials: str, ctx: Context) -> Principal | Refusal:
    pair = decode_basic(credentials)
    if pair is None:
        if "malformed-basic-500" in ctx.faults and not _is_base64(credentials):
            return Refusal("could not decode the credentials", status=500)
        return Refusal("malformed Basic credentials")
    tenant_id, secret = pair
    if "basic-auth-rejected" in ctx.faults:
        return Refusal("Basic authentication is not accepted")
    expected = ctx.secrets.get(tenant_id)
    if expected is None:
        if "unknown-tenant-accepted" in ctx.faults:
            return Principal(tenant_id, "basic")
        return Refusal("unknown tenant or wrong secret")
    if not hmac.compare_digest(expected.encode(), secret.encode()):
        if "secret-prefix-accepted" in ctx.faults and secret and expected.startswith(secret):
            return Principal(tenant_id, "basic")
        if "empty-password-accepted" in ctx.faults and not secret:
            return Principal(tenant_id, "basic")
        issued = ctx.tokens.lookup(secret)
        if "token-as-basic-password-accepted" in ctx.faults and issued and issued.tenant_id == tenant_id:
            return Principal(tenant_id, "bearer", issued.scopes)
        if "wrong-secret-403" in ctx.faults:
            return Refusal("wrong secret", status=403)
        return Refusal("unknown tenant or wrong secret")
    return Principal(tenant_id, "basic")


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True


def _bearer(token: str, ctx: Context) -> Principal | Refusal:
    if not token:
        if "bearer-scheme-only-500" in ctx.faults:
            return Refusal("no token to decode", status=500)
        return Refusal("empty bearer token")
    issued = ctx.tokens.lookup(token)
    if issued is None and "tampered-token-accepted" in ctx.faults:
        issued = ctx.tokens.lookup_nearly(token)
    if issued is None:
        if "any-bearer-accepted" in ctx.faults:
            return Principal(TENANT_A, "bearer", frozenset({"api/read"}))
        return Refusal("the access token is invalid or expired", invalid_token=True)
    if issued.audience != PUBLIC:
        if "webhooks-all-token-accepted" in ctx.faults and "api/all" in issued.scopes:
            return Principal(issued.tenant_id, "bearer", issued.scopes)
        if "webhooks-token-accepted" in ctx.faults:
            return Principal(issued.tenant_id, "bearer")
        return Refusal("the access token is not a public-API token", invalid_token=True)
    return Principal(issued.tenant_id, "bearer", issued.scopes)


def may_read(principal: Principal, faults: Collection[str]) -> bool:
    """Whether the principal's scopes grant this read-only operation (api/read or api/all)."""
    if principal.scopes is None:
        return True
    if "multi-scope-refused" in faults and len(principal.scopes) > 1:
        return False
    granting = set(READ_SCOPES)
    if "read-scope-refused" in faults:
        granting.discard("api/read")
    if "all-scope-refused" in faults:
        granting.discard("api/all")
    if "write-scope-accepted" in faults:
        granting.add("api/write")
    if "webhooks-scope-accepted" in faults:
        granting.add("api/webhooks")
    return bool(principal.scopes & granting)


def challenge(refusal: Refusal, faults: Collection[str]) -> str | None:
    """The WWW-Authenticate value for a 401 (None when a fault leaves it out)."""
    if "no-www-authenticate" in faults or (
        refusal.unknown_scheme and "no-challenge-on-unknown-scheme" in faults
    ):
        return None
    basic, bearer = f"Basic {REALM}", f"Bearer {REALM}"
    if "basic-only-challenge" in faults:
        return basic
    if refusal.invalid_token:
        return bearer if "bearer-challenge-no-error" in faults else f'{bearer}, error="invalid_token"'
    if "bearer-only-challenge" in faults:
        return bearer
    return f"{basic}, {bearer}"
