"""The :class:`Client` every check sends its requests through."""

from __future__ import annotations

import functools
import itertools
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar, cast
from urllib.parse import quote

import httpx

from conformance import __version__, repro
from conformance.client._body import read_capped
from conformance.client._breaker import Breaker
from conformance.client._deadline import DeadlineTransport, deadline
from conformance.client._errors import (
    Abandoned,
    RequestBudgetExhausted,
    Throttled,
    UnsafeRequest,
    describe_error,
)
from conformance.client._guard import HostGuard
from conformance.client._limits import ClientLimits, RunDeadline
from conformance.client._memo import Memo, Outcome, request_key
from conformance.client._plan import Plan, PlannedRequest
from conformance.client._pool import in_order
from conformance.client._rate import RateLimiter
from conformance.client._recorder import Credential, Recorder, evidence, words
from conformance.client._throttle import Throttling
from conformance.redact import Redactor
from conformance.results import Exchange

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
T = TypeVar("T")
R = TypeVar("R")


class Client:
    """Sends the suite's requests to the target."""

    def __init__(
        self,
        base_url: str,
        *,
        allowed_hosts: frozenset[str],
        redactor: Redactor,
        limits: ClientLimits | None = None,
        verify: bool | ssl.SSLContext = True,
        transport: httpx.BaseTransport | None = None,
        allow_unsafe_methods: bool = False,
        token_urls: Iterable[str | None] = (),
        production_confirmed: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._guard = HostGuard(allowed_hosts, production_confirmed=production_confirmed)
        self.redactor = redactor
        self.limits = limits or ClientLimits()
        self.allow_unsafe_methods = allow_unsafe_methods
        # POST goes to the token endpoints only: URLs starting with a token URL template's fixed part
        self._token_prefixes = tuple(url.split("{tenantId}", 1)[0] for url in token_urls if url)
        self.recorder = Recorder()
        self.memo = Memo()
        self._plan: Plan | None = None  # during a planning pass
        self._local = threading.local()  # .ahead: this thread sends a planned request ahead
        self.observers: list[Callable[[Exchange], None]] = []  # told of each exchange sent (-v output)
        self.requests_by_phase: Counter[str] = Counter()
        self.truncated_bodies = 0
        self.budget_spent = False
        self._count_lock = threading.Lock()
        self._halt = threading.Event()  # set while a concurrent batch is given up (see concurrently)
        self._rate = RateLimiter(self.limits.max_rps, self._halt)
        self.deadline = RunDeadline(self.limits.max_duration_s)
        self._throttling = Throttling(self.limits, self._rate, self.deadline, self._halt)
        self._breakers = {
            name: Breaker(what, self.limits.max_failures_in_a_row, self.limits.max_failures)
            for name, what in (("api", "the API"), ("token", "the token endpoint"))
        }
        self._http = _http_client(self.limits, verify, transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests_sent(self) -> int:
        return sum(self.requests_by_phase.values())

    def throttling(self) -> dict[str, object]:
        """What the run met of throttling (results.json's ``throttling``; see Throttling.summary)."""
        return self._throttling.summary()

    @property
    def words(self) -> repro.Words:
        """How repro lines write values for this run (secrets by variable name)."""
        return words(self.redactor)

    def unresponsive(self) -> list[str]:
        """Why the API or the token endpoint was given up on, if it was."""
        return [breaker.open_reason for breaker in self._breakers.values() if breaker.open_reason]

    def concurrently(self, call: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """call(item) for each item, up to ``limits.concurrency`` at a time (within the rate limit and
        the budget as ever), the results yielded in the items' order, each with the exchanges its
        call recorded, as if the calls had run one after another in this thread: the evidence and
        what is judged from it do not depend on the concurrency. A call's exception is raised in
        its turn; the calls after it that were started are given up (their waits for the rate or a
        Retry-After end, nothing more is sent: Abandoned) and waited for, their exchanges dropped."""

        def run(item: T) -> tuple[R | None, BaseException | None, list[Exchange]]:
            try:
                return call(item), None, self.recorder.detach()
            except Exception as exc:  # raised in the caller's thread, in its turn
                return None, exc, self.recorder.detach()

        results = in_order(run, items, self.limits.concurrency)
        try:
            for result, error, exchanges in results:
                for exchange in exchanges:
                    self.recorder.keep(exchange)
                if error is not None:
                    raise error
                yield cast(R, result)  # None only with an error, raised above
        except BaseException:  # an error, an interruption, or the caller stopped early
            self._halt.set()  # the calls still running end their waits and send nothing more
            raise
        finally:
            results.close()  # waits for the calls still running (a request on the wire: --timeout at most)
            self._halt.clear()

    def enrolment_url(self, assignment_id: str, enrolment_id: str) -> str:
        """The operation's URL; IDs are percent-encoded whole, so '/' in an ID stays inside it."""
        return (
            f"{self.base_url}/assignments/{quote(assignment_id, safe='')}"
            f"/enrolments/{quote(enrolment_id, safe='')}"
        )

    def get_enrolment(
        self,
        assignment_id: str,
        enrolment_id: str,
        *,
        auth: Credential | None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        note: str | None = None,
    ) -> httpx.Response:
        """Request one enrolment (GET unless told otherwise)."""
        url = self.enrolment_url(assignment_id, enrolment_id)
        return self.request(method, url, auth=auth, headers=headers, params=params, note=note)

    def request(
        self,
        method: str,
        url: str,
        *,
        auth: Credential | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        phase: str = "checks",
        note: str | None = None,
        secrets_in: Callable[[bytes], Iterable[str]] | None = None,
    ) -> httpx.Response:
        """Send one request within the run's bounds, retrying throttled answers, and record it.

        A GET or HEAD identical to one already answered in this run is not sent again, nor is a request
        that was sent ahead (``planning``): the remembered answer (``_memo``) is returned, or the error
        the request sent ahead got raised, its exchanges recorded again as this check's evidence. In a
        planning pass, a request with no answer yet is noted and raises Planned.

        secrets_in names the secrets an answer hands out (a token endpoint's tokens): they are
        masked before the exchange is recorded.

        Raises httpx.HTTPError when the target gives no answer (timeout, refused, reset ...),
        InfrastructureError when a bound of the run stops the request, UnsafeRequest when the
        request is not one the suite may send.
        """
        method = method.upper()
        self._check_safe(method, url, phase)
        breaker = self._breakers["token" if phase == "token" else "api"]
        request = self._build(method, url, auth, headers, params, data)
        key = request_key(request)
        if (plan := self._plan) is not None:
            if (answer := plan.answer(key, method)) is not None:
                return answer  # a planning pass keeps no evidence
            raise plan.note(
                key,
                functools.partial(
                    self.request, method, url, auth=auth, headers=headers, params=params, data=data,
                    phase=phase, note=note, secrets_in=secrets_in,
                ),
            )  # fmt: skip
        if not getattr(self._local, "ahead", False):  # a request sent ahead had no answer: it goes out
            if (outcome := self._claim_ahead(key, breaker, note)) is not None:
                return outcome.result()
            if method in READ_ONLY_METHODS and (remembered := self.memo.get(key)) is not None:
                # the remembered answer is this check's evidence too
                self.recorder.record(remembered.extensions["exchange"], remembered)
                return remembered
        for attempt in itertools.count():
            breaker.check()
            self.deadline.check()
            self._spend(phase)
            response = self._send(request, breaker, auth=auth, form=data, note=note, secrets_in=secrets_in)
            if not self._throttling.retry(response, attempt, breaker.what):
                self.memo.remember(key, request, response)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _claim_ahead(self, key: bytes, breaker: Breaker, note: str | None) -> Outcome | None:
        """What was sent ahead for this request, if anything, claimed as the running check's own: the
        exchanges of its tries recorded as this check's evidence and named by it (note), the run's bounds
        applied as if it were sent now."""
        if self.memo.peek(key, 0) is None:
            return None
        breaker.check()
        self.deadline.check()
        outcome = self.memo.claim(key)
        if outcome is None:  # claimed by a concurrent identical request meanwhile
            return None
        answer = outcome.answer if isinstance(outcome.answer, httpx.Response) else None
        for exchange in outcome.exchanges:
            exchange.note = note
            self.recorder.record(exchange, answer)
        return outcome

    @contextmanager
    def planning(self) -> Iterator[Plan]:
        """A planning pass: each request is answered with what the run will have for it, and the first
        one without an answer is noted in the yielded Plan and raises Planned instead of going out.
        Not thread-safe: the pass runs the checks in this thread, one after another."""
        self._plan = Plan(self.memo)
        try:
            yield self._plan
        finally:
            self._plan = None

    def send_ahead(self, planned: Iterable[PlannedRequest]) -> None:
        """Send the requests a planning pass noted, up to ``limits.concurrency`` at a time (within the
        rate and the budget as ever), what each got (its answer, or the error that ended it, with the
        exchanges of its tries) kept for the check that will make it; a bound of the run reached
        (budget, deadline, a target given up on) ends the sending, raised."""

        def send(request: PlannedRequest) -> None:
            self._local.ahead = True
            try:
                answer: httpx.Response | BaseException = request.send()
            except (httpx.HTTPError, Throttled) as exc:
                answer = exc
            finally:
                self._local.ahead = False
            exchanges = self.recorder.detach()
            self.recorder.set_aside(exchanges)  # evidence of the check that makes the request
            self.memo.keep_ahead(request.key, Outcome(answer, tuple(exchanges)))

        for _ in self.concurrently(send, planned):
            pass

    def _build(
        self,
        method: str,
        url: str,
        auth: Credential | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> httpx.Request:
        """The request, every credential in it registered with the redactor first."""
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers["Authorization"] = auth.header()
            self.redactor.add_authorization(all_headers["Authorization"])
        if data and data.get("client_secret"):
            self.redactor.add_basic(data.get("client_id", ""), data["client_secret"])
        return self._http.build_request(method, url, headers=all_headers, params=params, data=data)

    def _check_safe(self, method: str, url: str, phase: str) -> None:
        self._guard.check(url)
        if method in READ_ONLY_METHODS or self.allow_unsafe_methods:
            return
        if method == "POST" and phase == "token" and self._is_token_url(url):
            return
        raise UnsafeRequest(
            f"refusing to send {method} to {url.split('?', 1)[0]}: the suite is read-only (GET and HEAD to "
            "the API, POST to the token endpoints) unless run with --allow-unsafe-methods"
        )

    def _is_token_url(self, url: str) -> bool:
        return not self._token_prefixes or url.startswith(self._token_prefixes)

    def _spend(self, phase: str) -> None:
        with self._count_lock:
            limit = self.limits.max_requests
            if limit is not None and self.requests_sent >= limit:
                self.budget_spent = True
                raise RequestBudgetExhausted(
                    f"budget spent: the run may send {limit} requests (--max-requests) and has sent them all"
                )
            self.requests_by_phase[phase] += 1
        self._rate.wait()
        if self._halt.is_set():  # given up while it waited for its turn: not sent, so not counted
            with self._count_lock:
                self.requests_by_phase[phase] -= 1
            raise Abandoned("the batch of concurrent requests this one belonged to was given up")

    def _send(
        self,
        request: httpx.Request,
        breaker: Breaker,
        *,
        auth: Credential | None,
        form: Mapping[str, str] | None,
        note: str | None,
        secrets_in: Callable[[bytes], Iterable[str]] | None,
    ) -> httpx.Response:
        started = time.perf_counter()
        written = _Written(auth, form, note, started)
        try:
            with deadline(self.limits.timeout_s):
                streamed = self._http.send(request, stream=True)
                try:
                    body, truncated = read_capped(streamed, self.limits.max_body_bytes)
                finally:
                    streamed.close()
        except httpx.HTTPError as exc:
            exc = self._explain(exc, request)
            cause = describe_error(exc)
            if isinstance(exc, httpx.TimeoutException | httpx.ConnectError):
                breaker.failure(cause)
            self._record(request, None, written, cause)
            raise exc from exc.__cause__
        breaker.success()
        if truncated:
            with self._count_lock:
                self.truncated_bodies += 1
        response = _decoded_response(streamed, body, truncated, request)
        for secret in secrets_in(body) if secrets_in else ():
            self.redactor.add(secret)
        self._record(request, response, written)
        return response

    def _record(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        written: _Written,
        error: str | None = None,
    ) -> None:
        """The exchange as evidence: on the response, in the recorder, to every observer."""
        exchange = evidence(
            request,
            response,
            self.redactor,
            auth=written.auth,
            form=written.form,
            note=written.note,
            elapsed_ms=(time.perf_counter() - written.started) * 1000,
            max_body_bytes=self.limits.max_body_bytes,
            error=error,
        )
        if response is not None:
            response.extensions["exchange"] = exchange
        self.recorder.record(exchange, response)
        for observer in self.observers:
            observer(exchange)

    def _explain(self, exc: httpx.HTTPError, request: httpx.Request) -> httpx.HTTPError:
        """Timeouts say which bound they hit (the per-request --timeout); a body that cannot be
        decoded (bad gzip ...) is a broken answer like a truncated one."""
        if isinstance(exc, httpx.DecodingError):
            broken = httpx.RemoteProtocolError(f"the body could not be decoded: {exc}", request=request)
            broken.__cause__ = exc
            return broken
        if isinstance(exc, httpx.TimeoutException):
            what = (
                "while connecting"
                if isinstance(exc, httpx.ConnectTimeout)
                else "while waiting for the answer"
            )
            explained = exc.__class__(
                f"no complete answer within {self.limits.timeout_s:g} s of --timeout, {what}", request=request
            )
            explained.__cause__ = exc
            return explained
        return exc


def _http_client(
    limits: ClientLimits, verify: bool | ssl.SSLContext, transport: httpx.BaseTransport | None
) -> httpx.Client:
    """The httpx client under the suite's: no redirects, the request deadline, a pool for --concurrency."""
    connections = max(8, limits.concurrency)
    pool_limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(
        follow_redirects=False,
        timeout=httpx.Timeout(limits.timeout_s),
        transport=transport or DeadlineTransport(verify, pool_limits),
        # only what read_capped can decode within the cap
        headers={"User-Agent": f"enrolment-conformance/{__version__}", "Accept-Encoding": "gzip, deflate"},
    )


@dataclass(frozen=True)
class _Written:
    """What the evidence of one request says besides the exchange: its credential, form and note."""

    auth: Credential | None
    form: Mapping[str, str] | None
    note: str | None
    started: float  # time.perf_counter() when it was sent


def _decoded_response(
    streamed: httpx.Response, body: bytes, truncated: bool, request: httpx.Request
) -> httpx.Response:
    """The answer with its capped, decoded body: built from the raw header bytes (a target may send
    any byte in a header) without Content-Encoding, since the body is decoded already; then given
    the real headers."""
    response = httpx.Response(
        streamed.status_code,
        headers=[(k, v) for k, v in streamed.headers.raw if k.lower() != b"content-encoding"],
        content=body,
        request=request,
        extensions={"truncated": truncated, "http_version": streamed.extensions.get("http_version", b"")},
    )
    response.headers = streamed.headers
    return response
