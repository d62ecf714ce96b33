"""The junit.xml and report.html renderers, on RunResults built here."""

from __future__ import annotations

import dataclasses
import html.parser
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from conformance.reports import html as html_report
from conformance.reports.html import evidence_groups, render_html, rerun_command
from conformance.reports.junit import render_junit
from conformance.reports.statement import conformance_statement
from conformance.results import (
    OUTCOMES,
    CheckResult,
    ClassResult,
    Exchange,
    RequirementResult,
    RunResult,
    count_outcomes,
)
from conformance.verdict import decide, requirement_outcome

XSD = Path(__file__).parent / "data" / "junit.xsd"
# The Jenkins xUnit plugin's junit-10.xsd, in the two versions in circulation (see the comment in each).
JUNIT_10_XSDS = sorted((Path(__file__).parent / "data").glob("junit-10@*.xsd"))
_PROPERTY_LINE = re.compile(r"^\[\[PROPERTY\|([^=\]]+)=(.*)\]\]$", re.MULTILINE)
SCRIPT = "<script>alert(1)</script>"
HEADER = '"><img src=x onerror=alert(2)>'
DIGEST = "ab" * 32


def an_exchange(**overrides: object) -> Exchange:
    """A redacted 401 exchange whose body tries to inject markup."""
    values: dict[str, object] = {
        "method": "GET",
        "url": "https://api.example.test/assignments/a1/enrolments/e1",
        "request_headers": {"Authorization": "Basic ***", "Accept": "application/json"},
        "status": 200,
        "response_headers": {"Content-Type": "text/html", "X-Echo": HEADER},
        "response_body": f"{SCRIPT}\x01 & more",
        "elapsed_ms": 12.5,
        "note": "wrong API secret",
        "curl": "curl -i -X GET -u \"$TENANT:wrong\" 'https://api.example.test/assignments/a1/enrolments/e1'",
    }
    values.update(overrides)
    return Exchange(**values)  # type: ignore[arg-type]


def a_requirement(req_id: str, level: str, checks: list[CheckResult], title: str = "") -> RequirementResult:
    """A requirement aggregated the way the runner does it."""
    outcome = requirement_outcome(checks, ())
    relevant = [c for c in checks if c.outcome == outcome] if outcome != "passed" else []
    messages = [f"{c.name}: {c.message}" for c in relevant if c.message] if checks else ["no check ran"]
    return RequirementResult(
        id=req_id,
        title=title or f"title of {req_id}",
        level=level,
        area=req_id.split("-")[0],
        source=f"source of {req_id}",
        outcome=outcome,
        messages=messages,
        checks=checks,
    )


def the_requirements() -> list[RequirementResult]:
    """A passed, a failed MUST (with evidence), a failed SHOULD, two skipped and an errored requirement."""
    return [
        a_requirement(
            "AUTH-001",
            "MUST",
            [
                CheckResult(
                    "check_basic_reads[open]", "AUTH-001", "passed", duration_s=0.2, notes=["extra: x"]
                )
            ],
        ),
        a_requirement(
            "AUTH-003",
            "MUST",
            [
                CheckResult(
                    "check_wrong_secret_is_401[abc/def]",
                    "AUTH-003",
                    "failed",
                    message="expected 401, got 200\nsecond line\x0b",
                    duration_s=0.5,
                    exchanges=[an_exchange()],
                )
            ],
        ),
        a_requirement(
            "AUTH-009",
            "SHOULD",
            [CheckResult("check_basic_challenge", "AUTH-009", "failed", message="no Basic challenge")],
        ),
        a_requirement("OAUTH-001", "MUST", []),
        a_requirement(
            "SCOPE-001",
            "MUST",
            [CheckResult("check_read_scope", "SCOPE-001", "skipped", message="no token_url configured")],
            title="A token with scope api/read reads each fixture enrolment with 200",
        ),
        a_requirement(
            "STATUS-001",
            "MUST",
            [
                CheckResult(
                    "check_status_enum[open]",
                    "STATUS-001",
                    "error",
                    message="could not get an answer from the target: timeout",
                    exchanges=[
                        an_exchange(status=None, response_headers={}, response_body=None, error="timeout")
                    ],
                )
            ],
        ),
    ]


