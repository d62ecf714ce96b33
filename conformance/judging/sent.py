"""What a recorded enrolment request sent, and so which requirement rules its answer.

A recorded request is read for its credentials and its IDs. The suite's own
entries say which check sent them (``_requirement``); other tools' do not, so the
request itself is read: no Authorization header, a scheme other than Basic or
Bearer, a Basic payload that cannot be decoded, or (with ``--config``) the
configured tenant with another secret, or a Tenant ID that is not configured, are
each answered with 401 by contract; valid credentials with a malformed ID get 422.
Bearer tokens, masked credentials and well-formed IDs of records the evidence does
not know say nothing about the status: only the rules on the answer itself apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from conformance.auth import decoded_basic
from conformance.checks.auth import judge_authenticated_read, judge_refused
from conformance.checks.errors import judge_malformed_id, judge_not_found
from conformance.checks.isolation import judge_isolated
from conformance.config import Settings
from conformance.redact import MASK
from conformance.schemas import load_schema

OBJECT_ID = re.compile(load_schema("config")["$defs"]["object_id"]["pattern"])
ENROLMENT_PATH = re.compile(
    r"^(?P<base>.*)/assignments/(?P<assignment>[^/]+)/enrolments/(?P<enrolment>[^/]+)$"
)
Judgement = Callable[[httpx.Response, str], None]  # (answer, what was sent) -> raises CheckFailed
# The judgement of the answer to what a suite check sends, by the requirement its entry is tagged with.
TAGGED: dict[str, Judgement] = {
    "AUTH-001": judge_authenticated_read,
    **dict.fromkeys(("AUTH-002", "AUTH-003", "AUTH-004", "AUTH-005", "AUTH-006", "AUTH-008"), judge_refused),
    **dict.fromkeys(("ERR-001", "ERR-002", "ISO-001", "ISO-002"), judge_not_found),
    **dict.fromkeys(("ERR-003", "ERR-004"), judge_malformed_id),
    **dict.fromkeys(("ISO-003", "ISO-004"), judge_isolated),
}
TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 §5.6.2
MALFORMED_ID_REQUIREMENTS = {"enrolmentId": "ERR-003", "assignmentId": "ERR-004"}
# What was sent instead of valid credentials: the requirement that wants 401 for it, and it in words.
UNAUTHENTICATED = {
    "none": ("AUTH-002", "no Authorization header"),
    "wrong-secret": ("AUTH-003", "the configured Tenant ID and a wrong API secret"),
    "unknown-tenant": ("AUTH-004", "a Tenant ID that is not configured"),
    "malformed": ("AUTH-005", "malformed Basic credentials"),
    "unknown-scheme": ("AUTH-006", "an authorization scheme other than Basic and Bearer"),
}


@dataclass(frozen=True)
class EnrolmentPath:
    """The IDs of an enrolment URL, percent-decoded, and the API base before them."""

    base: str
    assignment_id: str
    enrolment_id: str

    def malformed(self) -> list[str]:
        """The path parameters whose value is not a well-formed ID."""
        ids = {"assignmentId": self.assignment_id, "enrolmentId": self.enrolment_id}
        return [name for name, value in ids.items() if not OBJECT_ID.fullmatch(value)]


@dataclass(frozen=True)
class Expectation:
    """The requirement that rules the answer to a recorded request, its judgement, and what was sent."""

    requirement: str
    judge: Judgement
    sent: str


def enrolment_path(url: httpx.URL) -> EnrolmentPath | None:
    """The IDs of GET /assignments/{assignmentId}/enrolments/{enrolmentId}, or None for another URL."""
    match = ENROLMENT_PATH.match(url.raw_path.decode("ascii", "replace").split("?", 1)[0])
    if match is None:
        return None
    base = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{match['base']}"
    return EnrolmentPath(base, unquote(match["assignment"]), unquote(match["enrolment"]))


def expectation(
    request: httpx.Request, path: EnrolmentPath, tags: Mapping[str, str], settings: Settings | None
) -> Expectation | None:
    """The rule on the status of this request's answer, from its tag or from what it sent; None if unknown."""
    tagged = tags.get("requirement", "")
    if tagged in TAGGED:
        return Expectation(tagged, TAGGED[tagged], f"a request of {tags.get('check', tagged)}")
    if tagged:
        return None
    credentials = credentials_sent(request.headers.get("authorization"), settings)
    if credentials == "valid":
        return _authenticated(path, settings)
    if credentials not in UNAUTHENTICATED:
        return None
    requirement, what = UNAUTHENTICATED[credentials]
    malformed = path.malformed()
    if malformed:  # authentication comes before input validation
        requirement, what = "AUTH-008", f"{what} and a malformed {malformed[0]}"
    return Expectation(requirement, judge_refused, what)


def _authenticated(path: EnrolmentPath, settings: Settings | None) -> Expectation | None:
    """The rule for a request with the configured tenant's valid credentials: 422 for a malformed ID,
    200 for a configured fixture, nothing known for any other well-formed ID."""
    malformed = path.malformed()
    if malformed:
        requirement = MALFORMED_ID_REQUIREMENTS[malformed[0]]
        return Expectation(
            requirement, judge_malformed_id, f"valid credentials and a malformed {malformed[0]}"
        )
    ids = (path.assignment_id, path.enrolment_id)
    if settings and any((f.assignment_id, f.enrolment_id) == ids for f in settings.fixtures):
        return Expectation("AUTH-001", judge_authenticated_read, "valid Basic credentials for a fixture")
    return None


def masked(authorization: str) -> bool:
    """Whether a recorded Authorization value was masked by the tool that wrote it (``Basic ***``,
    ``[Filtered]``, ``<redacted>`` ...): its scheme is not an RFC 9110 token, or it says so."""
    scheme = authorization.strip().partition(" ")[0]
    words = authorization.lower()
    return not TOKEN.fullmatch(scheme) or MASK in authorization or "redacted" in words or "filtered" in words


def credentials_sent(authorization: str | None, settings: Settings | None) -> str:
    """none, valid (the configured tenant's), wrong-secret, unknown-tenant, malformed, unknown-scheme, or
    unknown (bearer, masked, the other tenant's, or Basic with no --config to compare it with)."""
    if authorization is None:
        return "none"
    scheme, _, payload = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" or masked(authorization):
        return "unknown"
    if scheme.lower() != "basic":
        return "unknown-scheme"
    basic = decoded_basic(payload.strip())
    if basic is None or not basic[0]:
        return "malformed"
    user, password = basic
    if settings is None:
        return "unknown"
    if user == settings.tenant.tenant_id:
        return "valid" if password == settings.tenant.secret else "wrong-secret"
    other = settings.other_tenant
    return "unknown" if other is not None and user == other.tenant_id else "unknown-tenant"
