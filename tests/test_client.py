"""The HTTP layer under respx: bounds, throttling, redirects, refusals, caps, token failures.

respx answers at the transport; nothing here opens a socket. Hosts are under
the reserved ``.test`` TLD.
"""

from __future__ import annotations

import gzip
import threading
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from conformance.auth import BasicAuth, basic_credentials
from conformance.client import (
    Client,
    ClientLimits,
    RateLimiter,
    RequestBudgetExhausted,
    RunDeadlineExceeded,
    TargetUnresponsive,
    Throttled,
    UnsafeRequest,
    describe_error,
)
from conformance.config import Credentials, Target
from conformance.redact import Redactor
from conformance.tokens import TokenProvider, TokenUnavailable, issued_tokens

BASE = "https://api.test/rest/v1"
TOKEN_URL = "https://auth.test/oauth2/token/{tenantId}"
TENANT = "eu-west-2_AbcdEfghI"
SECRET = "client-SECRET-0123456789"
CREDS = Credentials(TENANT, SECRET, "ENROLMENT_API_SECRET")
ENROLMENT = f"{BASE}/assignments/12347d805d8ecbf46f5b5278/enrolments/63f57d805d8ecbf46f5b5278"
TOKEN = f"https://auth.test/oauth2/token/{TENANT}"


def numbered(n: int) -> dict[str, str]:
    """A header that makes each request distinct (an identical GET would get the remembered answer)."""
    return {"X-Request-Number": str(n)}


def make_client(*, unsafe: bool = False, **limits: object) -> Client:
    redactor = Redactor()
    redactor.add_basic(TENANT, SECRET)
    return Client(
        BASE,
        allowed_hosts=frozenset({"api.test", "auth.test"}),
        redactor=redactor,
        limits=ClientLimits(**limits),  # type: ignore[arg-type]
        allow_unsafe_methods=unsafe,
        token_urls=(TOKEN_URL,),
    )


@pytest.fixture
def mock() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


# --- evidence --------------------------------------------------------------------------------


def test_exchange_is_recorded_with_credentials_masked(mock: respx.MockRouter) -> None:
    mock.get(ENROLMENT).respond(200, json={"id": "63f57d805d8ecbf46f5b5278", "echo": SECRET})
    with make_client() as client:
        response = client.request("GET", ENROLMENT, auth=BasicAuth(CREDS))
        (exchange,) = client.recorder.take()
    assert response.status_code == 200
    assert mock.calls.last.request.headers["authorization"] == "Basic " + basic_credentials(TENANT, SECRET)
    assert exchange.request_headers["authorization"] == "Basic ***"
    assert SECRET not in exchange.response_body and "***" in exchange.response_body
    assert "$ENROLMENT_API_SECRET" in exchange.curl and SECRET not in exchange.curl


# --- timeouts, resets and the breaker ---------------------------------------------------------


def test_a_timeout_names_the_bound_and_is_recorded(mock: respx.MockRouter) -> None:
    mock.get(ENROLMENT).mock(side_effect=httpx.ReadTimeout("timed out"))
    with make_client(timeout_s=0.5) as client:
        with pytest.raises(httpx.ReadTimeout) as raised:
            client.request("GET", ENROLMENT)
        (exchange,) = client.recorder.take()
    assert "within 0.5 s" in str(raised.value) and "--timeout" in str(raised.value)
    assert describe_error(raised.value).startswith("timed out")
    assert exchange.status is None and exchange.error.startswith("timed out")


def test_timeouts_in_a_row_open_the_breaker_for_the_api_only(mock: respx.MockRouter) -> None:
    api = mock.get(ENROLMENT).mock(side_effect=httpx.ConnectTimeout("timed out"))
    mock.post(TOKEN).respond(200, json={"access_token": "tok-0123456789abc", "expires_in": 60})
    with make_client(max_failures_in_a_row=3) as client:
        for _ in range(3):
            with pytest.raises(httpx.ConnectTimeout):
                client.request("GET", ENROLMENT)
        with pytest.raises(TargetUnresponsive, match="the API stopped answering: 3 requests in a row failed"):
            client.request("GET", ENROLMENT)
        assert api.call_count == 3  # nothing more was sent to it
        assert (
            client.request(
                "POST", TOKEN, data={"grant_type": "client_credentials"}, phase="token"
            ).status_code
            == 200
        )
        assert client.unresponsive() and "the API" in client.unresponsive()[0]


