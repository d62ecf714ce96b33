"""Repro lines: the one curl command that reproduces a request the suite sent.

Built from the structured request (method, URL, headers, form fields, the
credentials), never by editing a finished line: every literal value goes
through :func:`shlex.quote` (after masking), a secret becomes a reference to
the environment variable it came from (``"$ENROLMENT_API_SECRET"``), and a
secret derived from one (the AUTH checks' near-secrets) a shell expression over
it, e.g. ``"$ENROLMENT_API_SECRET"'-wrong'`` or ``"${ENROLMENT_API_SECRET%?}"``.
A bearer request says how to get ``$ACCESS_TOKEN`` in a trailing comment.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, quote_plus

import httpx

# Request headers curl sets itself or that only describe the connection.
SKIPPED_HEADERS = frozenset({"authorization", "host", "content-length", "user-agent", "connection"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTE_PLUS = "import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]), end='')"
_ACCESS_TOKEN = "import json, sys; print(json.load(sys.stdin)['access_token'])"


@dataclass(frozen=True)
class Secret:
    """A secret the suite sent, and the environment variable its real form came from."""

    value: str = field(repr=False)
    env: str


@dataclass(frozen=True)
class ReproAuth:
    """What a credential object tells the repro line: Basic (user, secret), bearer, or a raw header
    (with the user and password of its payload when it is Basic, see auth.decoded_basic)."""

    kind: Literal["basic", "bearer", "header"]
    user: str = ""
    secret: Secret | None = None
    form_encoded: bool = False
    value: str = field(default="", repr=False)  # the raw header, or how a bearer token is obtained
    basic: tuple[str, str] | None = field(default=None, repr=False)  # a raw Basic header's (user, password)


@dataclass(frozen=True)
class Words:
    """How to write values as shell words: the run's secrets by variable name, and a masking function."""

    sources: Mapping[str, str]  # environment variable -> the secret it holds
    mask: Callable[[str], str]

    def literal(self, text: str) -> str:
        return shlex.quote(self.mask(text))

    def value(self, text: str, secret_env: str | None = None) -> str:
        """A shell word for text: a secret (or one derived from it) over its variable, else a literal."""
        sources = dict(self.sources)
        if secret_env and secret_env not in sources:
            sources[secret_env] = text  # the variable's value is not known here: take it for the one sent
        for env, real in sources.items():
            if real and _ENV_NAME.fullmatch(env):
                derived = self._derived(text, real, env)
                if derived is not None:
                    return derived
        return self.literal(text)

    def _derived(self, text: str, real: str, env: str) -> str | None:
        if real in text:
            pieces = text.split(real)
            return f'"${env}"'.join(shlex.quote(self.mask(p)) if p else "" for p in pieces)
        if len(real) > 1 and text == real[:-1]:
            return f'"${{{env}%?}}"'
        if len(real) > 1 and len(text) == len(real) and text[:-1] == real[:-1]:
            return f'"${{{env}%?}}"{shlex.quote(text[-1])}'
        if text == real.swapcase():
            return f'"$(python3 -c \'import os; print(os.environ["{env}"].swapcase(), end="")\')"'
        return None


def curl_command(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    words: Words,
    *,
    form: Mapping[str, str] | None = None,
    body: str | None = None,
    auth: ReproAuth | None = None,
) -> str:
    """The curl command line that sends this request again (every word shell-quoted)."""
    parts = ["curl", "-i", "-X", words.literal(method)]
    for name, value in headers:
        if name.lower() in SKIPPED_HEADERS or name.lower() == "accept-encoding":
            continue
        parts += ["-H", words.literal(f"{name}: {value}")]
    if form is not None:
        for name, value in form.items():
            parts += ["--data-urlencode", words.literal(f"{name}=") + words.value(value)]
    elif body:
        parts += ["--data-raw", words.literal(body)]
    comment = ""
    if auth is not None:
        auth_parts, comment = _auth_words(auth, words)
        parts += auth_parts
    url_word, token_comment = _url_word(url, words)
    parts.append(url_word)
    return " ".join(parts) + (comment or token_comment)


def _url_word(url: str, words: Words) -> tuple[str, str]:
    """The URL as a shell word; a token in its access_token query parameter is "$ACCESS_TOKEN"."""
    token = httpx.URL(url).params.get("access_token") if "access_token=" in url else None
    sent = f"access_token={quote(token, safe='')}" if token else ""
    if not sent or sent not in url:
        return words.literal(url), ""
    before, _, after = url.partition(sent)
    rest = words.literal(after) if after else ""
    word = words.literal(f"{before}access_token=") + '"$ACCESS_TOKEN"' + rest
    return word, "  # with a token in ACCESS_TOKEN"


def _auth_words(auth: ReproAuth, words: Words) -> tuple[list[str], str]:
    if auth.kind == "basic" and auth.secret is not None:
        return ["-u", basic_user_password(auth.user, auth.secret, words, form_encoded=auth.form_encoded)], ""
    if auth.kind == "bearer":
        comment = (
            f'  # with ACCESS_TOKEN="$({auth.value})"' if auth.value else "  # with a token in ACCESS_TOKEN"
        )
        return ["-H", '"Authorization: Bearer $ACCESS_TOKEN"'], " ".join(comment.splitlines())
    return ["-H", _raw_header(auth, words)], ""


def basic_user_password(user: str, secret: Secret, words: Words, *, form_encoded: bool = False) -> str:
    """The user:password word of curl -u (both form-encoded first when form_encoded, RFC 6749 §2.3.1)."""
    password = words.value(secret.value, secret.env)
    if form_encoded:
        user = quote_plus(user)
        password = f'"$(python3 -c {shlex.quote(_QUOTE_PLUS)} {password})"'
    return words.literal(f"{user}:") + password


def _raw_header(auth: ReproAuth, words: Words) -> str:
    """A hand-made Authorization value as sent; a Basic payload over a secret is rebuilt in the shell."""
    value = auth.value
    if auth.basic is not None and words.mask(value) != value:
        user, password = auth.basic
        pair = words.literal(f"{user}:") + words.value(password)
        encoded = f"\"$(printf %s {pair} | base64 | tr -d '\\n')\""
        return words.literal(f"Authorization: {value.partition(' ')[0]} ") + encoded
    return words.literal(f"Authorization: {value}")


def token_command(url: str, user: str, secret: Secret, scopes: Iterable[str], words: Words) -> str:
    """A command printing an access token: the client-credentials request, the token read from the JSON."""
    fields = [("grant_type", "client_credentials"), ("scope", " ".join(scopes)), ("client_id", user)]
    parts = ["curl", "-s", "-X", "POST"]
    for name, value in fields:
        parts += ["--data-urlencode", words.literal(f"{name}={value}")]
    parts += ["--data-urlencode", words.literal("client_secret=") + words.value(secret.value, secret.env)]
    parts += [words.literal(url), "|", "python3", "-c", shlex.quote(_ACCESS_TOKEN)]
    return " ".join(parts)
