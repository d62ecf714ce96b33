"""Baselines: reading and checking the file, applying it to a run, writing it, and the CI gate end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_reports import JUNIT_10_XSDS, XSD, a_requirement, a_run, cases_of, properties_of

from conformance.baseline import (
    Baseline,
    BaselineEntry,
    BaselineError,
    apply_baseline,
    gate_of,
    load_baseline,
    parse_baseline,
    render_baseline,
    summary_lines,
    target_key,
    written_baseline,
)
from conformance.reports import render_json
from conformance.reports.html import render_html
from conformance.reports.junit import render_junit
from conformance.results import CheckResult, RequirementResult, RunResult
from conformance.toml_text import toml_string

TARGET = "https://api.example.test"  # the base_url of test_reports.a_run()
TODAY = date(2026, 3, 1)
KNOWN = {"AUTH-001", "AUTH-003", "AUTH-009", "OAUTH-001", "SCOPE-001", "STATUS-001", "STATUS-005"}


def failed(req_id: str, level: str = "MUST") -> RequirementResult:
    check = CheckResult(
        f"check_{req_id}", req_id, "failed", message=f"{req_id} broke\nevidence", duration_s=0.1
    )
    return a_requirement(req_id, level, [check])


def passed(req_id: str, level: str = "MUST") -> RequirementResult:
    return a_requirement(req_id, level, [CheckResult(f"check_{req_id}", req_id, "passed")])


def errored(req_id: str) -> RequirementResult:
    return a_requirement(req_id, "MUST", [CheckResult(f"check_{req_id}", req_id, "error", message="timeout")])


def unrun(req_id: str) -> RequirementResult:
    return a_requirement(req_id, "MUST", [])


def baseline_of(*entries: BaselineEntry) -> Baseline:
    return Baseline(tuple(entries), "baseline.toml", "ef" * 32)


def accept(req_id: str, target: str = TARGET, expires: date | None = None) -> BaselineEntry:
    return BaselineEntry(req_id, target, f"known: {req_id}", expires)


def status_of(result: RunResult, req_id: str) -> str | None:
    req = next(r for r in result.requirements if r.id == req_id)
    return (req.baseline or {}).get("status")


# --- the file ------------------------------------------------------------------

GOOD = """
[[accepted]]
requirement = "AUTH-003"
target = "https://api.example.test/"
reason = "403 instead of 401: PLAT-1234"
expires = 2027-01-31

[[accepted]]
requirement = "STATUS-005"
target = "*"
reason = "chain bug, all environments"

