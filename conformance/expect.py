"""Expectations for checks: each failure says what was received and what was expected.

A check fails by raising :class:`CheckFailed` (an AssertionError), passing the
response that showed the problem so the report can show it as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import httpx

from conformance import jsonbody
from conformance.results import Exchange

SERVER_ERROR = " (a server error: the target crashed on this input)"


class CheckFailed(AssertionError):
    """The target did not do what the requirement says."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.exchange: Exchange | None = response.extensions.get("exchange") if response is not None else None


def describe(response: httpx.Response, limit: int = 160) -> str:
    """A short description of a response: status, content type and the start of the body."""
    text = response.content.decode("utf-8", "replace").strip().replace("\n", " ")
    if len(text) > limit:
        text = text[:limit] + "..."
    content_type = response.headers.get("content-type", "no Content-Type")
    return f"{response.status_code} ({content_type}) {text}".rstrip()


def expect_status(response: httpx.Response, expected: int | Collection[int], what: str) -> None:
    """Fail unless the response status is the expected one (or one of them)."""
    allowed = {expected} if isinstance(expected, int) else set(expected)
    if response.status_code not in allowed:
        wanted = " or ".join(str(code) for code in sorted(allowed))
        worse = SERVER_ERROR if response.status_code >= 500 else ""
        raise CheckFailed(
            f"{what}: expected {wanted}, received {describe(response)}{worse}", response=response
        )


def expect_no_server_error(response: httpx.Response, what: str) -> None:
    """Fail when the response is a 5xx: no request, however malformed, may produce one."""
    if response.status_code >= 500:
        raise CheckFailed(
            f"{what}: expected an answer that is not a 5xx, received {describe(response)}{SERVER_ERROR}",
            response=response,
        )


def media_type(content_type: str) -> str:
    """A Content-Type value without its parameters, lowercased ("" for an empty or absent one)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json_content_type(response: httpx.Response) -> bool:
    """application/json or any +json media type."""
    received = media_type(response.headers.get("content-type", ""))
    return received == "application/json" or received.endswith("+json")


def listed(items: list[str], limit: int = 10) -> str:
    """Findings joined for a failure message, at most ``limit`` of them."""
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def expect_no_findings(findings: list[str], expected: str, response: httpx.Response) -> None:
    """Fail when a rule found anything: say what was expected, then list what was received."""
    if findings:
        raise CheckFailed(f"expected {expected}; received {listed(findings)}", response=response)


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The response body parsed as a JSON object, or a failure saying what came instead."""
    try:
        body = jsonbody.response_json(response)
    except jsonbody.UnusableJSON as exc:
        raise CheckFailed(f"{what}: expected a JSON object body, received {exc}", response=response) from None
    except ValueError:
        raise CheckFailed(
            f"{what}: expected a JSON object body, received {describe(response)}", response=response
        ) from None
    if not isinstance(body, dict):
        found = jsonbody.json_type(body)
        raise CheckFailed(
            f"{what}: expected a JSON object body, received a JSON {found}: {describe(response)}",
            response=response,
        )
    return body


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?=\s|,|$)(?!\s*=)")


def challenge_schemes(www_authenticate: str) -> set[str]:
    """The auth schemes offered by a WWW-Authenticate value (RFC 9110 §11.6.1), lowercased."""
    unquoted = _QUOTED.sub('""', www_authenticate)
    return {match.group(1).lower() for match in _SCHEME.finditer(unquoted)}
