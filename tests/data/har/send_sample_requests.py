"""Send the sample requests of mitmproxy.har through the proxy: reads, and requests the contract refuses.

Run by regenerate_mitmproxy_har.sh (argv: the proxied API base, the config the reference target wrote).
The secrets are the fake ones that script exports; nothing here reaches a real host.
"""

from __future__ import annotations

import os
import sys
import tomllib

import httpx


def main(base_url: str, config_path: str) -> None:
    with open(config_path, "rb") as handle:
        config = tomllib.load(handle)
    tenant = config["credentials"]["tenant_id"]
    secret = os.environ["ENROLMENT_API_SECRET"]
    fixtures = config["fixtures"]["enrolments"]
    first = fixtures[0]
    url = f"{base_url}/assignments/{first['assignment_id']}/enrolments/{first['enrolment_id']}"
    with httpx.Client(timeout=10) as client:
        for fixture in fixtures:
            client.get(
                f"{base_url}/assignments/{fixture['assignment_id']}/enrolments/{fixture['enrolment_id']}",
                auth=(tenant, secret),
            )
        client.get(url)  # no credentials: 401
        client.get(url, auth=(tenant, secret + "-wrong"))  # wrong secret: 401
        client.get(url, headers={"Authorization": "Token abcdef0123456789"})  # unknown scheme: 401
        client.get(url[:-2] + "gz", auth=(tenant, secret))  # malformed enrolmentId: 422
        client.get(
            f"{base_url}/assignments/{first['assignment_id']}/enrolments/{'f' * 24}", auth=(tenant, secret)
        )
        client.get(f"{base_url}/", auth=(tenant, secret))  # not an enrolment URL: not judged


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
