"""Planning (conformance.planning): the hand-written checks' requests sent ahead, the report unchanged."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.client import REFERENCE_BACKOFF_BASE_S, Client, ClientLimits, Planned
from conformance.har import HarRecorder
from conformance.planning import worth_planning
from conformance.redact import Redactor
from conformance.reference.server import ReferenceServer, reference_settings
from conformance.runner import RunOptions, execute

BASE_URL = "http://target.test/rest/v1"
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
        return Client(
            BASE_URL,
            allowed_hosts=frozenset({"target.test"}),
            redactor=Redactor(),
            limits=ClientLimits(concurrency=4),
            transport=httpx.MockTransport(self),
            token_urls=(TOKEN_URL,),
        )


def plan_and_send(client: Client, *requests: tuple[str, str]) -> int:
    """One planning pass making these requests (method, url) in turn: send what it noted; how many."""
    with client.planning() as plan:
        for method, url in requests:
            with contextlib.suppress(Planned):
                client.request(method, url, phase="token" if method == "POST" else "checks", note="planning")
    client.send_ahead(plan.calls)
    return len(plan.calls)


def test_a_planning_pass_notes_the_first_request_without_an_answer_and_sends_nothing() -> None:
    target = Target()
    client = target.client()
    with client.planning() as plan, pytest.raises(Planned):
        client.request("GET", f"{BASE_URL}/a")
    assert target.sent == [] and len(plan.calls) == 1 and client.requests_sent == 0


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
    assert plan.calls == []
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


@pytest.mark.parametrize(
    ("round_trip_s", "max_rps", "concurrency", "plan"),
    [
        (0.1, 20.0, 4, True),  # one at a time: 10 requests/s, under the rate
        (0.03, 20.0, 4, False),  # one at a time keeps up with 20/s
        (0.03, None, 4, True),  # no rate limit: only the round trip bounds it
        (0.01, None, 4, False),  # too close for a pass of the checks to pay
        (0.1, 20.0, 1, False),  # one request at a time asked for
        (None, 20.0, 4, False),  # nothing measured (the preflight got no answer)
    ],
)
def test_planning_is_worth_it_only_when_one_request_at_a_time_cannot_keep_up(
    round_trip_s: float | None, max_rps: float | None, concurrency: int, plan: bool
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


FAULT_SETS = [(), ("no-www-authenticate", "any-bearer-accepted", "token-over-grants")]


@pytest.fixture(scope="module", params=FAULT_SETS)
def reference(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    server = ReferenceServer(faults=request.param)
    server.start()
    try:
        yield server
    finally:
        server.terminate()
        server.stop()


def test_a_planned_run_reports_exactly_what_an_unplanned_one_does(reference: ReferenceServer) -> None:
    settings = reference_settings(reference)
    limits = ClientLimits(max_requests=None, backoff_base_s=REFERENCE_BACKOFF_BASE_S, concurrency=4)
    unplanned, planned = (
        execute(settings, RunOptions(limits=limits, allow_unsafe_methods=True, plan=plan)).to_dict()
        for plan in (False, True)
    )
    assert planned["verdict"] == unplanned["verdict"] == ("fail" if settings.faults else "pass")
    assert planned["requests"] == unplanned["requests"]  # nothing sent ahead for nothing, nothing twice
    assert _comparable(planned) == _comparable(unplanned)
