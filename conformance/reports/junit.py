"""The junit.xml report: one testsuite per area, one testcase per check instance.

Testcase names start with the requirement ID so that a CI reader sees which
promise broke. A failed SHOULD requirement is a warning: it is rendered as a
passed testcase with a ``WARNING (SHOULD)`` line, unless the run is strict. A
failure the baseline accepts is rendered as skipped, with the reason.
How a check maps to a JUnit status is decided in one place,
:func:`junit_status`, so that new kinds of outcome need only a small change there.

The document is valid against the Jenkins xUnit plugin's ``junit-10.xsd`` (the
only JUnit schema a Jenkins or GitLab consumer validates against; copies in
tests/data). That schema allows no ``<properties>`` inside a ``<testcase>``, so
by default each testcase carries its properties (requirement, level, area,
outcome, baseline) as ``[[PROPERTY|name=value]]`` lines at the top of its
``<system-out>``, besides the requirement ID in its classname and name. With
``testcase_properties=True`` (``enrolment-conformance report --junit-properties``)
they are a ``<properties>`` element instead, which the Jenkins JUnit plugin shows
(``keepProperties: true``) but junit-10.xsd rejects.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from conformance.reports.statement import by_area, first_line
from conformance.results import CheckResult, Exchange, RequirementResult, RunResult

SUITE_PREFIX = "enrolment-conformance"
BODY_EXCERPT_CHARS = 2000
# Characters that XML 1.0 does not allow, lone surrogates included.
_INVALID_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

JunitKind = Literal["passed", "warning", "failure", "error", "skipped"]


@dataclass(frozen=True)
class JunitStatus:
    """How one testcase is reported: its kind, the one-line message and the detail text."""

    kind: JunitKind
    message: str = ""
    detail: str = ""

    @property
    def outcome(self) -> str:
        """The value of the testcase's ``outcome`` property."""
        return {"failure": "failed"}.get(self.kind, self.kind)


def render_junit(result: RunResult, *, testcase_properties: bool = False) -> str:
    """The junit.xml document of a run (testcase_properties: a <properties> element per testcase)."""
    root = ET.Element("testsuites", name=SUITE_PREFIX)
    for area, requirements in by_area(result.requirements).items():
        cases = _area_cases(requirements, result.strict, testcase_properties)
        root.append(_suite(f"{SUITE_PREFIX}.{area}", cases, result))
    if result.error and not any(req.outcome == "error" for req in result.requirements):
        root.append(
            _suite(f"{SUITE_PREFIX}.RUN", [_run_error_case(result.error, testcase_properties)], result)
        )
    _set_totals(root, skipped=False)  # junit-10.xsd has no skipped count on <testsuites>
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def junit_status(
    check: CheckResult, level: str, *, strict: bool, baseline: dict[str, str | None] | None = None
) -> JunitStatus:
    """Map one check instance to its JUnit status.

    A failed SHOULD is a warning unless strict; a failure of a requirement the
    baseline accepts is skipped, with the reason; one whose entry expired, or that
    is new while a baseline is in use, says so in its message.
    """
    if check.outcome == "failed":
        status = (baseline or {}).get("status")
        if status == "accepted":
            return JunitStatus("skipped", _accepted_message(baseline or {}, check), _detail(check))
        kind: JunitKind = "failure" if level == "MUST" or strict else "warning"
        prefix = {"expired": f"baseline entry expired on {(baseline or {}).get('expires')}: ", "new": "new: "}
        return JunitStatus(kind, prefix.get(status or "", "") + first_line(check.message), _detail(check))
    if check.outcome == "error":
        return JunitStatus("error", first_line(check.message), _detail(check))
    if check.outcome == "skipped":
        return JunitStatus("skipped", first_line(check.message))
    return JunitStatus("passed")


def _area_cases(requirements: list[RequirementResult], strict: bool, as_element: bool) -> list[ET.Element]:
    """The testcases of one area: one per check, or one skipped case for a requirement without checks."""
    cases = []
    for req in requirements:
        if not req.checks:
            reason = req.messages[0] if req.messages else "no check ran"
            status = JunitStatus("skipped", reason)
            cases.append(_case(req, f"{req.id} (no check ran)", 0.0, status, as_element=as_element))
        for check in req.checks:
            status = junit_status(check, req.level, strict=strict, baseline=req.baseline)
            name = f"{req.id} {check.name}"
            cases.append(_case(req, name, check.duration_s, status, check.notes, as_element=as_element))
    return cases


def _case(
    req: RequirementResult,
    name: str,
    duration_s: float,
    status: JunitStatus,
    notes: list[str] | None = None,
    *,
    as_element: bool = False,
) -> ET.Element:
    """One testcase element with its properties, status child and system-out."""
    case = ET.Element("testcase", name=_clean(name), classname=f"conformance.{req.area}.{req.id}")
    case.set("time", _seconds(duration_s))
    properties = {"requirement": req.id, "level": req.level, "area": req.area, "outcome": status.outcome}
    if req.baseline and req.outcome == "failed":
        properties["baseline"] = req.baseline.get("status") or ""
    if as_element:
        case.append(_properties(properties))
    if status.kind in ("failure", "error"):
        child = ET.SubElement(case, status.kind, message=_clean(status.message), type=_error_type(status))
        child.text = _clean(status.detail)
    elif status.kind == "skipped":
        child = ET.SubElement(case, "skipped", message=_clean(status.message))
        if status.detail:
            child.text = _clean(status.detail)
    output = _system_out(status, notes or [], {} if as_element else properties)
    if output:
        ET.SubElement(case, "system-out").text = _clean(output)
    return case


