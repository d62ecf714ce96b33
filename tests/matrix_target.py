"""The reference target with faults switched while it runs, for the fault matrix (a child process).

    python tests/matrix_target.py        # secrets in ENROLMENT_API_SECRET / ENROLMENT_OTHER_API_SECRET

Like ``python -m conformance.reference`` it listens on a free loopback port and
prints its endpoints as one JSON line. Then each line read on stdin is a JSON
list of fault names: the app is built again with exactly those faults (fresh
data, fresh tokens) and ``ok`` is printed once every later request sees them.
End of input stops it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict
from typing import Any

from conformance.reference.app import create_app
from conformance.reference.server import LOOPBACK, SECRET_ENVS, Endpoints, _listen, _run


class Switchable:
    """An ASGI app that hands each request to the app of the faults switched on last."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.app = create_app(secrets)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def follow(self, lines: Any) -> None:
        for line in lines:
            self.app = create_app(self.secrets, json.loads(line))
            print("ok", flush=True)
        os._exit(0)


def main() -> None:
    secrets = {tenant: os.environ[env] for tenant, env in SECRET_ENVS.items()}
    sock = _listen(LOOPBACK, 0)
    print(json.dumps(asdict(Endpoints.at(LOOPBACK, sock.getsockname()[1]))), flush=True)
    app = Switchable(secrets)
    threading.Thread(target=app.follow, args=(sys.stdin,), daemon=True).start()
    _run(app, sock)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
