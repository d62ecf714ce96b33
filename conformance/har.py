"""HAR 1.2, the HTTP Archive format: a run's exchanges written as one, and any tool's HAR read back.

:class:`HarRecorder` is the ``--record`` tap of the client's recorder: it keeps
every exchange of the run as a HAR entry, with the full response body (evidence
keeps only its start), and tags each entry with the check and requirement that
sent it, in the custom fields HAR allows (names starting with ``_``): ``_check``,
``_requirement``, ``_note``, ``_error``, and ``_reused`` on an answer the client
remembered and handed to another check instead of sending the request again.
Entries are built from the redacted evidence and the full response body, and the
whole document goes through the run's redactor when it is written (the body only
then, with every secret the run learned), so a HAR holds no secret, like every
other artifact; the sizes are those of the masked text written.

:func:`read_har` reads a HAR written by any tool (browser devtools, mitmproxy,
schemathesis' ``--report har``, this suite) into :class:`Recorded` exchanges;
a file that is not HAR is a :class:`HarError` with a one-line message.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from conformance import __version__
from conformance.client import Recorder
from conformance.redact import Redactor
from conformance.results import Exchange
from conformance.timestamps import InvalidTimestamp, parse_rfc3339

HAR_VERSION = "1.2"
TAGS = ("check", "requirement", "note", "error")  # the suite's custom fields, each written as "_" + name
_NO_RESPONSE = 0  # the status HAR writers give an exchange that got no answer


class HarError(ValueError):
    """The file is not a HAR document this suite can read; the message is one line saying why."""


class HarRecorder:
    """Keeps the run's exchanges as HAR entries, tagged with the check that sent each (thread-safe)."""

    version = HAR_VERSION

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._pending: dict[int, tuple[Exchange, dict[str, Any]]] = {}
        self._seen: dict[int, Exchange] = {}  # every exchange recorded (kept, so that an id stays unique)
        self._lock = threading.Lock()
        self._redactor = Redactor()

    def attach(self, recorder: Recorder, redactor: Redactor) -> None:
        """Start seeing every exchange recorder records; redactor is the run's."""
        self._redactor = redactor
        recorder.tap = self

    def recorded(self, exchange: Exchange, response: httpx.Response | None) -> None:
        """An exchange was recorded: keep it as an entry, waiting for the check that sent it."""
        body = response.content.decode("utf-8", "replace") if response else None  # masked in document()
        entry = har_entry(exchange, body, datetime.now(UTC))
        with self._lock:
            if id(exchange) in self._seen:  # a remembered answer handed to another check (client._memo)
                entry["_reused"] = "the answer to an identical earlier request, not sent again"
            self._seen[id(exchange)] = exchange
            self._entries.append(entry)
            self._pending[id(exchange)] = (exchange, entry)

    def taken(self, exchanges: list[Exchange], labels: Mapping[str, str]) -> None:
        """The exchanges a check sent were handed to it: tag their entries with the check's labels."""
        with self._lock:
            for exchange in exchanges:
                _, entry = self._pending.pop(id(exchange), (None, None))
                if entry is not None:
                    entry.update({f"_{name}": value for name, value in labels.items() if value})

    def set_aside(self, exchanges: list[Exchange]) -> None:
        """These exchanges were sent ahead of their checks: their entries are dropped, and made again
        when the check that makes the request records it (dated then, timed as sent)."""
        with self._lock:
            dropped = set()
            for exchange in exchanges:
                self._seen.pop(id(exchange), None)
                _, entry = self._pending.pop(id(exchange), (None, None))
                if entry is not None:
                    dropped.add(id(entry))
            self._entries = [entry for entry in self._entries if id(entry) not in dropped]

    def document(self) -> dict[str, Any]:
        """The HAR document of everything recorded so far, masked by the run's redactor."""
        with self._lock:
            entries = list(self._entries)
        creator = {"name": "enrolment-conformance", "version": __version__}
        document = self._redactor.value(
            {"log": {"version": HAR_VERSION, "creator": creator, "entries": entries}}
        )
        for entry in document["log"]["entries"]:
            _measure(entry["response"])
        return document

    def write(self, path: Path) -> int:
        """Write the HAR document to path; return how many entries it holds."""
        document = self.document()
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return len(document["log"]["entries"])


def har_entry(exchange: Exchange, body: str | None, finished: datetime) -> dict[str, Any]:
    """One HAR 1.2 entry from (redacted) evidence and the full response body (masked when written)."""
    started = finished - timedelta(milliseconds=exchange.elapsed_ms)
    entry = {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": exchange.elapsed_ms,
        "request": _har_request(exchange),
        "response": _har_response(exchange, body),
        "cache": {},
        "timings": {"send": 0, "wait": exchange.elapsed_ms, "receive": 0},
    }
    entry.update({f"_{name}": value for name, value in (("note", exchange.note), ("error", exchange.error))})
    return {key: value for key, value in entry.items() if value is not None}


