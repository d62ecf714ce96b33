"""The enrolment resource: ``/rest/v1/assignments/{assignmentId}/enrolments/{enrolmentId}``.

A request goes through, in order: the method (GET and HEAD only, else 405
with ``Allow``), authentication (401 with a challenge), the scope (403), the
two IDs (422 unless both match ``^[0-9a-f]{24}$``) and the tenant- and
assignment-scoped lookup (404); then 200 with the enrolment. The IDs are read
from the raw path, so a percent-encoded slash stays inside its ID (and gets
422) instead of changing the route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from conformance.reference.access import Principal, Refusal, authenticate, challenge, may_read
from conformance.reference.context import Context
from conformance.reference.data import TENANT_A, Enrolment
from conformance.reference.mutations import apply_record_faults
from conformance.reference.responses import error_response, json_response

PREFIX = "/rest/v1/assignments/"
ID_PATTERN = re.compile(r"[0-9a-f]{24}")
ALLOW = "GET, HEAD"


@dataclass(frozen=True)
class PathIds:
    """The two IDs of a request path, percent-decoded, and whether the path ended with a slash."""

    assignment_id: str
    enrolment_id: str
    trailing_slash: bool


def path_ids(scope: Scope) -> PathIds | None:
    """The IDs of a raw path ``{PREFIX}{assignmentId}/enrolments/{enrolmentId}``; None for other paths."""
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1")
    if not path.startswith(PREFIX):
        return None
    parts = path[len(PREFIX) :].split("/")
    trailing_slash = len(parts) == 4 and parts[3] == ""
    if trailing_slash:
        parts.pop()
    if len(parts) != 3 or parts[1] != "enrolments":
        return None
    return PathIds(unquote(parts[0], errors="replace"), unquote(parts[2], errors="replace"), trailing_slash)


class EnrolmentResource:
    """The ASGI endpoint of the enrolment resource (it sees every method, so it answers 405 itself)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = self.respond(request)
        if request.method == "HEAD":
            response.body = b""  # the headers, Content-Length included, stay those of the GET
        await response(scope, receive, send)

    def respond(self, request: Request) -> Response:
        """The response to one request (with the body a GET would carry, even for HEAD)."""
        faults = self.ctx.faults
        refused = self._method_refusal(request.method)
        if refused is not None:
            return refused
        ids = path_ids(request.scope)
        if ids is not None and "validation-before-auth" in faults:
            malformed = self._malformed(ids)
            if malformed is not None:
                return malformed
        principal = self._principal(request, ids)
        if isinstance(principal, Response):
            return principal
        if ids is None or (ids.trailing_slash and "trailing-slash-redirect" not in faults):
            return error_response(404, "not_found", "no such resource", faults)
        malformed = self._malformed(ids)
        if malformed is not None:
            return malformed
        found = self._lookup(principal, ids)
        if isinstance(found, Response):
            return found
        if "trailing-slash-redirect" in faults and not ids.trailing_slash:
            return RedirectResponse(request.url.replace(path=request.url.path + "/"), status_code=307)
        doc = apply_record_faults(found.document(), faults, self.ctx.data().seeded_at)
        if principal.scheme == "bearer" and "bearer-drops-audience" in faults:
            doc.pop("audienceId", None)
        media_type = "text/plain" if "text-plain-200" in faults else "application/json"
        return json_response(doc, faults, media_type=media_type)

    def _method_refusal(self, method: str) -> Response | None:
        faults = self.ctx.faults
        if method == "HEAD":
            if "head-500" in faults:
                return error_response(500, "internal_error", "HEAD is not implemented", faults)
            if "head-405-without-allow" in faults:
                return error_response(405, "method_not_allowed", "use GET", faults)
            return None
        if method == "GET" or (
            "other-methods-200" in faults and method in ("POST", "PUT", "PATCH", "DELETE")
        ):
            return None
        if "other-methods-404" in faults:
            return error_response(404, "not_found", "no such resource", faults)
        headers = None if "method-not-allowed-without-allow" in faults else {"Allow": ALLOW}
        return error_response(
            405, "method_not_allowed", f"{method} is not allowed; use {ALLOW}", faults, headers
        )

    def _principal(self, request: Request, ids: PathIds | None) -> Principal | Response:
        faults = self.ctx.faults
        if "mock-mode" in faults:
            return Principal(TENANT_A, "basic")
        principal = authenticate(request, self.ctx)
        if isinstance(principal, Refusal):
            return self._refused(principal)
        if not may_read(principal, faults):
            if "lookup-before-scope" in faults and ids is not None and self._malformed(ids) is None:
                found = self._lookup(principal, ids)
                if isinstance(found, Response):
                    return found
            bearer = 'Bearer realm="enrolments", error="insufficient_scope", scope="api/read api/all"'
            message = "the token's scopes do not include api/read or api/all"
            return error_response(403, "insufficient_scope", message, faults, {"WWW-Authenticate": bearer})
        return principal

    def _refused(self, refusal: Refusal) -> Response:
        faults = self.ctx.faults
        if refusal.status == 500:
            return error_response(500, "internal_error", refusal.message, faults)
        if refusal.status == 403:
            return error_response(403, "forbidden", refusal.message, faults)
        value = challenge(refusal, faults)
        headers = {"WWW-Authenticate": value} if value else None
        error = "invalid_token" if refusal.invalid_token else "unauthorized"
        return error_response(401, error, refusal.message, faults, headers)

    def _malformed(self, ids: PathIds) -> Response | None:
        """The response to a malformed ID (None when both are well formed)."""
        faults = self.ctx.faults
        values = {"assignmentId": ids.assignment_id, "enrolmentId": ids.enrolment_id}
        if "uppercase-ids-accepted" in faults:
            values = {name: value.lower() for name, value in values.items()}
        malformed = [name for name, value in values.items() if not ID_PATTERN.fullmatch(value)]
        if not malformed:
            return None
        if "server-error-on-malformed-id" in faults:
            return error_response(500, "internal_error", f"cannot look up {malformed[0]}", faults)
        if "malformed-id-200" in faults:
            return json_response({}, faults)
        status = _malformed_status(malformed, faults)
        message = " and ".join(malformed) + " must be 24 lowercase hexadecimal characters"
        return error_response(status, "unprocessable_content", message, faults)

    def _lookup(self, principal: Principal, ids: PathIds) -> Enrolment | Response:
        faults = self.ctx.faults
        data = self.ctx.data()
        assignment_id, enrolment_id = ids.assignment_id, ids.enrolment_id
        if "uppercase-ids-accepted" in faults:
            assignment_id, enrolment_id = assignment_id.lower(), enrolment_id.lower()
        tenant = None if "tenant-isolation-broken" in faults else principal.tenant_id
        assignment = None if "enrolment-ignores-assignment" in faults else assignment_id
        found = data.get(tenant, assignment, enrolment_id)
        if found is not None:
            return found
        known_assignment = data.has_assignment(tenant, assignment_id)
        if "mock-mode" in faults or ("unknown-enrolment-200" in faults and known_assignment):
            return data.placeholder(principal.tenant_id, assignment_id, enrolment_id)
        if "not-found-410" in faults:
            return error_response(410, "gone", "no such enrolment", faults)
        if known_assignment and "unknown-enrolment-403" in faults:
            return error_response(403, "forbidden", "no access to this enrolment", faults)
        if not known_assignment and "unknown-assignment-403" in faults:
            return error_response(403, "forbidden", "no access to this assignment", faults)
        message = "no such enrolment under this assignment" if known_assignment else "no such assignment"
        return error_response(404, "not_found", message, faults)


def _malformed_status(malformed: list[str], faults: frozenset[str]) -> int:
    """422, or what a fault answers instead when one of these parameters is malformed."""
    replacements = {
        "assignmentId": (("malformed-assignment-id-404", 404), ("malformed-assignment-id-400", 400)),
        "enrolmentId": (("malformed-enrolment-id-404", 404), ("malformed-enrolment-id-400", 400)),
    }
    for name in malformed:
        for fault, status in replacements[name]:
            if fault in faults:
                return status
    return 422