def test_failures_in_total_open_the_breaker_even_between_successes(mock: respx.MockRouter) -> None:
    outcomes = [httpx.ReadTimeout("t"), httpx.Response(200)] * 10
    mock.get(ENROLMENT).mock(side_effect=outcomes)
    with make_client(max_failures=4) as client:
        failures = 0
        with pytest.raises(TargetUnresponsive, match="4 requests failed"):
            for n in range(20):
                try:
                    client.request("GET", ENROLMENT, headers=numbered(n))
                except httpx.ReadTimeout:
                    failures += 1
    assert failures == 4


def test_a_token_endpoint_that_hangs_opens_its_own_breaker(mock: respx.MockRouter) -> None:
    mock.post(TOKEN).mock(side_effect=httpx.ReadTimeout("t"))
    mock.get(ENROLMENT).respond(200)
    with make_client(max_failures_in_a_row=2) as client:
        provider = TokenProvider(client, Target(BASE, TOKEN_URL))
        for _ in range(2):
            with pytest.raises(TokenUnavailable, match="could not obtain a public token"):
                provider.token(CREDS, ("api/read",))
        with pytest.raises(TargetUnresponsive, match="the token endpoint stopped answering"):
            provider.token(CREDS, ("api/read",))
        assert client.request("GET", ENROLMENT, auth=BasicAuth(CREDS)).status_code == 200


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body: "
                "received 10 bytes, expected 1000"
            ),
            "connection broken",
        ),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), "connection reset by the target"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "DNS lookup failed"),
        (
            httpx.ConnectError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                "certificate (_ssl.c:1006)"
            ),
            "TLS failure: the certificate could not be verified",
        ),
    ],
)
def test_transport_failures_are_raised_and_named(
    mock: respx.MockRouter, error: Exception, cause: str
) -> None:
    mock.get(ENROLMENT).mock(side_effect=error)
    with make_client() as client:
        with pytest.raises(httpx.TransportError) as raised:
            client.request("GET", ENROLMENT)
        (exchange,) = client.recorder.take()
    assert describe_error(raised.value).startswith(cause)
    assert exchange.error.startswith(cause)


# --- throttling ------------------------------------------------------------------------------


def test_429_then_200_is_waited_out_and_counted(mock: respx.MockRouter) -> None:
    route = mock.get(ENROLMENT).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(429, headers={"Retry-After": "0.2"}),
            httpx.Response(200, json={}),
        ]
    )
    with make_client() as client:
        started = time.monotonic()
        response = client.request("GET", ENROLMENT)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert route.call_count == 3 and client.requests_by_phase["checks"] == 3
        throttling = client.throttling()
        assert (throttling["responses"], throttling["by_status"]) == (2, {"429": 2})
        assert throttling["wait_s"] == pytest.approx(0.2)
        assert 0.2 <= elapsed < 5.0  # it waited the Retry-After (the upper bound only says "not much more")
        assert [e.status for e in client.recorder.take()] == [429, 429, 200]


def test_a_request_throttled_on_every_try_gives_an_error_not_a_response(mock: respx.MockRouter) -> None:
    route = mock.get(ENROLMENT).respond(429, headers={"Retry-After": "0"})
    with make_client(max_retries=3) as client, pytest.raises(Throttled, match="answered 429 to every try"):
        client.request("GET", ENROLMENT)
    assert route.call_count == 4


def test_the_default_retry_limit_outlasts_a_target_throttling_one_request_in_four() -> None:
    # 11 throttled tries in a row, at 1 in 4 each: 1 in 4 million requests
    assert ClientLimits().max_retries >= 10


