"""The HTTP client every check uses: bounded, polite, and recording redacted evidence.

One :class:`Client` per run wraps one ``httpx.Client`` (connection reuse) and
adds what a suite aimed at shared staging needs:

- read-only by default: GET and HEAD to the API, POST only to the token
  endpoints; any other method needs ``--allow-unsafe-methods``;
- redirects are never followed, and requests go only to the configured hosts
  (environment proxies are not used either: a proxy is another host);
- a request budget and a rate limit that the run never exceeds; the rate
  adapts to throttling, halved on 429/503 and climbing back after (``_rate``);
- 429, and 503 with ``Retry-After``, are waited out (``Retry-After``, else an
  exponential backoff with jitter) and retried (``_throttle``); a request that is
  throttled on every try makes its check an *error* (:class:`Throttled`), never
  a failure; the whole run has a deadline, ``--max-duration`` (``_limits``);
- every request has a deadline (``_deadline``): ``timeout_s`` bounds the whole
  exchange (connect, headers and body), so a target that answers slowly, or
  drips its answer byte by byte, cannot hold a run;
- a target that stops answering (timeouts, refused connections) trips a breaker
  (``_breaker``) after a few failures, so the remaining checks end at once as
  errors (:class:`TargetUnresponsive`); the API and the token endpoints have a
  breaker each;
- response bodies are read up to a cap (``_body``), so a huge body cannot exhaust memory;
- every exchange is recorded, redacted, with its repro line, as evidence (``_recorder``);
- small answers to GET and HEAD are remembered for the run, so a GET or HEAD identical to one
  already answered is not sent again (``_memo``);
- a planning pass notes the requests checks are about to make (:class:`Planned` stops each check at
  its first request without an answer) and ``send_ahead`` sends them concurrently, their answers
  kept for the checks (``conformance.planning``).

Errors raised here that are not ``httpx`` errors are :class:`InfrastructureError`
(or :class:`UnsafeRequest`): they say nothing about conformance (``_errors``).
"""

import httpx

from conformance.client._client import READ_ONLY_METHODS, Client
from conformance.client._errors import (
    InfrastructureError,
    Planned,
    RequestBudgetExhausted,
    RunDeadlineExceeded,
    TargetUnresponsive,
    Throttled,
    UnsafeRequest,
    describe_error,
)
from conformance.client._limits import DEFAULT_MAX_DURATION_S, REFERENCE_BACKOFF_BASE_S, ClientLimits
from conformance.client._plan import Plan
from conformance.client._rate import RateLimiter
from conformance.client._recorder import MAX_EVIDENCE_BODY, Credential, Recorder, Tap, evidence

# Errors that say a check could not run, never that the target failed it.
INFRASTRUCTURE_ERRORS = (InfrastructureError, UnsafeRequest, httpx.HTTPError)

__all__ = [
    "DEFAULT_MAX_DURATION_S",
    "INFRASTRUCTURE_ERRORS",
    "MAX_EVIDENCE_BODY",
    "READ_ONLY_METHODS",
    "REFERENCE_BACKOFF_BASE_S",
    "Client",
    "ClientLimits",
    "Credential",
    "InfrastructureError",
    "Plan",
    "Planned",
    "RateLimiter",
    "Recorder",
    "RequestBudgetExhausted",
    "RunDeadlineExceeded",
    "Tap",
    "TargetUnresponsive",
    "Throttled",
    "UnsafeRequest",
    "describe_error",
    "evidence",
]
