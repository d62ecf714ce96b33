"""Where the client may send a request: to a configured host, and to a production host only if confirmed.

Checked for every request, on the host as the client will connect to it
(:func:`conformance.config.connect_address`: IDNA-mapped, lowercased, without
trailing dots), so no spelling of a URL (``LEARN.LINK.``, the full stops
U+3002, U+FF0E, U+FF61) walks around the list of configured hosts or the
run's production guard, whatever built the URL.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.client._errors import UnsafeRequest
from conformance.config import connect_address, production_host


class HostGuard:
    """Refuses a request to a host that is not configured, or to a production host the run did not confirm."""

    def __init__(self, allowed_hosts: Iterable[str], *, production_confirmed: bool = False) -> None:
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.production_confirmed = production_confirmed

    def check(self, url: str) -> None:
        """Raise UnsafeRequest unless the client may connect to url's host."""
        address = connect_address(url)
        if address not in self.allowed_hosts:
            raise UnsafeRequest(f"refusing to send a request to {address}, which is not a configured host")
        host = production_host(url)
        if host and not self.production_confirmed:
            raise UnsafeRequest(
                f"refusing to send a request to {host}, a production host, without --confirm-production"
            )
