"""Issue 9's table, row by row, run as a user would: the CLI in a subprocess, signals sent to it.

| what was done                                          | what the suite must say                          |
|--------------------------------------------------------|--------------------------------------------------|
| SIGINT / SIGTERM during `run --config` against `serve` | interrupted (130 / 143, verdict error), reports  |
| `run -k ERR-003`                                       | incomplete (exit 4): a selection proves nothing  |
| a config without `token_url` (Basic only)              | incomplete (exit 4): the oauth class not verified |
| a target throttling 1 request in 4, `Retry-After: 1`   | the verdict, a little later                      |
| `--reports` naming an existing file                    | exit 2 before the first request                  |
| `run --fault bogus`                                    | exit 2, with close matches                       |

Every target is on loopback; the CLI runs with the loopback guard (misbehaving.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from misbehaving import CLI, FakeTarget, LoopbackServer, guarded_env, run_cli, write_config
from misbehaving import served as serving

from conformance.reference.server import ReferenceServer, config_toml

SECRETS = {
    "ENROLMENT_API_SECRET": "verdict-secret-a-0123",
    "ENROLMENT_OTHER_API_SECRET": "verdict-secret-b-4567",
}
REPORTS = ("results.json", "junit.xml", "report.html")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`enrolment-conformance serve --fault broken-status-chain --write-config FILE`, running; yields FILE."""
    config = tmp_path_factory.mktemp("serve") / "cfg.toml"
    with serving(config, "broken-status-chain", env=SECRETS):
        yield config


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_a_signal_interrupts_the_run_never_a_pass(
    served: Path, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    reports = tmp_path / "reports"
    # 20 requests/s (a loopback target is not rate-limited by default): a full run takes about 25 s
    command = [*CLI, "run", "--config", str(served), "--reports", str(reports), "--max-rps", "20"]
    run = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=guarded_env(SECRETS)
    )
    assert run.stdout is not None
    header = [run.stdout.readline() for _ in range(3)]  # printed once the run is usable, before any request
    while not header[-1].startswith("claim:") and header[-1] and len(header) < 10:
        header.append(run.stdout.readline())
    assert header[-1].startswith("claim:"), header
    time.sleep(4)  # well into the checks (after collection), far from their end
    signalled = time.monotonic()
    run.send_signal(signum)
    stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == code, stdout + stderr
    assert time.monotonic() - signalled < 10  # stops within a second, then writes the reports
    assert "Traceback" not in stdout + stderr
    assert f"interrupted by {signum.name}" in stdout.strip().splitlines()[-1]
    assert "PASS" not in stdout
    result = json.loads((reports / "results.json").read_text())
    assert (result["verdict"], result["interrupted"]) == ("error", signum.name)
    assert sum(1 for req in result["requirements"] if req["outcome"] == "passed") > 0  # as far as it got
    assert all((reports / name).is_file() for name in REPORTS)
    assert "Interrupted" in (reports / "report.html").read_text()
    assert "interrupted" in (reports / "junit.xml").read_text()


def test_a_k_selection_is_at_best_incomplete(tmp_path: Path) -> None:
    run = run_cli("-k", "ERR-003", reports=tmp_path / "reports")
    assert run.returncode == 4, run.stdout + run.stderr
    assert run.results()["verdict"] == "incomplete"
    assert run.stdout.strip().splitlines()[-1].startswith("verdict: INCOMPLETE")
    assert "PASS" not in run.stdout
    assert run.outcomes()["ERR-003"] == "passed"


def reference_config(server: ReferenceServer, path: Path, *, token_urls: bool = True) -> Path:
    """The config `serve --write-config` writes for this server, without the token URLs if told so."""
    lines = config_toml(server.endpoints, server.fixtures, server.faults).splitlines()
    path.write_text("\n".join(line for line in lines if token_urls or "token_url" not in line) + "\n")
    return path


def test_a_basic_only_config_is_conformant_to_what_was_verified_and_not_more(tmp_path: Path) -> None:
    with ReferenceServer() as server:
        config = reference_config(server, tmp_path / "basic-only.toml", token_urls=False)
        args = ("--config", str(config), "--allow-unsafe-methods", "--max-rps", "0", "--max-examples", "10")
        run = run_cli(*args, reports=tmp_path / "r", env=server.environ)
    assert run.returncode == 4, run.stdout + run.stderr
    assert run.results()["verdict"] == "incomplete" and "PASS" not in run.stdout
    classes = {cls["id"]: cls for cls in run.results()["classes"]}
    assert classes["oauth"]["status"] == "not verified" and "target.token_url" in classes["oauth"]["needs"]
    assert {name: cls["status"] for name, cls in classes.items() if name != "oauth"} == dict.fromkeys(
        ("core", "isolation", "methods", "generated"), "conformant"
    )


def test_a_target_throttling_one_request_in_four_with_one_second_waits_gets_its_verdict(
    tmp_path: Path,
) -> None:
    """Every 4th API request and every 4th token request gets 429 with Retry-After: 1. The oauth claim
    (API reads with bearer tokens, and the token endpoint) keeps the run to about 25 s."""
    faults = ["throttled-api-429", "throttled-token-429"]
    with ReferenceServer(faults=faults, retry_after="1") as server:
        config = reference_config(server, tmp_path / "cfg.toml")
        args = ("--config", str(config), "--claim", "oauth")
        run = run_cli(*args, reports=tmp_path / "r", env=server.environ, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.results()
    assert result["verdict"] == "pass"
    throttling = result["throttling"]
    assert throttling["by_status"]["429"] >= result["requests"]["total"] // 4 - 2  # 1 in 4 of each surface
    assert throttling["wait_s"] >= throttling["responses"] - 0.01  # each Retry-After: 1 waited out
    assert throttling["lowest_rps"] is not None  # the run, unlimited on loopback, slowed down
    assert f"({throttling['responses']} throttled, {throttling['wait_s']:g} s waited)" in run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith("verdict: PASS")
    assert run.seconds < 60, run.seconds


def test_reports_naming_a_file_is_a_usage_error_before_any_request(tmp_path: Path) -> None:
    taken = tmp_path / "reports.txt"
    taken.write_text("not a folder")
    with LoopbackServer(FakeTarget()) as server:
        config = write_config(
            tmp_path, f"{server.origin}/rest/v1", f"{server.origin}/oauth2/token/{{tenantId}}"
        )
        run = run_cli("--config", str(config), reports=taken)
        assert server.received == []  # not one request
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: --reports {taken} is a file, not a folder: name a folder for the reports"
    ]
    assert taken.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("name", "hint"),
    [("bogus", "faults` lists them"), ("broken-status-chian", "did you mean broken-status-chain")],
)
def test_an_unknown_fault_is_a_usage_error(tmp_path: Path, name: str, hint: str) -> None:
    run = run_cli("--fault", name, reports=tmp_path / "reports")
    assert run.returncode == 2, run.stdout + run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"error: unknown fault {name!r}") and hint in line
    assert not (tmp_path / "reports").exists()
