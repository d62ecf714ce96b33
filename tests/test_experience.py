"""The run as people experience it (issue 11): live output, -q and -v, replaying failures, exact area
selection, the request estimate, the loopback rate, and the small things a user trips on.

The end-to-end tests run the real CLI in a subprocess against the bundled reference target or a
`serve`d one, loopback only (see misbehaving.guarded_env).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shlex
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from misbehaving import guarded_env, run_cli, served, write_config
from rich.console import Console

from conformance.catalogue import areas, load_catalogue, load_classes
from conformance.checks.status import check_fixtures_cover_every_status
from conformance.cli import Launch, UsageFailure, _rate, claimed_option
from conformance.client import REFERENCE_BACKOFF_BASE_S, ClientLimits
from conformance.config import Credentials, FixtureEnrolment, Settings, Target
from conformance.console import LINE_WIDTH, finding_label, finding_lines
from conformance.expect import CheckFailed
from conformance.plugin import EnrolmentRead
from conformance.progress import Progress
from conformance.results import CheckResult
from conformance.runner import RunOptions, open_client
from conformance.selection import SelectionError, area_selection, checked_ids

CLI = [sys.executable, "-m", "conformance"]
FAULTS = ("--fault", "wrong-secret-403", "--fault", "bearer-only-challenge")  # AUTH-003 MUST, AUTH-009 SHOULD
SECRETS = {"ENROLMENT_API_SECRET": "exp-secret-a-5f1c/+=", "ENROLMENT_OTHER_API_SECRET": "exp-secret-b-77d0"}


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=guarded_env(env),
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def outcomes(results: Path) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in json.loads(results.read_text())["requirements"]}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A core-class run of the reference target with a MUST and a SHOULD fault (no generation: fast)."""
    reports = tmp_path_factory.mktemp("faulty")
    return cli("run", *FAULTS, "--claim", "core", "--reports", str(reports)), reports


# --- live output ------------------------------------------------------------------------------------------


def test_live_output_off_a_terminal_is_plain_and_in_order(faulty: tuple) -> None:  # type: ignore[type-arg]
    proc, _ = faulty
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr  # never an escape sequence in a CI log
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("enrolment-conformance ") and "bundled reference implementation" in lines[0]
    assert lines[1].startswith("mode: ")
    assert lines[2] == "rate: no limit, because the bundled reference target is the suite's own"
    assert lines[3] == "claim: core (narrowed)"
    done = [i for i, line in enumerate(lines) if re.fullmatch(r"  [A-Z]+: \d+ check\(s\) done.*", line)]
    assert len(done) >= 5  # one line per area as it finishes
    streamed = next(i for i, line in enumerate(lines) if line.startswith("  FAIL  AUTH-003 (MUST)"))
    counts = next(i for i, line in enumerate(lines) if line.startswith("71 requirements:"))
    assert streamed < done[-1] < counts  # the failure is printed when found, before the run ends


def test_console_and_stderr_counts_agree(faulty: tuple) -> None:  # type: ignore[type-arg]
    proc, _ = faulty
    assert "2 failed (1 MUST, 1 SHOULD)" in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        "error: the target is not conformant: 1 MUST requirement(s) failed: AUTH-003 "
        "(and 1 SHOULD, a warning only without --strict)"
    ]


