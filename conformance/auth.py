"""Credentials the suite sends: HTTP Basic, bearer tokens, and hand-made Authorization values.

Plain objects: each knows the Authorization header it sends and describes
itself to :mod:`conformance.repro` (what to show instead of the secret). The
OAuth flow that obtains bearer tokens is :mod:`conformance.tokens`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from conformance import repro
from conformance.config import Credentials

READ_SCOPES = ("api/read",)


def basic_credentials(user: str, password: str) -> str:
    """The base64 payload of an HTTP Basic Authorization header (RFC 7617)."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def decoded_basic(payload: str) -> tuple[str, str] | None:
    """The (user, password) a Basic payload carries (the user may be empty); None when the payload is
    not strict base64 of UTF-8 text with a colon in it. The payload is taken as it is (not stripped)."""
    try:
        decoded = base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


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

    def repro(self) -> repro.ReproAuth:
        return repro.ReproAuth(
            "basic",
            user=self.credentials.tenant_id,
            secret=repro.Secret(self.credentials.secret, self.credentials.secret_env),
            form_encoded=self.form_encoded,
        )


@dataclass(frozen=True)
class BearerAuth:
    """An OAuth 2.0 access token sent as Authorization: Bearer.

    ``obtained_by`` is the shell command that gets such a token (see repro.token_command).
    """

    token: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    obtained_by: str = ""

    def header(self) -> str:
        return f"Bearer {self.token}"

    def repro(self) -> repro.ReproAuth:
        return repro.ReproAuth("bearer", value=self.obtained_by)


@dataclass(frozen=True)
class RawAuthorization:
    """A hand-made Authorization value, for probing how the target handles malformed credentials."""

    value: str = field(repr=False)

    def header(self) -> str:
        return self.value

    def repro(self) -> repro.ReproAuth:
        scheme, _, payload = self.value.partition(" ")
        basic = decoded_basic(payload) if scheme.lower() == "basic" else None
        return repro.ReproAuth("header", value=self.value, basic=basic)


Auth = BasicAuth | BearerAuth | RawAuthorization
