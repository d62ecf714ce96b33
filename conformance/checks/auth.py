"""AUTH: HTTP Basic authentication with the Tenant ID and the API secret.

Each check sends its requests and hands the answer to a judgement that sends nothing
(``judge_authenticated_read``, ``judge_refused``, ``expect_challenge``): ``judge`` applies the
same judgements to recorded exchanges.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from conformance.auth import BasicAuth, RawAuthorization, basic_credentials
from conformance.client import Client
from conformance.config import Credentials, FixtureEnrolment, Settings
from conformance.expect import CheckFailed, challenge_schemes, expect_status
from conformance.skips import not_applicable, skip_needing

MALFORMED_ID = "not-an-id"
UNKNOWN_TENANT = "eu-west-2_UnknownTenant0"


def _basic_payload(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


# Authorization values that are not valid Basic credentials, with what each probes.
MALFORMED_BASIC = {
    "not-base64": "Basic !!!not*base64!!!",
    "no-colon": _basic_payload(b"eu-west-2_NoColonAtAll"),
    "empty-user-and-password": _basic_payload(b":"),
    "non-utf8": _basic_payload(b"\xff\xfe\xfd:\xc3\x28"),
    "scheme-only": "Basic",
}


def wrong_secrets(secret: str) -> dict[str, str]:
    """Passwords that are not the API secret but close to it, with what each probes."""
    changed = secret[:-1] + ("A" if secret[-1:] != "A" else "B")
    wrong = {
        "suffixed": secret + "-wrong",
        "empty": "",
        "truncated": secret[:-1],
        "one-character-changed": changed,
    }
    if secret.swapcase() != secret:
        wrong["case-swapped"] = secret.swapcase()
    return wrong


UNKNOWN_SCHEMES = {
    "digest": 'Digest username="eu-west-2_AbcdEfghI", realm="api", nonce="abc", uri="/", response="0"',
    "token": "Token abcdef0123456789",
    "hoba": "HOBA result=abc",
}


REQUIREMENT_AUTH_005 = pytest.mark.requirement(id="AUTH-005")


def _get(client: Client, enrolment: FixtureEnrolment, auth, note: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return client.get_enrolment(enrolment.assignment_id, enrolment.enrolment_id, auth=auth, note=note)


def judge_authenticated_read(response: httpx.Response, what: str) -> None:
    """AUTH-001 over one exchange: a read with valid Basic credentials gets 200."""
    expect_status(response, 200, what)


def judge_refused(response: httpx.Response, what: str) -> None:
    """AUTH-002 to AUTH-006 and AUTH-008 over one exchange: a request whose credentials do not
    authenticate gets 401 (not 403, not 422 for a malformed ID, never a 5xx or the record)."""
    expect_status(response, 401, what)


def expect_challenge(response: httpx.Response, what: str) -> str:
    """AUTH-007 over one exchange: fail unless a 401 carries a WWW-Authenticate header; return its value."""
    challenge = response.headers.get("www-authenticate", "").strip()
    if not challenge:
        raise CheckFailed(
            f"{what}: expected a 401 with a WWW-Authenticate challenge, received a 401 without one",
            response=response,
        )
    return challenge


@pytest.mark.requirement(id="AUTH-001")
def check_valid_basic_credentials_read_the_enrolment(client: Client, basic: BasicAuth, enrolment) -> None:  # type: ignore[no-untyped-def]
    """AUTH-001: Tenant ID + API secret as Basic credentials read a fixture enrolment with 200."""
    response = _get(client, enrolment, basic, "valid Basic credentials")
    judge_authenticated_read(response, "GET with valid Basic credentials")


@pytest.mark.requirement(id="AUTH-001")
def check_basic_scheme_is_case_insensitive(client: Client, tenant: Credentials, settings: Settings) -> None:
    """AUTH-001: the scheme name is case-insensitive (RFC 9110 §11.1): 'basic' reads like 'Basic' (200)."""
    if not settings.fixtures:
        skip_needing("fixtures.enrolments", "needs an existing enrolment")
    auth = RawAuthorization("basic " + basic_credentials(tenant.tenant_id, tenant.secret))
    response = _get(client, settings.fixtures[0], auth, "valid Basic credentials, scheme written 'basic'")
    judge_authenticated_read(response, "GET with valid credentials, the scheme name in lowercase ('basic')")


@pytest.mark.requirement(id="AUTH-002")
def check_missing_authorization_is_401(client: Client, known_enrolment: FixtureEnrolment) -> None:
    """AUTH-002: a request without an Authorization header gets 401."""
    response = _get(client, known_enrolment, None, "no Authorization header")
    judge_refused(response, "GET without an Authorization header")


@pytest.mark.requirement(id="AUTH-003")
@pytest.mark.parametrize("kind", ["suffixed", "empty", "truncated", "one-character-changed", "case-swapped"])
def check_wrong_secret_is_401(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment, kind: str
) -> None:
    """AUTH-003: the right Tenant ID with a wrong API secret (close to the real one) gets 401, not 403."""
    secrets = wrong_secrets(tenant.secret)
    if kind not in secrets:
        not_applicable(f"the API secret has no letters, so swapping its case does not change it ({kind})")
    wrong = Credentials(tenant.tenant_id, secrets[kind], tenant.secret_env)
    response = _get(client, known_enrolment, BasicAuth(wrong), f"Basic with a wrong API secret: {kind}")
    judge_refused(response, f"GET with a wrong API secret ({kind})")


@pytest.mark.requirement(id="AUTH-004")
def check_unknown_tenant_is_401(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment
) -> None:
    """AUTH-004: an unknown Tenant ID (with the real secret) gets 401."""
    unknown = Credentials(UNKNOWN_TENANT, tenant.secret, tenant.secret_env)
    response = _get(client, known_enrolment, BasicAuth(unknown), "Basic with an unknown Tenant ID")
    judge_refused(response, "GET with an unknown Tenant ID")


# Authorization values no credentials can be read from, each marked with the requirement it probes.
UNUSABLE_AUTHORIZATION = [
    *(
        pytest.param(value, f"malformed Basic credentials ({kind})", id=kind, marks=REQUIREMENT_AUTH_005)
        for kind, value in MALFORMED_BASIC.items()
    ),
    *(
        pytest.param(value, f"the {scheme} scheme", id=scheme, marks=pytest.mark.requirement(id="AUTH-006"))
        for scheme, value in UNKNOWN_SCHEMES.items()
    ),
]


@pytest.mark.parametrize(("value", "what"), UNUSABLE_AUTHORIZATION)
def check_unusable_authorization_is_401(
    client: Client, known_enrolment: FixtureEnrolment, value: str, what: str
) -> None:
    """AUTH-005 / AUTH-006: malformed Basic credentials, or a scheme other than Basic or Bearer, get 401.

    Never a 5xx, and never the enrolment.
    """
    response = _get(client, known_enrolment, RawAuthorization(value), what)
    judge_refused(response, f"GET with {what}")


@REQUIREMENT_AUTH_005
def check_password_without_user_is_401(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment
) -> None:
    """AUTH-005: the real API secret with an empty Tenant ID gets 401."""
    auth = RawAuthorization("Basic " + basic_credentials("", tenant.secret))
    response = _get(client, known_enrolment, auth, "Basic with an empty Tenant ID and the real secret")
    judge_refused(response, "GET with an empty Tenant ID")


@pytest.mark.requirement(id="AUTH-007")
@pytest.mark.parametrize(
    "case",
    [
        "no-credentials",
        "wrong-secret",
        "malformed",
        "unknown-tenant",
        "unknown-scheme",
        "malformed-id-no-credentials",
        "garbage-bearer",
    ],
)
def check_401_carries_a_challenge(
    client: Client, tenant: Credentials, known_enrolment: FixtureEnrolment, case: str
) -> None:
    """AUTH-007: every 401 carries a WWW-Authenticate challenge (RFC 9110 §11.6.1)."""
    auth = {
        "no-credentials": None,
        "wrong-secret": BasicAuth(Credentials(tenant.tenant_id, tenant.secret + "-wrong", tenant.secret_env)),
        "malformed": RawAuthorization(MALFORMED_BASIC["not-base64"]),
        "unknown-tenant": BasicAuth(Credentials(UNKNOWN_TENANT, tenant.secret, tenant.secret_env)),
        "unknown-scheme": RawAuthorization(UNKNOWN_SCHEMES["token"]),
        "malformed-id-no-credentials": None,
        "garbage-bearer": RawAuthorization("Bearer conformance-garbage-token-0123456789abcdef"),
    }[case]
    enrolment_id = MALFORMED_ID if case == "malformed-id-no-credentials" else known_enrolment.enrolment_id
    response = client.get_enrolment(
        known_enrolment.assignment_id, enrolment_id, auth=auth, note=f"401 challenge: {case}"
    )
    if response.status_code != 401:
        pytest.skip(f"answered {response.status_code}, not 401: AUTH-002/003/005 judge the status itself")
    expect_challenge(response, f"401 to a request with {case}")


@pytest.mark.requirement(id="AUTH-008")
@pytest.mark.parametrize("which", ["assignmentId", "enrolmentId"])
def check_authentication_before_validation(
    client: Client, known_enrolment: FixtureEnrolment, which: str
) -> None:
    """AUTH-008: a malformed ID without credentials gets 401, not 422: authentication comes first."""
    ids = {"assignmentId": known_enrolment.assignment_id, "enrolmentId": known_enrolment.enrolment_id}
    ids[which] = MALFORMED_ID
    response = client.get_enrolment(
        ids["assignmentId"], ids["enrolmentId"], auth=None, note=f"malformed {which}, no credentials"
    )
    judge_refused(response, f"GET with a malformed {which} and no credentials")


@pytest.mark.requirement(id="AUTH-009")
def check_challenge_offers_basic(client: Client, known_enrolment: FixtureEnrolment) -> None:
    """AUTH-009: the challenge to a request without credentials offers the Basic scheme."""
    response = _get(client, known_enrolment, None, "which schemes does the challenge offer?")
    judge_refused(response, "GET without credentials")
    challenge = expect_challenge(response, "401 without credentials")
    if "basic" not in challenge_schemes(challenge):
        raise CheckFailed(
            "401 without credentials: expected a challenge offering Basic, "
            f"received WWW-Authenticate: {challenge}",
            response=response,
        )