def a_result(*, strict: bool = False) -> RunResult:
    """A RunResult over the_requirements(), with verdict and counts computed as the runner does."""
    return a_run(the_requirements(), strict=strict)


def an_unreachable_result() -> RunResult:
    """A run that reached no verdict: the target did not answer, so no check ran."""
    unrun = [a_requirement(req.id, req.level, []) for req in the_requirements()]
    return a_run(unrun, error="cannot reach the target at https://api.example.test: timeout")


def a_run(
    requirements: list[RequirementResult], *, strict: bool = False, error: str | None = None
) -> RunResult:
    """A RunResult over requirements."""
    return RunResult(
        verdict=decide(requirements, claim=("core",), strict=strict, no_verdict=error).verdict,
        error=error,
        suite_version="0.1.0",
        spec_sha256="cd" * 32,
        target={
            "base_url": "https://api.example.test",
            "token_url": None,
            "webhooks_token_url": None,
            "tenant_id": "tenant-1",
            "kind": "external",
        },
        started_at="2025-01-02T03:04:05+00:00",
        finished_at="2025-01-02T03:05:00+00:00",
        counts=count_outcomes(requirements),
        requirements=requirements,
        seed=42,
        max_examples=25,
        strict=strict,
        requests={"checks": 10, "total": 11},
        status_coverage={"open": 2, "complete": 1},
        warnings=[
            f"{req.id} (SHOULD) failed: {req.messages[0]}"
            for req in requirements
            if req.level == "SHOULD" and req.outcome == "failed"
        ],
    )


def cases_of(document: str) -> dict[str, ET.Element]:
    """The testcases of a junit document by name."""
    return {case.get("name", ""): case for case in ET.fromstring(document).iter("testcase")}


def properties_of(case: ET.Element) -> dict[str, str]:
    """A testcase's properties: <property> elements, or [[PROPERTY|name=value]] lines in its system-out."""
    properties = {prop.get("name", ""): prop.get("value", "") for prop in case.iter("property")}
    properties.update(_PROPERTY_LINE.findall(case.findtext("system-out") or ""))
    return properties


# --- junit.xml -------------------------------------------------------------


def test_junit_counts_match_the_testcases() -> None:
    root = ET.fromstring(render_junit(a_result()))
    assert root.tag == "testsuites"
    assert root.get("name") == "enrolment-conformance"
    assert [suite.get("name") for suite in root] == [
        f"enrolment-conformance.{area}" for area in ("AUTH", "OAUTH", "SCOPE", "STATUS")
    ]
    expected = {"tests": "6", "failures": "1", "errors": "1", "time": "0.700"}
    assert {key: root.get(key) for key in expected} == expected
    assert root.get("skipped") is None  # junit-10.xsd has no skipped count on <testsuites>
    assert sum(int(suite.get("skipped", "0")) for suite in root) == 2
    auth = root.find("testsuite[@name='enrolment-conformance.AUTH']")
    assert auth is not None
    assert [auth.get(key) for key in ("tests", "failures", "errors", "skipped")] == ["3", "1", "0", "0"]
    assert auth.get("timestamp") == "2025-01-02T03:04:05"


def test_junit_suites_carry_the_statement_verdict_claim_and_classes() -> None:
    classes = [
        ClassResult("core", "Core", True, "non-conformant", why="AUTH-003 failed"),
        ClassResult("oauth", "OAuth", True, "not verified", needs=["target.token_url"]),
        ClassResult("methods", "Methods", False, "not claimed"),
    ]
    result = replace(a_result(), classes=classes, claim=["core", "oauth"], claim_narrowed=True)
    for suite in ET.fromstring(render_junit(result)).iter("testsuite"):
        first = suite[0]
        assert first.tag == "properties"  # the schemas want it before the testcases
        properties = {prop.get("name"): prop.get("value") for prop in first.iter("property")}
        assert properties["verdict"] == result.verdict
        assert properties["claim"] == "core,oauth (narrowed)"
        classes_seen = {name: value for name, value in properties.items() if name.startswith("class.")}
        assert classes_seen == {
            "class.core": "non-conformant",
            "class.oauth": "not verified",
            "class.methods": "not claimed",
        }


