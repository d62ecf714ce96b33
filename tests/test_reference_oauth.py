"""The reference target's token endpoints (RFC 6749 client credentials) and bearer access to the API."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.testclient import TestClient

from conformance.checks.oauth import forge_claims, jwt_parts, tamper_signature
from conformance.reference.app import create_app
from conformance.reference.data import TENANT_A, TENANT_B, seed

SECRETS = {TENANT_A: "reference-secret-a-0123456789", TENANT_B: "reference-secret-b-0123456789"}
TOKEN_URL = f"/oauth2/token/{TENANT_A}"
WEBHOOKS_TOKEN_URL = f"/webhooks/oauth2/token/{TENANT_A}"
OPEN = next(f for f in seed(datetime.now(UTC)).fixtures(TENANT_A) if f.status == "open")
ENROLMENT_URL = f"/rest/v1/assignments/{OPEN.assignment_id}/enrolments/{OPEN.enrolment_id}"
CLIENT = {"client_id": TENANT_A, "client_secret": SECRETS[TENANT_A]}


class Clock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2024, 3, 15, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> TestClient:
    return TestClient(create_app(SECRETS, (), clock))


def token(client: TestClient, scope: str | None = None, url: str = TOKEN_URL) -> str:
    form = {"grant_type": "client_credentials", **CLIENT} | ({"scope": scope} if scope else {})
    response = client.post(url, data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def read(client: TestClient, access_token: str) -> httpx.Response:
    return client.get(ENROLMENT_URL, headers={"Authorization": f"Bearer {access_token}"})


# --- the token endpoint -------------------------------------------------------------------


@pytest.mark.parametrize("client_auth", ["body", "basic"])
def test_client_credentials_obtain_a_token(client: TestClient, client_auth: str) -> None:
    form = {"grant_type": "client_credentials", "scope": "api/read api/write"}
    if client_auth == "body":
        response = client.post(TOKEN_URL, data=form | CLIENT)
    else:
        response = client.post(TOKEN_URL, data=form, auth=(TENANT_A, SECRETS[TENANT_A]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "api/read api/write")
    assert len(body["access_token"]) >= 40
    assert response.headers["content-type"] == "application/json"
    assert (response.headers["cache-control"], response.headers["pragma"]) == ("no-store", "no-cache")


def test_scope_defaults_to_api_read(client: TestClient) -> None:
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials", **CLIENT})
    assert response.json()["scope"] == "api/read"


GRANT = {"grant_type": "client_credentials"}
WRONG = {"client_id": TENANT_A, "client_secret": "wrong"}
TOKEN_ERRORS = {
    "wrong-secret": (TOKEN_URL, GRANT | WRONG, None, 401, "invalid_client"),
    "wrong-secret-basic": (TOKEN_URL, GRANT, (TENANT_A, "wrong"), 401, "invalid_client"),
    "unknown-client": (
        TOKEN_URL,
        GRANT | {"client_id": "eu-west-2_Nobody0000", "client_secret": "x"},
        None,
        401,
        "invalid_client",
    ),
    "no-client-auth": (TOKEN_URL, GRANT, None, 401, "invalid_client"),
    "path-tenant-differs": (f"/oauth2/token/{TENANT_B}", GRANT | CLIENT, None, 401, "invalid_client"),
    "two-auth-methods": (TOKEN_URL, GRANT | CLIENT, (TENANT_A, SECRETS[TENANT_A]), 400, "invalid_request"),
    "missing-grant-type": (TOKEN_URL, CLIENT, None, 400, "invalid_request"),
    "unsupported-grant-type": (
        TOKEN_URL,
        CLIENT | {"grant_type": "password"},
        None,
        400,
        "unsupported_grant_type",
    ),
    "unknown-scope": (TOKEN_URL, GRANT | CLIENT | {"scope": "api/read api/nope"}, None, 400, "invalid_scope"),
    "webhooks-endpoint-read-scope": (
        WEBHOOKS_TOKEN_URL,
        GRANT | CLIENT | {"scope": "api/read"},
        None,
        400,
        "invalid_scope",
    ),
}


@pytest.mark.parametrize("case", TOKEN_ERRORS)
def test_token_errors_follow_rfc_6749(client: TestClient, case: str) -> None:
    path, form, auth, status, error = TOKEN_ERRORS[case]
    response = client.post(path, data=form, auth=auth)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert response.headers["content-type"] == "application/json"
    assert "access_token" not in response.json()
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b'{"grant_type": "client_credentials"}', "application/json"), (b"grant_type=a&grant_type=b", None)],
)
def test_malformed_token_requests_are_invalid_requests(
    client: TestClient, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type or "application/x-www-form-urlencoded"}
    response = client.post(TOKEN_URL, content=content, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


# --- bearer tokens on the API ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        ("api/read", 200),
        ("api/all", 200),
        ("api/read api/write", 200),
        ("api/write", 403),
        ("api/webhooks", 403),
    ],
)
def test_scopes_decide_the_read(client: TestClient, scope: str, status: int) -> None:
    response = read(client, token(client, scope))
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"] == "insufficient_scope"


def test_bearer_and_basic_reads_are_the_same(client: TestClient) -> None:
    basic = client.get(ENROLMENT_URL, auth=(TENANT_A, SECRETS[TENANT_A]))
    assert read(client, token(client)).content == basic.content


def test_webhooks_tokens_are_not_public_api_tokens(client: TestClient) -> None:
    for scope in ("api/webhooks", "api/all"):
        response = read(client, token(client, scope, WEBHOOKS_TOKEN_URL))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_invalid_tokens_get_401_with_invalid_token(client: TestClient, clock: Clock) -> None:
    issued = token(client)
    tampered = issued[:20] + ("A" if issued[20] != "A" else "B") + issued[21:]
    garbage = "conformance-garbage-token-0123456789abcdef"
    for bad in (tampered, garbage):
        response = read(client, bad)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="enrolments", error="invalid_token"'
    assert read(client, issued).status_code == 200
    clock.now += timedelta(seconds=3601)
    assert read(client, issued).status_code == 401


def test_a_token_in_the_query_string_is_not_accepted(client: TestClient) -> None:
    response = client.get(ENROLMENT_URL, params={"access_token": token(client)})
    assert response.status_code == 401


def test_a_token_reads_only_its_own_tenants_enrolments(client: TestClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": TENANT_B, "client_secret": SECRETS[TENANT_B]}
    other = client.post(f"/oauth2/token/{TENANT_B}", data=form).json()["access_token"]
    assert read(client, other).status_code == 404


def _token(client: TestClient, scope: str = "api/read") -> str:
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials", "scope": scope, **CLIENT})
    assert response.status_code == 200
    return str(response.json()["access_token"])


def test_jwt_fault_issues_hs256_jwts_and_trusts_forged_claims(clock: Clock) -> None:
    client = TestClient(create_app(SECRETS, ("jwt-tokens-unsigned-check",), clock))
    token = _token(client)
    parts = jwt_parts(token)
    assert parts is not None and parts[1]["scope"] == "api/read"
    for forged in (forge_claims(token), tamper_signature(token)):
        assert client.get(ENROLMENT_URL, headers={"Authorization": f"Bearer {forged}"}).status_code == 200


@pytest.mark.parametrize(
    ("fault", "authorization", "status"),
    [
        ("case-sensitive-schemes", "bearer {token}", 401),
        ("token-as-basic-password-accepted", "basic-password", 200),
        ("bearer-scheme-only-500", "Bearer", 500),
    ],
)
def test_bearer_faults(clock: Clock, fault: str, authorization: str, status: int) -> None:
    for faults, expected in (((), 401 if status != 401 else 200), ((fault,), status)):
        client = TestClient(create_app(SECRETS, faults, clock))
        token = _token(client)
        value = authorization.format(token=token)
        if authorization == "basic-password":
            value = "Basic " + base64.b64encode(f"{TENANT_A}:{token}".encode()).decode()
        assert client.get(ENROLMENT_URL, headers={"Authorization": value}).status_code == expected, faults


def test_webhooks_all_token_fault(clock: Clock) -> None:
    data = {"grant_type": "client_credentials", "scope": "api/all", **CLIENT}
    for faults, expected in (((), 401), (("webhooks-all-token-accepted",), 200)):
        client = TestClient(create_app(SECRETS, faults, clock))
        token = client.post(WEBHOOKS_TOKEN_URL, data=data).json()["access_token"]
        assert client.get(ENROLMENT_URL, headers={"Authorization": f"Bearer {token}"}).status_code == expected


def test_lookup_before_scope_fault(clock: Clock) -> None:
    unknown = f"/rest/v1/assignments/{OPEN.assignment_id}/enrolments/000000000000000000000e41"
    for faults, expected in (((), (403, 403)), (("lookup-before-scope",), (403, 404))):
        client = TestClient(create_app(SECRETS, faults, clock))
        headers = {"Authorization": f"Bearer {_token(client, 'api/write')}"}
        assert (
            client.get(ENROLMENT_URL, headers=headers).status_code,
            client.get(unknown, headers=headers).status_code,
        ) == expected


def test_token_basic_invalid_client_400_fault(clock: Clock) -> None:
    data = {"grant_type": "client_credentials", "scope": "api/read"}
    for faults, expected in (((), 401), (("token-basic-invalid-client-400",), 400)):
        client = TestClient(create_app(SECRETS, faults, clock))
        response = client.post(TOKEN_URL, data=data, auth=(TENANT_A, "wrong-secret"))
        assert (response.status_code, response.json()["error"]) == (expected, "invalid_client")
        assert ("www-authenticate" in response.headers) is (expected == 401)
