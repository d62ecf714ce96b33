"""Planning (conformance.planning): the hand-written checks' requests sent ahead, the report unchanged."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from conformance.client import (
    REFERENCE_BACKOFF_BASE_S,
    Client,
    ClientLimits,
    InfrastructureError,
    Planned,
    RunDeadlineExceeded,
)
from conformance.client._limits import RunDeadline
from conformance.client._memo import MAX_REMEMBERED_BODY
from conformance.har import UNCLAIMED, HarRecorder
from conformance.planning import worth_planning
from conformance.redact import Redactor
from conformance.reference.server import ReferenceServer, reference_settings
from conformance.runner import RunOptions, execute

BASE_URL = "http://target.test/rest/v1"
URL = f"{BASE_URL}/a"
TOKEN_URL = "http://target.test/oauth2/token/eu-west-2_Tenant"


class Target:
    """A mock target: GET answers 200, each POST a new token; every request is logged."""

    def __init__(self, refuse_first: bool = False) -> None:
        self.sent: list[httpx.Request] = []
        self.refuse_first = refuse_first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.refuse_first and len(self.sent) == 1:
            raise httpx.ConnectError("refused", request=request)
        body = f'{{"n": {len(self.sent)}}}'.encode()
        headers = {"Content-Type": "application/json"}
        return httpx.Response(200, stream=httpx.ByteStream(body), headers=headers)

    def client(self) -> Client:
        return mock_client(self)


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **limits: Any) -> Client:
    """A client of the mock target handler answers for, four requests at a time."""
    return Client(
        BASE_URL,
        allowed_hosts=frozenset({"target.test"}),
        redactor=Redactor(),
        limits=ClientLimits(concurrency=4, **limits),
        transport=httpx.MockTransport(handler),
        token_urls=(TOKEN_URL,),
    )


def plan_and_send(client: Client, *requests: tuple[str, str]) -> int:
    """One planning pass making these requests (method, url) in turn: send what it noted; how many."""
    with client.planning() as plan:
        for method, url in requests:
            with contextlib.suppress(Planned, httpx.HTTPError, InfrastructureError):
                client.request(method, url, phase="token" if method == "POST" else "checks", note="planning")
    client.send_ahead(plan.requests)
    return len(plan.requests)


def test_a_planning_pass_notes_the_first_request_without_an_answer_and_sends_nothing() -> None:
    target = Target()
    client = target.client()
    with client.planning() as plan, pytest.raises(Planned):
        client.request("GET", f"{BASE_URL}/a")
    assert target.sent == [] and len(plan.requests) == 1 and client.requests_sent == 0


def test_a_request_sent_ahead_is_answered_as_its_check_s_own_evidence() -> None:
    target = Target()
    client = target.client()
    assert plan_and_send(client, ("GET", f"{BASE_URL}/a")) == 1
    assert len(target.sent) == 1 and client.recorder.take() == [] and client.memo.unclaimed() == 1
    response = client.request("GET", f"{BASE_URL}/a", note="the check's own words")
    assert len(target.sent) == 1 and response.json() == {"n": 1} and client.memo.unclaimed() == 0
    (exchange,) = client.recorder.take()
    assert exchange.note == "the check's own words" and exchange.status == 200


def test_each_identical_token_request_claims_its_own_answer_in_turn() -> None:
    target = Target()
    client = target.client()
    twice = [("POST", TOKEN_URL), ("POST", TOKEN_URL)]
    assert plan_and_send(client, *twice) == 1  # a pass notes a request once: its answer may serve both
    assert plan_and_send(client, *twice) == 1  # the second use claims a second answer
    assert plan_and_send(client, *twice) == 0  # nothing left to plan
    answers = [client.request("POST", TOKEN_URL, phase="token").json()["n"] for _ in range(3)]
    assert answers == [1, 2, 3] and len(target.sent) == 3  # two sent ahead, in order; the third live


def test_a_request_that_got_no_answer_ahead_gives_its_check_the_same_failure_without_a_second_wait() -> None:
    target = Target(refuse_first=True)
    client = target.client()
    plan_and_send(client, ("GET", f"{BASE_URL}/a"))
    with client.planning() as plan, pytest.raises(httpx.ConnectError):  # the pass sees what the run will
        client.request("GET", f"{BASE_URL}/a")
    assert plan.requests == []
    with pytest.raises(httpx.ConnectError):
        client.request("GET", f"{BASE_URL}/a", note="check")
    (exchange,) = client.recorder.take()
    assert exchange.note == "check" and exchange.error and len(target.sent) == 1
    assert client.request("GET", f"{BASE_URL}/a").status_code == 200  # asked again: sent again
    assert len(target.sent) == 2 and client.memo.unclaimed() == 0


def test_a_request_sent_ahead_has_one_har_entry_tagged_with_its_check() -> None:
    target = Target()
    client = target.client()
    har = HarRecorder()
    har.attach(client.recorder, client.redactor)
    plan_and_send(client, ("GET", f"{BASE_URL}/a"))
    client.request("GET", f"{BASE_URL}/a", note="check")
    client.recorder.take(check="check_a", requirement="AUTH-001")
    (entry,) = har.document()["log"]["entries"]
    assert entry["_check"] == "check_a" and entry["_note"] == "check" and "_reused" not in entry


def client_of(
    answer: Callable[[int], tuple[int, dict[str, str], bytes]],
) -> tuple[Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        status, headers, body = answer(len(sent))
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    client = mock_client(handler, backoff_base_s=0.0)
    return client, sent


def test_an_answer_too_large_to_remember_is_not_sent_again_by_each_pass_and_the_check() -> None:
    big = b"x" * (MAX_REMEMBERED_BODY + 1)
    client, sent = client_of(lambda n: (200, {}, big))
    for _ in range(4):  # runner.plan_ahead's MAX_PASSES: the check stops at the same request each pass
        plan_and_send(client, ("GET", URL))
    client.request("GET", URL, note="check")
    assert len(sent) == 1  # not by every pass, and again by the check


def test_a_request_throttled_on_every_try_ahead_is_not_tried_again_by_each_pass() -> None:
    client, sent = client_of(lambda n: (429, {"Retry-After": "0"}, b""))
    tries = client.limits.max_retries + 1
    for _ in range(4):
        plan_and_send(client, ("GET", URL))
    assert len(sent) == tries  # not again by each pass (nor by the check)


def test_the_throttled_tries_of_a_request_sent_ahead_stay_in_its_check_s_evidence_and_the_har() -> None:
    client, sent = client_of(lambda n: (429, {"Retry-After": "0"}, b"") if n == 1 else (200, {}, b"{}"))
    har = HarRecorder()
    har.attach(client.recorder, client.redactor)
    plan_and_send(client, ("GET", URL))
    client.request("GET", URL, note="check")
    evidence = client.recorder.take(check="check_a", requirement="AUTH-001")
    assert len(sent) == 2
    assert [e.status for e in evidence] == [429, 200]  # the 429 too, as without planning
    assert len(har.document()["log"]["entries"]) == 2  # an entry a request sent


def test_every_request_sent_ahead_has_a_har_entry_even_if_no_check_makes_it() -> None:
    client, sent = client_of(lambda n: (200, {}, b"{}"))
    har = HarRecorder()
    har.attach(client.recorder, client.redactor)
    plan_and_send(client, ("GET", URL))  # then the run is interrupted, or the check asks something else
    assert len(sent) == client.requests_sent == 1
    assert len(har.document()["log"]["entries"]) == 1


def test_the_run_s_bounds_apply_to_an_answer_sent_ahead_as_if_it_were_sent_when_claimed() -> None:
    client, _ = client_of(lambda n: (200, {}, b"{}"))
    client.deadline = RunDeadline(0.05)
    plan_and_send(client, ("GET", URL))
    time.sleep(0.1)
    with pytest.raises(RunDeadlineExceeded):
        client.request("GET", URL)


def test_a_request_sent_ahead_that_no_check_made_says_so_in_the_har() -> None:
    client, _ = client_of(lambda n: (200, {}, b"{}"))
    har = HarRecorder()
    har.attach(client.recorder, client.redactor)
    plan_and_send(client, ("GET", URL), ("GET", f"{URL}/b"))
    client.request("GET", URL, note="check")
    client.recorder.take(check="check_a", requirement="AUTH-001")
    claimed, unclaimed = har.document()["log"]["entries"]
    assert "_sentAhead" not in claimed and claimed["_check"] == "check_a"
    assert unclaimed["_sentAhead"] == UNCLAIMED and "_check" not in unclaimed


def test_a_planning_pass_meets_the_token_answers_in_the_order_the_run_will() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 2:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, stream=httpx.ByteStream(b'{"n": 1}'))

    client = mock_client(handler)
    twice = [("POST", TOKEN_URL), ("POST", TOKEN_URL)]
    plan_and_send(client, *twice)  # the first use: answered
    plan_and_send(client, *twice)  # the second use: refused
    with client.planning():
        first = client.request("POST", TOKEN_URL, phase="token")  # the first answer, as in the run
    assert first.json() == {"n": 1}
    assert client.request("POST", TOKEN_URL, phase="token").json() == {"n": 1}  # what the run gets


@pytest.mark.parametrize(
    ("round_trip_s", "max_rps", "concurrency", "plan"),
    [
        (0.1, 20.0, 4, True),  # one at a time: 10 requests/s, under the rate
        (0.03, 20.0, 4, False),  # one at a time keeps up with 20/s
        (0.03, None, 4, True),  # no rate limit: only the round trip bounds it
        (0.01, None, 4, False),  # too close for a pass of the checks to pay
        (0.1, 20.0, 1, False),  # one request at a time asked for
    ],
)
def test_planning_is_worth_it_only_when_one_request_at_a_time_cannot_keep_up(
    round_trip_s: float, max_rps: float | None, concurrency: int, plan: bool
) -> None:
    limits = ClientLimits(max_rps=max_rps, concurrency=concurrency)
    assert worth_planning(round_trip_s, limits) is plan


def _comparable(value: Any) -> Any:
    """A result as data, without what differs between any two runs (times, durations, Date headers)."""
    if isinstance(value, dict):
        varying = {"elapsed_ms", "duration_s", "started_at", "finished_at", "date", "throttling"}
        return {key: _comparable(item) for key, item in value.items() if key not in varying}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


FAULT_SETS = [  # (faults, verdict)
    ((), "pass"),
    (("no-www-authenticate", "any-bearer-accepted", "token-over-grants"), "fail"),
]


@pytest.fixture(scope="module", params=FAULT_SETS)
def reference(request: pytest.FixtureRequest) -> Iterator[tuple[ReferenceServer, str]]:
    server = ReferenceServer(faults=request.param[0])
    server.start()
    try:
        yield server, request.param[1]
    finally:
        server.terminate()
        server.stop()


def test_a_planned_run_reports_exactly_what_an_unplanned_one_does(
    reference: tuple[ReferenceServer, str],
) -> None:
    server, verdict = reference
    settings = reference_settings(server)
    limits = ClientLimits(max_requests=None, backoff_base_s=REFERENCE_BACKOFF_BASE_S, concurrency=4)
    unplanned, planned = (
        execute(settings, RunOptions(limits=limits, allow_unsafe_methods=True, plan=plan)).to_dict()
        for plan in (False, True)
    )
    assert planned["verdict"] == unplanned["verdict"] == verdict
    assert planned["requests"] == unplanned["requests"]  # nothing sent ahead for nothing, nothing twice
    assert _comparable(planned) == _comparable(unplanned)
