"""The fault catalogue: every deliberate deviation the reference target can be switched into.

A *benign* fault changes only the form of the responses (extra fields, another
date rendering, indentation) or throttles the target (every 4th request answered
429 or 503, as a busy gateway does; see :data:`THROTTLING`): a correct suite must
still pass every check. Every
other fault breaks the contract, and ``requirements`` lists the requirement IDs
(conformance/requirements.toml) that a correct suite MUST report as failed when
that fault is on. The list is conservative: a fault may break more, but those
are the failures it is guaranteed to cause. Each fault is applied by a hook at
the point of deviation in the reference target's code (search for its name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from conformance.reference.throttling import THROTTLING


@dataclass(frozen=True)
class Fault:
    """One switchable deviation of the reference target."""

    name: str
    description: str
    requirements: tuple[str, ...]
    benign: bool = False


def _benign(name: str, description: str) -> Fault:
    return Fault(name, description, (), benign=True)


_SURFACES = {"api": "API request", "token": "token endpoint request"}


def _throttling(name: str) -> Fault:
    throttle = THROTTLING[name]
    told = "with Retry-After: 0" if throttle.retry_after else "without Retry-After"
    what = f"every {throttle.every}th {_SURFACES[throttle.surface]}"
    return _benign(name, f"{what} gets {throttle.status} {told}")


CATALOGUE: tuple[Fault, ...] = (  # every fault, benign first, then by requirement area
    # --- benign: deviations in form only ---------------------------------------
    _benign("extra-fields", "unknown extra fields in the enrolment and in each event"),
    _benign("offset-dates", "every date rendered with a +01:00 offset (same instants)"),
    _benign("no-millis", "every date rendered without fractional seconds"),
    _benign("pretty-json", "every JSON body indented over several lines"),
    # --- benign: a busy target that throttles (the suite waits and retries) --------
    *(_throttling(name) for name in THROTTLING),
    # --- AUTH: HTTP Basic --------------------------------------------------------
    Fault("basic-auth-rejected", "valid Basic credentials are refused with 401", ("AUTH-001",)),
    Fault("no-auth-accepted", "a request without Authorization is served as tenant A", ("AUTH-002",)),
    Fault("wrong-secret-403", "a wrong API secret gets 403 instead of 401", ("AUTH-003",)),
    Fault("secret-prefix-accepted", "any non-empty prefix of the API secret is accepted", ("AUTH-003",)),
    Fault("empty-password-accepted", "a known Tenant ID with an empty password is accepted", ("AUTH-003",)),
    Fault(
        "case-sensitive-schemes",
        "only the exact scheme names Basic and Bearer are recognised: lowercase ones get 401",
        ("AUTH-001", "SCOPE-001"),
    ),
    Fault("unknown-tenant-accepted", "Basic with an unknown Tenant ID is accepted (then 404)", ("AUTH-004",)),
    Fault("malformed-basic-500", "a Basic payload that is not base64 gives 500", ("AUTH-005",)),
    Fault("unknown-scheme-accepted", "an unknown Authorization scheme is served as tenant A", ("AUTH-006",)),
    Fault("no-www-authenticate", "401 responses carry no WWW-Authenticate header", ("AUTH-007", "OAUTH-014")),
    Fault(
        "no-challenge-on-unknown-scheme",
        "the 401 to an unknown Authorization scheme carries no WWW-Authenticate header",
        ("AUTH-007",),
    ),
    Fault(
        "validation-before-auth",
        "IDs are validated before authentication: a malformed ID without credentials gets 422",
        ("AUTH-008",),
    ),
    Fault("bearer-only-challenge", "the 401 challenge offers only Bearer, never Basic", ("AUTH-009",)),
    # --- OAUTH: bearer usage on the API ----------------------------------------------
    Fault(
        "any-bearer-accepted", "any bearer token, even garbage, reads as tenant A", ("OAUTH-011", "OAUTH-012")
    ),
    Fault("bearer-scheme-only-500", 'an Authorization of just "Bearer" gives 500', ("OAUTH-011",)),
    Fault(
        "tampered-token-accepted",
        "a bearer token differing from an issued one in a single character is accepted",
        ("OAUTH-012",),
    ),
    Fault(
        "jwt-tokens-unsigned-check",
        "tokens are HS256 JWTs whose signature is never verified: any decodable payload is trusted",
        ("OAUTH-012",),
    ),
    Fault(
        "query-token-accepted",
        "an access_token query parameter is accepted as a bearer token",
        ("OAUTH-013",),
    ),
    Fault(
        "token-as-basic-password-accepted",
        "Basic credentials with an issued access token as the password are accepted",
        ("OAUTH-013",),
    ),
    Fault(
        "basic-only-challenge", "every 401 challenge is Basic only, even to a bearer request", ("OAUTH-014",)
    ),
    Fault(
        "bearer-challenge-no-error",
        'the challenge for an invalid token lacks error="invalid_token"',
        ("OAUTH-015",),
    ),
    # --- OAUTH: the token endpoints ---------------------------------------------------
    Fault(
        "token-rejects-body-auth",
        "client_id/client_secret body parameters get invalid_client",
        ("OAUTH-001",),
    ),
    Fault("token-rejects-basic-auth", "HTTP Basic client authentication gets invalid_client", ("OAUTH-002",)),
    Fault("token-type-missing", "the token response has no token_type", ("OAUTH-003",)),
    Fault(
        "token-expires-in-string", 'the token response has expires_in as a string ("3600")', ("OAUTH-003",)
    ),
    Fault("token-scope-missing", "the token response has no scope", ("OAUTH-003",)),
    Fault(
        "token-cacheable", "the token response has no Cache-Control: no-store (nor Pragma)", ("OAUTH-004",)
    ),
    Fault("token-over-grants", "a token asked for api/read alone is also granted api/write", ("OAUTH-005",)),
    Fault("token-wrong-secret-accepted", "a wrong client secret still obtains a token", ("OAUTH-006",)),
    Fault(
        "token-wrong-secret-invalid-request",
        "a wrong client secret gets 400 invalid_request instead of invalid_client",
        ("OAUTH-006",),
    ),
    Fault(
        "token-basic-invalid-client-400",
        "a wrong client secret sent with HTTP Basic gets 400 invalid_client without a challenge",
        ("OAUTH-006",),
    ),
    Fault(
        "token-any-grant-accepted", "any grant_type value is treated as client_credentials", ("OAUTH-007",)
    ),
    Fault("token-unknown-scope-granted", "unknown scopes are granted as asked", ("OAUTH-008",)),
    Fault(
        "token-ignores-path-tenant", "the tenant in the token URL need not equal client_id", ("OAUTH-009",)
    ),
    Fault(
        "token-missing-grant-wrong-error",
        "a token request without grant_type gets unsupported_grant_type, not invalid_request",
        ("OAUTH-010",),
    ),
    # --- SCOPE ------------------------------------------------------------------------
    Fault("read-scope-refused", "a token holding api/read (without api/all) gets 403", ("SCOPE-001",)),
    Fault("all-scope-refused", "a token holding api/all (without api/read) gets 403", ("SCOPE-002",)),
    Fault("write-scope-accepted", "a token holding only api/write reads with 200", ("SCOPE-003",)),
    Fault(
        "webhooks-scope-accepted", "a public token holding only api/webhooks reads with 200", ("SCOPE-004",)
    ),
    Fault(
        "webhooks-token-accepted",
        "the API does not check a token's audience or scopes: webhooks-endpoint tokens read with 200",
        ("SCOPE-005",),
    ),
    Fault(
        "webhooks-all-token-accepted",
        "the API accepts webhooks-endpoint tokens that hold api/all",
        ("SCOPE-005",),
    ),
    Fault(
        "lookup-before-scope",
        "the enrolment is looked up before the scope check: an api/write token gets 404 for unknown IDs",
        ("SCOPE-003",),
    ),
    Fault("multi-scope-refused", "a token holding more than one scope gets 403", ("SCOPE-006",)),
    # --- STATUS -----------------------------------------------------------------------
    Fault(
        "status-capitalised",
        'the open enrolment\'s status is "Open"',
        ("STATUS-001", "STATUS-007", "SCHEMA-001"),
    ),
    Fault(
        "event-status-unknown",
        'eventLog entries say "active" where they mean open',
        ("STATUS-002", "SCHEMA-001"),
    ),
    Fault(
        "status-unassigned",
        "the archived enrolment's status (and last newStatus) is unassigned",
        ("STATUS-003", "STATUS-007"),
    ),
    Fault(
        "first-event-not-unassigned",
        "the first event's previousStatus is scheduled, not unassigned",
        ("STATUS-004",),
    ),
    Fault(
        "broken-status-chain",
        "the second event's previousStatus is not the first event's newStatus",
        ("STATUS-005",),
    ),
    Fault(
        "status-not-last-event",
        "the latest event is missing: the current status differs from the last newStatus",
        ("STATUS-006",),
    ),
    Fault(
        "fixture-status-changed",
        "open enrolments have been archived since the config was written",
        ("STATUS-007",),
    ),
    Fault(
        "missing-scheduled-enrolment",
        "there is no scheduled enrolment (and the config lists none)",
        ("STATUS-008",),
    ),
    # --- DATE -------------------------------------------------------------------------
    Fault(
        "dates-without-zone",
        "dates have no zone designator (2023-08-23T09:09:16.076)",
        ("DATE-001", "SCHEMA-001"),
    ),
    Fault("impossible-date", "every availableDate falls on February 30", ("DATE-001", "SCHEMA-001")),
    Fault(
        "available-after-due",
        "the archived enrolment's availableDate is a day after its dueDate",
        ("DATE-002",),
    ),
    Fault(
        "complete-after-due", "complete enrolments were completed an hour after their dueDate", ("DATE-003",)
    ),
    Fault("complete-without-completion", "complete enrolments have no lastCompletedAt", ("DATE-003",)),
    Fault("overdue-due-in-future", "the overdue enrolment's dueDate is a week ahead", ("DATE-004",)),
    Fault(
        "scheduled-available-in-past", "the scheduled enrolment's availableDate is in the past", ("DATE-005",)
    ),
    Fault("open-available-in-future", "open enrolments' availableDate is two days ahead", ("DATE-006",)),
    Fault(
        "events-out-of-order",
        "the first two events swap their dates: the log is not in time order",
        ("DATE-007",),
    ),
    Fault(
        "event-updated-before-created",
        "the first event's updatedAt is an hour before its createdAt",
        ("DATE-008",),
    ),
    Fault(
        "enrolment-updated-before-event",
        "the enrolment's updatedAt is a day before its latest event",
        ("DATE-009",),
    ),
    Fault("completed-in-future", "complete enrolments' lastCompletedAt is two days ahead", ("DATE-010",)),
    # --- SCHEMA -----------------------------------------------------------------------
    Fault("missing-user-id", "enrolments have no userId", ("SCHEMA-001",)),
    Fault("audience-id-number", "audienceId is a JSON number", ("SCHEMA-001",)),
    Fault("wrong-enrolment-id", "the id field is not the requested enrolmentId", ("SCHEMA-002",)),
    Fault("wrong-assignment-id", "the assignmentId field is not the one in the path", ("SCHEMA-003",)),
    Fault("text-plain-200", "200 responses are labelled Content-Type: text/plain", ("SCHEMA-004",)),
    Fault(
        "bearer-drops-audience", "bearer reads leave out audienceId (Basic reads keep it)", ("SCHEMA-005",)
    ),
    # --- ERR --------------------------------------------------------------------------
    Fault(
        "unknown-enrolment-200",
        "an unknown enrolment under a known assignment gives 200 with a made-up enrolment",
        ("ERR-001",),
    ),
    Fault("unknown-enrolment-403", "an unknown enrolment under a known assignment gives 403", ("ERR-001",)),
    Fault("unknown-assignment-403", "an unknown assignment gives 403", ("ERR-002",)),
    Fault(
        "not-found-410",
        "unknown enrolments and assignments give 410, a status the spec does not document",
        ("ERR-001", "ERR-002", "FUZZ-002"),
    ),
    Fault("malformed-enrolment-id-404", "a malformed enrolmentId gives 404 instead of 422", ("ERR-003",)),
    Fault("malformed-assignment-id-404", "a malformed assignmentId gives 404 instead of 422", ("ERR-004",)),
    Fault(
        "malformed-enrolment-id-400",
        "a malformed enrolmentId gives 400 instead of 422",
        ("ERR-003", "FUZZ-002"),
    ),
    Fault(
        "malformed-assignment-id-400",
        "a malformed assignmentId gives 400 instead of 422",
        ("ERR-004", "FUZZ-002"),
    ),
    Fault(
        "uppercase-ids-accepted",
        "IDs are lower-cased before validation: an uppercase fixture ID reads with 200",
        ("ERR-003", "ERR-004"),
    ),
    Fault(
        "malformed-id-200",
        "a malformed ID (either) gives 200 with an empty JSON object",
        ("ERR-003", "ERR-004", "FUZZ-005"),
    ),
    Fault(
        "server-error-on-malformed-id",
        "a malformed ID (either) gives 500",
        ("ERR-003", "ERR-004", "FUZZ-001"),
    ),
    Fault("errors-text-plain", "error responses are plain text", ("ERR-005", "FUZZ-003")),
    Fault("errors-html", "error responses are HTML pages", ("ERR-005", "FUZZ-003")),
    Fault("error-body-array", "error bodies are JSON arrays, not objects", ("ERR-005", "FUZZ-004")),
    # --- ISO --------------------------------------------------------------------------
    Fault(
        "enrolment-ignores-assignment",
        "the enrolment is looked up by enrolmentId alone: any assignmentId in the path finds it",
        ("ISO-001", "ISO-002"),
    ),
    Fault("tenant-isolation-broken", "enrolments are looked up across tenants", ("ISO-003", "ISO-004")),
    # --- HTTP -------------------------------------------------------------------------
    Fault("method-not-allowed-without-allow", "405 responses carry no Allow header", ("HTTP-001",)),
    Fault("other-methods-200", "POST, PUT, PATCH and DELETE are answered like GET", ("HTTP-001",)),
    Fault("other-methods-404", "POST, PUT, PATCH and DELETE get 404", ("HTTP-001",)),
    Fault("head-500", "HEAD gives 500", ("HTTP-002",)),
    Fault("head-405-without-allow", "HEAD gives 405 without an Allow header", ("HTTP-002",)),
    Fault(
        "trailing-slash-redirect",
        "a request that would succeed is redirected (307) to the same URL with a trailing slash",
        ("HTTP-003",),
    ),
    # --- FUZZ -------------------------------------------------------------------------
    Fault(
        "mock-mode",
        "mock mode left on: credentials are not checked and unknown IDs get a made-up enrolment (200)",
        ("FUZZ-006", "AUTH-002", "ERR-001", "ERR-002"),
    ),
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in CATALOGUE}


class UnknownFault(ValueError):
    """A fault name that is not in the catalogue; the message is one line listing the valid names."""


def checked(names: Iterable[str]) -> frozenset[str]:
    """The names as a frozenset, or UnknownFault if any is not in the catalogue."""
    names = tuple(names)
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise UnknownFault(f"unknown fault {unknown[0]!r}; valid faults: {', '.join(FAULTS)}")
    return frozenset(names)
