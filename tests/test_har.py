"""run --record writes valid, redacted, tagged HAR 1.2; judge of that HAR finds what the live run found.

The HAR is validated against the npm ``har-schema`` package's JSON Schemas, vendored under
tests/data/har-schema (see PROVENANCE.md there).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft6Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from conformance.catalogue import load_catalogue
from conformance.client import Recorder
from conformance.har import HarRecorder
from conformance.judging.rules import judgeable
from conformance.redact import Redactor
from conformance.reference.data import TENANT_A, TENANT_B
from conformance.results import Exchange

CLI = [sys.executable, "-m", "conformance"]
HAR_SCHEMAS = Path(__file__).parent / "data" / "har-schema"
SECRETS = {TENANT_A: "rec-SECRET-A/with=chars~51ab9c", TENANT_B: "rec-SECRET-B/other=chars~77de0f"}
SECRET_ENV = {"ENROLMENT_API_SECRET": SECRETS[TENANT_A], "ENROLMENT_OTHER_API_SECRET": SECRETS[TENANT_B]}
FAULT = "broken-status-chain"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SECRET_ENV}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A run against a reference fault, recorded; and the judged reports of its HAR: (har, live, judged)."""
    work = tmp_path_factory.mktemp("recorded")
    har, live, judged = work / "run.har", work / "live", work / "judged"
    proc = run_cli(
        "run", "--fault", FAULT, "--record", str(har), "--reports", str(live), "--max-examples", "10"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"recorded: {har}" in proc.stdout
    proc = run_cli("judge", str(har), "--reports", str(judged))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return har, live, judged


def har_validator() -> Draft6Validator:
    resources = []
    for path in HAR_SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT6)))
    registry = Registry().with_resources(resources)
    return Draft6Validator({"$ref": "har.json#"}, registry=registry)


def test_recorded_har_is_valid_har_1_2(recorded: tuple[Path, Path, Path]) -> None:
    document = json.loads(recorded[0].read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in har_validator().iter_errors(document)]
    assert errors == []
    assert document["log"]["version"] == "1.2"
    assert len(document["log"]["entries"]) > 100


def test_the_schema_catches_a_broken_har() -> None:
    broken = {"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": [{"time": 1}]}}
    assert list(har_validator().iter_errors(broken))


def test_entries_name_the_check_and_requirement_that_sent_them(recorded: tuple[Path, Path, Path]) -> None:
    entries = json.loads(recorded[0].read_text())["log"]["entries"]
    catalogue = load_catalogue()
    untagged = [e["request"]["url"] for e in entries if "_requirement" not in e]
    assert len(untagged) == 1  # the preflight GET of the API base, which no check sends
    assert all(e["_requirement"] in catalogue and e["_check"].startswith("check_") for e in entries[1:])
    reused = [e for e in entries if "_reused" in e]  # answers the client remembered (client._memo)
    assert all(e["response"]["content"]["text"] or e["response"]["status"] == 204 for e in reused)
    reads = [e for e in entries if e.get("_requirement") == "AUTH-003"]
    assert reads and all(e["_check"].startswith("check_wrong_secret_is_401[") for e in reads)


def test_recorded_har_holds_no_secret(recorded: tuple[Path, Path, Path]) -> None:
    text = recorded[0].read_text()
    for tenant, secret in SECRETS.items():
        for form in (secret, base64.b64encode(f"{tenant}:{secret}".encode()).decode()):
            assert form not in text
    assert '"Basic ***"' in text and '"Bearer ***"' in text
    assert '"access_token": "***"' in text or '\\"access_token\\":\\"***\\"' in text


def test_a_har_body_is_masked_once_when_written_with_every_secret_known_by_then() -> None:
    redactor, har = Redactor(), HarRecorder()
    har.attach(Recorder(), redactor)
    secret = "later-SECRET-0123456789"
    exchange = Exchange("GET", "https://api.test/e", {}, status=200)
    har.recorded(exchange, httpx.Response(200, text=f'{{"echo": "{secret}"}}'))
    redactor.add(secret)  # registered after the exchange was recorded
    content = har.document()["log"]["entries"][0]["response"]
    assert content["content"]["text"] == '{"echo": "***"}'
    assert content["content"]["size"] == content["bodySize"] == len('{"echo": "***"}')  # the text's, masked


def test_rejudged_run_finds_what_the_live_run_found(recorded: tuple[Path, Path, Path]) -> None:
    _, live, judged = recorded
    live_result = json.loads((live / "results.json").read_text())
    judged_result = json.loads((judged / "results.json").read_text())
    live_outcomes = {req["id"]: req["outcome"] for req in live_result["requirements"]}
    judged_by_id = {req["id"]: req for req in judged_result["requirements"]}
    decided = [rid for rid, req in judged_by_id.items() if req["outcome"] in ("passed", "failed")]
    assert len(decided) >= 35
    # STATUS-007 needs the fixtures' expected statuses: --config gives them (a live run knows them)
    assert {rid: live_outcomes[rid] for rid in decided} == {
        rid: judged_by_id[rid]["outcome"] for rid in decided
    }
    assert judged_by_id["STATUS-005"]["outcome"] == "failed"
    live_messages = {
        m.split(": ", 1)[1]
        for r in live_result["requirements"]
        if r["id"] == "STATUS-005"
        for m in r["messages"]
    }
    judged_messages = {m.split(": ", 1)[1] for m in judged_by_id["STATUS-005"]["messages"]}
    assert live_messages <= judged_messages
    assert judged_result["verdict"] == "fail"
    assert all(rid in judgeable() for rid in decided)


def test_judged_reports_say_what_the_verdict_rests_on(recorded: tuple[Path, Path, Path]) -> None:
    har, _, judged = recorded
    result = json.loads((judged / "results.json").read_text())
    assert result["statement"]["environment"].startswith("judged from recorded traffic: ")
    assert f"exchanges from {har}" in result["statement"]["environment"]
    assert result["requests"] == {"total": 0}
    html = (judged / "report.html").read_text()
    assert "judged from recorded traffic" in html
    oauth = next(cls for cls in result["classes"] if cls["id"] == "oauth")
    assert oauth["status"] == "not verified"
    assert any("recorded traffic cannot verify" in line for line in oauth["how_to_verify"])


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_record_path_is_checked_before_any_request(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = tmp_path if where == "folder" else blocker / "run.har"
    proc = run_cli("run", "--record", str(target), "--reports", str(tmp_path / "reports"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: --record ") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "reports").exists()
