"""The HTTP client every check uses: bounded, polite, and recording redacted evidence.

One :class:`Client` per run wraps one ``httpx.Client`` (connection reuse) and
adds what a suite aimed at shared staging needs:

- read-only by default: GET and HEAD to the API, POST only to the token
  endpoints; any other method needs ``--allow-unsafe-methods``;
- redirects are never followed, and requests go only to the configured hosts
  (environment proxies are not used either: a proxy is another host);
- a request budget and a rate limit that the run never exceeds;
- 429, and 503 with ``Retry-After``, are waited out (bounded waits, bounded
  retries, a bounded total) and retried; a target that keeps throttling makes
  the check an *error* (:class:`Throttled`), never a failure;
- every request has a deadline: ``timeout_s`` bounds the whole exchange
  (connect, headers and body), so a target that answers slowly, or drips its
  answer byte by byte, cannot hold a run;
- a target that stops answering (timeouts, refused connections) trips a breaker
  after a few failures, so the remaining checks end at once as errors
  (:class:`TargetUnresponsive`) instead of each waiting out its timeout;
  the API and the token endpoints have a breaker each;
- response bodies are read up to a cap, so a huge body cannot exhaust memory;
- every exchange is recorded, redacted, as evidence for the reports.

Errors raised here that are not ``httpx`` errors are :class:`InfrastructureError`
(or :class:`UnsafeRequest`): they say nothing about conformance, and the plugin
turns them into *error* outcomes.
"""

from __future__ import annotations

import json
import math
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpcore
import httpx

from conformance import __version__
from conformance.auth import Auth
from conformance.redact import Redactor
from conformance.results import Exchange

MAX_EVIDENCE_BODY = 4_000  # characters of a body kept as evidence
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")


class InfrastructureError(Exception):
    """No answer that can be judged could be had; the message says why, in one line. Not a finding."""


class RequestBudgetExhausted(InfrastructureError):
    """The run has sent as many requests as it may (--max-requests)."""


class Throttled(InfrastructureError):
    """The target kept answering 429 (or 503 with Retry-After) beyond what the suite waits for."""


class TargetUnresponsive(InfrastructureError):
    """The target (API or token endpoint) stopped answering; the suite no longer sends it requests."""


class UnsafeRequest(Exception):
    """The suite refused to send a request (credentials to a foreign host, an unsafe method)."""


@dataclass(frozen=True)
class ClientLimits:
    """The bounds a run keeps to. None means unbounded."""

    timeout_s: float = 10.0  # the whole of one request: connect, send, headers and body
    max_requests: int | None = 2_000
    max_rps: float | None = None
    max_body_bytes: int = 1_000_000
    max_retries: int = 3  # retries of one throttled request
    max_retry_wait_s: float = 30.0  # longest Retry-After the suite waits for
    max_total_retry_wait_s: float = 120.0  # all throttling waits of the run together
    max_failures_in_a_row: int = 3  # timeouts / failed connections in a row before the breaker opens
    max_failures: int = 10  # timeouts / failed connections in total before the breaker opens


class RateLimiter:
    """Lets a request go at least 1/max_rps seconds after the one before (thread-safe).

    The spacing counts from when the previous request was let go, with 2% slack for the
    jitter between letting a request go and its reaching the target: so no one-second
    window ever sees more than max_rps requests. Threads queue on the lock in turn.
    """

    SLACK = 1.02

    def __init__(self, max_rps: float | None) -> None:
        self._interval = self.SLACK / max_rps if max_rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            while (remaining := self._next - time.monotonic()) > 0:
                time.sleep(remaining)
            self._next = time.monotonic() + self._interval


