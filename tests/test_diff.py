"""`diff` and `report` on saved results.json files, and the conformance statement they carry."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_reports import JUNIT_10_XSDS, a_requirement, a_result, a_run

from conformance.cli import cli
from conformance.diffing import ResultsError, diff_results, format_diff, load_results
from conformance.reports import render_json, write_reports
from conformance.reports.html import render_html
from conformance.reports.statement import conformance_statement
from conformance.results import CheckResult, RequirementResult, RunResult


def req(req_id: str, outcome: str, level: str = "MUST") -> RequirementResult:
    if outcome == "skipped":
        return a_requirement(req_id, level, [])
    check = CheckResult(f"check_{req_id}", req_id, outcome, message=f"{req_id} {outcome}\nmore")  # type: ignore[arg-type]
    return a_requirement(req_id, level, [check])


OLD = a_run(
    [
        req("AUTH-001", "passed"),
        req("AUTH-002", "failed"),
        req("AUTH-003", "passed"),
        req("AUTH-004", "skipped"),
        req("AUTH-005", "error"),
        req("AUTH-009", "passed", "SHOULD"),
        req("OAUTH-001", "passed"),
    ]
)
NEW = a_run(
    [
        req("AUTH-001", "passed"),
        req("AUTH-002", "passed"),  # newly passing
        req("AUTH-003", "failed"),  # newly failing
        req("AUTH-004", "failed"),  # newly failing (was skipped)
        req("AUTH-005", "passed"),  # other change
        req("AUTH-009", "failed", "SHOULD"),  # newly failing, but a SHOULD
        req("SCOPE-001", "failed"),  # added, and failing
    ]
)


def test_diff_sorts_the_changes() -> None:
    diff = diff_results(OLD, NEW)
    assert [c.id for c in diff.newly_failing] == ["AUTH-003", "AUTH-004", "AUTH-009", "SCOPE-001"]
    assert [c.id for c in diff.newly_passing] == ["AUTH-002"]
    assert [(c.id, c.old, c.new) for c in diff.other_changes] == [("AUTH-005", "error", "passed")]
    assert [c.id for c in diff.added] == ["SCOPE-001"]
    assert [(c.id, c.old, c.new) for c in diff.removed] == [("OAUTH-001", "passed", None)]
    assert [c.id for c in diff.blocking] == ["AUTH-003", "AUTH-004", "SCOPE-001"]
    assert diff.newly_failing[0].message == "check_AUTH-003: AUTH-003 failed"


def test_a_should_newly_failing_blocks_only_a_strict_run() -> None:
    strict = a_run(NEW.requirements, strict=True)
    assert "AUTH-009" in [c.id for c in diff_results(OLD, strict).blocking]


def test_diff_of_a_run_with_itself_is_empty() -> None:
    diff = diff_results(OLD, OLD)
    assert not (diff.newly_failing or diff.newly_passing or diff.other_changes or diff.added or diff.removed)
    assert "newly failing: 0 (none)" in format_diff(diff)


def test_format_diff_names_each_change() -> None:
    lines = format_diff(diff_results(OLD, NEW), "old.json", "new.json")
    assert lines[0].startswith("old: old.json: FAIL against https://api.example.test")
    assert "newly failing: 4" in lines
    assert "  AUTH-004 (MUST) skipped -> failed: check_AUTH-004: AUTH-004 failed" in lines
    assert "  AUTH-002 (MUST) failed -> passed" in lines
    assert "  OAUTH-001 (MUST) passed -> absent" in lines
    assert not any(line.startswith("note:") for line in lines)


def save(result: RunResult, path: Path) -> Path:
    path.write_text(render_json(result), encoding="utf-8")
    return path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_diff_command_exits_1_on_newly_failing(tmp_path: Path) -> None:
    old, new = save(OLD, tmp_path / "old.json"), save(NEW, tmp_path / "new.json")
    result = invoke("diff", str(old), str(new))
    assert result.exit_code == 1
    assert "newly failing: 4" in result.stdout and "newly passing: 1" in result.stdout
    assert result.stderr == "error: 3 requirement(s) newly failing: AUTH-003, AUTH-004, SCOPE-001\n"
    back = invoke("diff", str(new), str(old))
    assert back.exit_code == 1 and "newly passing: 2" in back.stdout
    assert back.stderr == "error: 1 requirement(s) newly failing: AUTH-002\n"
    same = invoke("diff", str(old), str(old))
    assert same.exit_code == 0 and same.stderr == ""


def test_load_results_refuses_what_is_not_a_results_file(tmp_path: Path) -> None:
    (tmp_path / "text.json").write_text("not json", encoding="utf-8")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    (tmp_path / "alien.json").write_text(
        '{"verdict": "pass", "requirements": [], "colour": 1}', encoding="utf-8"
    )
    for name, message in [
        ("missing.json", "does not exist"),
        ("text.json", "is not JSON"),
        ("list.json", "is not a results.json"),
        ("alien.json", "this suite version can read"),
    ]:
        with pytest.raises(ResultsError, match=message):
            load_results(tmp_path / name)


@pytest.mark.parametrize("command", ["report", "diff"])
def test_bad_input_is_exit_2_with_one_line(tmp_path: Path, command: str) -> None:
    good = save(OLD, tmp_path / "good.json")
    args = [str(tmp_path / "missing.json")] + ([str(good)] if command == "diff" else [])
    result = invoke(command, *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "missing.json does not exist" in result.stderr


def test_report_rerenders_the_html_of_the_run(tmp_path: Path) -> None:
    original = a_result()
    paths = write_reports(original, tmp_path / "reports")
    saved_html = paths["report.html"].read_text(encoding="utf-8")
    result = invoke("report", str(paths["results.json"]), "--out", str(tmp_path / "again.html"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == saved_html  # byte for byte
    digest = hashlib.sha256(paths["results.json"].read_bytes()).hexdigest()
    assert f"results.json sha256: {digest}" in result.stdout
    assert digest in saved_html


def test_report_defaults_beside_the_json_and_writes_junit(tmp_path: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    results = save(a_result(), tmp_path / "results.json")
    result = invoke("report", str(results), "--junit", str(tmp_path / "j.xml"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").is_file()
    for schema in JUNIT_10_XSDS:
        xmlschema.XMLSchema(schema).validate(str(tmp_path / "j.xml"))
    result = invoke("report", str(results), "--junit", str(tmp_path / "p.xml"), "--junit-properties")
    assert result.exit_code == 0
    assert ET.parse(tmp_path / "p.xml").getroot().find(".//testcase/properties") is not None


def test_report_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    results = save(a_result(), tmp_path / "results.json")
    result = invoke("report", str(results), "--out", str(results))
    assert result.exit_code == 2 and "would overwrite" in result.stderr
    assert json.loads(results.read_text())["verdict"] == "fail"


def test_results_json_opens_with_the_statement_of_the_html() -> None:
    result = a_result()
    document = json.loads(render_json(result))
    assert next(iter(document)) == "statement"
    statement = document["statement"]
    assert statement == json.loads(json.dumps(conformance_statement(result)))
    for key in (
        "target", "environment", "date", "suite_version", "spec_sha256", "auth_schemes_exercised",
        "scopes_exercised", "areas", "levels", "skipped", "verdict",
    ):  # fmt: skip
        assert key in statement
    assert statement["levels"]["MUST"] == {
        "passed": 1,
        "failed": 1,
        "skipped": 2,
        "error": 1,
        "not_applicable": 0,
    }
    assert statement["levels"]["SHOULD"]["failed"] == 1
    assert {area["area"]: area["verdict"] for area in statement["areas"]} == {
        "AUTH": "fail", "OAUTH": "skipped", "SCOPE": "skipped", "STATUS": "error",
    }  # fmt: skip
    assert {"requirement": "SCOPE-001", "level": "MUST", "title": statement["skipped"][1]["title"],
            "why": "check_read_scope: no token_url configured"} in statement["skipped"]  # fmt: skip
    html = render_html(result)
    for area in statement["areas"]:
        assert f'<a href="#area-{area["area"]}">' in html
    assert statement["environment"] in html and statement["spec_sha256"] in html
    assert RunResult.from_dict(document) == result  # the statement is derived: reading ignores it


def test_the_report_command_is_the_installed_console_script(tmp_path: Path) -> None:
    results = save(a_result(), tmp_path / "results.json")
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "report", str(results)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"report.html: {tmp_path / 'report.html'}"
