"""The throttling faults: an ASGI middleware answering every 4th request of the API or of the token
endpoints with 429 or 503 (as a busy gateway in front of a conformant target does).

The counter is deterministic (requests 4, 8, 12 ... of the surface), not random, so that a run
against it is reproducible. The ``Retry-After`` value is 0 s unless the target is started with
another (``python -m conformance.reference --retry-after S``, for the test with one-second waits).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_PATHS = ("/oauth2/token/", "/webhooks/oauth2/token/")


@dataclass(frozen=True)
class Throttle:
    """How a throttling fault answers every ``every``-th request of one surface of the target."""

    surface: str  # "api" (everything under /rest/v1) or "token" (both token endpoints)
    status: int  # 429 or 503
    retry_after: bool  # whether the answer carries Retry-After (0 s unless the target is told otherwise)
    every: int = 4  # a deterministic counter: requests 4, 8, 12 ... of the surface are throttled


THROTTLING: dict[str, Throttle] = {
    "throttled-api-429": Throttle("api", 429, retry_after=True),
    "throttled-api-429-no-retry-after": Throttle("api", 429, retry_after=False),
    "throttled-api-503": Throttle("api", 503, retry_after=True),
    "throttled-token-429": Throttle("token", 429, retry_after=True),
    "throttled-token-429-no-retry-after": Throttle("token", 429, retry_after=False),
    "throttled-token-503": Throttle("token", 503, retry_after=True),
}


def surface_of(path: str) -> str | None:
    """Which surface a request path belongs to: "api", "token", or None (neither)."""
    if path.startswith("/rest/v1"):
        return "api"
    return "token" if path.startswith(TOKEN_PATHS) else None


class Throttling:
    """Wraps the reference app; the throttling faults switched on decide which requests get throttled."""

    def __init__(self, app: ASGIApp, faults: Collection[str], retry_after: str = "0") -> None:
        self.app = app
        self.throttles = [THROTTLING[name] for name in faults if name in THROTTLING]
        self.retry_after = retry_after
        self.seen: Counter[str] = Counter()  # requests per surface (the app runs on one event loop)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        surface = surface_of(scope.get("path", "")) if scope["type"] == "http" else None
        if surface is not None:
            self.seen[surface] += 1
            for throttle in self.throttles:
                if throttle.surface == surface and self.seen[surface] % throttle.every == 0:
                    await self._throttled(throttle, send)
                    return
        await self.app(scope, receive, send)

    async def _throttled(self, throttle: Throttle, send: Send) -> None:
        body = json.dumps({"error": "throttled", "message": "too many requests; try again later"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if throttle.retry_after:
            headers.append((b"retry-after", self.retry_after.encode()))
        await send({"type": "http.response.start", "status": throttle.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
