"""The client's errors, and :func:`describe_error`: one line naming a transport failure's cause.

Errors raised by the client that are not ``httpx`` errors are :class:`InfrastructureError`
(or :class:`UnsafeRequest`): they say nothing about conformance, and the plugin turns
them into *error* outcomes.
"""

from __future__ import annotations

import socket
import ssl

import httpx


class InfrastructureError(Exception):
    """No answer that can be judged could be had; the message says why, in one line. Not a finding."""


class RequestBudgetExhausted(InfrastructureError):
    """The run has sent as many requests as it may (--max-requests)."""


class Throttled(InfrastructureError):
    """The target answered 429 (or 503 with Retry-After) to every try of one request (--max-retries)."""


class RunDeadlineExceeded(InfrastructureError):
    """The run reached its whole-run deadline (--max-duration): no verdict."""


class TargetUnresponsive(InfrastructureError):
    """The target (API or token endpoint) stopped answering; the suite no longer sends it requests."""


class Abandoned(InfrastructureError):
    """A request of a concurrent batch not sent: the batch was given up (interrupted, or a request
    before it failed), so nothing waits for its answer."""


class Planned(BaseException):
    """A planning pass reached a request the client has no answer for yet: noted, to be sent ahead, and
    the check stops there. A BaseException, as pytest's own outcomes are, so that no check's
    ``except Exception`` takes it for an answer."""


class UnsafeRequest(Exception):
    """The suite refused to send a request (credentials to a foreign host, an unsafe method)."""


_UNVERIFIED = "TLS failure: the certificate could not be verified (--ca-bundle FILE trusts another CA)"
# (exception types in the cause chain, words of the message when only text says it, the cause), in order
_CAUSES: list[tuple[tuple[type[BaseException], ...], tuple[str, ...], str]] = [
    ((ssl.SSLCertVerificationError,), ("certificate verify failed",), _UNVERIFIED),
    ((ssl.SSLError,), ("ssl", "tls"), "TLS failure"),
    (
        (socket.gaierror,),
        ("name or service not known", "nodename nor servname", "name resolution"),
        "DNS lookup failed: the host name does not resolve",
    ),
    ((ConnectionRefusedError,), ("refused",), "connection refused"),
    ((ConnectionResetError,), ("reset by peer",), "connection reset by the target"),
]
_BY_CLASS: list[tuple[type[httpx.HTTPError], str]] = [
    (httpx.LocalProtocolError, "not sent: the HTTP library refuses to send this request as built"),
    (httpx.RemoteProtocolError, "connection broken: the target did not send a complete HTTP answer"),
    (httpx.ConnectError, "could not connect"),
]


def describe_error(exc: BaseException) -> str:
    """One line naming a transport failure's cause (refused, DNS, TLS, timeout ...).

    The cause is read from the exception types in the chain; the message text is read only
    where an exception carries nothing but text (httpcore keeps the OS error as a message).
    """
    text = str(exc) or exc.__class__.__name__
    detail = text.splitlines()[0] if text.strip() else exc.__class__.__name__
    return f"{_cause(exc)} ({detail})"


def _cause(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    chain = _chain(exc)
    for types, _, cause in _CAUSES:
        if any(isinstance(e, types) for e in chain):
            return cause
    lowered = " ".join(str(e) for e in chain).lower()
    for _, words, cause in _CAUSES:
        if any(word in lowered for word in words):
            return cause
    for cls, cause in _BY_CLASS:
        if isinstance(exc, cls):
            return cause
    return exc.__class__.__name__


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
