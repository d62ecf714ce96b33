"""The conformance statement: what a vendor hands to the platform team.

One function builds it from a RunResult; ``results.json`` carries it under
``statement`` and ``report.html`` opens with it, so both always say the same.
It is derived data: reading a results.json back ignores it and rebuilds it.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from conformance.catalogue import LEVELS
from conformance.results import OUTCOMES, REFERENCE_KIND, RequirementResult, RunResult
from conformance.verdict import area_verdict

VERDICT_MEANINGS = {
    "pass": "conformant",
    "fail": "non-conformant",
    "incomplete": "incomplete: not every claimed class was verified",
    "error": "no verdict",
}
BASIC_SCHEME = "HTTP Basic (Tenant ID + API secret)"
BEARER_SCHEME = "OAuth 2.0 Bearer (client credentials)"
_SCOPE = re.compile(r"\bapi/[a-z]+\b")


def conformance_statement(result: RunResult) -> dict[str, Any]:
    """The statement of a run: target, environment, date, provenance, what was exercised, verdicts, counts."""
    return {
        "verdict": result.verdict,
        "verdict_meaning": verdict_meaning(result),
        "verdict_reason": result.verdict_reason,
        "no_verdict_reason": result.error if result.verdict == "error" else None,
        "claim": list(result.claim),
        "narrowed": result.claim_narrowed,
        "selection": result.select,
        "interrupted": result.interrupted,
        "classes": [asdict(cls) for cls in result.classes],
        "target": {
            key: result.target.get(key)
            for key in ("base_url", "token_url", "webhooks_token_url", "tenant_id")
        },
        "target_kind": result.target.get("kind") or "external",
        "environment": environment_of(result),
        "date": result.finished_at[:10],
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "suite": f"enrolment-conformance {result.suite_version}",
        "suite_version": result.suite_version,
        "spec_sha256": result.spec_sha256,
        "strict": result.strict,
        "seed": result.seed,
        "max_examples": result.max_examples,
        "auth_schemes_exercised": schemes_exercised(result.requirements),
        "scopes_exercised": scopes_exercised(result.requirements),
        "areas": [
            {"area": area, "verdict": area_verdict(reqs, strict=result.strict), **_counts(reqs)}
            for area, reqs in by_area(result.requirements).items()
        ],
        "levels": {level: _counts([r for r in result.requirements if r.level == level]) for level in LEVELS},
        "skipped": _listed(result, "skipped"),
        "not_applicable": _listed(result, "not_applicable"),
    }


def verdict_meaning(result: RunResult) -> str:
    """The verdict in words; a pass of a narrowed claim says which classes it is a pass for."""
    meaning = VERDICT_MEANINGS[result.verdict]
    if result.interrupted:
        return f"{meaning}: interrupted ({result.interrupted})"
    if result.verdict == "pass" and result.claim_narrowed:
        return f"conformant for the claimed classes only: {', '.join(result.claim)}"
    return meaning


def _listed(result: RunResult, outcome: str) -> list[dict[str, str]]:
    return [
        {"requirement": req.id, "level": req.level, "title": req.title, "why": skip_reason(req)}
        for req in result.requirements
        if req.outcome == outcome
    ]


def environment_of(result: RunResult) -> str:
    """The environment in words: a named environment, the reference implementation (and faults), or custom."""
    if result.target.get("kind") == REFERENCE_KIND:
        if result.reference_faults:
            return f"reference implementation, with injected faults: {', '.join(result.reference_faults)}"
        return "reference implementation (no injected faults)"
    return result.environment or "custom target (no named environment)"


def skip_reason(req: RequirementResult) -> str:
    return req.messages[0] if req.messages else "no check ran"


def first_line(text: str) -> str:
    """The first non-empty line of a message, for a table cell."""
    return next((line for line in text.splitlines() if line.strip()), "")


def by_area(requirements: list[RequirementResult]) -> dict[str, list[RequirementResult]]:
    """Requirements grouped by area, areas in catalogue order."""
    grouped: dict[str, list[RequirementResult]] = {}
    for req in requirements:
        grouped.setdefault(req.area, []).append(req)
    return grouped


def schemes_exercised(requirements: list[RequirementResult]) -> list[str]:
    """The authentication schemes whose checks reached a pass or fail."""
    schemes = []
    if _ran(requirements, "AUTH"):
        schemes.append(BASIC_SCHEME)
    if _ran(requirements, "OAUTH") or _ran(requirements, "SCOPE"):
        schemes.append(BEARER_SCHEME)
    return schemes


def scopes_exercised(requirements: list[RequirementResult]) -> list[str]:
    """The scopes named in the titles of SCOPE requirements whose checks reached a pass or fail."""
    scopes: list[str] = []
    for req in requirements:
        if req.area == "SCOPE" and decided(req):
            scopes += [scope for scope in _SCOPE.findall(req.title) if scope not in scopes]
    return scopes


def decided(req: RequirementResult) -> bool:
    """Whether at least one check of the requirement reached a pass or a fail."""
    return any(check.outcome in ("passed", "failed") for check in req.checks)


def _ran(requirements: list[RequirementResult], area: str) -> bool:
    return any(decided(req) for req in requirements if req.area == area)


def _counts(requirements: list[RequirementResult]) -> dict[str, int]:
    return {outcome: sum(1 for req in requirements if req.outcome == outcome) for outcome in OUTCOMES}
