"""Running the reference target for real: the child process, the config it writes, ``serve`` and ``main``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from conformance.config import Overrides, load_settings
from conformance.reference.data import TENANT_A, TENANT_B
from conformance.reference.faults import UnknownFault
from conformance.reference.server import Endpoints, ReferenceServer, config_toml, main, reference_settings

SECRET_VARS = ("ENROLMENT_API_SECRET", "ENROLMENT_OTHER_API_SECRET")


def test_reference_server_serves_on_loopback_and_stops(tmp_path: Path) -> None:
    started = time.perf_counter()
    with ReferenceServer() as server:
        startup = time.perf_counter() - started
        pid = server.pid
        assert pid is not None
        fixture = server.fixtures.tenant[0]
        response = httpx.get(
            f"{server.base_url}/assignments/{fixture.assignment_id}/enrolments/{fixture.enrolment_id}",
            auth=(TENANT_A, server.secrets[TENANT_A]),
        )
        assert (response.status_code, response.json()["id"]) == (200, fixture.enrolment_id)
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/rest/v1")
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists():
            assert not any(secret.encode() in cmdline.read_bytes() for secret in server.secrets.values())

        config = tmp_path / "reference.toml"
        config.write_text(config_toml(server.endpoints, server.fixtures))
        loaded = load_settings(config, Overrides(), environ=server.environ)
        expected = reference_settings(server)
        for field in ("target", "tenant", "other_tenant", "fixtures", "other_tenant_fixtures"):
            assert getattr(loaded, field) == getattr(expected, field), field
    assert startup < 5, f"the reference target took {startup:.2f} s to start"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError):
        server.endpoints  # noqa: B018


def test_the_config_names_every_fixture_and_no_secret() -> None:
    server = ReferenceServer(
        ["missing-scheduled-enrolment"], secrets={TENANT_A: "s3cret-a", TENANT_B: "s3cret-b"}
    )
    assert server.environ == {"ENROLMENT_API_SECRET": "s3cret-a", "ENROLMENT_OTHER_API_SECRET": "s3cret-b"}
    text = config_toml(Endpoints.at("127.0.0.1", 8123), server.fixtures, server.faults)
    data = tomllib.loads(text)
    assert data["target"]["token_url"] == "http://127.0.0.1:8123/oauth2/token/{tenantId}"
    assert data["credentials"] == {
        "tenant_id": TENANT_A,
        "api_secret_env": "ENROLMENT_API_SECRET",
        "other_tenant": {"tenant_id": TENANT_B, "api_secret_env": "ENROLMENT_OTHER_API_SECRET"},
    }
    assert sorted(f["status"] for f in data["fixtures"]["enrolments"]) == [
        "archived",
        "complete",
        "open",
        "overdue",
    ]
    assert len(data["fixtures"]["other_tenant_enrolments"]) == 2
    assert "s3cret" not in text


def test_unknown_faults_are_refused_before_anything_starts() -> None:
    with pytest.raises(UnknownFault):
        ReferenceServer(["nope"])


def test_main_refuses_unknown_faults_and_missing_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--fault", "nope"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "'nope'" in lines[0] and "pretty-json" in lines[0]
    for name in SECRET_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    assert "ENROLMENT_API_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("secrets_set", [False, True])
def test_serve_prints_how_to_point_the_suite_at_it(tmp_path: Path, secrets_set: bool) -> None:
    config = tmp_path / "serve.toml"
    env = {key: value for key, value in os.environ.items() if key not in SECRET_VARS}
    if secrets_set:
        env |= {
            "ENROLMENT_API_SECRET": "exported-secret-a",
            "ENROLMENT_OTHER_API_SECRET": "exported-secret-b",
        }
    code = (
        "import pathlib, sys; from conformance.reference.server import serve; "
        "raise SystemExit(serve(0, ['pretty-json'], pathlib.Path(sys.argv[1])))"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(config)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:  # up to the last line of the banner (or EOF if the child died)
            lines.append(line)
            if line.startswith("stop with"):
                break
        output = "".join(lines)
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in output.splitlines()
            if "export " in line
        )
        settings = load_settings(config, Overrides(), environ=exports or env)
        fixture = settings.fixtures[0]
        response = httpx.get(
            f"{settings.target.base_url}/assignments/{fixture.assignment_id}/enrolments/{fixture.enrolment_id}",
            auth=(settings.tenant.tenant_id, settings.tenant.secret),
        )
        assert response.status_code == 200 and response.text.startswith("{\n")
    finally:
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    assert "pretty-json" in output and settings.target.base_url in output and TENANT_B in output
    if secrets_set:
        assert exports == {} and "exported-secret" not in output
    else:
        assert set(exports) == set(SECRET_VARS)
