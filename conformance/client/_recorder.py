"""Evidence: each exchange recorded, redacted and with its repro line, per running check (per thread)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

import httpx

from conformance import repro
from conformance.redact import Redactor
from conformance.results import Exchange

MAX_EVIDENCE_BODY = 4_000  # characters of a body kept as evidence
MAX_EVIDENCE_HEADERS = 100  # response header lines kept as evidence (a target may send thousands)


class Credential(Protocol):
    """What the client needs of a credential object: its Authorization value, and what a repro shows."""

    def header(self) -> str: ...

    def repro(self) -> repro.ReproAuth: ...


class Tap(Protocol):
    """Sees every exchange recorded, and which check each was handed to (``run --record``'s HAR writer)."""

    def recorded(self, exchange: Exchange, response: httpx.Response | None) -> None: ...

    def taken(self, exchanges: list[Exchange], labels: Mapping[str, str]) -> None: ...

    def set_aside(self, exchanges: list[Exchange]) -> None: ...


class Recorder:
    """Collects the exchanges of the check that is running (one list per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.tap: Tap | None = None

    def record(self, exchange: Exchange, response: httpx.Response | None = None) -> None:
        self._exchanges().append(exchange)
        if self.tap is not None:
            self.tap.recorded(exchange, response)

    def keep(self, exchange: Exchange) -> None:
        """Put an exchange already recorded (and taken) back, as evidence of the running check."""
        self._exchanges().append(exchange)

    def take(self, **labels: str) -> list[Exchange]:
        """The exchanges recorded since the last take, for the check labels name (check, requirement)."""
        exchanges = self._exchanges()
        self._local.exchanges = []
        if self.tap is not None:
            self.tap.taken(exchanges, labels)
        return exchanges

    def detach(self) -> list[Exchange]:
        """The exchanges this thread recorded since the last take, removed from it (not taken: the
        thread that runs the check keeps them, see Client.concurrently)."""
        exchanges = self._exchanges()
        self._local.exchanges = []
        return exchanges

    def latest(self) -> Exchange:
        """The exchange this thread recorded last."""
        return self._exchanges()[-1]

    def set_aside(self) -> None:
        """Drop the exchanges this thread recorded since the last take: requests sent ahead, recorded
        again by the check that makes them (Client.send_ahead), which is the one they are tagged with."""
        exchanges = self.detach()
        if self.tap is not None:
            self.tap.set_aside(exchanges)

    def _exchanges(self) -> list[Exchange]:
        if not hasattr(self._local, "exchanges"):
            self._local.exchanges = []
        return self._local.exchanges


def words(redactor: Redactor) -> repro.Words:
    """How repro lines write values for a run: its API secrets by variable, the rest masked."""
    return repro.Words(redactor.sources, redactor.text)


def evidence(
    request: httpx.Request,
    response: httpx.Response | None,
    redactor: Redactor,
    *,
    auth: Credential | None,
    form: Mapping[str, str] | None,
    note: str | None,
    elapsed_ms: float,
    max_body_bytes: int,
    error: str | None = None,
) -> Exchange:
    """The exchange as evidence: masked, the body cut to MAX_EVIDENCE_BODY, with its curl line."""
    body = request.content.decode("utf-8", "replace") if request.content else None
    exchange = Exchange(
        method=request.method,
        url=redactor.text(str(request.url)),
        request_headers=redactor.headers(request.headers.multi_items()),
        request_body=redactor.text(body) if body else None,
        elapsed_ms=round(elapsed_ms, 1),
        error=redactor.text(error) if error else None,
        note=note,
        curl=repro.curl_command(
            request.method,
            str(request.url),
            request.headers.multi_items(),
            words(redactor),
            form=form,
            body=body,
            auth=auth.repro() if auth is not None else None,
        ),
    )
    if response is not None:
        text = response.content[: MAX_EVIDENCE_BODY * 4].decode("utf-8", "replace")
        if len(text) > MAX_EVIDENCE_BODY:
            text = text[:MAX_EVIDENCE_BODY] + "\n[... more not kept as evidence]"
        if response.extensions.get("truncated"):
            text += (
                f"\n[... body truncated: larger than the {max_body_bytes}-byte cap "
                "(--max-body-bytes); the rest was not read]"
            )
        exchange.status = response.status_code
        exchange.response_headers = redactor.headers(kept_headers(response.headers.multi_items()))
        exchange.response_body = redactor.text(text)
    return exchange


def kept_headers(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The first MAX_EVIDENCE_HEADERS header lines, then one line saying how many more there were."""
    if len(items) <= MAX_EVIDENCE_HEADERS:
        return items
    dropped = len(items) - MAX_EVIDENCE_HEADERS
    return [*items[:MAX_EVIDENCE_HEADERS], ("[...]", f"{dropped} more header lines not kept as evidence")]
