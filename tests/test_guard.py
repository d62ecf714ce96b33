"""The per-request guard of the client: configured hosts only, a production host only when confirmed.

The real production hosts are never contacted: a loopback server stands in for
production (127.0.0.1 is put in the production host list for the test), and
its URL is spelled with the ideographic and fullwidth full stops (U+3002,
U+FF0E, U+FF61), which the HTTP client maps to dots.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from misbehaving import ENROLMENT_ID, FakeTarget, LoopbackServer, cli_main, write_config

from conformance import config, runner
from conformance.client import Client, UnsafeRequest
from conformance.config import Target, connect_address
from conformance.redact import Redactor

DOTS = ("\u3002", "\uff0e", "\uff61")
PATH = f"/rest/v1/assignments/12347d805d8ecbf46f5b5278/enrolments/{ENROLMENT_ID}"


def spelled(server: LoopbackServer, dot: str) -> str:
    """The server's origin with each '.' of 127.0.0.1 written as dot."""
    return f"http://127{dot}0{dot}0{dot}1:{server.port}"


@pytest.fixture
def loopback_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "_PRODUCTION_HOSTS", frozenset({"127.0.0.1"}))


@pytest.fixture
def server() -> LoopbackServer:
    with LoopbackServer(FakeTarget(), lifetime=60) as running:
        yield running


def client_for(base_url: str, *, confirmed: bool) -> Client:
    return Client(
        base_url,
        allowed_hosts=Target(base_url).hosts(),
        redactor=Redactor(),
        production_confirmed=confirmed,
    )


def test_the_allowed_hosts_are_the_hosts_the_client_connects_to() -> None:
    target = Target(
        "https://API\u3002Example\uff0eTest./rest/v1",
        token_url="https://auth\uff61example.test:8443/oauth2/token/{tenantId}",
    )
    assert target.hosts() == {"api.example.test", "auth.example.test:8443"}
    assert connect_address("https://api.example.test:443/x") == "api.example.test"
    assert connect_address("http://[::1]:8000/x") == "[::1]:8000"


@pytest.mark.parametrize("dot", DOTS)
def test_a_production_host_in_any_spelling_is_refused_per_request(
    server: LoopbackServer, loopback_is_production: None, dot: str
) -> None:
    with client_for(spelled(server, dot) + "/rest/v1", confirmed=False) as client:
        for url in (spelled(server, dot) + PATH, server.origin + PATH):
            with pytest.raises(UnsafeRequest, match=r"127\.0\.0\.1, a production host, without --confirm"):
                client.request("GET", url)
    assert server.received == []


def test_a_confirmed_run_may_send_to_production(server: LoopbackServer, loopback_is_production: None) -> None:
    with client_for(spelled(server, DOTS[0]) + "/rest/v1", confirmed=True) as client:
        assert client.request("GET", server.origin + PATH).status_code == 401
    assert len(server.received) == 1


def test_a_host_that_is_not_configured_is_refused_in_any_spelling(server: LoopbackServer) -> None:
    with client_for(server.origin + "/rest/v1", confirmed=False) as client:
        with pytest.raises(UnsafeRequest, match=r"evil\.test, which is not a configured host"):
            client.request("GET", "http://EVIL\u3002test./rest/v1")
        assert client.request("GET", spelled(server, DOTS[1]) + PATH).status_code == 401
    assert len(server.received) == 1


def run_at(server: LoopbackServer, tmp_path: Path, dot: str, *args: str) -> tuple[int, str, str]:
    config_file = write_config(tmp_path, spelled(server, dot) + "/rest/v1")
    reports = tmp_path / "reports"
    return cli_main("run", "--config", str(config_file), "--reports", str(reports), "-k", "AUTH-001", *args)


@pytest.fixture
def fake_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from misbehaving import SECRET

    monkeypatch.setenv("FAKE_TARGET_SECRET", SECRET)


@pytest.mark.parametrize("dot", DOTS)
def test_the_run_refuses_production_spelt_with_other_full_stops_before_any_request(
    server: LoopbackServer, loopback_is_production: None, fake_secret: None, tmp_path: Path, dot: str
) -> None:
    code, out, err = run_at(server, tmp_path, dot)
    assert (code, out) == (2, "")
    assert err.startswith("error: refusing to run against production (127.0.0.1 is a production host)")
    assert server.received == [] and not (tmp_path / "reports").exists()


def test_the_client_refuses_production_even_when_the_run_guard_misses_it(
    server: LoopbackServer,
    loopback_is_production: None,
    fake_secret: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the run's guard out of the way, every request is still refused by the client: no verdict."""
    monkeypatch.setattr(runner, "production_target", lambda settings: None)
    code, _, err = run_at(server, tmp_path, DOTS[0])
    assert code == 3, err
    assert "a production host, without --confirm-production" in err
    assert server.received == []


def test_a_confirmed_run_reaches_the_production_stand_in(
    server: LoopbackServer, loopback_is_production: None, fake_secret: None, tmp_path: Path
) -> None:
    code, out, err = run_at(server, tmp_path, DOTS[2], "--confirm-production")
    assert code == 4, out + err  # a -k selection is never more than incomplete
    assert "production (confirmed)" in out
    assert server.received