def test_quiet_prints_the_digest_and_verdict_only_and_area_is_exact(tmp_path: Path) -> None:
    proc = cli("run", "-q", *FAULTS, "--area", "auth", "--reports", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    digest = hashlib.sha256((tmp_path / "results.json").read_bytes()).hexdigest()
    assert proc.stdout.splitlines() == [f"results.json sha256: {digest}", "verdict: FAIL: non-conformant"]
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
    found = outcomes(tmp_path / "results.json")
    assert found["AUTH-003"] == "failed" and found["AUTH-001"] == "passed"
    assert {found[i] for i in found if i.startswith("OAUTH-")} == {"skipped"}  # AUTH never selects OAUTH
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["select"] == "--area AUTH" and results["verdict"] == "fail"


def test_verbose_shows_each_request_masked(tmp_path: Path) -> None:
    proc = cli("run", "-v", "--area", "AUTH", "--reports", str(tmp_path), env=SECRETS)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # a selection: at best incomplete
    sent = [line for line in proc.stdout.splitlines() if line.startswith("  > ")]
    for line in sent:
        assert re.fullmatch(r"  > (GET|HEAD|POST) /\S* (\d{3}|no answer \(.*\)) \d+ ms", line), line
    assert len(sent) == json.loads((tmp_path / "results.json").read_text())["requests"]["total"]
    assert any(line.startswith("  > GET /rest/v1/assignments/") for line in sent)
    for secret in SECRETS.values():
        assert secret not in proc.stdout


def test_progress_on_a_terminal_is_a_rich_display_and_off_it_plain_lines() -> None:
    item = SimpleNamespace(get_closest_marker=lambda name: SimpleNamespace(kwargs={"id": "AUTH-003"}))
    failure = CheckResult("check_wrong_secret", "AUTH-003", "failed", "expected 401, received 403 " * 12)
    screen = io.StringIO()
    on_terminal = Progress(print, console=Console(file=screen, force_terminal=True, width=80))
    plain: list[str] = []
    off_terminal = Progress(plain.append, console=Console(file=io.StringIO(), force_terminal=False))
    for progress in (on_terminal, off_terminal):
        progress.pytest_collection_finish(SimpleNamespace(items=[item, item]))  # type: ignore[arg-type]
        progress.check_finished(failure)
        progress.check_finished(CheckResult("check_wrong_secret", "AUTH-003", "passed"))
        progress.pytest_sessionfinish()
    assert "\x1b[" in screen.getvalue() and "AUTH-003" in screen.getvalue()
    assert plain[0].startswith("  FAIL  AUTH-003 (MUST) check_wrong_secret: expected 401, received 403 ")
    assert plain[1].startswith("        ")  # wrapped, indented under the label
    assert plain[-1].startswith("  AUTH: 2 check(s) done (1 of them failed or errored)")
    assert not any("\x1b" in line for line in plain)


@pytest.mark.parametrize(
    ("outcome", "level", "strict", "label"),
    [
        ("failed", "MUST", False, "FAIL"),
        ("failed", "SHOULD", False, "WARN"),
        ("failed", "SHOULD", True, "FAIL"),
        ("error", "SHOULD", False, "ERROR"),
    ],
)
def test_a_finding_is_labelled_alike_live_and_in_the_summary(
    outcome: str, level: str, strict: bool, label: str
) -> None:
    assert finding_label(outcome, level, strict=strict) == label
    plain: list[str] = []
    progress = Progress(plain.append, strict=strict)
    requirement = next(req.id for req in load_catalogue().values() if req.level == level)
    progress.check_finished(CheckResult("check_x", requirement, outcome, "why"))  # type: ignore[arg-type]
    assert plain[0].startswith(f"  {label:5} {requirement} ({level}) check_x: why")


def test_failure_lines_wrap_and_never_cut_the_message() -> None:
    message = " ".join(f"word{n}" for n in range(120))
    lines = finding_lines("FAIL", "STATUS-005", "MUST", message)
    assert all(len(line) <= LINE_WIDTH for line in lines) and len(lines) > 3
    assert " ".join(" ".join(lines).split()[3:]) == message


# --- replay ------------------------------------------------------------------------------------------------


def test_rerun_replays_only_the_failures_of_a_saved_run(faulty: tuple) -> None:  # type: ignore[type-arg]
    _, reports = faulty
    proc = cli("rerun", str(reports / "results.json"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "selection: rerun of 2 failed or errored requirement(s): AUTH-003, AUTH-009" in proc.stdout
    rerun = json.loads((reports / "rerun" / "results.json").read_text())
    ran = {r["id"]: r["outcome"] for r in rerun["requirements"] if r["checks"]}
    assert ran == {"AUTH-003": "failed", "AUTH-009": "failed"}
    assert rerun["reference_faults"] == ["wrong-secret-403", "bearer-only-challenge"]
    assert rerun["select"].startswith("rerun of 2") and rerun["claim"] == ["core"]


def test_rerun_only_one_requirement_is_at_best_incomplete(faulty: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, reports = faulty
    proc = cli("rerun", str(reports / "results.json"), "--only", "AUTH-001", "--reports", str(tmp_path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: a selection (--only AUTH-001) verifies no class in full")
    assert outcomes(tmp_path / "results.json")["AUTH-001"] == "passed"


def test_the_rerun_command_the_report_prints_is_real(faulty: tuple) -> None:  # type: ignore[type-arg]
    _, reports = faulty
    html = (reports / "report.html").read_text()
    command = re.search(r"enrolment-conformance rerun [^<]*--only AUTH-003", html)
    assert command is not None
    args = shlex.split(command.group(0))[1:]
    proc = cli(*args, cwd=reports)  # "in this report's folder", as the report says
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert outcomes(reports / "rerun" / "results.json")["AUTH-003"] == "failed"


def test_run_last_failed_reads_the_saved_run_and_takes_no_target_flags(faulty: tuple) -> None:  # type: ignore[type-arg]
    _, reports = faulty
    proc = cli("run", "--last-failed", "-q", "--reports", str(reports))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert outcomes(reports / "rerun" / "results.json")["AUTH-003"] == "failed"
    refused = cli("run", "--last-failed", "--reports", str(reports), "--base-url", "http://127.0.0.1:9/x")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --last-failed re-runs the saved run with its own settings: drop")


def test_rerun_of_a_run_without_failures_says_there_is_nothing(faulty: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, reports = faulty
    saved = json.loads((reports / "results.json").read_text())
    for requirement in saved["requirements"]:
        requirement["outcome"] = "passed"
    (tmp_path / "results.json").write_text(json.dumps(saved))
    proc = cli("rerun", str(tmp_path / "results.json"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: nothing to re-run:") and "Traceback" not in proc.stderr
    unknown = cli("rerun", str(tmp_path / "results.json"), "--only", "AUTH-03")
    assert unknown.returncode == 2 and "did you mean AUTH-003" in unknown.stderr


def test_an_unknown_name_gets_its_close_matches_and_the_known_names_or_where_they_are_listed() -> None:
    with pytest.raises(SelectionError) as only:
        checked_ids(["AUTH-03"])
    assert "did you mean AUTH-003" in str(only.value)
    assert str(only.value).endswith(" (`enrolment-conformance requirements` lists them)")  # too many to list
    with pytest.raises(SelectionError) as area:
        area_selection(["AUTHS"])
    assert str(area.value).endswith(f" (known: {', '.join(areas())})")
    with pytest.raises(UsageFailure) as claim:
        claimed_option("cor")
    assert str(claim.value).endswith(f"; did you mean core? (known: {', '.join(load_classes())})")


def test_rerun_against_a_served_target_fetches_its_token_again(tmp_path: Path) -> None:
    config = tmp_path / "served.toml"
    with served(config, "read-scope-refused", env=SECRETS):
        first = cli(
            "run",
            "--config",
            str(config),
            "--claim",
            "core,oauth",
            "--reports",
            str(tmp_path / "a"),
            env=SECRETS,
        )
        assert first.returncode == 1, first.stdout + first.stderr
        assert "rate: no limit, because the target is on loopback" in first.stdout
        missing = cli("rerun", str(tmp_path / "a" / "results.json"))
        assert missing.returncode == 2 and "ENROLMENT_API_SECRET" in missing.stderr  # secrets from env only
        proc = cli("rerun", str(tmp_path / "a" / "results.json"), env=SECRETS)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rerun = json.loads((tmp_path / "a" / "rerun" / "results.json").read_text())
    failed = {r["id"] for r in rerun["requirements"] if r["outcome"] == "failed"}
    first_failed = {
        i for i, outcome in outcomes(tmp_path / "a" / "results.json").items() if outcome == "failed"
    }
    assert "SCOPE-001" in failed and failed == first_failed
    assert rerun["tokens"]["requests"] >= 1
    assert (
        rerun["target"]["base_url"]
        == json.loads((tmp_path / "a" / "results.json").read_text())["target"]["base_url"]
    )


# --- rate and request estimate ---------------------------------------------------------------------------


def settings_for(base_url: str) -> Settings:
    return Settings(target=Target(base_url), tenant=Credentials("eu-west-2_T", "s", "ENV"))


@pytest.mark.parametrize("reference", [True, False])
def test_the_client_backs_off_from_the_bundled_reference_target_only_briefly(reference: bool) -> None:
    settings = replace(settings_for("http://127.0.0.1:8000/rest/v1"), reference=reference)
    with open_client(settings, RunOptions()) as client:
        expected = REFERENCE_BACKOFF_BASE_S if reference else ClientLimits().backoff_base_s
        assert client.limits.backoff_base_s == expected


@pytest.mark.parametrize(
    ("base_url", "max_rps"),
    [
        ("http://127.0.0.1:8000/rest/v1", None),
        ("http://127.9.9.9:8000/rest/v1", None),
        ("http://localhost:8000/rest/v1", None),
        ("http://[::1]:8000/rest/v1", None),
        ("https://api.example.test/rest/v1", 20.0),
    ],
)
def test_loopback_targets_get_no_rate_limit_by_default(base_url: str, max_rps: float | None) -> None:
    rps, why = _rate(Launch(), settings_for(base_url))
    assert rps == max_rps
    assert ("loopback" in why) == (max_rps is None)
    assert _rate(Launch(max_rps=5), settings_for(base_url))[0] == 5  # --max-rps always wins
    assert _rate(Launch(max_rps=0), settings_for(base_url))[0] is None


def test_max_examples_that_would_spend_the_budget_is_refused_with_the_numbers(tmp_path: Path) -> None:
    proc = cli("run", "--max-examples", "600", "--reports", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert line.startswith(
        "error: --max-examples 600 would spend the request budget: the run would send up to"
    )
    assert "--max-requests is 2000" in line and "lower --max-examples to" in line
    assert not (tmp_path / "results.json").exists()


# --- small things -----------------------------------------------------------------------------------------


def test_strict_lists_a_failed_should_as_a_failure_only(tmp_path: Path) -> None:
    proc = cli("run", *FAULTS, "--area", "AUTH", "--strict", "--reports", str(tmp_path))
    assert proc.returncode == 1
    assert "  FAIL  AUTH-009 (SHOULD)" in proc.stdout and "warning:" not in proc.stdout
    html = (tmp_path / "report.html").read_text()
    assert 'id="should-warnings"' not in html and 'id="warnings"' not in html


def test_did_you_mean_never_suggests_a_refused_secret_flag() -> None:
    proc = cli("run", "--api-secre", "x")
    assert proc.returncode == 2
    assert "--api-secret" not in proc.stderr and "--secret" not in proc.stderr


def test_serve_on_a_busy_port_is_an_error_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = cli("serve", "--port", str(busy.getsockname()[1]))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot listen on 127.0.0.1:")


def test_an_unreachable_target_counts_errors_not_skips(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(
        tmp_path, f"http://127.0.0.1:{port}/rest/v1", f"http://127.0.0.1:{port}/t/{{tenantId}}"
    )
    run = run_cli("--config", str(config), reports=tmp_path / "r")
    assert run.returncode == 3, run.stdout + run.stderr
    counts = run.results()["counts"]
    assert counts["error"] > 60 and counts["skipped"] < 10, counts
    assert f"{counts['error']} error" in run.stdout


def test_diff_of_a_full_and_a_partial_run_says_so(faulty: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, reports = faulty
    partial = cli("run", "-q", *FAULTS, "--area", "ERR", "--claim", "core", "--reports", str(tmp_path))
    assert partial.returncode == 4
    proc = cli("diff", str(reports / "results.json"), str(tmp_path / "results.json"))
    assert (
        f"note: the new run ({tmp_path / 'results.json'}) was partial, a selection (--area ERR)"
        in proc.stdout
    )
    assert "requirement(s) a partial run did not select are left out of the comparison" in proc.stdout
    assert "other changes: 0 (none)" in proc.stdout  # "failed -> not selected" is no change


def test_status_008_names_observed_and_never_observed_statuses_apart() -> None:
    def read(status: str) -> EnrolmentRead:
        fixture = FixtureEnrolment("a" * 24, "b" * 24)
        return EnrolmentRead(fixture, httpx.Response(200), {"status": status})

    with pytest.raises(CheckFailed) as failure:
        check_fixtures_cover_every_status([read("open"), read("complete")])
    message = str(failure.value)
    assert "(observed: complete, open; never observed: " in message
    assert "never observed: " in message and "archived" in message.split("never observed: ")[1]
