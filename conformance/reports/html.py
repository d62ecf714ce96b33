"""The report.html: one self-contained page a human reads to learn whether the target conforms.

The page is rendered by a Jinja2 template with autoescaping on, so nothing a
target sent back (headers, bodies, messages) can become markup. This module
only derives the views the template needs from the RunResult.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache

import jinja2
from markupsafe import Markup

from conformance.config import STATUSES
from conformance.reports.statement import LEVELS, by_area, conformance_statement
from conformance.results import OUTCOMES, CheckResult, RequirementResult, RunResult
from conformance.verdict import area_verdict

TEMPLATE = "report.html.j2"
NEVER_CURRENT = "unassigned"
NEVER_CURRENT_NOTE = "never a current status (only an eventLog previousStatus)"
UNCOVERED_NOTE = "no fixture holds it: the rules for this status went unchecked"
VERDICTS = {
    "pass": ("PASS", "conformant"),
    "fail": ("FAIL", "non-conformant"),
    "incomplete": ("INCOMPLETE", "not every claimed class was verified"),
    "error": ("ERROR", "no verdict"),
}
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


def render_html(result: RunResult, *, results_sha256: str | None = None) -> str:
    """The report.html document of a run."""
    template = _environment().get_template(TEMPLATE)
    return template.render(
        result=result,
        results_sha256=results_sha256,
        verdict=VERDICTS[result.verdict],
        gate=VERDICTS[result.gate] if result.gate else None,
        statement=conformance_statement(result),
        baseline_marked=[req for req in result.requirements if req.baseline],
        areas=areas_of(result),
        levels=LEVELS,
        outcomes=OUTCOMES,
        coverage=coverage_rows(result.status_coverage),
        detailed=[req for req in result.requirements if req.outcome in ("failed", "error")],
        noted=[(req, check) for req in result.requirements for check in req.checks if _has_notes(check)],
        print_script=PRINT_SCRIPT,
        script_hash=_csp_hash(PRINT_SCRIPT),
    )


@cache
def _environment() -> jinja2.Environment:
    """The template environment: package templates, autoescaping always on, strict undefined."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["first_line"] = first_line
    return environment


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


def first_line(text: str) -> str:
    """The first non-empty line of a message, for a table cell."""
    return next((line for line in text.splitlines() if line.strip()), "")


def _has_notes(check: CheckResult) -> bool:
    return check.outcome == "passed" and bool(check.notes)


def _csp_hash(script: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
