"""The report.html: one self-contained page a human reads to learn whether the target conforms.

The page leads with what went wrong (failed, errored and warned requirements,
each linked to its evidence), then the conformance statement, then every
requirement. It is rendered by a Jinja2 template with autoescaping on, so
nothing a target sent back (headers, bodies, messages) can become markup, and
control characters shown as escapes (``\\x1b``), so none reaches a terminal. This
module only derives the views the template needs from the RunResult.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from conformance.config import STATUSES
from conformance.controls import printable_lines
from conformance.reports.statement import LEVELS, by_area, conformance_statement, first_line
from conformance.reports.template_cache import TemplateCache
from conformance.results import (
    OUTCOMES,
    CheckResult,
    Exchange,
    RequirementResult,
    RunResult,
    throttling_words,
)
from conformance.verdict import area_verdict

TEMPLATE = "report.html.j2"
RESULTS_FILE = "results.json"  # the name write_reports gives it, as the re-run command names it
NEVER_CURRENT = "unassigned"
NEVER_CURRENT_NOTE = "never a current status (only an eventLog previousStatus)"
UNCOVERED_NOTE = "no fixture holds it: the rules for this status went unchecked"
VERDICTS = {
    "pass": ("PASS", "conformant"),
    "fail": ("FAIL", "non-conformant"),
    "incomplete": ("INCOMPLETE", "not every claimed class was verified"),
    "error": ("ERROR", "no verdict"),
}
UNDECIDED = ("failed", "error")  # the outcomes whose instances carry evidence in the report
ONE_LINE = 200  # characters of a message shown in the list of failures; the full text is at its anchor
# Opens every <details> before printing, so that a printed report shows all evidence. It is our own
# constant (Markup: inserted verbatim, escaping would break it) and the page's CSP allows only its hash.
PRINT_SCRIPT = Markup(
    'addEventListener("beforeprint",()=>document.querySelectorAll("details").forEach(d=>d.open=true));'
)


@dataclass(frozen=True)
class AreaView:
    """One area of the catalogue: its requirements and its verdict."""

    name: str
    verdict: str
    requirements: list[RequirementResult]

    def count(self, outcome: str) -> int:
        """How many of the area's requirements have this outcome."""
        return sum(1 for req in self.requirements if req.outcome == outcome)


@dataclass(frozen=True)
class CoverageRow:
    """One status value and how many fixtures were observed holding it."""

    status: str
    fixtures: int
    gap: bool  # a status an enrolment can hold that no fixture showed
    note: str


@dataclass(frozen=True)
class Finding:
    """A requirement listed at the top of the report, with the one line that says what went wrong."""

    requirement: RequirementResult
    message: str
    instances: int  # check instances that failed or errored

    @property
    def rerun(self) -> str:
        """The command that re-runs this requirement alone."""
        return rerun_command(self.requirement.id)


@dataclass(frozen=True)
class Findings:
    """What the top of the report lists: failures, requirements that could not be checked, warnings."""

    failures: list[Finding]  # failed MUST requirements, and failed SHOULD ones in strict mode
    errors: list[Finding]
    should_warnings: list[Finding]  # failed SHOULD requirements outside strict mode
    run_warnings: list[str]  # how the run was limited: TLS off, budget spent, bodies truncated, throttling


@dataclass(frozen=True)
class EvidenceGroup:
    """Instances of one requirement that sent the same requests: their evidence is shown once."""

    checks: list[CheckResult]
    exchanges: list[Exchange]

    @property
    def outcome(self) -> str:
        return "failed" if any(check.outcome == "failed" for check in self.checks) else "error"

    @property
    def messages(self) -> list[str]:
        """The distinct messages of the instances, in order."""
        return list(dict.fromkeys(check.message or "(no message)" for check in self.checks))


def render_html(result: RunResult, *, results_sha256: str | None = None) -> str:
    """The report.html document of a run."""
    template = _environment().get_template(TEMPLATE)
    return template.render(
        result=result,
        results_sha256=results_sha256,
        verdict=VERDICTS[result.verdict],
        gate=VERDICTS[result.gate] if result.gate else None,
        statement=conformance_statement(result),
        findings=findings_of(result),
        throttling=throttling_words(result.throttling),
        baseline_marked=[req for req in result.requirements if req.baseline],
        areas=areas_of(result),
        levels=LEVELS,
        outcomes=OUTCOMES,
        coverage=coverage_rows(result.status_coverage),
        detailed=[(req, evidence_groups(req)) for req in result.requirements if req.outcome in UNDECIDED],
        noted=[(req, check) for req in result.requirements for check in req.checks if _has_notes(check)],
        print_script=PRINT_SCRIPT,
        script_hash=_csp_hash(PRINT_SCRIPT),
    )


