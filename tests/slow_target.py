"""The reference target, every request answered after a delay, as if it were far away (a child process).

    python tests/slow_target.py LATENCY_S ARRIVALS_FILE [FAULT ...]   # secrets as for matrix_target.py

Like ``python -m conformance.reference`` it listens on a free loopback port and
prints its endpoints as one JSON line. Each request waits LATENCY_S seconds
(without holding up the others, as a network round trip would) before the app
sees it; the moment each request arrived (``time.monotonic()``) is appended to
ARRIVALS_FILE, one a line, so a test can time the requests without the suite's
start-up.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from conformance.reference.app import create_app
from conformance.reference.server import LOOPBACK, SECRET_ENVS, Endpoints, _listen, _run


class Distant:
    """An ASGI app that hands each request to the reference app latency_s after it arrived."""

    def __init__(self, app: Any, latency_s: float, arrivals: Path) -> None:
        self.app, self.latency_s, self.arrivals = app, latency_s, arrivals

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self.arrivals.open("a") as log:
                log.write(f"{time.monotonic()}\n")
            await asyncio.sleep(self.latency_s)
        await self.app(scope, receive, send)


def main() -> None:
    latency_s, arrivals, faults = float(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    secrets = {tenant: os.environ[env] for tenant, env in SECRET_ENVS.items()}
    sock = _listen(LOOPBACK, 0)
    print(json.dumps(asdict(Endpoints.at(LOOPBACK, sock.getsockname()[1]))), flush=True)
    _run(Distant(create_app(secrets, faults), latency_s, arrivals), sock)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