def test_a_long_retry_after_is_waited_for_up_to_the_cap(mock: respx.MockRouter) -> None:
    route = mock.get(ENROLMENT).mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "3600"}), httpx.Response(200)]
    )
    with make_client(max_retry_wait_s=0.3) as client:
        started = time.monotonic()
        assert client.request("GET", ENROLMENT).status_code == 200
        assert 0.3 <= time.monotonic() - started < 5.0 and route.call_count == 2  # the cap, not the hour
        assert client.throttling()["wait_s"] == pytest.approx(0.3)


@pytest.mark.parametrize("seconds_ahead", [-5, 2])
def test_retry_after_as_an_http_date(mock: respx.MockRouter, seconds_ahead: int) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_ahead), usegmt=True)
    route = mock.get(ENROLMENT).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200),
        ]
    )
    with make_client() as client:
        assert client.request("GET", ENROLMENT).status_code == 200
        waited = client.throttling()["wait_s"]
    assert route.call_count == 2
    # an HTTP-date has whole seconds: 2 s ahead is a wait of 1 to 2 s
    assert waited == 0 if seconds_ahead < 0 else 0.5 < waited <= seconds_ahead


def test_503_without_retry_after_is_an_answer_to_judge(mock: respx.MockRouter) -> None:
    route = mock.get(ENROLMENT).respond(503, text="down")
    with make_client() as client:
        assert client.request("GET", ENROLMENT).status_code == 503
        assert client.throttling()["by_status"] == {"503": 1}  # met, and the rate was lowered
    assert route.call_count == 1


def test_429_without_retry_after_backs_off_exponentially_with_full_jitter(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounds: list[float] = []

    def uniform(low: float, high: float) -> float:
        bounds.append(high)
        return high / 2

    monkeypatch.setattr("conformance.client._throttle.random.uniform", uniform)
    route = mock.get(ENROLMENT).mock(side_effect=[*[httpx.Response(429)] * 5, httpx.Response(200)])
    with make_client(backoff_base_s=0.01, backoff_cap_s=0.05) as client:
        assert client.request("GET", ENROLMENT).status_code == 200
        assert client.throttling()["wait_s"] == pytest.approx(sum(bounds) / 2, abs=0.05)
    assert route.call_count == 6
    assert bounds == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])  # doubling, then capped


def test_no_allowance_of_throttling_per_run_only_a_deadline(mock: respx.MockRouter) -> None:
    mock.get(ENROLMENT).respond(429, headers={"Retry-After": "0.6"})
    with make_client(max_duration_s=1.0, max_retries=100) as client:
        started = time.monotonic()
        with pytest.raises(RunDeadlineExceeded, match=r"--max-duration of 1 s"):
            client.request("GET", ENROLMENT)
        with pytest.raises(RunDeadlineExceeded):
            client.request("GET", ENROLMENT)
        assert client.deadline.passed
    assert time.monotonic() - started < 1.2  # one wait of 0.6 s: the one passing the deadline is not begun


def test_many_throttled_requests_all_get_their_answer(mock: respx.MockRouter) -> None:
    sent = {"n": 0}

    def one_in_four(request: httpx.Request) -> httpx.Response:
        sent["n"] += 1
        return (
            httpx.Response(429, headers={"Retry-After": "0"}) if sent["n"] % 4 == 0 else httpx.Response(200)
        )

    mock.get(ENROLMENT).mock(side_effect=one_in_four)
    with make_client() as client:
        answers = [client.request("GET", ENROLMENT, headers=numbered(n)) for n in range(300)]
        assert all(answer.status_code == 200 for answer in answers)
        assert client.throttling()["responses"] == 99  # requests 4, 8 ... 396 of 399