class Recorder:
    """Collects the exchanges of the check that is running (one list per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def record(self, exchange: Exchange) -> None:
        self._exchanges().append(exchange)

    def take(self) -> list[Exchange]:
        exchanges = self._exchanges()
        self._local.exchanges = []
        return exchanges

    def _exchanges(self) -> list[Exchange]:
        if not hasattr(self._local, "exchanges"):
            self._local.exchanges = []
        return self._local.exchanges


# --- the per-request deadline ------------------------------------------------
# httpx's timeouts apply to each network operation; a target that sends one
# byte every few seconds would never trip them. The deadline below bounds the
# whole request: every connect, read and write gets at most what is left of it.

_deadline = threading.local()


def _remaining(timeout: float | None) -> float | None:
    deadline = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            remaining = _remaining(timeout)
        except httpcore.ReadTimeout as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        stream = self._backend.connect_tcp(host, port, remaining, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, _remaining(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def make_transport(verify: bool | ssl.SSLContext, limits: httpx.Limits) -> httpx.HTTPTransport:
    """An HTTP transport whose every request keeps to the thread's deadline."""
    transport = httpx.HTTPTransport(verify=verify, limits=limits, retries=0)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = _DeadlineBackend()  # per-operation timeouts still apply without it
    return transport


# --- the breaker ---------------------------------------------------------------


