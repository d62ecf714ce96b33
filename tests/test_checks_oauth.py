"""Unit tests for the helpers of the OAUTH checks."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from conformance.checks.oauth import cache_directives, challenge_param, garbage_tokens, tamper


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Bearer error="invalid_token"', "invalid_token"),
        ("Bearer error=invalid_token", "invalid_token"),
        ('Bearer realm="api", error="invalid_token", error_description="expired"', "invalid_token"),
        ('Basic realm="api", Bearer realm="api", ERROR="invalid_token"', "invalid_token"),
        ('bearer error_description="error=invalid_token"', None),
        ('Basic error="invalid_token", Bearer realm="api"', None),
        ('Bearer realm="a \\"quoted\\" realm", error="invalid_token"', "invalid_token"),
        ('Bearer error="invalid_request"', "invalid_request"),
        ("Bearer", None),
        ("", None),
    ],
)
def test_challenge_param_reads_the_bearer_error(header: str, expected: str | None) -> None:
    assert challenge_param(header, "Bearer", "error") == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["no-store"], {"no-store"}),
        (["No-Store, max-age=0"], {"no-store", "max-age"}),
        (["private", "no-store"], {"private", "no-store"}),
        (['no-cache="x-token"'], {"no-cache"}),
        ([], set()),
    ],
)
def test_cache_directives(values: list[str], expected: set[str]) -> None:
    response = httpx.Response(200, headers=[("Cache-Control", value) for value in values])
    assert cache_directives(response) == expected


@pytest.mark.parametrize("token", ["abcdef", "aaaa.AAAA.bbbb", "xy.AA", "A" * 41])
def test_tamper_changes_exactly_one_alphanumeric_character(token: str) -> None:
    tampered = tamper(token)
    diffs = [i for i, (a, b) in enumerate(zip(token, tampered, strict=True)) if a != b]
    assert len(diffs) == 1
    assert token[diffs[0]].isalnum()
    assert diffs[0] >= len(token) // 2


def test_unsigned_jwt_is_well_formed() -> None:
    header, payload, signature = garbage_tokens("eu-west-2_AbcdEfghI")["unsigned-jwt"].split(".")
    assert signature == ""
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "none", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(payload + "=="))["client_id"] == "eu-west-2_AbcdEfghI"
