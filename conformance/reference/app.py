"""The reference target as a Starlette app: the enrolment resource and the two token endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.reference.api import PREFIX, EnrolmentResource
from conformance.reference.context import Context
from conformance.reference.faults import checked
from conformance.reference.oauth import PUBLIC_AUDIENCE, WEBHOOKS_AUDIENCE, token_endpoint
from conformance.reference.responses import error_response
from conformance.reference.throttling import Throttling


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    secrets: Mapping[str, str],
    faults: Collection[str] = (),
    now: Callable[[], datetime] | None = None,
    retry_after: str = "0",
) -> Starlette:
    """The reference app. ``secrets`` maps each Tenant ID to its API secret; ``now`` is the clock (UTC);
    ``retry_after`` is the Retry-After value of the throttling faults.

    Raises UnknownFault (a ValueError) for a fault name that is not in the catalogue.
    """
    ctx = Context(secrets, checked(faults), now or _utc_now)
    enrolments = Route(PREFIX + "{tail:path}", EnrolmentResource(ctx))
    # An ID may hold a percent-encoded newline (%0A): match it too, so that it gets 422, not the router's 404.
    enrolments.path_regex = re.compile(enrolments.path_regex.pattern, re.DOTALL)
    routes = [
        enrolments,
        Route("/oauth2/token/{tenantId}", token_endpoint(ctx, PUBLIC_AUDIENCE), methods=["POST"]),
        Route("/webhooks/oauth2/token/{tenantId}", token_endpoint(ctx, WEBHOOKS_AUDIENCE), methods=["POST"]),
    ]

    async def http_error(request: Request, exc: HTTPException) -> Response:
        """Unknown paths (404) and wrong methods on the token endpoints (405), as JSON errors."""
        error = "not_found" if exc.status_code == 404 else "method_not_allowed"
        return error_response(exc.status_code, error, exc.detail, (), exc.headers)

    throttling = Middleware(Throttling, faults=ctx.faults, retry_after=retry_after)
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error}, middleware=[throttling])
