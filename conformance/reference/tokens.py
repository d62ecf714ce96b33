"""The access tokens the reference target has issued, kept in memory until they expire."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

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


class TokenStore:
    """Random opaque tokens mapped to what they grant; expired tokens are forgotten."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, tenant_id: str, scopes: frozenset[str], audience: str) -> str:
        """A new token for the tenant, valid for TOKEN_LIFETIME seconds."""
        now = self._now()
        self._tokens = {token: issued for token, issued in self._tokens.items() if issued.expires_at > now}
        token = secrets.token_urlsafe(32)
        self._tokens[token] = IssuedToken(
            tenant_id, scopes, audience, now + timedelta(seconds=TOKEN_LIFETIME)
        )
        return token

    def lookup(self, token: str) -> IssuedToken | None:
        """The token's grant, or None if it was never issued or has expired."""
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
