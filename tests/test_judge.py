"""judge on HAR files other tools wrote (mitmproxy, schemathesis), on files that are not HAR, and what
it reads from a recorded request.

tests/data/har/mitmproxy.har was captured by mitmdump in front of the reference target
(regenerate_mitmproxy_har.sh beside it; its secrets are fake). The schemathesis HAR is made here,
by ``st run --report har`` against the reference target on loopback.
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

from conformance import jsonbody
from conformance.config import Credentials, Settings, Target
from conformance.judging import judge_files
from conformance.judging.rules import body_checks, parameter_sets
from conformance.judging.sent import credentials_sent, enrolment_path, expectation
from conformance.reference.data import TENANT_A, TENANT_B
from conformance.reference.server import ReferenceServer, reference_settings
from conformance.spec import default_spec_path

CLI = [sys.executable, "-m", "conformance"]
DATA = Path(__file__).parent / "data" / "har"
MITM_HAR, MITM_CONFIG = DATA / "mitmproxy.har", DATA / "mitmproxy.toml"
# the fake secrets regenerate_mitmproxy_har.sh exports
MITM_SECRETS = {
    "ENROLMENT_API_SECRET": "fake-har-secret-0f3c9a7e",
    "ENROLMENT_OTHER_API_SECRET": "fake-har-other-secret-5d21b8",
}


def judge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "judge", *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def outcomes(reports: Path) -> dict[str, str]:
    result = json.loads((reports / "results.json").read_text())
    return {req["id"]: req["outcome"] for req in result["requirements"]}


def everything_written(reports: Path, proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr + "".join(path.read_text() for path in reports.iterdir())


def test_mitmproxy_har_with_config(tmp_path: Path) -> None:
    proc = judge(str(MITM_HAR), "--config", str(MITM_CONFIG), "--reports", str(tmp_path), env=MITM_SECRETS)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    found = outcomes(tmp_path)
    for requirement in ("AUTH-001", "AUTH-002", "AUTH-003", "AUTH-006", "AUTH-007", "ERR-003", "ERR-005"):
        assert found[requirement] == "passed", requirement
    for requirement in ("SCHEMA-001", "SCHEMA-002", "STATUS-005", "STATUS-007", "DATE-007", "HTTP-003"):
        assert found[requirement] == "passed", requirement
    assert found["OAUTH-001"] == "skipped" and found["HTTP-002"] == "skipped"
    assert "10 exchanges from" in json.loads((tmp_path / "results.json").read_text())["environment"]
    written = everything_written(tmp_path, proc)
    secret = MITM_SECRETS["ENROLMENT_API_SECRET"]
    encoded = base64.b64encode(f"{TENANT_A}:{secret}".encode()).decode()
    assert secret not in written and encoded not in written
    assert encoded in MITM_HAR.read_text()  # the HAR holds it: the masking above is judge's doing


def test_mitmproxy_har_without_config_judges_what_it_can(tmp_path: Path) -> None:
    proc = judge(str(MITM_HAR), "--reports", str(tmp_path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    found = outcomes(tmp_path)
    assert found["AUTH-002"] == "passed" and found["AUTH-006"] == "passed"
    assert found["AUTH-003"] == "skipped"  # which secret was the right one, only --config can tell
    assert found["STATUS-007"] == "not_applicable"
    written = everything_written(tmp_path, proc)
    secret = MITM_SECRETS["ENROLMENT_API_SECRET"]
    assert secret not in written  # masked from the recorded header alone
    assert base64.b64encode(f"{TENANT_A}:{secret}".encode()).decode() not in written


def test_findings_in_foreign_traffic(tmp_path: Path) -> None:
    document = json.loads(MITM_HAR.read_text())
    entries = document["log"]["entries"]
    entries[0]["response"]["content"]["text"] = entries[0]["response"]["content"]["text"].replace(
        '"status":"open"', '"status":"Open"'
    )
    entries[9]["response"]["status"] = 503  # the unknown-enrolment read (no rule on its status)
    broken = tmp_path / "broken.har"
    broken.write_text(json.dumps(document))
    reports = tmp_path / "reports"
    proc = judge(str(broken), "--reports", str(reports))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = outcomes(reports)
    assert found["STATUS-001"] == "failed" and found["SCHEMA-001"] == "failed"
    assert found["FUZZ-001"] == "failed"
    assert "a server error" in proc.stdout


@pytest.fixture(scope="module")
def schemathesis_har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    har = tmp_path_factory.mktemp("st") / "schemathesis.har"
    secrets = {TENANT_A: "fake-st-secret-a-0001", TENANT_B: "fake-st-secret-b-0002"}
    with ReferenceServer(secrets=secrets) as server:
        settings = reference_settings(server)
        st = Path(sys.executable).parent / "st"
        args = [str(st), "run", str(default_spec_path()), "--url", settings.target.base_url]
        args += ["--report", "har", "--report-har-path", str(har), "--max-examples", "10", "--seed", "1"]
        args += ["-a", f"{settings.tenant.tenant_id}:{settings.tenant.secret}"]
        subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, cwd=har.parent)
    assert har.is_file()
    return har


def test_schemathesis_har_is_judged(schemathesis_har: Path, tmp_path: Path) -> None:
    proc = judge(str(schemathesis_har), "--reports", str(tmp_path))
    assert proc.returncode in (1, 4), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    result = json.loads((tmp_path / "results.json").read_text())
    found = {req["id"]: req["outcome"] for req in result["requirements"]}
    assert "error" not in found.values()
    assert found["SCHEMA-001"] == "passed"  # schemathesis read enrolments of the reference with 200
    must_failed = [
        r["id"] for r in result["requirements"] if r["outcome"] == "failed" and r["level"] == "MUST"
    ]
    assert must_failed == []  # its "[Filtered]" Authorization is a mask, not an unknown scheme


BAD_URL_ENTRY = {"request": {"method": "GET", "url": "http://[::1"}, "response": {"status": 200}}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json at all", "not JSON"),
        ('{"log": {"version": "1.2"}}', "no log.entries array"),
        ("[1, 2]", "no log.entries array"),
        ('{"log": {"entries": [{"request": {}}]}}', "log.entries[0] is not a HAR entry"),
        ('{"log": {"entries": ["x"]}}', "log.entries[0] is not a HAR entry"),
        (json.dumps({"log": {"entries": [BAD_URL_ENTRY]}}), "log.entries[0] is not a HAR entry"),
    ],
)
def test_a_file_that_is_not_har_is_a_usage_error(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "x.har"
    path.write_text(content)
    proc = judge(str(path), "--reports", str(tmp_path / "reports"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1 and says in proc.stderr
    assert not (tmp_path / "reports").exists()


def test_a_har_without_enrolment_exchanges_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "empty.har"
    path.write_text('{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": []}}')
    proc = judge(str(path), "--reports", str(tmp_path / "reports"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "judged from recorded traffic: 0 exchanges from" in proc.stdout
    assert set(outcomes(tmp_path / "reports").values()) == {"skipped"}


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    proc = judge(str(tmp_path / "nope.har"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


SETTINGS = Settings(
    Target("http://127.0.0.1:1/rest/v1"),
    Credentials("eu-west-2_Tenant", "the-secret-1", "ENV_A"),
    other_tenant=Credentials("eu-west-2_Other", "other-secret-2", "ENV_B"),
)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "settings", "expected"),
    [
        (None, None, "none"),
        ("Token abc", None, "unknown-scheme"),
        ("Basic !!!", None, "malformed"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None, "malformed"),
        (basic("", "the-secret-1"), SETTINGS, "malformed"),
        (basic("eu-west-2_Tenant", "the-secret-1"), None, "unknown"),
        (basic("eu-west-2_Tenant", "the-secret-1"), SETTINGS, "valid"),
        (basic("eu-west-2_Tenant", "the-secret-X"), SETTINGS, "wrong-secret"),
        (basic("eu-west-2_Nobody", "the-secret-1"), SETTINGS, "unknown-tenant"),
        (basic("eu-west-2_Other", "other-secret-2"), SETTINGS, "unknown"),
        ("Bearer abc.def", SETTINGS, "unknown"),
        ("Basic ***", SETTINGS, "unknown"),
        ("[Filtered]", None, "unknown"),
        ("<redacted>", None, "unknown"),
    ],
)
def test_credentials_sent(authorization: str | None, settings: Settings | None, expected: str) -> None:
    assert credentials_sent(authorization, settings) == expected


@pytest.mark.parametrize(
    ("url", "authorization", "requirement"),
    [
        ("/assignments/12347d805d8ecbf46f5b5278/enrolments/63f57d805d8ecbf46f5b5278", None, "AUTH-002"),
        ("/assignments/12347d805d8ecbf46f5b5278/enrolments/not-an-id", None, "AUTH-008"),
        ("/assignments/12347d805d8ecbf46f5b5278/enrolments/63f57d805d8ecbf46f5b52gz", "valid", "ERR-003"),
        ("/assignments/1234%2F7d805d8ecbf46f5b5278/enrolments/63f57d805d8ecbf46f5b5278", "valid", "ERR-004"),
        ("/assignments/12347d805d8ecbf46f5b5278/enrolments/63f57d805d8ecbf46f5b5278", "valid", None),
    ],
)
def test_expectation_from_what_was_sent(url: str, authorization: str | None, requirement: str | None) -> None:
    headers = {"Authorization": basic("eu-west-2_Tenant", "the-secret-1")} if authorization else {}
    request = httpx.Request("GET", "http://127.0.0.1:1/rest/v1" + url, headers=headers)
    path = enrolment_path(request.url)
    assert path is not None and path.base == "http://127.0.0.1:1/rest/v1"
    rule = expectation(request, path, {}, SETTINGS)
    assert (rule.requirement if rule else None) == requirement


def test_a_suite_tag_decides_over_what_the_request_looks_like() -> None:
    request = httpx.Request(
        "GET", "http://h/assignments/12347d805d8ecbf46f5b5278/enrolments/000000000000000000000e41"
    )
    path = enrolment_path(request.url)
    assert path is not None
    rule = expectation(
        request, path, {"requirement": "ERR-001", "check": "check_unknown_enrolment_is_404"}, None
    )
    assert rule is not None and (rule.requirement, rule.judge.__name__) == ("ERR-001", "judge_not_found")
    assert expectation(request, path, {"requirement": "AUTH-007"}, None) is None
    assert enrolment_path(httpx.URL("http://h/rest/v1/")) is None


def test_the_judge_parses_each_recorded_body_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture read built from a 200 serves its body checks and STATUS-008 alike (the checks' own
    parsing, e.g. SCHEMA-001's, is theirs: only the judge's own calls are counted)."""
    parse, callers = jsonbody.response_json, []

    def counted(response: httpx.Response) -> object:
        callers.append(sys._getframe(1).f_globals["__name__"])
        return parse(response)

    monkeypatch.setattr(jsonbody, "response_json", counted)
    judge_files([MITM_HAR])
    statuses = [entry["response"]["status"] for entry in json.loads(MITM_HAR.read_text())["log"]["entries"]]
    assert callers.count("conformance.judging.rules") == statuses.count(200) > 0


@pytest.mark.requirement(id="X-001")
@pytest.mark.parametrize(
    ("field", "meaning"),
    [
        pytest.param("id", "its ID", id="by-id", marks=pytest.mark.requirement(id="X-002")),
        ("name", "its name"),
    ],
)
def _parametrized_check(field: str, meaning: str) -> None:
    """A body check's shape: its parameter sets are read from its own marks."""


def test_a_body_check_runs_once_per_parameter_set_of_its_own_parametrize_mark() -> None:
    assert parameter_sets(_parametrized_check) == [
        ("X-002", "by-id", {"field": "id", "meaning": "its ID"}),
        ("X-001", "name-its name", {"field": "name", "meaning": "its name"}),
    ]
    (ids_check,) = {
        check.check for check in body_checks() if check.check.__name__ == "check_ids_are_the_path_ones"
    }
    assert [(req, param_id) for req, param_id, _ in parameter_sets(ids_check)] == [
        ("SCHEMA-002", "id"),
        ("SCHEMA-003", "assignmentId"),
    ]