[[accepted]]
requirement = "AUTH-009"
target = "reference"
reason = "the reference target's fault"
"""


def test_a_good_baseline_parses() -> None:
    entries = parse_baseline(GOOD, "b.toml", KNOWN)
    assert entries == (
        BaselineEntry(
            "AUTH-003", "https://api.example.test/", "403 instead of 401: PLAT-1234", date(2027, 1, 31)
        ),
        BaselineEntry("STATUS-005", "*", "chain bug, all environments"),
        BaselineEntry("AUTH-009", "reference", "the reference target's fault"),
    )
    assert parse_baseline("", "empty.toml", KNOWN) == ()


def test_load_baseline_checks_ids_against_the_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(GOOD, encoding="utf-8")
    baseline = load_baseline(path)  # the real catalogue knows all three
    assert len(baseline.entries) == 3 and len(baseline.sha256) == 64
    path.write_text(GOOD.replace("AUTH-009", "AUTH-999"), encoding="utf-8")
    with pytest.raises(BaselineError, match="unknown requirement 'AUTH-999'"):
        load_baseline(path)


ENTRY = '[[accepted]]\nrequirement = "AUTH-003"\ntarget = "*"\nreason = "r"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[accepted]\nrequirement = 1", "baseline file b.toml is not valid TOML: "),
        (
            '[accepted]\nrequirement = "AUTH-003"',
            "accepted must be an array of tables ([[accepted]] entries), got a table",
        ),
        ('ignore = ["AUTH-003"]', "unknown key ignore (known: accepted)"),
        ('acepted = ["AUTH-003"]', "unknown key acepted: did you mean accepted? (known: accepted)"),
        ('[[accepted]]\nrequirement = "AUTH-003"\ntarget = "*"', "accepted[0].reason is missing"),
        (
            '[[accepted]]\nrequirement = "AUTH-003"\ntarget = "*"\nreason = "  "',
            "accepted[0].reason must be a non-empty string, got '  '",
        ),
        (
            '[[accepted]]\nrequirement = "AUTH-003"\ntarget = "*"\nreason = 3',
            "accepted[0].reason must be a non-empty string, got 3",
        ),
        (
            '[[accepted]]\nrequirement = "auth-3"\ntarget = "*"\nreason = "r"',
            "accepted[0].requirement must be a requirement ID such as AUTH-003, got 'auth-3'",
        ),
        (
            '[[accepted]]\nrequirement = "AUTH-004"\ntarget = "*"\nreason = "r"',
            "accepted[0].requirement: unknown requirement 'AUTH-004' "
            "(`enrolment-conformance requirements` lists them)",
        ),
        (
            '[[accepted]]\nrequirement = "AUTH-003"\ntarget = "staging"\nreason = "r"',
            "accepted[0].target must be the API base URL (results.json target.base_url), 'reference' or '*', "
            "got 'staging'",
        ),
        (
            ENTRY + 'reasons = "x"',
            "unknown key accepted[0].reasons: did you mean accepted[0].reason? "
            "(known: expires, reason, requirement, target)",
        ),
        (
            ENTRY + 'expires = "2027-01-31"',
            "accepted[0].expires must be a TOML date such as 2027-01-31 (no quotes), got '2027-01-31'",
        ),
        (
            ENTRY + "expires = 2027-01-31T09:00:00",
            "accepted[0].expires must be a TOML date such as 2027-01-31 (no quotes), got 2027-01-31T09:00:00",
        ),
        (
            '[[accepted]]\nrequirement = "AUTH-003"\ntarget = "http://x/"\nreason = "r"\n'
            '[[accepted]]\nrequirement = "AUTH-003"\ntarget = "http://x"\nreason = "s"',
            "accepted[1] repeats accepted[0] (AUTH-003 on http://x)",
        ),
    ],
)
def test_a_bad_baseline_is_one_line_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(BaselineError) as info:
        parse_baseline(text, "b.toml", KNOWN)
    assert str(info.value).startswith("baseline file b.toml"), info.value
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_padded_values_are_read_stripped() -> None:
    text = '[[accepted]]\nrequirement = " AUTH-003 "\ntarget = " * "\nreason = " r "'
    assert parse_baseline(text, "b.toml", KNOWN) == (BaselineEntry("AUTH-003", "*", "r"),)


def test_an_unreadable_baseline_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="does not exist"):
        load_baseline(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b"# caf\xe9\n")
    with pytest.raises(BaselineError, match="not UTF-8"):
        load_baseline(tmp_path / "latin1.toml")


# --- applying ------------------------------------------------------------------


def test_failures_are_marked_new_accepted_or_expired() -> None:
    result = a_run([failed("AUTH-003"), failed("STATUS-001"), failed("STATUS-005"), passed("AUTH-001")])
    baseline = baseline_of(
        accept("AUTH-003", expires=TODAY), accept("STATUS-005", expires=TODAY - timedelta(1))
    )
    applied = apply_baseline(result, baseline, TODAY)
    assert [status_of(applied, i) for i in ("AUTH-003", "STATUS-001", "STATUS-005", "AUTH-001")] == [
        "accepted",  # an entry holds through its expiry date
        "new",
        "expired",
        None,
    ]
    assert applied.requirements[0].baseline == {
        "status": "accepted",
        "reason": "known: AUTH-003",
        "expires": TODAY.isoformat(),
    }
    assert applied.verdict == result.verdict == "fail"  # the conformance verdict is untouched
    assert applied.counts == result.counts
    assert applied.gate == "fail"
    assert applied.baseline is not None
    assert (applied.baseline["accepted"], applied.baseline["new"], applied.baseline["expired"]) == (
        ["AUTH-003"],
        ["STATUS-001"],
        ["STATUS-005"],
    )
    assert result.requirements[0].baseline is None  # the input run is not modified


def test_the_gate_passes_when_every_failure_is_accepted() -> None:
    result = a_run([failed("AUTH-003"), passed("AUTH-001")])
    applied = apply_baseline(result, baseline_of(accept("AUTH-003")), TODAY)
    assert (applied.verdict, applied.gate) == ("fail", "pass")


def test_a_new_should_failure_fails_the_gate_only_with_strict() -> None:
    result = a_run([failed("AUTH-003"), failed("AUTH-009", "SHOULD")])
    assert apply_baseline(result, baseline_of(accept("AUTH-003")), TODAY).gate == "pass"
    strict = a_run([failed("AUTH-003"), failed("AUTH-009", "SHOULD")], strict=True)
    assert apply_baseline(strict, baseline_of(accept("AUTH-003")), TODAY).gate == "fail"


def test_an_error_behind_accepted_failures_is_no_verdict() -> None:
    result = a_run([failed("AUTH-003"), errored("STATUS-001")])
    assert result.verdict == "fail"
    assert apply_baseline(result, baseline_of(accept("AUTH-003")), TODAY).gate == "error"
    unreachable = a_run([unrun("AUTH-003")], error="cannot reach the target")
    assert apply_baseline(unreachable, baseline_of(accept("AUTH-003")), TODAY).gate == "error"


def test_fixed_unverified_and_other_target_entries() -> None:
    result = a_run([passed("AUTH-003"), unrun("STATUS-001"), failed("STATUS-005")])
    baseline = baseline_of(
        accept("AUTH-003"),
        accept("STATUS-001"),
        accept("STATUS-005", target="https://other.example.test"),
        accept("AUTH-001", target="*"),  # not in this run at all
    )
    applied = apply_baseline(result, baseline, TODAY)
    info = applied.baseline or {}
    assert [entry["requirement"] for entry in info["fixed"]] == ["AUTH-003"]
    assert [(e["requirement"], e["outcome"]) for e in info["unverified"]] == [
        ("STATUS-001", "skipped"),
        ("AUTH-001", "skipped"),
    ]
    assert info["other_targets"] == 1
    assert status_of(applied, "STATUS-005") == "new"  # the entry is for another target
    assert "  fixed, remove from baseline: AUTH-003 (known: AUTH-003)" in summary_lines(applied)


def test_an_entry_naming_the_target_wins_over_a_wildcard() -> None:
    result = a_run([failed("AUTH-003")])
    baseline = baseline_of(accept("AUTH-003", target="*"), accept("AUTH-003", expires=TODAY - timedelta(1)))
    assert status_of(apply_baseline(result, baseline, TODAY), "AUTH-003") == "expired"
    assert (
        status_of(apply_baseline(result, baseline_of(accept("AUTH-003", "*")), TODAY), "AUTH-003")
        == "accepted"
    )


def test_target_key_normalises_and_names_the_reference_target() -> None:
    result = a_run([])
    assert target_key(result) == TARGET
    result.target["base_url"] = TARGET + "/"
    assert target_key(result) == TARGET
    result.target["kind"] = "reference implementation"
    assert target_key(result) == "reference"


def test_gate_of_without_failures_is_the_verdict() -> None:
    assert gate_of(a_run([passed("AUTH-001")])) == "pass"


# --- writing -------------------------------------------------------------------


@given(st.text())
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


def test_written_baseline_accepts_every_current_failure() -> None:
    result = a_run([failed("AUTH-003"), failed("AUTH-009", "SHOULD"), passed("AUTH-001")])
    text = written_baseline(result, None, TODAY)
    entries = parse_baseline(text, "written", KNOWN)
    assert [(e.requirement, e.target, e.expires) for e in entries] == [
        ("AUTH-003", TARGET, None),
        ("AUTH-009", TARGET, None),
    ]
    assert entries[0].reason == "found failing on 2026-03-01: title of AUTH-003"
    assert "# MUST failed: check_AUTH-003: AUTH-003 broke\n[[accepted]]" in text
    applied = apply_baseline(result, baseline_of(*entries), TODAY)
    assert applied.gate == "pass"


def test_written_baseline_refreshes_a_previous_one() -> None:
    result = a_run(
        [failed("AUTH-003"), passed("STATUS-005"), unrun("STATUS-001"), failed("AUTH-009", "SHOULD")]
    )
    previous = baseline_of(
        accept("AUTH-003", expires=date(2027, 1, 31)),  # still failing: kept as it is
        accept("STATUS-005"),  # fixed: dropped
        accept("STATUS-001"),  # not checked by this run: kept
        accept("AUTH-001", target="https://other.example.test"),  # another target: kept
    )
    entries = parse_baseline(written_baseline(result, previous, TODAY), "written", KNOWN)
    assert [e.requirement for e in entries] == ["AUTH-003", "STATUS-001", "AUTH-001", "AUTH-009"]
    assert entries[0] == accept("AUTH-003", expires=date(2027, 1, 31))


def test_render_baseline_strips_control_characters_from_comments() -> None:
    entry = accept("AUTH-003")
    text = render_baseline([entry], header=["a", ""], comments={entry: "x\x00y\nz\x7f"})
    assert "# xy z\n" in text
    assert parse_baseline(text, "r", KNOWN) == (entry,)


# --- reports -------------------------------------------------------------------


def an_applied_run() -> RunResult:
    result = a_run([failed("AUTH-003"), failed("STATUS-001"), failed("STATUS-005"), passed("AUTH-001")])
    baseline = baseline_of(
        accept("AUTH-003", expires=date(2027, 1, 31)),
        accept("STATUS-005", expires=TODAY - timedelta(1)),
        accept("AUTH-009"),
    )
    return apply_baseline(result, baseline, TODAY)


def test_results_json_carries_the_marks_and_reads_back() -> None:
    applied = an_applied_run()
    document = json.loads(render_json(applied))
    assert document["gate"] == "fail" and document["verdict"] == "fail"
    assert document["baseline"]["file"] == "baseline.toml"
    marks = {req["id"]: (req["baseline"] or {}).get("status") for req in document["requirements"]}
    assert marks == {"AUTH-003": "accepted", "STATUS-001": "new", "STATUS-005": "expired", "AUTH-001": None}
    assert RunResult.from_dict(document) == applied


def test_junit_shows_accepted_failures_as_skipped_with_the_reason() -> None:
    document = render_junit(an_applied_run())
    cases = cases_of(document)
    accepted = cases["AUTH-003 check_AUTH-003"]
    skipped = accepted.find("skipped")
    assert accepted.find("failure") is None and skipped is not None
    assert skipped.get("message") == (
        "accepted by baseline: known: AUTH-003 (until 2027-01-31); failure: AUTH-003 broke"
    )
    assert properties_of(accepted)["baseline"] == "accepted"
    expired = cases["STATUS-005 check_STATUS-005"].find("failure")
    assert expired is not None
    assert (expired.get("message") or "").startswith("baseline entry expired on 2026-02-28: STATUS-005 broke")
    new = cases["STATUS-001 check_STATUS-001"].find("failure")
    assert new is not None and new.get("message") == "new: STATUS-001 broke"
    root = ET.fromstring(document)
    assert root.get("failures") == "2"


def test_every_testcase_carries_its_requirement_id_as_a_property() -> None:
    for as_element in (False, True):
        for name, case in cases_of(render_junit(an_applied_run(), testcase_properties=as_element)).items():
            assert properties_of(case)["requirement"] == name.split(" ", 1)[0]
            assert (case.find("properties") is not None) is as_element


def test_junit_with_a_baseline_validates_against_junit_10() -> None:
    xmlschema = pytest.importorskip("xmlschema")
    default = render_junit(an_applied_run())
    for schema in (XSD, *JUNIT_10_XSDS):
        xmlschema.XMLSchema(schema).validate(default)
    with_elements = render_junit(an_applied_run(), testcase_properties=True)
    xmlschema.XMLSchema(XSD).validate(with_elements)
    # the trade-off of --junit-properties: junit-10.xsd allows no <properties> in a <testcase>
    assert not any(xmlschema.XMLSchema(schema).is_valid(with_elements) for schema in JUNIT_10_XSDS)


def test_html_marks_each_failure_and_lists_fixed_entries() -> None:
    applied = an_applied_run()
    applied = replace(applied, baseline={**(applied.baseline or {}), "fixed": [accept("AUTH-001").to_dict()]})
    document = render_html(applied)
    assert 'id="gate"' in document and "CI gate: FAIL" in document
    for status in ("accepted", "new", "expired"):
        assert f'<span class="badge b-{status}"' in document
    section = document[document.index('<section id="baseline">') :]
    assert "known: AUTH-003" in section and "2027-01-31" in section
    assert "Fixed: remove from the baseline" in section and "AUTH-001" in section
    assert document.index('id="statement"') < document.index('id="baseline"') < document.index('id="details"')


def test_html_without_a_baseline_has_no_gate() -> None:
    document = render_html(a_run([failed("AUTH-003")]))
    assert 'id="gate"' not in document and 'id="baseline"' not in document
    assert 'class="badge b-' not in document


# --- end to end: the run command against the reference target with faults --------------

CLI = [sys.executable, "-m", "conformance"]
FAULT_A, FAULT_B = "wrong-secret-403", "broken-status-chain"  # AUTH-003; STATUS-005
SELECT = "AUTH-003 or STATUS-005"  # only the checks these faults break: a run takes seconds


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def run_reference(cwd: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("run", "-k", SELECT, "--max-examples", "10", "--reports", str(cwd / name), *args, cwd=cwd)


@pytest.fixture(scope="module")
def gate_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str] | Path]:
    """Fault A with --baseline-write; A again with that baseline; A and B with it; A with an edited one."""
    cwd = tmp_path_factory.mktemp("gate")
    runs: dict[str, subprocess.CompletedProcess[str] | Path] = {"cwd": cwd}
    runs["write"] = run_reference(cwd, "write", "--fault", FAULT_A, "--baseline-write", "baseline.toml")
    runs["accepted"] = run_reference(cwd, "accepted", "--fault", FAULT_A, "--baseline", "baseline.toml")
    runs["second"] = run_reference(
        cwd, "second", "--fault", FAULT_A, "--fault", FAULT_B, "--baseline", "baseline.toml"
    )
    yesterday = (date.today() - timedelta(days=2)).isoformat()  # -2: safe whatever the timezone
    (cwd / "edited.toml").write_text(
        "[[accepted]]\n"
        'requirement = "AUTH-003"\ntarget = "reference"\nreason = "accepted for a while"\n'
        f"expires = {yesterday}\n\n"
        "[[accepted]]\n"
        'requirement = "STATUS-005"\ntarget = "*"\nreason = "chain bug, fixed since"\n',
        encoding="utf-8",
    )
    runs["edited"] = run_reference(cwd, "edited", "--fault", FAULT_A, "--baseline", "edited.toml")
    return runs


def _proc(
    runs: dict[str, subprocess.CompletedProcess[str] | Path], key: str
) -> subprocess.CompletedProcess[str]:
    proc = runs[key]
    assert isinstance(proc, subprocess.CompletedProcess)
    return proc


def test_baseline_write_records_the_failures_of_fault_a(gate_runs: dict) -> None:  # type: ignore[type-arg]
    proc = _proc(gate_runs, "write")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "baseline written: baseline.toml" in proc.stdout
    entries = load_baseline(gate_runs["cwd"] / "baseline.toml").entries
    assert {e.requirement for e in entries} == {"AUTH-003"}
    assert {e.target for e in entries} == {"reference"}


def test_fault_a_within_its_baseline_is_accepted_but_a_selection_stays_incomplete(gate_runs: dict) -> None:  # type: ignore[type-arg]
    proc = _proc(gate_runs, "accepted")
    # the baseline accepts the failure; the -k selection keeps the gate incomplete (exit 4), never 0
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "  ACCEPTED AUTH-003 (MUST)" in proc.stdout
    assert "verdict: FAIL: non-conformant" in proc.stdout  # the target still does not conform
    assert "gate: INCOMPLETE" in proc.stdout
    assert proc.stderr.startswith("error: a selection")
    results = json.loads((gate_runs["cwd"] / "accepted" / "results.json").read_text())
    assert (results["verdict"], results["gate"]) == ("fail", "incomplete")
    assert results["baseline"]["accepted"] == ["AUTH-003"]
    html = (gate_runs["cwd"] / "accepted" / "report.html").read_text()
    assert "CI gate: INCOMPLETE" in html and '<span class="badge b-accepted"' in html
    junit = cases_of((gate_runs["cwd"] / "accepted" / "junit.xml").read_text())
    assert all(case.find("failure") is None for case in junit.values())
    assert any(
        case.find("skipped") is not None and properties_of(case).get("baseline") == "accepted"
        for case in junit.values()
    )


def test_a_second_fault_exits_1_naming_only_its_failures(gate_runs: dict) -> None:  # type: ignore[type-arg]
    proc = _proc(gate_runs, "second")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert errors == ["error: 1 failure(s) not accepted by the baseline: STATUS-005 (new)"]
    assert "  FAIL  STATUS-005 (MUST) [new]" in proc.stdout
    assert "  ACCEPTED AUTH-003 (MUST)" in proc.stdout
    results = json.loads((gate_runs["cwd"] / "second" / "results.json").read_text())
    assert (results["verdict"], results["gate"], results["baseline"]["new"]) == (
        "fail",
        "fail",
        ["STATUS-005"],
    )


def test_expired_entries_fail_and_fixed_entries_are_reported(gate_runs: dict) -> None:  # type: ignore[type-arg]
    proc = _proc(gate_runs, "edited")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: 1 failure(s) not accepted by the baseline: AUTH-003 (expired)"
    ]
    assert "  fixed, remove from baseline: STATUS-005 (chain bug, fixed since)" in proc.stdout


def test_a_bad_baseline_exits_2_before_any_request(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[[accepted]]\nrequirement = "AUTH-003"\n', encoding="utf-8")
    proc = run_cli("run", "--baseline", "bad.toml", "--reports", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: baseline file bad.toml: accepted[0].target is missing"
    ]
    assert not (tmp_path / "out").exists()
