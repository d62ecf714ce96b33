"""The HTTP client every check uses: bounded, polite, and recording redacted evidence.

One :class:`Client` per run wraps one ``httpx.Client`` (connection reuse) and
adds what a suite aimed at shared staging needs:

- redirects are never followed, and credentials go only to the configured hosts;
- a request budget and a rate limit that the run never exceeds;
- 429 and 503 with ``Retry-After`` are waited out (bounded) and retried;
- response bodies are read up to a cap, so a huge body cannot exhaust memory;
- every exchange is recorded, redacted, as evidence for the reports.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import httpx

from conformance import __version__
from conformance.auth import Auth
from conformance.redact import Redactor
from conformance.results import Exchange

MAX_EVIDENCE_BODY = 4_000  # characters of a body kept as evidence


class RequestBudgetExhausted(Exception):
    """The run has sent as many requests as it may."""


class UnsafeRequest(Exception):
    """The suite refused to send a request (credentials to a foreign host, an unsafe method)."""


@dataclass(frozen=True)
class ClientLimits:
    """The bounds a run keeps to. None means unbounded."""

    timeout_s: float = 10.0
    max_requests: int | None = 5_000
    max_rps: float | None = None
    max_body_bytes: int = 1_000_000
    max_retries: int = 3
    max_retry_wait_s: float = 30.0


class RateLimiter:
    """Spaces requests at least 1/max_rps seconds apart (thread-safe)."""

    def __init__(self, max_rps: float | None) -> None:
        self._interval = 1.0 / max_rps if max_rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


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


class Client:
    """Sends the suite's requests to the target."""

    def __init__(
        self,
        base_url: str,
        *,
        allowed_hosts: frozenset[str],
        redactor: Redactor,
        limits: ClientLimits | None = None,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
        allow_unsafe_methods: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.allowed_hosts = allowed_hosts
        self.redactor = redactor
        self.limits = limits or ClientLimits()
        self.allow_unsafe_methods = allow_unsafe_methods
        self.recorder = Recorder()
        self.requests_by_phase: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._rate = RateLimiter(self.limits.max_rps)
        self._http = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(self.limits.timeout_s),
            verify=verify,
            transport=transport,
            headers={"User-Agent": f"enrolment-conformance/{__version__}"},
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
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
        """Send one request within the run's bounds, retrying throttled answers, and record it."""
        self._check_safe(method, url, auth, phase)
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers["Authorization"] = auth.header()
        request = self._http.build_request(method, url, headers=all_headers, params=params, data=data)
        for attempt in range(self.limits.max_retries + 1):
            self._spend(phase)
            response = self._send(request, auth, note)
            wait = self._retry_after(response)
            if wait is None or attempt == self.limits.max_retries:
                return response
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_safe(self, method: str, url: str, auth: Auth | None, phase: str) -> None:
        host = urlsplit(url).netloc
        if host not in self.allowed_hosts:
            raise UnsafeRequest(f"refusing to send a request to {host}, which is not a configured host")
        if method not in ("GET", "HEAD") and phase != "token" and not self.allow_unsafe_methods:
            raise UnsafeRequest(f"refusing to send {method}: non-GET methods need --allow-unsafe-methods")

    def _spend(self, phase: str) -> None:
        with self._count_lock:
            limit = self.limits.max_requests
            if limit is not None and self.requests_sent >= limit:
                raise RequestBudgetExhausted(f"the request budget of {limit} requests is spent (--max-requests)")
            self.requests_by_phase[phase] += 1
        self._rate.wait()

    def _send(self, request: httpx.Request, auth: Auth | None, note: str | None) -> httpx.Response:
        started = time.perf_counter()
        try:
            streamed = self._http.send(request, stream=True)
            try:
                body, truncated = self._read_capped(streamed)
            finally:
                streamed.close()
        except httpx.HTTPError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            self.recorder.record(self._exchange(request, None, auth, note, elapsed, error=describe_error(exc)))
            raise
        response = httpx.Response(
            streamed.status_code,
            headers=streamed.headers,
            content=body,
            request=request,
            extensions={"truncated": truncated},
        )
        elapsed = (time.perf_counter() - started) * 1000
        exchange = self._exchange(request, response, auth, note, elapsed)
        response.extensions["exchange"] = exchange
        self.recorder.record(exchange)
        return response

    def _read_capped(self, response: httpx.Response) -> tuple[bytes, bool]:
        cap = self.limits.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(chunks)[:cap], True
        raw = b"".join(chunks)
        encoding = response.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate", "br", "zstd"):
            decoded = httpx.Response(200, headers={"content-encoding": encoding}, content=raw).content
            return decoded[:cap], len(decoded) > cap
        return raw, False

    def _retry_after(self, response: httpx.Response) -> float | None:
        if response.status_code not in (429, 503):
            return None
        value = response.headers.get("retry-after")
        if value is None:
            return None if response.status_code == 503 else 1.0
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None
        return min(max(seconds, 0.0), self.limits.max_retry_wait_s)

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
            error=error,
            note=note,
        )
        if response is not None:
            text = response.content.decode("utf-8", "replace")
            if response.extensions.get("truncated"):
                text += f"\n[... body truncated at {self.limits.max_body_bytes} bytes]"
            elif len(text) > MAX_EVIDENCE_BODY:
                text = text[:MAX_EVIDENCE_BODY] + f"\n[... {len(text) - MAX_EVIDENCE_BODY} more characters]"
            exchange.status = response.status_code
            exchange.response_headers = redact.headers(response.headers.multi_items())
            exchange.response_body = redact.text(text)
        return exchange.with_curl(auth.curl_args() if auth else [])


def describe_error(exc: BaseException) -> str:
    """One line naming a transport failure's cause (refused, DNS, TLS, timeout ...)."""
    text = str(exc) or exc.__class__.__name__
    lowered = text.lower()
    if isinstance(exc, httpx.TimeoutException):
        cause = "timed out"
    elif "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        cause = "TLS failure"
    elif "name or service not known" in lowered or "nodename nor servname" in lowered or "name resolution" in lowered:
        cause = "DNS lookup failed"
    elif "refused" in lowered:
        cause = "connection refused"
    elif isinstance(exc, httpx.RemoteProtocolError):
        cause = "connection broken"
    else:
        cause = exc.__class__.__name__
    return f"{cause} ({text.splitlines()[0] if text else exc.__class__.__name__})"