def _run_error_case(error: str, as_element: bool) -> ET.Element:
    """A testcase that carries why the run reached no verdict (e.g. the target was unreachable)."""
    case = ET.Element("testcase", name="RUN no verdict", classname="conformance.RUN", time=_seconds(0.0))
    if as_element:
        case.append(_properties({"outcome": "error"}))
    ET.SubElement(case, "error", message=_clean(first_line(error)), type="error").text = _clean(error)
    if not as_element:
        ET.SubElement(case, "system-out").text = _property_lines({"outcome": "error"})
    return case


def _properties(values: dict[str, str]) -> ET.Element:
    """A <properties> element with one <property> per item."""
    properties = ET.Element("properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    return properties


def _error_type(status: JunitStatus) -> str:
    return "AssertionError" if status.kind == "failure" else "error"


def _system_out(status: JunitStatus, notes: list[str], properties: dict[str, str]) -> str:
    """The property lines, the warning line (with its evidence) and the check's notes, if any."""
    lines = [f"note: {note}" for note in notes]
    if status.kind == "warning":
        lines.insert(0, f"WARNING (SHOULD): {status.detail}")
    if properties:
        lines.insert(0, _property_lines(properties))
    return "\n".join(lines)


def _property_lines(properties: dict[str, str]) -> str:
    """Properties as ``[[PROPERTY|name=value]]`` lines, the system-out form test-management tools read."""
    return "\n".join(f"[[PROPERTY|{name}={_clean(value)}]]" for name, value in properties.items())


def _accepted_message(baseline: dict[str, str | None], check: CheckResult) -> str:
    until = f" (until {baseline['expires']})" if baseline.get("expires") else ""
    return f"accepted by baseline: {baseline.get('reason')}{until}; failure: {first_line(check.message)}"


def _suite(name: str, cases: list[ET.Element], result: RunResult) -> ET.Element:
    """A testsuite element holding cases, with its counts."""
    suite = ET.Element("testsuite", name=name)
    suite.append(_properties(statement_properties(result)))
    suite.extend(cases)
    _set_totals(suite)
    suite.set("timestamp", _timestamp(result.started_at))
    return suite


def statement_properties(result: RunResult) -> dict[str, str]:
    """The conformance statement as testsuite properties: the verdict, the claim, each class's status."""
    properties = {
        "verdict": result.verdict,
        "verdict_reason": result.verdict_reason or "",
        "claim": ",".join(result.claim) + (" (narrowed)" if result.claim_narrowed else ""),
    }
    properties.update({f"class.{cls.id}": cls.status for cls in result.classes})
    return properties


def _set_totals(element: ET.Element, *, skipped: bool = True) -> None:
    """Set tests/failures/errors/(skipped)/time on a testsuite(s) element from the testcases inside it."""
    cases = list(element.iter("testcase"))
    element.set("tests", str(len(cases)))
    counted = [("failures", "failure"), ("errors", "error")] + ([("skipped", "skipped")] if skipped else [])
    for attribute, tag in counted:
        element.set(attribute, str(sum(1 for case in cases if case.find(tag) is not None)))
    element.set("time", _seconds(sum(float(case.get("time", "0")) for case in cases)))


def _detail(check: CheckResult) -> str:
    """The message followed by every evidence exchange, as plain text."""
    parts = [check.message, *(_exchange_text(n, ex) for n, ex in enumerate(check.exchanges, start=1))]
    return "\n\n".join(part for part in parts if part)


def _exchange_text(number: int, exchange: Exchange) -> str:
    """One exchange as text: request line, headers, body, response (or transport error), curl line."""
    heading = f"--- exchange {number}" + (f": {exchange.note}" if exchange.note else "")
    lines = [heading, f"{exchange.method} {exchange.url}"]
    lines += [f"{name}: {value}" for name, value in exchange.request_headers.items()]
    if exchange.request_body:
        lines += ["", exchange.request_body]
    if exchange.status is None:
        lines.append(f"=> no response: {exchange.error or 'unknown error'}")
    else:
        lines.append(f"=> {exchange.status} ({exchange.elapsed_ms:.0f} ms)")
        lines += [f"{name}: {value}" for name, value in exchange.response_headers.items()]
        if exchange.response_body:
            lines += ["", _excerpt(exchange.response_body)]
    if exchange.curl:
        lines.append(f"reproduce: {exchange.curl}")
    return "\n".join(lines)


def _excerpt(body: str) -> str:
    if len(body) <= BODY_EXCERPT_CHARS:
        return body
    return f"{body[:BODY_EXCERPT_CHARS]}... ({len(body) - BODY_EXCERPT_CHARS} more characters)"


def _timestamp(started_at: str) -> str:
    """The run's start in UTC without a zone designator, the form JUnit consumers parse."""
    moment = datetime.fromisoformat(started_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _clean(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry."""
    return _INVALID_XML.sub("", text)
