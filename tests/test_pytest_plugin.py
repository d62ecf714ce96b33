"""The pytest plugin: ``pytest --pyargs conformance.checks --conformance-config FILE`` in a user's session.

Each test runs pytest in a subprocess, as a team would, against the reference
target on loopback (started with fixed secrets, so outputs can be searched for
them), and reads the exit status and results.json the session writes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from misbehaving import GUARD_DIR

from conformance.reference.server import TENANT_A, TENANT_B, Endpoints, Fixtures, ReferenceServer, config_toml

SECRETS = {TENANT_A: "plugin-secret-A-0123456789", TENANT_B: "plugin-secret-B-9876543210"}


def run_pytest(
    tmp_path: Path, config: Path, *args: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """pytest over the checks with the plugin, from tmp_path; the process and its results.json."""
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance.checks"]
    command += ["--conformance-config", str(config), "--conformance-reports", str(reports)]
    command += ["--conformance-max-rps", "0", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ENROLMENT_"))}
    env = {**clean, **env, "PYTHONPATH": str(GUARD_DIR)}  # loopback only
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    results = reports / "results.json"
    return proc, json.loads(results.read_text()) if results.exists() else {}


def write_config(tmp_path: Path, endpoints: Endpoints, faults: tuple[str, ...] = ()) -> Path:
    config = tmp_path / "target.toml"
    config.write_text(config_toml(endpoints, Fixtures.of(faults), faults))
    return config


@pytest.fixture(scope="module")
def target() -> Iterator[ReferenceServer]:
    with ReferenceServer(secrets=SECRETS) as server:
        yield server


@pytest.fixture(scope="module")
def should_fault() -> Iterator[ReferenceServer]:
    """A target whose only fault breaks a SHOULD (AUTH-009: the 401 challenge offers Bearer only)."""
    with ReferenceServer(faults=["bearer-only-challenge"], secrets=SECRETS) as server:
        yield server


def test_xdist_and_html_session_passes_with_the_cli_reports(tmp_path: Path, target: ReferenceServer) -> None:
    config = write_config(tmp_path, target.endpoints)
    args = ["-n", "2", "--dist", "loadfile", "--junitxml", str(tmp_path / "pytest.xml")]
    args += ["--html", str(tmp_path / "pytest.html")]  # pytest-html, a test extra
    args.append("--conformance-allow-unsafe-methods")
    proc, results = run_pytest(tmp_path, config, *args, env=target.environ)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert results["verdict"] == "pass"
    assert "verdict: PASS: conformant" in proc.stdout
    assert {"junit.xml", "report.html", "results.json"} <= {p.name for p in (tmp_path / "reports").iterdir()}
    checks = [check for req in results["requirements"] for check in req["checks"]]
    assert len(checks) > 200 and not [c["name"] for c in checks if c["outcome"] in ("failed", "error")]
    # both workers' requests and tokens are counted; the budget was shared between them
    assert results["requests"]["total"] > 400 and results["tokens"]["requests"] >= 7
    assert results["mode"]["max_requests"] == 2000
    junit = (tmp_path / "pytest.xml").read_text()
    assert 'name="requirement" value="AUTH-003"' in junit
    written = [proc.stdout, proc.stderr, junit, (tmp_path / "pytest.html").read_text()]
    written += [path.read_text() for path in (tmp_path / "reports").iterdir()]
    assert not [secret for secret in SECRETS.values() for text in written if secret in text]


def test_a_failed_should_is_a_warning_unless_strict(tmp_path: Path, should_fault: ReferenceServer) -> None:
    config = write_config(tmp_path, should_fault.endpoints, ("bearer-only-challenge",))
    area = ["-m", 'area(id="AUTH")', "-rx"]
    proc, results = run_pytest(tmp_path, config, *area, env=should_fault.environ)
    # a selection is at best incomplete (4); the SHOULD failure is an xfail, not a pytest failure
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert results["verdict"] == "incomplete" and results["select"] == '-m area(id="AUTH")'
    assert results["verdict_reason"].startswith('a selection (-m area(id="AUTH")) verifies no class')
    assert "XFAIL" in proc.stdout and "AUTH-009 (SHOULD) failed" in proc.stdout
    assert any(w.startswith("AUTH-009 (SHOULD) failed") for w in results["warnings"])
    ran = {req["id"] for req in results["requirements"] if req["checks"]}
    assert ran and all(req_id.startswith("AUTH-") for req_id in ran)

    strict, results = run_pytest(tmp_path, config, *area, "--conformance-strict", env=should_fault.environ)
    assert strict.returncode == 1, strict.stdout[-3000:]
    assert results["verdict"] == "fail" and "AUTH-009" in results["verdict_reason"]
    assert "FAILURES" in strict.stdout and "1 failed" in strict.stdout  # pytest's failure text, masked
    outputs = proc.stdout + proc.stderr + strict.stdout + strict.stderr
    assert not [secret for secret in SECRETS.values() if secret in outputs]


def test_the_request_budget_holds_across_workers(tmp_path: Path, target: ReferenceServer) -> None:
    config = write_config(tmp_path, target.endpoints)
    budget = ["--conformance-max-requests", "41", "-m", 'area(id="AUTH") or area(id="ERR")']
    proc, results = run_pytest(tmp_path, config, "-n", "2", *budget, env=target.environ)
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]
    # the controller's preflight and 20 requests per worker at most
    assert results["requests"]["total"] <= 41 and results["limits_hit"]["budget_spent"]
    assert results["mode"]["max_requests"] == 41


def test_collect_only_lists_the_checks_and_sends_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, Endpoints.at("127.0.0.1", 9))  # nothing may be sent
    env = {"ENROLMENT_API_SECRET": "x" * 24, "ENROLMENT_OTHER_API_SECRET": "y" * 24}
    proc, results = run_pytest(tmp_path, config, "--collect-only", "-q", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "auth.py::check_" in proc.stdout and results == {}


def test_a_failed_must_fails_the_session(tmp_path: Path) -> None:
    faults = ("broken-status-chain",)
    with ReferenceServer(faults=faults, secrets=SECRETS) as server:
        config = write_config(tmp_path, server.endpoints, faults)
        proc, results = run_pytest(tmp_path, config, "-q", "-m", 'area(id="STATUS")', env=server.environ)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert results["verdict"] == "fail" and "STATUS-005" in results["verdict_reason"]


def test_an_unreachable_target_is_exit_3_with_reports(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(tmp_path, Endpoints.at("127.0.0.1", port))
    env = {"ENROLMENT_API_SECRET": "x" * 24, "ENROLMENT_OTHER_API_SECRET": "y" * 24}
    proc, results = run_pytest(tmp_path, config, env=env)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert results["verdict"] == "error" and "cannot reach the target" in results["error"]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_bad_config_is_exit_2_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[target]\nbase_url = "http://127.0.0.1:9/rest/v1"\nbsae = 1\n')
    proc, results = run_pytest(tmp_path, config, env={})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "conformance: config file" in proc.stderr and "Traceback" not in proc.stderr
    assert results == {}


def test_the_plugin_is_inert_without_its_option(tmp_path: Path) -> None:
    own = "def test_own():\n    assert True\n\n\ndef check_not_a_test():\n    raise AssertionError\n"
    (tmp_path / "test_own.py").write_text(own)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_own.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "enrolment-conformance" not in proc.stdout and not (tmp_path / "reports").exists()