def test_junit_testcases_name_their_requirement() -> None:
    cases = cases_of(render_junit(a_result()))
    assert "AUTH-003 check_wrong_secret_is_401[abc/def]" in cases
    for name, case in cases.items():
        props = properties_of(case)
        assert set(props) == {"requirement", "level", "area", "outcome"}
        assert name.startswith(props["requirement"] + " ")
        assert case.get("classname") == f"conformance.{props['area']}.{props['requirement']}"


def test_junit_failure_carries_the_evidence() -> None:
    case = cases_of(render_junit(a_result()))["AUTH-003 check_wrong_secret_is_401[abc/def]"]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "expected 401, got 200"
    assert failure.get("type") == "AssertionError"
    text = failure.text or ""
    for expected in ("GET https://api.example.test/assignments/a1", "Authorization: Basic ***", "=> 200"):
        assert expected in text
    assert SCRIPT in text  # plain text in XML: the serializer escapes it
    assert "reproduce: curl -i -X GET" in text
    assert properties_of(case)["outcome"] == "failed"
    assert case.get("time") == "0.500"


def test_junit_strips_characters_xml_cannot_carry() -> None:
    document = render_junit(a_result())
    assert "\x01" not in document and "\x0b" not in document
    ET.fromstring(document)


def test_junit_should_failure_is_a_warning_unless_strict() -> None:
    case = cases_of(render_junit(a_result()))["AUTH-009 check_basic_challenge"]
    assert case.find("failure") is None
    assert "\nWARNING (SHOULD): no Basic challenge" in (case.findtext("system-out") or "")
    assert properties_of(case)["outcome"] == "warning"
    strict_case = cases_of(render_junit(a_result(strict=True)))["AUTH-009 check_basic_challenge"]
    assert strict_case.find("failure") is not None
    assert properties_of(strict_case)["outcome"] == "failed"