def _har_request(exchange: Exchange) -> dict[str, Any]:
    """The entry's request object (HAR 1.2 §request), with postData when a body was sent."""
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": exchange.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _pairs(exchange.request_headers),
        "queryString": [
            {"name": name, "value": value} for name, value in httpx.URL(exchange.url).params.multi_items()
        ],
        "headersSize": -1,
        "bodySize": len((exchange.request_body or "").encode("utf-8")),
    }
    if exchange.request_body:
        mime = exchange.request_headers.get("content-type", "application/octet-stream")
        request["postData"] = {"mimeType": mime, "text": exchange.request_body}
    return request


def _har_response(exchange: Exchange, body: str | None) -> dict[str, Any]:
    """The entry's response object (HAR 1.2 §response); status 0 when no answer came."""
    return _measure(
        {
            "status": exchange.status if exchange.status is not None else _NO_RESPONSE,
            "statusText": _reason(exchange.status),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(exchange.response_headers),
            "content": {
                "size": 0,
                "mimeType": exchange.response_headers.get("content-type", ""),
                "text": body or "",
            },
            "redirectURL": exchange.response_headers.get("location", ""),
            "headersSize": -1,
            "bodySize": 0 if body is not None else -1,
        }
    )


def _measure(response: dict[str, Any]) -> dict[str, Any]:
    """The response object with its sizes set from the text it holds (-1, no body, stays -1)."""
    size = len(response["content"]["text"].encode("utf-8"))
    response["content"]["size"] = size
    if response["bodySize"] != -1:
        response["bodySize"] = size
    return response


def _pairs(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _reason(status: int | None) -> str:
    if not status:
        return ""
    try:
        return httpx.codes(status).phrase
    except ValueError:
        return ""


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One exchange of a HAR file: the request and response as httpx objects, when, and its tags."""

    request: httpx.Request
    response: httpx.Response | None
    started: datetime | None
    elapsed_ms: float
    tags: dict[str, str] = field(default_factory=dict)  # the suite's "_" fields: check, requirement ...


def read_har(path: Path) -> list[Recorded]:
    """Every exchange of the HAR file at path, in file order; HarError (one line) if it is not HAR."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarError(f"{path} cannot be read: {exc}") from None
    except ValueError as exc:
        raise HarError(f"{path} is not a HAR file: not JSON ({exc})") from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarError(
            f"{path} is not a HAR file: no log.entries array (HAR 1.2 is {{'log': {{'entries': []}}}})"
        )
    recorded = []
    for index, entry in enumerate(entries):
        try:
            recorded.append(recorded_of(entry))
        except (KeyError, TypeError, ValueError, httpx.InvalidURL) as exc:
            raise HarError(f"{path}: log.entries[{index}] is not a HAR entry ({_problem(exc)})") from None
    return recorded


def recorded_of(entry: dict[str, Any]) -> Recorded:
    """A HAR entry as httpx objects (KeyError, TypeError, ValueError or InvalidURL when it is not one)."""
    har_request, har_response = entry["request"], entry["response"]
    post = har_request.get("postData") or {}
    request = httpx.Request(
        str(har_request["method"]),
        str(har_request["url"]),
        headers=_headers(har_request.get("headers", [])),
        content=str(post.get("text", "")).encode("utf-8"),
    )
    status = int(har_response["status"])
    response = None
    if status != _NO_RESPONSE:
        # the HAR text is the decoded body: the Content-Encoding that was on the wire no longer applies
        headers = [
            (k, v) for k, v in _headers(har_response.get("headers", [])) if k.lower() != "content-encoding"
        ]
        response = httpx.Response(
            status, headers=headers, content=_content(har_response.get("content", {})), request=request
        )
    tags = {name: str(entry[f"_{name}"]) for name in TAGS if entry.get(f"_{name}") is not None}
    return Recorded(
        request, response, _started(entry.get("startedDateTime")), float(entry.get("time") or 0), tags
    )


def _headers(pairs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(pair["name"]), str(pair["value"])) for pair in pairs]


def _content(content: dict[str, Any]) -> bytes:
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError("response.content.text is not the base64 its encoding says") from None
    return str(text).encode("utf-8")


def _started(value: object) -> datetime | None:
    try:
        return parse_rfc3339(value)
    except InvalidTimestamp:
        return None


def _problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r} field"
    return " ".join(str(exc).split()) or exc.__class__.__name__
