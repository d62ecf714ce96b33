"""Loaded by the CLI subprocesses of the suite's own tests (PYTHONPATH): loopback only.

Every host name other than ``localhost``, and every address outside the
loopback range, fails to resolve here as a ``.invalid`` name does on any
resolver (RFC 6761 §6.4), but without asking one: no DNS query, no packet
leaves the machine. A test that points the CLI at a production host name, or at
``nonexistent.invalid``, sees a real ``socket.gaierror`` and nothing is sent.
"""

from __future__ import annotations

import ipaddress
import socket

_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _loopback_only_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    name = host.decode("idna") if isinstance(host, bytes) else host
    if name is None or _is_loopback(str(name)):
        return _real_getaddrinfo(host, *args, **kwargs)
    # the marker lets a test prove the name was refused here, not by a real resolver
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (loopback guard)")


def install() -> None:
    socket.getaddrinfo = _loopback_only_getaddrinfo


def uninstall() -> None:
    socket.getaddrinfo = _real_getaddrinfo


install()
