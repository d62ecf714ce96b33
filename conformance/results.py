"""The result model: what a run found, in a form every report renders from.

``RunResult.to_dict()`` is the ``results.json`` document; ``RunResult.from_dict()``
reads it back, so reports can be re-rendered from a saved file. Everything in
here has already been redacted: no secret reaches this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from functools import cache
from typing import Any, Literal

# "skipped": not verified (missing configuration, deselected, budget spent, a prerequisite not met);
# "not_applicable": the requirement does not apply to the data at hand, and blocks nothing.
Outcome = Literal["passed", "failed", "skipped", "error", "not_applicable"]
Verdict = Literal["pass", "fail", "incomplete", "error"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "skipped", "error", "not_applicable")
# Keys of results.json derived from the rest when it is written (the conformance statement):
# reading a results.json back ignores them.
DERIVED_KEYS = frozenset({"statement"})
REFERENCE_KIND = "reference implementation"  # target.kind of a run against the bundled reference


@dataclass
class Exchange:
    """One HTTP request and its response (or transport error), as evidence. Already redacted."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None
    note: str | None = None  # what the request was meant to probe, e.g. "Basic payload that is not base64"
    curl: str = ""  # the curl line that reproduces the request (conformance.repro)


@dataclass
class CheckResult:
    """One check instance: a check function applied to one set of parameters."""

    name: str
    requirement: str
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # findings that do not fail the check
    needs: str | None = None  # for a check skipped for lack of configuration: the config key or flag

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """The inverse of ``dataclasses.asdict``: how results.json and pytest-xdist workers carry it."""
        return cls(**{**data, "exchanges": [Exchange(**ex) for ex in data.get("exchanges", [])]})


@dataclass
class RequirementResult:
    """A catalogue requirement and the outcome of every check instance that enforces it."""

    id: str
    title: str
    level: str
    area: str
    source: str
    outcome: Outcome
    messages: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    conformance_class: str = "core"
    # Set on a failed requirement when a baseline was applied (conformance/baseline.py):
    # {"status": "new" | "accepted" | "expired", "reason": str | None, "expires": "YYYY-MM-DD" | None}
    baseline: dict[str, str | None] | None = None


@dataclass
class ClassResult:
    """A conformance class as the run found it (see conformance/verdict.py)."""

    id: str
    title: str
    claimed: bool
    status: Literal["conformant", "non-conformant", "not verified", "not claimed"]
    why: str | None = None  # for a class that is not conformant: what failed or was not verified
    needs: list[str] = field(default_factory=list)  # the config keys or flags that would verify it
    how_to_verify: list[str] = field(default_factory=list)  # the same, in words
    requirements: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """The whole run: verdict, provenance, per-requirement outcomes."""

    verdict: Verdict
    suite_version: str
    spec_sha256: str
    target: dict[str, str | None]
    started_at: str
    finished_at: str
    counts: dict[str, int]
    requirements: list[RequirementResult]
    seed: int = 0
    max_examples: int = 0
    strict: bool = False
    environment: str | None = None
    reference_faults: list[str] = field(default_factory=list)
    error: str | None = None  # why no verdict could be reached, when verdict is "error"
    requests: dict[str, int] = field(default_factory=dict)  # requests sent, per phase
    status_coverage: dict[str, int] = field(default_factory=dict)  # status value -> fixtures observed
    # tokens obtained for use: "requests" (token fetches) and "scope_sets" (distinct tenant/endpoint/scopes)
    tokens: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # failed SHOULD requirements, one line each
    # how the run treated the target: unsafe_methods, max_requests, max_rps, timeout_s, max_body_bytes,
    # tls_verify ("on" | "ca-bundle" | "off"), production (a production target, confirmed)
    mode: dict[str, Any] = field(default_factory=dict)
    # bounds the run met: truncated_bodies, budget_spent, unresponsive, deadline_passed (--max-duration)
    limits_hit: dict[str, Any] = field(default_factory=dict)
    # throttling met: responses (429 and 503 answers), by_status, wait_s (seconds waited before retries),
    # settled_rps (the rate at the end of the run) and lowest_rps (None: unlimited)
    throttling: dict[str, Any] = field(default_factory=dict)
    # With a baseline (--baseline): the CI gate, "pass" | "fail" | "error", which decides the exit code
    # while ``verdict`` stays the plain conformance verdict; and what the baseline did (see baseline.py).
    gate: Verdict | None = None
    baseline: dict[str, Any] | None = None
    # The conformance classes claimed (all, unless narrowed on purpose with --claim / conformance.claim),
    # every class's status, the one line that says why the verdict is not a pass, the -k selection, and
    # the signal that interrupted the run.
    claim: list[str] = field(default_factory=list)
    claim_narrowed: bool = False
    classes: list[ClassResult] = field(default_factory=list)
    verdict_reason: str | None = None
    select: str | None = None
    interrupted: str | None = None
    # What a rerun needs to reach the same target again (conformance/replay.py): the configuration
    # (URLs, tenant IDs, the NAMES of the secret variables, fixtures), the spec, the reference faults.
    replay: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        data = {key: value for key, value in data.items() if key not in DERIVED_KEYS}
        requirements = [
            RequirementResult(
                **{
                    **req,
                    "checks": [CheckResult.from_dict(check) for check in req.get("checks", [])],
                }
            )
            for req in data["requirements"]
        ]
        classes = [ClassResult(**entry) for entry in data.get("classes", [])]
        return cls(**{**data, "requirements": requirements, "classes": classes})


def plain(value: Any) -> Any:
    """``dataclasses.asdict`` for the result model, without its deep copy of every string and number:
    dataclasses become dicts, lists, tuples and dicts are copied, anything else is shared as it is."""
    if isinstance(value, (str, int, float)) or value is None:
        return value
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    names = _field_names(type(value))
    return value if names is None else {name: plain(getattr(value, name)) for name in names}


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass, in order; None for any other type."""
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None


def count_outcomes(requirements: list[RequirementResult]) -> dict[str, int]:
    """Requirement counts by outcome, and by level and outcome (e.g. 'MUST_failed')."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    for req in requirements:
        counts[req.outcome] += 1
        key = f"{req.level}_{req.outcome}"
        counts[key] = counts.get(key, 0) + 1
    counts["total"] = len(requirements)
    return counts


def throttling_words(throttling: dict[str, Any]) -> str | None:
    """One line saying what throttling the run met (results.json's throttling), or None if none."""
    if not throttling.get("responses"):
        return None
    statuses = ", ".join(f"{count} x {status}" for status, count in throttling.get("by_status", {}).items())
    settled, lowest = throttling.get("settled_rps"), throttling.get("lowest_rps")
    rate = "climbed back to no rate limit" if settled is None else f"settled at {settled:g} requests/s"
    return (
        f"the target answered {statuses}; the run waited {throttling.get('wait_s', 0):g} s "
        f"in all before retrying, and its rate {rate}"
        + (f" (lowest {lowest:g} requests/s)" if lowest is not None else "")
    )
