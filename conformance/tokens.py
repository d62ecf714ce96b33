"""The OAuth 2.0 client-credentials flow: obtaining access tokens through the client.

:class:`TokenProvider` obtains one token per (tenant, endpoint, scope set) per
run and reuses it until it expires. :func:`token_fields` is the one parser of
a token endpoint's answer (the provider, the client's masking of the tokens it
hands out, and the OAUTH checks all read it through it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance import jsonbody, repro
from conformance.auth import READ_SCOPES, BasicAuth, BearerAuth
from conformance.client import Client, Throttled
from conformance.config import Credentials, Target

TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")


def token_fields(body: bytes | str) -> dict[str, Any] | None:
    """A token endpoint's answer as a JSON object ({} for JSON of another type); None when not usable JSON."""
    try:
        data = jsonbody.parse(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else {}


def access_token(fields: dict[str, Any] | None) -> str | None:
    """The non-empty access_token string of a token response, else None."""
    token = (fields or {}).get("access_token")
    return token if isinstance(token, str) and token else None


def issued_tokens(body: bytes) -> list[str]:
    """Every token a token response hands out (access, refresh, id), for masking."""
    fields = token_fields(body) or {}
    return [value for name in TOKEN_FIELDS if isinstance(value := fields.get(name), str) and value]


class TokenUnavailable(Exception):
    """A token the check needs could not be obtained; the message says why, in one line.

    ``status`` is the token endpoint's HTTP status when it answered with one (None when it
    could not be reached or its answer could not be used).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        """Whether the token endpoint refused to issue the token (a 4xx answer)."""
        return self.status is not None and 400 <= self.status < 500


@dataclass(frozen=True)
class Token:
    """A granted access token."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scope: str
    obtained_at: float
    obtained_by: str = ""  # the shell command that gets such a token (repro.token_command)

    def expired(self, now: float, margin: float = 5.0) -> bool:
        return now >= self.obtained_at + self.expires_in - margin

    def auth(self) -> BearerAuth:
        return BearerAuth(self.access_token, tuple(self.scope.split()), self.obtained_by)


class TokenProvider:
    """Obtains access tokens with client credentials, one per scope set, reused across the run."""

    def __init__(self, client: Client, target: Target) -> None:
        self._client = client
        self._target = target
        self._cache: dict[tuple[str, bool, tuple[str, ...]], Token] = {}
        self._lock = threading.Lock()
        self.requests_made = 0
        self.obtained: list[str] = []  # one entry per token fetched for use: "<endpoint> <scopes>"

    def request(
        self,
        credentials: Credentials,
        *,
        scopes: tuple[str, ...] | None = READ_SCOPES,
        client_auth: str = "body",
        webhooks: bool = False,
        path_tenant: str | None = None,
        form: dict[str, str] | None = None,
        note: str | None = None,
    ) -> httpx.Response:
        """Send one token request and return the raw response (for the OAUTH checks).

        client_auth is "body" (client_id/client_secret parameters) or "basic"
        (RFC 6749 §2.3.1 HTTP Basic). form replaces the default form fields.
        """
        url = self._url(credentials, webhooks, path_tenant)
        fields = {"grant_type": "client_credentials"} if form is None else dict(form)
        if form is None and scopes:
            fields["scope"] = " ".join(scopes)
        auth: BasicAuth | None = None
        if client_auth == "basic":
            auth = BasicAuth(credentials, form_encoded=True)
        elif form is None:
            fields |= {"client_id": credentials.tenant_id, "client_secret": credentials.secret}
        self.requests_made += 1
        return self._client.request(
            "POST",
            url,
            auth=auth,
            data=fields,
            phase="token",
            note=note or "token request",
            secrets_in=issued_tokens,
        )

    def _url(self, credentials: Credentials, webhooks: bool, path_tenant: str | None = None) -> str:
        url = self._target.token_url_for(path_tenant or credentials.tenant_id, webhooks=webhooks)
        if url is None:
            kind = "webhooks_token_url" if webhooks else "token_url"
            raise TokenUnavailable(f"no {kind} configured for this target")
        return url

    def token(self, credentials: Credentials, scopes: tuple[str, ...], *, webhooks: bool = False) -> Token:
        """A valid token for the scope set, fetched once and reused; TokenUnavailable if refused."""
        key = (credentials.tenant_id, webhooks, tuple(sorted(scopes)))
        with self._lock:
            cached = self._cache.get(key)
            if cached and not cached.expired(time.monotonic()):
                return cached
            token = self._fetch(credentials, scopes, webhooks=webhooks)
            self._cache[key] = token
            self.obtained.append(
                f"{credentials.tenant_id} {'webhooks' if webhooks else 'public'} {' '.join(key[2])}"
            )
            return token

    def _fetch(self, credentials: Credentials, scopes: tuple[str, ...], *, webhooks: bool) -> Token:
        what = f"{'webhooks' if webhooks else 'public'} token for scope {' '.join(scopes)!r}"
        try:  # the client waits out throttled answers (429, 503 with Retry-After) and retries them
            response = self.request(credentials, scopes=scopes, webhooks=webhooks, note=f"obtain {what}")
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"could not obtain a {what}: {exc.__class__.__name__}: {exc}") from None
        except Throttled as exc:
            raise TokenUnavailable(f"could not obtain a {what}: {exc}") from None
        if response.status_code != 200:
            raise TokenUnavailable(
                f"could not obtain a {what}: the token endpoint answered {response.status_code}",
                status=response.status_code,
            )
        data = token_fields(response.content)
        if data is None:
            raise TokenUnavailable(f"could not obtain a {what}: the token response is not JSON")
        token = access_token(data)
        if token is None:
            raise TokenUnavailable(f"could not obtain a {what}: the token response has no access_token")
        expires_in = data.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else 60
        scope = data.get("scope") if isinstance(data.get("scope"), str) else " ".join(scopes)
        secret = repro.Secret(credentials.secret, credentials.secret_env)
        how = repro.token_command(
            self._url(credentials, webhooks), credentials.tenant_id, secret, scopes, self._client.words
        )
        return Token(token, str(data.get("token_type", "")), lifetime, scope, time.monotonic(), how)