@cache
def _environment() -> jinja2.Environment:
    """The template environment: package templates, compiled once (TemplateCache), autoescaping always on,
    strict undefined."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.reports", "templates"),
        bytecode_cache=TemplateCache(Path(__file__)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    environment.filters["first_line"] = first_line
    return environment


def _visible(value: object) -> object:
    """Every string the template outputs with its control characters as escapes (the page is text a
    terminal may show: cat, grep); the suite's own markup (Markup) is inserted as it is."""
    return printable_lines(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def rerun_command(requirement_id: str) -> str:
    """The command line that re-runs one requirement of the saved run (issue 11: replay one failure)."""
    return shlex.join(["enrolment-conformance", "rerun", RESULTS_FILE, "--only", requirement_id])


def findings_of(result: RunResult) -> Findings:
    """The failed, errored and warned requirements, and the warnings about the run itself."""
    failed = [req for req in result.requirements if req.outcome == "failed"]
    warned = [] if result.strict else [req for req in failed if req.level == "SHOULD"]
    return Findings(
        failures=[_finding(req) for req in failed if req not in warned],
        errors=[_finding(req) for req in result.requirements if req.outcome == "error"],
        should_warnings=[_finding(req) for req in warned],
        run_warnings=_run_warnings(result),
    )


def evidence_groups(req: RequirementResult) -> list[EvidenceGroup]:
    """The failed and errored instances of a requirement, grouped by the requests they sent.

    Two instances are grouped when their exchanges have the same method, URL, redacted request
    headers, body and probe note (redaction can make two different credentials look alike; the
    note says what each request probed, so different probes are never merged).
    """
    groups: dict[tuple[tuple[object, ...], ...], EvidenceGroup] = {}
    for check in req.checks:
        if check.outcome in UNDECIDED:
            key = tuple(_request_of(ex) for ex in check.exchanges)
            groups.setdefault(key, EvidenceGroup([], check.exchanges)).checks.append(check)
    return list(groups.values())


def areas_of(result: RunResult) -> list[AreaView]:
    """The areas in catalogue order, each with its requirements and verdict."""
    return [
        AreaView(name, area_verdict(reqs, strict=result.strict), reqs)
        for name, reqs in by_area(result.requirements).items()
    ]


def coverage_rows(status_coverage: dict[str, int]) -> list[CoverageRow]:
    """All six status values (and any unexpected one seen), with the fixtures observed holding each."""
    rows = []
    for status in STATUSES:
        fixtures = status_coverage.get(status, 0)
        if status == NEVER_CURRENT:
            rows.append(CoverageRow(status, fixtures, False, NEVER_CURRENT_NOTE))
        else:
            rows.append(CoverageRow(status, fixtures, fixtures == 0, "" if fixtures else UNCOVERED_NOTE))
    for status, fixtures in status_coverage.items():
        if status not in STATUSES:
            rows.append(CoverageRow(status, fixtures, False, "not a status value of the contract"))
    return rows


def one_line(text: str, limit: int = ONE_LINE) -> str:
    """The first line of a message, cut at a word before limit characters (ending with ...)."""
    line = first_line(text)
    if len(line) <= limit:
        return line
    cut = line[: limit - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "..."


def _finding(req: RequirementResult) -> Finding:
    instances = sum(1 for check in req.checks if check.outcome == req.outcome)
    return Finding(req, one_line(req.messages[0]) if req.messages else req.title, instances)


def _run_warnings(result: RunResult) -> list[str]:
    """result.warnings without the failed-SHOULD lines, which the report lists from the requirements."""
    should = tuple(f"{req.id} (SHOULD) failed" for req in result.requirements if req.level == "SHOULD")
    return [warning for warning in result.warnings if not warning.startswith(should)]


def _request_of(ex: Exchange) -> tuple[object, ...]:
    return (ex.method, ex.url, tuple(sorted(ex.request_headers.items())), ex.request_body, ex.note)


def _has_notes(check: CheckResult) -> bool:
    return check.outcome == "passed" and bool(check.notes)


def _csp_hash(script: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
