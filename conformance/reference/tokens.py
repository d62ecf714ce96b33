"""The access tokens the reference target has issued, kept in memory until they expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TOKEN_LIFETIME = 3600  # seconds; the expires_in of every token response
PUBLIC = "public"  # audience of tokens from the public-API token endpoint
WEBHOOKS = "webhooks"  # audience of tokens from the webhooks token endpoint


@dataclass(frozen=True)
class IssuedToken:
    """What a token stands for: its tenant, its granted scopes, the API it is for, its expiry."""

    tenant_id: str
    scopes: frozenset[str]
    audience: str
    expires_at: datetime


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unverified_claims(token: str) -> IssuedToken | None:
    """What a JWT's payload claims, its signature never checked (the jwt-tokens-unsigned-check fault)."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    try:
        payload = segments[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        scopes = frozenset(str(claims["scope"]).split())
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        return IssuedToken(str(claims["sub"]), scopes, str(claims["aud"]), expires_at)
    except (ValueError, TypeError, KeyError, OverflowError):
        return None


class TokenStore:
    """Random opaque tokens mapped to what they grant; expired tokens are forgotten.

    With ``unsigned_jwt`` the tokens are HS256 JWTs instead, and lookup trusts
    their payload without verifying the signature (a fault).
    """

    def __init__(self, now: Callable[[], datetime], unsigned_jwt: bool = False) -> None:
        self._now = now
        self._tokens: dict[str, IssuedToken] = {}
        self._unsigned_jwt = unsigned_jwt
        self._key = secrets.token_bytes(32)

    def issue(self, tenant_id: str, scopes: frozenset[str], audience: str) -> str:
        """A new token for the tenant, valid for TOKEN_LIFETIME seconds."""
        now = self._now()
        self._tokens = {token: issued for token, issued in self._tokens.items() if issued.expires_at > now}
        issued = IssuedToken(tenant_id, scopes, audience, now + timedelta(seconds=TOKEN_LIFETIME))
        token = self._jwt(issued) if self._unsigned_jwt else secrets.token_urlsafe(32)
        self._tokens[token] = issued
        return token

    def _jwt(self, issued: IssuedToken) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "sub": issued.tenant_id,
            "aud": issued.audience,
            "scope": " ".join(sorted(issued.scopes)),
            "exp": int(issued.expires_at.timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        signed = f"{header}.{_b64url(json.dumps(claims).encode())}"
        signature = hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()
        return f"{signed}.{_b64url(signature)}"

    def lookup(self, token: str) -> IssuedToken | None:
        """The token's grant, or None if it was never issued or has expired."""
        if self._unsigned_jwt:
            return self._live(unverified_claims(token))
        return self._live(self._tokens.get(token))

    def lookup_nearly(self, token: str) -> IssuedToken | None:
        """Like lookup, but also matching an issued token that differs in one character (a fault)."""
        for issued_token, issued in self._tokens.items():
            if (
                len(issued_token) == len(token)
                and sum(a != b for a, b in zip(issued_token, token, strict=True)) <= 1
            ):
                return self._live(issued)
        return None

    def _live(self, issued: IssuedToken | None) -> IssuedToken | None:
        return issued if issued is not None and issued.expires_at > self._now() else None
