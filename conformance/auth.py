"""How the suite authenticates: Basic credentials, bearer tokens, and the token provider.

Each auth object knows the Authorization header it sends and the curl arguments
that reproduce it without revealing the secret (``$ENROLMENT_API_SECRET``,
``$ACCESS_TOKEN``). :class:`TokenProvider` obtains one token per (tenant,
endpoint, scope set) per run and reuses it until it expires.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

import httpx

from conformance.config import Credentials, Target
from conformance.redact import basic_credentials

if TYPE_CHECKING:
    from conformance.client import Client

READ_SCOPES = ("api/read",)


@dataclass(frozen=True)
class BasicAuth:
    """HTTP Basic: username = Tenant ID, password = API secret.

    For OAuth client authentication (RFC 6749 §2.3.1) both are form-encoded
    before base64 (``form_encoded=True``); on the API they are sent as they are.
    """

    credentials: Credentials
    form_encoded: bool = False

    def header(self) -> str:
        user, password = self.credentials.tenant_id, self.credentials.secret
        if self.form_encoded:
            user, password = quote_plus(user), quote_plus(password)
        return "Basic " + basic_credentials(user, password)

    def curl_args(self) -> list[str]:
        user, secret = self.credentials.tenant_id, f"${self.credentials.secret_env}"
        if self.form_encoded:
            # what was sent: both values form-encoded (RFC 6749 §2.3.1), then base64 by curl -u
            user = quote_plus(user)
            secret = (
                "$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "
                f'"{secret}")'
            )
        return ["-u", f'"{user}:{secret}"']


@dataclass(frozen=True)
class BearerAuth:
    """An OAuth 2.0 access token sent as Authorization: Bearer."""

    token: str = field(repr=False)
    scopes: tuple[str, ...] = ()

    def header(self) -> str:
        return f"Bearer {self.token}"

    def curl_args(self) -> list[str]:
        return ["-H", '"Authorization: Bearer $ACCESS_TOKEN"']


@dataclass(frozen=True)
class RawAuthorization:
    """A hand-made Authorization value, for probing how the target handles malformed credentials."""

    value: str = field(repr=False)

    def header(self) -> str:
        return self.value

    def curl_args(self) -> list[str]:
        return ["-H", "'Authorization: <see note>'"]


Auth = BasicAuth | BearerAuth | RawAuthorization


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

    def expired(self, now: float, margin: float = 5.0) -> bool:
        return now >= self.obtained_at + self.expires_in - margin

    def auth(self) -> BearerAuth:
        return BearerAuth(self.access_token, tuple(self.scope.split()))


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
        url = self._target.token_url_for(path_tenant or credentials.tenant_id, webhooks=webhooks)
        if url is None:
            kind = "webhooks_token_url" if webhooks else "token_url"
            raise TokenUnavailable(f"no {kind} configured for this target")
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
            "POST", url, auth=auth, data=fields, phase="token", note=note or "token request"
        )

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
        try:
            response = self.request(credentials, scopes=scopes, webhooks=webhooks, note=f"obtain {what}")
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"could not obtain a {what}: {exc.__class__.__name__}: {exc}") from None
        if response.status_code != 200:
            raise TokenUnavailable(
                f"could not obtain a {what}: the token endpoint answered {response.status_code}",
                status=response.status_code,
            )
        try:
            data = response.json()
        except ValueError:
            raise TokenUnavailable(f"could not obtain a {what}: the token response is not JSON") from None
        access_token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(access_token, str) or not access_token:
            raise TokenUnavailable(f"could not obtain a {what}: the token response has no access_token")
        self._client.redactor.add(access_token)
        expires_in = data.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else 60
        scope = data.get("scope") if isinstance(data.get("scope"), str) else " ".join(scopes)
        return Token(access_token, str(data.get("token_type", "")), lifetime, scope, time.monotonic())
