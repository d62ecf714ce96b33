"""The client's memory of answers (conformance.client._memo): GET and HEAD once a run, bounded, exact keys."""

from __future__ import annotations

import httpx

from conformance.auth import BasicAuth
from conformance.client import Client, ClientLimits
from conformance.client._memo import MAX_REMEMBERED_BODY
from conformance.config import Credentials
from conformance.redact import Redactor

BASE_URL = "http://target.test/rest/v1"
TENANT = Credentials("eu-west-2_MemoTenant", "memo-secret-value", "MEMO_SECRET")


def client_and_log(body: bytes = b"{}") -> tuple[Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200, stream=httpx.ByteStream(body), headers={"Content-Type": "application/json"}
        )

    redactor = Redactor()
    redactor.add_basic(TENANT.tenant_id, TENANT.secret)
    client = Client(
        BASE_URL,
        allowed_hosts=frozenset({"target.test"}),
        redactor=redactor,
        limits=ClientLimits(),
        transport=httpx.MockTransport(handler),
    )
    return client, sent


def test_an_identical_get_gets_the_remembered_answer() -> None:
    client, sent = client_and_log()
    first = client.request("GET", f"{BASE_URL}/x", auth=BasicAuth(TENANT))
    again = client.request("GET", f"{BASE_URL}/x", auth=BasicAuth(TENANT))
    assert again is first and len(sent) == 1 and client.requests_sent == 1


def test_other_methods_are_sent_every_time() -> None:
    client, sent = client_and_log()
    client.allow_unsafe_methods = True
    client.request("POST", f"{BASE_URL}/x")
    client.request("POST", f"{BASE_URL}/x")
    assert len(sent) == 2


def test_any_difference_on_the_wire_is_another_request() -> None:
    client, sent = client_and_log()
    client.request("GET", f"{BASE_URL}/x", auth=BasicAuth(TENANT))
    client.request("GET", f"{BASE_URL}/x")  # no credentials
    client.request("GET", f"{BASE_URL}/x", auth=BasicAuth(TENANT), headers={"Accept": "text/html"})
    client.request("GET", f"{BASE_URL}/x?a=1", auth=BasicAuth(TENANT))
    client.request("HEAD", f"{BASE_URL}/x", auth=BasicAuth(TENANT))
    assert len(sent) == 5


def test_large_answers_are_not_remembered() -> None:
    client, sent = client_and_log(b"x" * (MAX_REMEMBERED_BODY + 1))
    client.request("GET", f"{BASE_URL}/x")
    client.request("GET", f"{BASE_URL}/x")
    assert len(sent) == 2 and len(client.memo) == 0


def test_a_reused_answer_is_evidence_of_the_check_that_reused_it() -> None:
    client, _ = client_and_log()
    client.request("GET", f"{BASE_URL}/x", note="first check")
    (first,) = client.recorder.take()
    client.request("GET", f"{BASE_URL}/x", note="second check")
    assert client.recorder.take() == [first]  # what was sent, as the first check named it