def test_junit_error_and_skipped() -> None:
    cases = cases_of(render_junit(a_result()))
    error = cases["STATUS-001 check_status_enum[open]"].find("error")
    assert error is not None and error.get("type") == "error"
    assert "no response: timeout" in (error.text or "")
    unrun = cases["OAUTH-001 (no check ran)"].find("skipped")
    assert unrun is not None and unrun.get("message") == "no check ran"
    skipped = cases["SCOPE-001 check_read_scope"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no token_url configured"


def test_junit_run_without_verdict_reports_an_error() -> None:
    root = ET.fromstring(render_junit(an_unreachable_result()))
    assert root.get("errors") == "1"
    assert sum(int(suite.get("skipped", "0")) for suite in root) == 6
    error = cases_of(ET.tostring(root, encoding="unicode"))["RUN no verdict"].find("error")
    assert error is not None and "cannot reach the target" in (error.get("message") or "")


@pytest.mark.parametrize(
    "result",
    [a_result(), a_result(strict=True), an_unreachable_result()],
    ids=["default", "strict", "no-verdict"],
)
def test_junit_validates_against_the_junit_schema(result: RunResult) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    assert len(JUNIT_10_XSDS) == 2
    for schema in (XSD, *JUNIT_10_XSDS):
        xmlschema.XMLSchema(schema).validate(render_junit(result))
    xmlschema.XMLSchema(XSD).validate(render_junit(result, testcase_properties=True))


def test_junit_schema_rejects_a_malformed_document() -> None:
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(XSD)
    no_counts_no_name = '<testsuites><testsuite name="x" tests="1"><testcase/></testsuite></testsuites>'
    assert not schema.is_valid(no_counts_no_name)


# --- report.html -----------------------------------------------------------


class _Ids(html.parser.HTMLParser):
    """Collects id attributes and link targets of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.links: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids[values["id"] or ""] += 1
        if tag == "a" and (values.get("href") or "").startswith("#"):
            self.links.add((values["href"] or "")[1:])


def parsed(document: str) -> _Ids:
    parser = _Ids()
    parser.feed(document)
    return parser


def section(document: str, section_id: str) -> str:
    """The markup of the <section> with this id (up to the next top-level section)."""
    start = document.index(f'<section id="{section_id}"')
    return document[start : document.index("\n</section>", start)]


def test_html_puts_the_verdict_first() -> None:
    document = render_html(a_result(), results_sha256=DIGEST)
    order = [
        document.index(mark) for mark in ("FAIL", 'id="failures"', 'id="statement"', 'id="requirements"')
    ]
    assert order == sorted(order)
    assert "non-conformant" in document
    assert "1 passed, 2 failed, 2 skipped, 1 error" in document
    assert DIGEST in document


def test_html_lists_every_requirement_and_anchors_failures() -> None:
    result = a_result()
    document = render_html(result)
    for req in result.requirements:
        assert req.id in document
    ids = parsed(document)
    for anchor in ("AUTH-003", "AUTH-009", "STATUS-001"):
        assert ids.ids[anchor] == 1
    assert 'href="#AUTH-003"' in document
    assert "AUTH-001" not in ids.ids
    assert all(count == 1 for count in ids.ids.values())
    assert ids.links <= set(ids.ids)


def test_html_is_self_contained() -> None:
    document = render_html(a_result())
    for external in ("<script src=", "<link", "url(http", 'src="http', "@import"):
        assert external not in document


def test_html_escapes_exchange_content() -> None:
    document = render_html(a_result())
    assert SCRIPT not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "<img" not in document
    assert "X-Echo: &#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in document
    assert "reproduce" in document


def test_html_leads_with_the_failures_then_the_errors() -> None:
    document = render_html(a_result())
    failures = section(document, "failures")
    assert "Failed requirements (1)" in failures
    listed = failures[: failures.index('id="errors"')]
    assert '<a href="#AUTH-003">AUTH-003</a>' in listed and "<td>MUST</td>" in listed
    assert "check_wrong_secret_is_401[abc/def]: expected 401, got 200" in listed
    assert "second line" not in listed  # one line; the whole message is at the anchor
    assert f"<code>{rerun_command('AUTH-003')}</code>" in listed
    assert "AUTH-009" not in failures  # a failed SHOULD is a warning outside strict mode
    errors = failures[failures.index('id="errors"') :]
    assert "could not be checked (1)" in errors and '<a href="#STATUS-001">' in errors
    assert "could not get an answer from the target: timeout" in errors


def test_html_says_when_nothing_failed() -> None:
    passed = [req for req in the_requirements() if req.outcome in ("passed", "skipped")]
    document = render_html(a_run(passed))
    assert "Failed requirements (0)" in document and "None: no MUST requirement failed." in document
    assert (
        'id="errors"' not in document and 'id="warnings"' not in document and 'id="details"' not in document
    )


def test_the_rerun_command_names_the_saved_results_and_one_requirement() -> None:
    assert rerun_command("AUTH-003") == "enrolment-conformance rerun results.json --only AUTH-003"


def test_html_one_line_messages_are_cut_at_a_word() -> None:
    line = html_report.one_line("word " * 100 + "\nsecond")
    assert len(line) <= html_report.ONE_LINE and line.endswith("word...")
    assert html_report.one_line("short\nsecond") == "short"


def test_html_warnings_say_what_they_are() -> None:
    result = a_result()
    result.warnings.append("TLS certificates were not verified (--insecure)")
    warnings = section(render_html(result), "warnings")
    should = warnings[warnings.index('id="should-warnings"') : warnings.index('id="run-warnings"')]
    run = warnings[warnings.index('id="run-warnings"') :]
    assert "Failed SHOULD requirements (1;" in should and '<a href="#AUTH-009">AUTH-009</a>' in should
    assert "TLS" not in should
    assert "<li>TLS certificates were not verified (--insecure)</li>" in run and "AUTH-009" not in run


def test_html_in_strict_mode_a_failed_should_is_a_failure_not_a_warning() -> None:
    result = a_result(strict=True)
    assert result.warnings  # the runner still records the line; the report must not list it as a warning
    document = render_html(result)
    assert '<a href="#AUTH-009">AUTH-009</a>' in section(document, "failures")
    assert "Failed requirements (2)" in document
    assert 'id="warnings"' not in document and "Failed SHOULD" not in document
    assert 'class="badge o-warning"' not in document


def test_html_shows_warnings_coverage_and_notes() -> None:
    document = render_html(a_result())
    assert 'id="warnings"' in document
    assert "check_basic_challenge: no Basic challenge" in section(document, "warnings")
    for status in ("archived", "overdue", "scheduled"):
        assert f'<tr class="gap"><td><code>{status}</code></td><td>0</td>' in document
    assert "<tr><td><code>open</code></td><td>2</td>" in document
    assert "never a current status" in document
    assert "extra: x" in document


def test_html_statement_derives_what_was_exercised() -> None:
    document = render_html(a_result())
    assert "HTTP Basic" in document
    assert "OAuth 2.0 Bearer" not in document
    assert "no token_url configured" in document  # the skipped requirement and why


def test_html_names_the_scopes_that_were_exercised() -> None:
    requirements = the_requirements()
    scope = next(req for req in requirements if req.id == "SCOPE-001")
    scope.checks[0].outcome = scope.outcome = "passed"
    document = render_html(a_run(requirements))
    assert "OAuth 2.0 Bearer" in document
    assert "<dd>api/read <span" in document


def test_html_names_the_reference_implementation_and_its_faults() -> None:
    result = a_result()
    result.target["kind"] = "reference implementation"
    result.reference_faults = ["wrong-401", "no-challenge"]
    document = render_html(result)
    assert "reference implementation, with injected faults: wrong-401, no-challenge" in document


def test_html_renders_the_same_from_results_json() -> None:
    result = a_result()
    again = RunResult.from_dict(result.to_dict())
    assert again == result
    assert render_html(again, results_sha256=DIGEST) == render_html(result, results_sha256=DIGEST)


def test_the_results_document_is_asdict_and_shares_no_container_with_the_result() -> None:
    """to_dict skips asdict's deep copies: it must still equal asdict, and a change to the document
    (the redactor builds a new one, a report may add keys) must not reach the result."""
    result = a_result()
    result.tokens = {"requests": 2, "scope_sets": [("tenant-1", "api/read")]}
    document = result.to_dict()
    assert document == dataclasses.asdict(result)
    document["requirements"][1]["checks"][0]["exchanges"][0]["request_headers"]["Authorization"] = "x"
    document["tokens"]["scope_sets"].append(("tenant-2", "api/read"))
    assert result.tokens["scope_sets"] == [("tenant-1", "api/read")]
    assert result.requirements[1].checks[0].exchanges[0].request_headers["Authorization"] == "Basic ***"


def a_probe(note: str, body: str = "forbidden") -> Exchange:
    return an_exchange(note=note, status=403, response_body=body)


def test_html_shows_the_evidence_of_the_same_request_once_with_its_count() -> None:
    same = [
        CheckResult(
            f"check_x[{n}]", "ERR-005", "failed", message=f"bad {n}", exchanges=[a_probe("p", "BODY-1")]
        )
        for n in (1, 2, 3)
    ]
    other_url = CheckResult(
        "check_x[4]", "ERR-005", "failed", exchanges=[an_exchange(url="https://api.example.test/other")]
    )
    other_probe = CheckResult("check_x[5]", "ERR-005", "failed", exchanges=[a_probe("another probe")])
    passed = CheckResult("check_x[6]", "ERR-005", "passed", exchanges=[a_probe("p", "BODY-1")])
    req = a_requirement("ERR-005", "MUST", [*same, other_url, passed, other_probe])
    groups = evidence_groups(req)
    assert [[check.name for check in group.checks] for group in groups] == [
        ["check_x[1]", "check_x[2]", "check_x[3]"],
        ["check_x[4]"],
        ["check_x[5]"],  # same redacted headers, but a different probe: never merged
    ]
    assert groups[0].messages == ["bad 1", "bad 2", "bad 3"]
    details = section(render_html(a_run([req])), "details")
    assert details.count("BODY-1") == 1  # shown once for the three instances
    assert "&times;3</strong>" in details and "3 instances sent these requests" in details
    assert details.count('<details class="evidence">') == 3  # collapsed: readable without JavaScript


def test_html_area_tables_share_one_column_layout() -> None:
    document = render_html(a_result())
    requirements = section(document, "requirements")
    tables = re.findall(r'<table class="reqs">\s*(<colgroup>.*?</colgroup>)', requirements)
    assert len(tables) == len({req.area for req in a_result().requirements}) and len(set(tables)) == 1
    assert re.search(r"td\.id[^{]*\{[^}]*white-space: nowrap", document)


def incomplete_statement(result: RunResult) -> dict[str, object]:
    """The statement issue 9 adds: conformance classes, a narrowed claim and an interrupted run."""
    return {
        **conformance_statement(replace(result, verdict="pass")),
        "verdict": "incomplete",
        "verdict_meaning": "not fully verified",
        "narrowed": True,
        "interrupted": True,
        "classes": [
            {"id": "core", "title": "Core read", "claimed": True, "status": "conformant", "why": None,
             "how_to_verify": None, "requirements": ["AUTH-001", "AUTH-003"]},
            {"id": "oauth", "title": "OAuth 2.0 and scopes", "claimed": True, "status": "not verified",
             "why": "no token_url configured", "how_to_verify": ["set token_url in the config"],
             "requirements": ["SCOPE-001"]},
            {"id": "methods", "title": "HTTP methods", "claimed": False, "status": "not claimed",
             "why": None, "how_to_verify": ["--allow-unsafe-methods"], "requirements": []},
        ],
    }  # fmt: skip


def test_html_renders_conformance_classes_and_an_incomplete_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_report, "conformance_statement", incomplete_statement)
    monkeypatch.setattr(html_report, "OUTCOMES", (*OUTCOMES, "not_applicable"))
    requirements = [req for req in the_requirements() if req.outcome in ("passed", "skipped")]
    result = a_run(requirements)
    requirements[0].outcome = "not_applicable"  # type: ignore[assignment]
    result.verdict = "incomplete"  # type: ignore[assignment]
    document = render_html(result)
    banner = document[: document.index('id="failures"')]
    assert 'class="banner v-incomplete"' in banner and "INCOMPLETE" in banner
    assert "Interrupted:" in banner and "Narrowed claim:" in banner
    assert "Core read, OAuth 2.0 and scopes." in banner  # the claimed classes, not the unclaimed one
    classes = document[
        document.index('id="classes"') : document.index("</table>", document.index('id="classes"'))
    ]
    assert '<span class="badge o-not-verified">not verified</span>' in classes
    assert "no token_url configured" in classes and "to verify: set token_url in the config" in classes
    assert '<span class="badge o-not-claimed">not claimed</span>' in classes
    assert '<span class="badge o-not_applicable">not applicable</span>' in document
    assert ".v-incomplete { background: #b26a00; }" in document


def test_html_without_classes_renders_no_class_table() -> None:
    document = render_html(a_result())
    assert (
        'id="classes"' not in document and "Narrowed claim" not in document and "Interrupted" not in document
    )


def test_html_no_verdict_banner() -> None:
    document = render_html(an_unreachable_result())
    banner = document[: document.index('id="statement"')]
    assert "ERROR" in banner and "cannot reach the target" in banner
    assert 'id="details"' not in document


def test_html_template_is_package_data() -> None:
    template = resources.files("conformance.reports").joinpath("templates", "report.html.j2")
    assert template.is_file()