def test_the_rate_halves_on_throttling_and_climbs_back() -> None:
    limiter = RateLimiter(20)
    limiter.throttled()
    limiter.throttled()  # within the cool-down: one signal
    assert (limiter.rate, limiter.lowest) == (10, 10)
    for _ in range(RateLimiter.RECOVERY_STEPS // 2 + 1):
        limiter.answered()
    assert (limiter.rate, limiter.lowest) == (20, 10)  # never above the ceiling


def test_an_unlimited_rate_starts_pacing_when_throttled_and_is_unlimited_again() -> None:
    limiter = RateLimiter(None)
    limiter.throttled()
    assert limiter.rate == RateLimiter.UNLIMITED_START_RPS * RateLimiter.DECREASE
    for _ in range(RateLimiter.RECOVERY_STEPS):
        limiter.answered()
    assert limiter.rate is None and limiter.lowest == RateLimiter.UNLIMITED_START_RPS * RateLimiter.DECREASE


def test_the_rate_never_drops_below_its_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter(20)
    clock = iter(range(0, 100, 2))
    monkeypatch.setattr("conformance.client._rate.time.monotonic", lambda: float(next(clock)))
    for _ in range(20):
        limiter.throttled()
    assert limiter.rate == RateLimiter.MIN_RPS


# --- redirects, hosts and methods ------------------------------------------------------------------


@pytest.mark.parametrize(
    "location", ["https://elsewhere.test/steal", "https://auth.test/oauth2/other", "/rest/v2/x"]
)
def test_redirects_are_not_followed(mock: respx.MockRouter, location: str) -> None:
    mock.get(ENROLMENT).respond(307, headers={"Location": location})
    elsewhere = mock.route(host="elsewhere.test").respond(200)
    other = mock.route(path__startswith="/oauth2/other").respond(200)
    v2 = mock.route(path__startswith="/rest/v2").respond(200)
    with make_client() as client:
        response = client.request("GET", ENROLMENT, auth=BasicAuth(CREDS))
    assert response.status_code == 307
    assert elsewhere.call_count == other.call_count == v2.call_count == 0


def test_credentials_never_go_to_a_host_that_is_not_configured(mock: respx.MockRouter) -> None:
    evil = mock.route(host="evil.test").respond(200)
    with make_client() as client:
        with pytest.raises(UnsafeRequest, match=r"evil\.test, which is not a configured host"):
            client.request("GET", "https://evil.test/rest/v1/x", auth=BasicAuth(CREDS))
        assert client.requests_sent == 0
    assert evil.call_count == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_read_only_by_default(mock: respx.MockRouter, method: str) -> None:
    route = mock.route(url=ENROLMENT).respond(405)
    with make_client() as client:
        with pytest.raises(UnsafeRequest, match=r"read-only .* --allow-unsafe-methods"):
            client.request(method, ENROLMENT, auth=BasicAuth(CREDS))
        with pytest.raises(UnsafeRequest):  # "token" phase does not make the API a token endpoint
            client.request(method, ENROLMENT, phase="token")
    assert route.call_count == 0


def test_get_head_and_token_posts_are_allowed(mock: respx.MockRouter) -> None:
    mock.route(url=ENROLMENT).respond(200)
    token = mock.post(TOKEN).respond(200, json={})
    with make_client() as client:
        assert client.request("GET", ENROLMENT).status_code == 200
        assert client.request("HEAD", ENROLMENT).status_code == 200
        assert (
            client.request(
                "POST", TOKEN, data={"grant_type": "client_credentials"}, phase="token"
            ).status_code
            == 200
        )
        with pytest.raises(UnsafeRequest):  # a POST to the token endpoint outside the token phase
            client.request("POST", TOKEN)
    assert token.call_count == 1


def test_unsafe_methods_with_the_opt_in(mock: respx.MockRouter) -> None:
    route = mock.route(url=ENROLMENT).respond(405, headers={"Allow": "GET"})
    with make_client(unsafe=True) as client:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.request(method, ENROLMENT).status_code == 405
    assert [call.request.method for call in route.calls] == ["POST", "PUT", "PATCH", "DELETE"]


# --- budget and rate ---------------------------------------------------------------------------


def test_the_budget_is_never_exceeded(mock: respx.MockRouter) -> None:
    route = mock.get(ENROLMENT).respond(200)
    with make_client(max_requests=3) as client:
        for n in range(3):
            client.request("GET", ENROLMENT, headers=numbered(n))
        for n in range(3, 5):
            with pytest.raises(RequestBudgetExhausted, match=r"budget spent: .* 3 requests"):
                client.request("GET", ENROLMENT, headers=numbered(n))
        assert client.requests_sent == 3 and client.budget_spent
    assert route.call_count == 3


def test_retries_spend_the_budget_too(mock: respx.MockRouter) -> None:
    route = mock.get(ENROLMENT).respond(429, headers={"Retry-After": "0"})
    with make_client(max_requests=2) as client, pytest.raises(RequestBudgetExhausted):
        client.request("GET", ENROLMENT)
    assert route.call_count == 2


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times))


