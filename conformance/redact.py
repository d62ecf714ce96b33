"""Redaction: every secret the run holds is replaced by *** before anything is written.

The API secrets, their HTTP Basic form (base64 of ``tenant:secret``) and every
access token the run obtains are registered here; evidence and reports pass
through :meth:`Redactor.text`. ``Authorization`` values are never shown at all:
only their scheme survives (``Basic ***``, ``Bearer ***``).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus

MASK = "***"
# Generic patterns catch secrets the run never registered (e.g. a token the
# target returned in an unexpected field of an error body).
_FORM_SECRET = re.compile(r"((?:^|&)(?:client_secret|access_token)=)[^&\s]*")
_JSON_SECRET = re.compile(r'("(?:access_token|client_secret|refresh_token|id_token)"\s*:\s*")[^"]*(")')
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def basic_credentials(user: str, password: str) -> str:
    """The base64 payload of an HTTP Basic Authorization header (RFC 7617)."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Redactor:
    """Knows the run's secrets and masks them in text and headers."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Register a secret (too-short strings are ignored: masking them would garble text)."""
        if len(secret) >= 6:
            with self._lock:
                self._secrets.add(secret)

    def add_basic(self, user: str, password: str) -> None:
        """Register a secret and the Basic header payloads built from it (plain and form-encoded)."""
        self.add(password)
        self.add(basic_credentials(user, password))
        self.add(basic_credentials(quote_plus(user), quote_plus(password)))

    def text(self, text: str) -> str:
        """Mask every registered secret and every credential-shaped parameter in text."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        text = _FORM_SECRET.sub(rf"\g<1>{MASK}", text)
        return _JSON_SECRET.sub(rf"\g<1>{MASK}\g<2>", text)

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers with credentials reduced to their scheme and secrets masked elsewhere."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        masked: dict[str, str] = {}
        for name, value in items:
            if name.lower() in _SENSITIVE_HEADERS:
                scheme = (
                    value.split(" ", 1)[0] if " " in value and name.lower().endswith("authorization") else ""
                )
                value = f"{scheme} {MASK}".strip()
            else:
                value = self.text(value)
            masked[name] = f"{masked[name]}, {value}" if name in masked else value
        return masked
