"""Redaction: every secret the run holds or derives is replaced by *** before anything is written.

The one place that masks secrets. A :class:`Redactor` knows the run's secrets:
the API secrets in every encoding they may be written in (raw, URL-, form- and
JSON-encoded, their HTTP Basic forms), every credential the client sends (the
password inside a Basic header, a bearer token: so the AUTH checks' near-secret
variants are masked like the real ones) and every token a token endpoint hands
out, each in any case (the HTTP client lowercases header names, so a target that
names a header after a token would otherwise get it written). Evidence passes
through :meth:`Redactor.text` and :meth:`Redactor.headers` when it is recorded,
and the whole result through :func:`scrub` once more before it is written (dict
keys and header names too).

``Authorization`` values are never shown at all: only their scheme survives
(``Basic ***``, ``Bearer ***``). Secrets shorter than :data:`SHORT` characters
are masked in target-controlled text as well, but not in the suite's own fixed
vocabulary (result-schema keys, outcomes, check names), which masking them
would garble; :attr:`Redactor.warnings` says when a secret is that short.

:data:`LAST_RUN` keeps the redactor of the latest run, for the one line the CLI
prints when an unexpected error ends a run (:func:`redact_text`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from conformance.auth import basic_credentials, decoded_basic
from conformance.results import RunResult

if TYPE_CHECKING:
    from conformance.config import Settings

MASK = "***"
SHORT = 6  # secrets shorter than this are masked in target-controlled text only
MEMO_CHARS, MEMO_ENTRIES = 256, 20_000  # the texts a redactor remembers the masking of: bounds its memory
# Generic patterns catch secrets the run never registered (e.g. a token the
# target returned in an unexpected field of an error body). A value ends at a
# quote too: in a repro line the quote closing the shell word must survive.
_FORM_SECRET = re.compile(r"((?:^|&|\?)(?:client_secret|access_token)=)[^&\s'\"]*")
_JSON_SECRET = re.compile(r'("(?:access_token|client_secret|refresh_token|id_token)"\s*:\s*")[^"]*(")')
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# An Authorization value quoted back by a target (in a body, an error message ...): the
# scheme survives, the credentials do not. Only credential-shaped values are masked
# (12+ token characters, a digit, + or / among them), so prose like "Basic credentials"
# stays as it is.
_AUTH_VALUE = re.compile(r"(?i)\b(basic|bearer)(\s+)([A-Za-z0-9+/._~-]{12,})(=*)(?![\w=+/.~-])")
# Dicts of the result whose keys come from the target (status values, header names).
TARGET_KEYED = frozenset({"status_coverage", "request_headers", "response_headers"})
# Fields of the result holding the suite's own vocabulary: masked for long secrets only.
FIXED_FIELDS = frozenset(
    {"verdict", "gate", "outcome", "level", "area", "id", "requirement", "name", "title", "source"}
    | {"suite_version", "spec_sha256", "started_at", "finished_at", "method", "kind", "tls_verify", "status"}
)


def _mask_auth_value(match: re.Match[str]) -> str:
    if any(c.isdigit() or c in "+/" for c in match.group(3)):
        return f"{match.group(1)}{match.group(2)}{MASK}"
    return match.group(0)


def encodings(secret: str) -> set[str]:
    """A secret as it may be written: raw, URL-, form- and JSON-encoded."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


class Redactor:
    """Knows the run's secrets and masks them in text and headers (thread-safe)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._every = _AnyCase([])  # every secret, in any case
        self._long = _AnyCase([])  # the secrets of SHORT characters or more
        self._lock = threading.Lock()
        self.warnings: list[str] = []  # one line per secret too short to mask everywhere
        self.sources: dict[str, str] = {}  # environment variable -> the API secret it holds (repro lines)
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Register one secret, exactly as written (the empty string is ignored)."""
        if not secret:
            return
        with self._lock:
            if secret not in self._secrets:
                self._secrets.add(secret)
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._every = _AnyCase(ordered)
                self._long = _AnyCase([known for known in ordered if len(known) >= SHORT])

    def add_basic(self, user: str, password: str) -> None:
        """Register a password in every encoding, and the Basic payloads built from it (plain and form)."""
        for form in encodings(password):
            self.add(form)
        self.add(basic_credentials(user, password))
        self.add(basic_credentials(quote_plus(user), quote_plus(password)))

    def add_api_secret(self, user: str, secret: str, env: str, what: str) -> None:
        """Register a configured API secret (see add_basic) read from env; warn when it is short."""
        self.add_basic(user, secret)
        self.sources[env] = secret
        if len(secret) < SHORT:
            self.warnings.append(
                f"{what} is shorter than {SHORT} characters: it is masked in what the target sent, "
                "but an API secret that short is easy to guess and may be shown as *** in unrelated text"
            )

    def add_authorization(self, value: str) -> None:
        """Register the credentials of an Authorization value the suite sends (a Basic password too)."""
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() not in ("basic", "bearer") or len(credentials) < SHORT:
            return
        self.add(credentials)
        basic = decoded_basic(credentials) if scheme.lower() == "basic" else None
        if basic is not None:
            self.add_basic(*basic)

    def text(self, text: str) -> str:
        """Mask every registered secret (in any case) and every credential-shaped value in target text."""
        return self._every.masked(text)

    def fixed(self, text: str) -> str:
        """Mask secrets in the suite's own vocabulary: secrets shorter than SHORT are left alone there."""
        return self._long.masked(text)

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers with credentials reduced to their scheme and secrets masked, in names and values."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        masked: dict[str, str] = {}
        for raw_name, value in items:
            name = self.text(raw_name)
            if raw_name.lower() in _SENSITIVE_HEADERS:
                scheme = (
                    value.split(" ", 1)[0] if " " in value and name.lower().endswith("authorization") else ""
                )
                value = f"{self.text(scheme)} {MASK}".strip()
            else:
                value = self.text(value)
            masked[name] = f"{masked[name]}, {value}" if name in masked else value
        return masked

    def value(self, value: Any, field: str = "") -> Any:
        """Every string in a JSON-like value masked, dict keys included (see TARGET_KEYED, FIXED_FIELDS)."""
        if isinstance(value, str):
            return self.fixed(value) if field in FIXED_FIELDS else self.text(value)
        if isinstance(value, list):
            return [self.value(item, field) for item in value]
        if not isinstance(value, dict):
            return value
        mask_key = self.text if field in TARGET_KEYED else self.fixed
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = mask_key(key) if isinstance(key, str) else key
            new_item = self.value(item, key if isinstance(key, str) else "")
            masked[new_key] = _merged(masked[new_key], new_item) if new_key in masked else new_item
        return masked