def test_the_rate_limit_is_never_exceeded(mock: respx.MockRouter) -> None:
    sent: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return httpx.Response(200)

    mock.get(ENROLMENT).mock(side_effect=record)
    with make_client(max_rps=10) as client:
        threads = [
            threading.Thread(
                target=lambda t=t: [
                    client.request("GET", ENROLMENT, headers=numbered(4 * t + n)) for n in (0, 1, 2, 3)
                ]
            )
            for t in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert len(sent) == 16
    assert _max_in_window(sent) <= 10  # the promise: never more than max_rps in any one second
    # and spread out, not sent in bursts: 16 requests at 10/s span 1.5 s (one interval of slack for jitter)
    assert max(sent) - min(sent) >= 1.4


class _SleepSignal(threading.Event):
    """A halt event that says when a waiter starts sleeping on it."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.sleeping.set()
        return super().wait(timeout)


def test_a_sleeping_waiter_blocks_no_other_thread_and_the_halt_ends_its_wait() -> None:
    halt = _SleepSignal()
    limiter = RateLimiter(1, halt)  # one request a second: the second waits about 1 s
    limiter.wait()
    waiter = threading.Thread(target=limiter.wait)
    waiter.start()
    assert halt.sleeping.wait(timeout=5)
    started = time.monotonic()
    limiter.throttled()
    limiter.answered()
    assert time.monotonic() - started < 0.5  # not held until the waiter's slot comes round
    halt.set()
    waiter.join(timeout=0.5)
    assert not waiter.is_alive()  # the halt ended the wait long before its slot


def test_rate_limiter_without_a_limit_does_not_wait() -> None:
    limiter = RateLimiter(None)
    started = time.monotonic()
    for _ in range(1000):
        limiter.wait()
    assert time.monotonic() - started < 2.0  # 1000 waits of even 10 ms would take 10 s


# --- bodies ------------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_cut_and_reported(mock: respx.MockRouter) -> None:
    mock.get(ENROLMENT).respond(200, content=b"x" * 3_000_000, headers={"Content-Type": "application/json"})
    with make_client(max_body_bytes=1_000_000) as client:
        response = client.request("GET", ENROLMENT)
        (exchange,) = client.recorder.take()
        assert client.truncated_bodies == 1
    assert len(response.content) == 1_000_000 and response.extensions["truncated"] is True
    assert "body truncated: larger than the 1000000-byte cap" in exchange.response_body
    assert len(exchange.response_body) < 5_000


def test_a_gzip_bomb_inflates_only_up_to_the_cap() -> None:
    bomb = gzip.compress(b"\0" * 100_000_000, 9)  # ~100 KB that inflates to 100 MB
    # httpx.MockTransport, not respx: respx reads (and so inflates) every mocked body before handing it on
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(bomb)
        )
    )
    client = Client(
        BASE,
        allowed_hosts=frozenset({"api.test"}),
        redactor=Redactor(),
        transport=transport,
        limits=ClientLimits(max_body_bytes=1_000_000),
    )
    with client:
        tracemalloc.start()
        try:
            response = client.request("GET", ENROLMENT)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.extensions["truncated"] and len(response.content) == 1_000_000
    assert response.headers["content-encoding"] == "gzip"  # the headers are as the target sent them
    assert peak < 12_000_000, f"peak {peak} bytes while reading a capped body"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(mock: respx.MockRouter, encoding: str) -> None:
    body = b'{"id": "63f57d805d8ecbf46f5b5278"}'
    encoded = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    mock.get(ENROLMENT).mock(
        side_effect=lambda request: httpx.Response(
            200, headers={"Content-Encoding": encoding}, stream=httpx.ByteStream(encoded)
        )
    )
    with make_client() as client:
        response = client.request("GET", ENROLMENT)
    assert response.json() == {"id": "63f57d805d8ecbf46f5b5278"} and not response.extensions["truncated"]


def test_a_body_that_does_not_decode_is_a_broken_answer(mock: respx.MockRouter) -> None:
    mock.get(ENROLMENT).mock(
        side_effect=lambda request: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"this is not gzip at all")
        )
    )
    with make_client() as client, pytest.raises(httpx.RemoteProtocolError, match="could not be decoded"):
        client.request("GET", ENROLMENT)


# --- token endpoint failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(200, text="<html>oops</html>"), "the token response is not JSON"),
        (httpx.Response(200, text='{"access_token": "abc'), "the token response is not JSON"),
        (httpx.Response(200, json={"token_type": "Bearer"}), "the token response has no access_token"),
        (httpx.Response(200, json=["not", "an", "object"]), "the token response has no access_token"),
        (httpx.Response(500, text="boom"), "the token endpoint answered 500"),
        (httpx.ReadTimeout("t"), "could not obtain a public token"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "could not obtain a public token"),
    ],
)
def test_malformed_or_failing_token_responses_make_token_unavailable(
    mock: respx.MockRouter, answer: object, reason: str
) -> None:
    mock.post(TOKEN).mock(side_effect=[answer])
    with make_client() as client:
        provider = TokenProvider(client, Target(BASE, TOKEN_URL))
        with pytest.raises(TokenUnavailable, match=reason):
            provider.token(CREDS, ("api/read",))


@pytest.mark.parametrize(
    "throttled",
    [
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(429),
        httpx.Response(503, headers={"Retry-After": "0"}),
    ],
    ids=["429", "429-no-retry-after", "503"],
)
def test_a_throttled_token_request_is_retried_like_any_other(
    mock: respx.MockRouter, throttled: httpx.Response
) -> None:
    route = mock.post(TOKEN).mock(
        side_effect=[throttled, httpx.Response(200, json={"access_token": "tok-1", "expires_in": 60})]
    )
    with make_client(backoff_base_s=0.01) as client:
        provider = TokenProvider(client, Target(BASE, TOKEN_URL))
        assert provider.token(CREDS, ("api/read",)).access_token == "tok-1"
        assert client.throttling()["responses"] == 1
    assert route.call_count == 2


def test_a_token_endpoint_throttling_every_try_makes_the_token_unavailable(mock: respx.MockRouter) -> None:
    mock.post(TOKEN).respond(429, headers={"Retry-After": "0"})
    with make_client(max_retries=2) as client:
        provider = TokenProvider(client, Target(BASE, TOKEN_URL))
        with pytest.raises(
            TokenUnavailable, match=r"could not obtain a public token .* answered 429 to every try"
        ):
            provider.token(CREDS, ("api/read",))


def test_tokens_handed_out_are_masked_everywhere_after(mock: respx.MockRouter) -> None:
    issued = "opaque-ACCESS-token-9f8e7d6c5b4a"
    mock.post(TOKEN).respond(200, json={"access_token": issued, "refresh_token": "refresh-TOKEN-123456"})
    mock.get(ENROLMENT).respond(401, text=f"token {issued} was refused; refresh with refresh-TOKEN-123456")
    with make_client() as client:
        client.request(
            "POST",
            TOKEN,
            data={"grant_type": "client_credentials", "client_secret": SECRET},
            phase="token",
            secrets_in=issued_tokens,
        )
        client.request("GET", ENROLMENT)
        token_exchange, api_exchange = client.recorder.take()
    assert SECRET not in token_exchange.request_body
    assert issued not in token_exchange.response_body
    assert (
        issued not in api_exchange.response_body and "refresh-TOKEN-123456" not in api_exchange.response_body
    )
