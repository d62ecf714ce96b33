"""Unit tests for the helpers of the OAUTH checks."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from conformance import repro
from conformance.auth import BasicAuth
from conformance.checks.auth import wrong_secrets
from conformance.checks.oauth import (
    cache_directives,
    challenge_param,
    forge_claims,
    garbage_authorizations,
    garbage_tokens,
    jwt_parts,
    positive_integral,
    tamper,
    tamper_signature,
)
from conformance.config import Credentials
from conformance.tokens import TokenUnavailable


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


@pytest.mark.parametrize(("value", "expected"), [(3600, True), (3600.0, True), (1, True)])
def test_positive_integral_accepts_integral_numbers(value: object, expected: bool) -> None:
    assert positive_integral(value) is expected


@pytest.mark.parametrize("value", [True, "3600", 3600.5, 0, -1, 0.0, None, float("nan")])
def test_positive_integral_refuses_the_rest(value: object) -> None:
    assert positive_integral(value) is False


def test_garbage_authorizations() -> None:
    values = garbage_authorizations("eu-west-2_AbcdEfghI")
    assert values["scheme-only"] == "Bearer"
    assert len(values["very-long"]) == len("Bearer ") + 8192
    segments = values["bad-base64-jwt"].removeprefix("Bearer ").split(".")
    assert len(segments) == 3
    for segment in segments:
        with pytest.raises(ValueError):
            base64.b64decode(
                segment.replace("-", "+").replace("_", "/") + "==", altchars=b"-_", validate=True
            )


def test_wrong_secrets_are_all_different_from_the_secret() -> None:
    wrong = wrong_secrets("s3cretA")
    assert wrong == {
        "suffixed": "s3cretA-wrong",
        "empty": "",
        "truncated": "s3cret",
        "one-character-changed": "s3cretB",
        "case-swapped": "S3CRETa",
    }
    assert "case-swapped" not in wrong_secrets("0123456789")


@pytest.mark.parametrize(("status", "refused"), [(400, True), (403, True), (500, False), (None, False)])
def test_token_unavailable_tells_a_refusal(status: int | None, refused: bool) -> None:
    assert TokenUnavailable("why", status).refused is refused


def test_form_encoded_basic_curl_reproduces_the_encoding() -> None:
    credentials = Credentials("eu-west-2_A b", "not-used", "ENROLMENT_API_SECRET")
    words = repro.Words({}, lambda text: text.replace("not-used", "***"))
    plain = BasicAuth(credentials).repro()
    assert (
        repro.basic_user_password(plain.user, plain.secret, words)
        == "'eu-west-2_A b:'\"$ENROLMENT_API_SECRET\""
    )
    form = BasicAuth(credentials, form_encoded=True).repro()
    value = repro.basic_user_password(form.user, form.secret, words, form_encoded=True)
    assert value.startswith('eu-west-2_A+b:"$(python3 -c ')
    assert "quote_plus" in value and '"$ENROLMENT_API_SECRET"' in value and "not-used" not in value


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6ImFwaS9yZWFkIn0.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize("token", ["opaque-token", "a.b.c", "e30.W10.sig", "a.b.c.d.e", "eyJ+.e30.x"])
def test_jwt_parts_refuses_non_jwts(token: str) -> None:
    assert jwt_parts(token) is None


def test_forge_claims_changes_only_the_payload() -> None:
    forged = forge_claims(JWT)
    header, _, signature = forged.split(".")
    assert (header, signature) == (JWT.split(".")[0], JWT.split(".")[2])
    parts = jwt_parts(forged)
    assert parts is not None and parts[1] == {"scope": "api/read api/all"}


def test_tamper_signature_changes_the_first_signature_character() -> None:
    tampered = tamper_signature(JWT)
    assert tampered.rpartition(".")[0] == JWT.rpartition(".")[0]
    assert tampered[-len("c2lnbmF0dXJlLWJ5dGVz") :] == "A2lnbmF0dXJlLWJ5dGVz"
    with pytest.raises(ValueError):
        tamper_signature("e30.e30.")