class _AnyCase:
    """Masks secrets in any case (the HTTP client lowercases header names): each found with str.find in
    the lowercased text, every stretch where one or more of them lie replaced by one MASK; then the
    generic patterns (_FORM_SECRET, _JSON_SECRET, _AUTH_VALUE).

    A few characters lowercase to two (``İ``); for a text holding one the regex does it instead.
    Short texts are remembered with what they masked to (a result repeats its keys and outcomes
    thousands of times): the secrets of one instance never change, a new secret makes a new instance.
    """

    def __init__(self, secrets: list[str]) -> None:
        self._lowered = sorted({secret.lower() for secret in secrets}, key=len, reverse=True)
        self._pattern: re.Pattern[str] | None = None  # compiled on first need: a run adds secrets often
        self._memo: dict[str, str] = {}

    def masked(self, text: str) -> str:
        """text with every secret and every credential-shaped value masked."""
        known = self._memo.get(text)
        if known is not None:
            return known
        lowered = text.lower()
        masked = _generic(self._secrets_masked(text, lowered), lowered if text.isascii() else None)
        if len(text) <= MEMO_CHARS and len(self._memo) < MEMO_ENTRIES:
            self._memo[text] = masked
        return masked

    def _secrets_masked(self, text: str, lowered: str) -> str:
        if not self._lowered:
            return text
        if len(lowered) != len(text):
            if self._pattern is None:
                self._pattern = re.compile("|".join(map(re.escape, self._lowered)), re.IGNORECASE)
            return self._pattern.sub(MASK, text)
        found = [secret for secret in self._lowered if secret in lowered]
        if not found:
            return text
        spans = sorted(span for secret in found for span in _found(lowered, secret))
        pieces, position = [], 0
        for start, stop in spans:
            if start >= position:
                pieces += [text[position:start], MASK]
            position = max(position, stop)
        return "".join([*pieces, text[position:]])


def _generic(text: str, ascii_lowered: str | None) -> str:
    """text with the generic patterns masked, each tried only when the literal it needs is there.

    ascii_lowered is the text before its secrets were masked (which only ever takes words out),
    lowercased, when it is all ASCII: if it names neither scheme, _AUTH_VALUE cannot match. Outside
    ASCII ``(?i)`` matches more than str.lower() says (the long s, U+017F, matches ``s``): there
    it is always tried.
    """
    if "=" in text:
        text = _FORM_SECRET.sub(rf"\g<1>{MASK}", text)
    if '"' in text:
        text = _JSON_SECRET.sub(rf"\g<1>{MASK}\g<2>", text)
    if ascii_lowered is not None and "basic" not in ascii_lowered and "bearer" not in ascii_lowered:
        return text
    return _AUTH_VALUE.sub(_mask_auth_value, text)


def _found(text: str, part: str) -> Iterator[tuple[int, int]]:
    """The (start, stop) of every occurrence of part in text."""
    start = text.find(part)
    while start != -1:
        yield start, start + len(part)
        start = text.find(part, start + 1)


def _merged(old: Any, new: Any) -> Any:
    """Two values whose keys masked to the same key (a count is summed, anything else joined)."""
    if isinstance(old, int) and isinstance(new, int):
        return old + new
    return f"{old}, {new}"


def run_redactor(settings: Settings) -> Redactor:
    """A redactor that knows the run's API secrets in every form they may be written in."""
    redactor = Redactor()
    for tenant in (settings.tenant, settings.other_tenant):
        if tenant is not None:
            redactor.add_api_secret(
                tenant.tenant_id, tenant.secret, tenant.secret_env, f"${tenant.secret_env}"
            )
    return redactor


def scrub(result: RunResult, redactor: Redactor) -> RunResult:
    """The result with every string in it (keys, messages, notes, evidence, errors) masked once more."""
    return RunResult.from_dict(redactor.value(result.to_dict()))


class _LastRun:
    """The redactor of the latest run in this process, for text written after the run ended."""

    def __init__(self) -> None:
        self.redactor: Redactor | None = None

    def text(self, text: str) -> str:
        return self.redactor.text(text) if self.redactor is not None else text


LAST_RUN = _LastRun()


def redact_text(text: str) -> str:
    """Mask the secrets of the latest run in text (the CLI's last-resort error line)."""
    return LAST_RUN.text(text)