class _Breaker:
    """Counts timeouts and failed connections of one endpoint kind; opens for the rest of the run."""

    def __init__(self, what: str, in_a_row: int, total: int) -> None:
        self.what = what
        self._in_a_row_limit = in_a_row
        self._total_limit = total
        self.in_a_row = 0
        self.total = 0
        self.open_reason: str | None = None

    def check(self) -> None:
        if self.open_reason:
            raise TargetUnresponsive(self.open_reason)

    def success(self) -> None:
        self.in_a_row = 0

    def failure(self, cause: str) -> None:
        self.in_a_row += 1
        self.total += 1
        if self.open_reason is None and (
            self.in_a_row >= self._in_a_row_limit or self.total >= self._total_limit
        ):
            counted = (
                f"{self.in_a_row} requests in a row"
                if self.in_a_row >= self._in_a_row_limit
                else (f"{self.total} requests")
            )
            self.open_reason = (
                f"{self.what} stopped answering: {counted} failed, the last one {cause}; "
                "the suite sent it no more requests"
            )


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.redactor = redactor
        self.limits = limits or ClientLimits()
        self.allow_unsafe_methods = allow_unsafe_methods
        # POST goes to the token endpoints only: URLs starting with a token URL template's fixed part
        self._token_prefixes = tuple(url.split("{tenantId}", 1)[0] for url in token_urls if url)
        self.recorder = Recorder()
        self.requests_by_phase: Counter[str] = Counter()
        self.throttled_responses = 0
        self.throttle_wait_s = 0.0
        self.truncated_bodies = 0
        self.budget_spent = False
        self._count_lock = threading.Lock()
        self._rate = RateLimiter(self.limits.max_rps)
        self._breakers = {
            "api": _Breaker("the API", self.limits.max_failures_in_a_row, self.limits.max_failures),
            "token": _Breaker(
                "the token endpoint", self.limits.max_failures_in_a_row, self.limits.max_failures
            ),
        }
        pool_limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
        self._http = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(self.limits.timeout_s),
            transport=transport or make_transport(verify, pool_limits),
            # only what _read_capped can decode within the cap
            headers={
                "User-Agent": f"enrolment-conformance/{__version__}",
                "Accept-Encoding": "gzip, deflate",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests_sent(self) -> int:
        return sum(self.requests_by_phase.values())

    def unresponsive(self) -> list[str]:
        """Why the API or the token endpoint was given up on, if it was."""
        return [breaker.open_reason for breaker in self._breakers.values() if breaker.open_reason]

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
        auth: Auth | None,
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
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        phase: str = "checks",
        note: str | None = None,
    ) -> httpx.Response:
        """Send one request within the run's bounds, retrying throttled answers, and record it.

        Raises httpx.HTTPError when the target gives no answer (timeout, refused, reset ...),
        InfrastructureError when a bound of the run stops the request, UnsafeRequest when the
        request is not one the suite may send.
        """
        method = method.upper()
        self._check_safe(method, url, phase)
        breaker = self._breakers["token" if phase == "token" else "api"]
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers["Authorization"] = auth.header()
        request = self._http.build_request(method, url, headers=all_headers, params=params, data=data)
        for attempt in range(self.limits.max_retries + 1):
            breaker.check()
            self._spend(phase)
            response = self._send(request, auth, note, phase, breaker)
            wait = self._retry_after(response)
            if wait is None:
                return response
            why = f"{breaker.what} answered {response.status_code}"
            if wait > self.limits.max_retry_wait_s:
                raise Throttled(
                    f"{why} with Retry-After {wait:.0f} s, longer than the "
                    f"{self.limits.max_retry_wait_s:.0f} s the suite waits"
                )
            if attempt == self.limits.max_retries:
                raise Throttled(f"{why} to every try ({attempt + 1} tries, waiting as told by Retry-After)")
            with self._count_lock:
                if self.throttle_wait_s + wait > self.limits.max_total_retry_wait_s:
                    raise Throttled(
                        f"{why}; the run already waited {self.throttle_wait_s:.0f} s for throttling, "
                        f"the most it waits in all is {self.limits.max_total_retry_wait_s:.0f} s"
                    )
                self.throttled_responses += 1
                self.throttle_wait_s += wait
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_safe(self, method: str, url: str, phase: str) -> None:
        host = (urlsplit(url).netloc or "").lower()
        if host not in self.allowed_hosts:
            raise UnsafeRequest(f"refusing to send a request to {host}, which is not a configured host")
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

    def _send(
        self, request: httpx.Request, auth: Auth | None, note: str | None, phase: str, breaker: _Breaker
    ) -> httpx.Response:
        started = time.perf_counter()
        _deadline.at = time.monotonic() + self.limits.timeout_s
        try:
            streamed = self._http.send(request, stream=True)
            try:
                body, truncated = self._read_capped(streamed)
            finally:
                streamed.close()
        except httpx.HTTPError as exc:
            exc = self._explain(exc, request)
            elapsed = (time.perf_counter() - started) * 1000
            cause = describe_error(exc)
            if isinstance(exc, httpx.TimeoutException | httpx.ConnectError):
                breaker.failure(cause)
            self.recorder.record(self._exchange(request, None, auth, note, elapsed, error=cause))
            raise exc from exc.__cause__
        finally:
            _deadline.at = None
        breaker.success()
        if truncated:
            self.truncated_bodies += 1
        # Built without Content-Encoding (the body is decoded already), then given the real headers.
        response = httpx.Response(
            streamed.status_code,
            headers=[(k, v) for k, v in streamed.headers.multi_items() if k.lower() != "content-encoding"],
            content=body,
            request=request,
            extensions={"truncated": truncated, "http_version": streamed.extensions.get("http_version", b"")},
        )
        response.headers = httpx.Headers(streamed.headers.multi_items())
        if phase == "token":
            self._register_tokens(body)
        elapsed = (time.perf_counter() - started) * 1000
        exchange = self._exchange(request, response, auth, note, elapsed)
        response.extensions["exchange"] = exchange
        self.recorder.record(exchange)
        return response

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

    def _read_capped(self, response: httpx.Response) -> tuple[bytes, bool]:
        """The decoded body, at most max_body_bytes of it; True when there was more.

        gzip and deflate are decoded here, never more than the cap: a small compressed body
        that inflates to gigabytes stops at the cap like a huge plain one.
        """
        cap = self.limits.max_body_bytes
        decoder = _bounded_decoder(response.headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        size = 0
        deadline = getattr(_deadline, "at", None)
        for raw in response.iter_raw():
            pieces = decoder(raw, cap - size + 1) if decoder else [raw]
            for piece in pieces:
                room = cap - size
                if len(piece) > room:
                    chunks.append(piece[:room])
                    return b"".join(chunks), True
                chunks.append(piece)
                size += len(piece)
            if deadline is not None and time.monotonic() > deadline:
                raise httpx.ReadTimeout("the request's deadline passed", request=response.request)
        return b"".join(chunks), False

    def _register_tokens(self, body: bytes) -> None:
        """Register every token a token endpoint hands out, so that no report shows it."""
        try:
            data = json.loads(body)
        except ValueError:
            return
        if isinstance(data, dict):
            for name in _TOKEN_FIELDS:
                value = data.get(name)
                if isinstance(value, str):
                    self.redactor.add(value)

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, or None when the answer is not a throttle."""
        if response.status_code not in (429, 503):
            return None
        value = response.headers.get("retry-after")
        if value is None:
            return None if response.status_code == 503 else 1.0
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                return None if response.status_code == 503 else 1.0
        if not math.isfinite(seconds):
            return None if response.status_code == 503 else 1.0
        return max(seconds, 0.0)

    def _exchange(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        auth: Auth | None,
        note: str | None,
        elapsed_ms: float,
        error: str | None = None,
    ) -> Exchange:
        redact = self.redactor
        body = request.content.decode("utf-8", "replace") if request.content else None
        exchange = Exchange(
            method=request.method,
            url=redact.text(str(request.url)),
            request_headers=redact.headers(request.headers.multi_items()),
            request_body=redact.text(body) if body else None,
            elapsed_ms=round(elapsed_ms, 1),
            error=redact.text(error) if error else None,
            note=note,
        )
        if response is not None:
            text = response.content[: MAX_EVIDENCE_BODY * 4].decode("utf-8", "replace")
            if len(text) > MAX_EVIDENCE_BODY:
                text = text[:MAX_EVIDENCE_BODY] + "\n[... more not kept as evidence]"
            if response.extensions.get("truncated"):
                text += (
                    f"\n[... body truncated: larger than the {self.limits.max_body_bytes}-byte cap "
                    "(--max-body-bytes); the rest was not read]"
                )
            exchange.status = response.status_code
            exchange.response_headers = redact.headers(response.headers.multi_items())
            exchange.response_body = redact.text(text)
        return exchange.with_curl(auth.curl_args() if auth else [])


def _bounded_decoder(content_encoding: str) -> Callable[[bytes, int], list[bytes]] | None:
    """A gzip/deflate decoder that never inflates more than asked at a time; None for other encodings.

    Encodings the suite did not ask for (br, zstd ...) are kept as they came, capped like any body.
    """
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        state = {"d": zlib.decompressobj(16 + zlib.MAX_WBITS)}
    elif encoding == "deflate":
        state = {"d": zlib.decompressobj(zlib.MAX_WBITS), "first": True}
    else:
        return None

    def decode(raw: bytes, max_out: int) -> list[bytes]:
        pieces: list[bytes] = []
        try:
            data = state["d"].decompress(raw, max_out)
        except zlib.error:
            if not state.pop("first", False):
                raise httpx.DecodingError(f"invalid {encoding} body") from None
            state["d"] = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, without the zlib header
            data = state["d"].decompress(raw, max_out)
        state.pop("first", None)
        pieces.append(data)
        produced = len(data)
        while state["d"].unconsumed_tail and produced < max_out:
            try:
                data = state["d"].decompress(state["d"].unconsumed_tail, max_out - produced)
            except zlib.error:
                raise httpx.DecodingError(f"invalid {encoding} body") from None
            pieces.append(data)
            produced += len(data)
        return pieces

    return decode


def describe_error(exc: BaseException) -> str:
    """One line naming a transport failure's cause (refused, DNS, TLS, timeout ...)."""
    text = str(exc) or exc.__class__.__name__
    chain = _chain(exc)
    lowered = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, httpx.TimeoutException):
        cause = "timed out"
    elif (
        any(isinstance(e, ssl.SSLCertVerificationError) for e in chain)
        or "certificate verify failed" in lowered
    ):
        cause = "TLS failure: the certificate could not be verified (--ca-bundle FILE trusts another CA)"
    elif any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in lowered or "tls" in lowered:
        cause = "TLS failure"
    elif (
        any(_is_dns_error(e) for e in chain)
        or "name or service not known" in lowered
        or ("nodename nor servname" in lowered or "name resolution" in lowered)
    ):
        cause = "DNS lookup failed: the host name does not resolve"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in lowered:
        cause = "connection refused"
    elif any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in lowered:
        cause = "connection reset by the target"
    elif isinstance(exc, httpx.LocalProtocolError):
        cause = "not sent: the HTTP library refuses to send this request as built"
    elif isinstance(exc, httpx.RemoteProtocolError):
        cause = "connection broken: the target did not send a complete HTTP answer"
    elif isinstance(exc, httpx.ConnectError):
        cause = "could not connect"
    else:
        cause = exc.__class__.__name__
    detail = text.splitlines()[0] if text.strip() else exc.__class__.__name__
    return f"{cause} ({detail})"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_dns_error(exc: BaseException) -> bool:
    import socket

    return isinstance(exc, socket.gaierror)
