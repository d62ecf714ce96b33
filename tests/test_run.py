"""End to end: the `run` command against the bundled reference target, and its three reports.

These run the real console script in a subprocess, exactly as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from misbehaving import served

CLI = [sys.executable, "-m", "conformance"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path_factory.mktemp("clean")
    return run_cli("run", "--reports", str(reports), "--max-examples", "20"), reports


def test_clean_reference_run_passes(clean_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, reports = clean_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout
    result = json.loads((reports / "results.json").read_text())
    assert result["verdict"] == "pass"
    failed = [r["id"] for r in result["requirements"] if r["outcome"] in ("failed", "error")]
    assert failed == []


def test_reports_agree_with_each_other(clean_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, reports = clean_run
    result = json.loads((reports / "results.json").read_text())
    for key in ("verdict", "suite_version", "spec_sha256", "target", "started_at", "finished_at", "counts"):
        assert key in result
    assert all({"id", "title", "level", "outcome", "messages"} <= set(r) for r in result["requirements"])

    suites = ET.parse(reports / "junit.xml").getroot()
    cases = suites.findall(".//testcase")
    checks = [c for r in result["requirements"] for c in r["checks"]]
    no_check = [r for r in result["requirements"] if not r["checks"]]
    assert len(cases) == len(checks) + len(no_check)
    junit_ids = Counter(case.get("name", "").split(" ", 1)[0] for case in cases)
    json_ids = Counter(c["requirement"] for c in checks) + Counter(r["id"] for r in no_check)
    assert junit_ids == json_ids
    assert int(suites.get("failures", "0")) == 0

    html = (reports / "report.html").read_text()
    assert html.index("PASS") < html.index(result["requirements"][0]["id"])
    for requirement in result["requirements"]:
        assert requirement["id"] in html
    assert result["spec_sha256"] in html


def test_run_with_a_fault_fails_and_names_the_requirement(tmp_path: Path) -> None:
    proc = run_cli("run", "--fault", "wrong-secret-403", "--reports", str(tmp_path), "-k", "AUTH-")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "AUTH-003" in proc.stderr.strip().splitlines()[-1]
    result = json.loads((tmp_path / "results.json").read_text())
    assert {r["id"]: r["outcome"] for r in result["requirements"]}["AUTH-003"] == "failed"
    assert "AUTH-003" in (tmp_path / "report.html").read_text()


def test_missing_secret_variable_exits_2_naming_it(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ENROLMENT_API_SECRET"}
    proc = subprocess.run(
        [*CLI, "run", "--base-url", "http://127.0.0.1:9/rest/v1", "--tenant-id", "eu-west-2_X"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: environment variable ENROLMENT_API_SECRET (credentials.api_secret_env) is not set: "
        "export the API secret in it"
    ]


def test_serve_with_a_fault_then_run_against_its_config(tmp_path: Path) -> None:
    """The vendor path: a standalone server, a written config, and run --config against it."""
    config = tmp_path / "conformance.toml"
    secrets = {
        "ENROLMENT_API_SECRET": "serve-secret-a-123",
        "ENROLMENT_OTHER_API_SECRET": "serve-secret-b-456",
    }
    with served(config, "wrong-secret-403", env=secrets):
        proc = run_cli(
            "run", "--config", str(config), "--reports", str(tmp_path / "r"), "-k", "AUTH-", env=secrets
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "AUTH-003" in proc.stdout
