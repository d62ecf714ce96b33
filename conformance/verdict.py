"""The verdict: from check outcomes to requirement outcomes, conformance classes and the run's verdict.

``pass``       every MUST requirement of every claimed class ran and passed;
``fail``       a MUST requirement (any level with ``--strict``) of a claimed class failed;
``incomplete`` nothing failed, but a claimed class was not fully verified (configuration
               missing, checks deselected with ``-k``, the request budget spent);
``error``      no verdict: the run was interrupted, the target could not be reached, or a
               claimed MUST requirement could not be checked (target stopped answering, no token).

The same rules give each area's verdict in the report, and the CI gate of a
baseline (which decides as if its accepted failures had passed).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from conformance.catalogue import NEEDS_HINTS, load_classes
from conformance.results import CheckResult, ClassResult, Outcome, RequirementResult, Verdict

# Check outcomes in the order they decide a requirement's outcome.
_PRECEDENCE: tuple[Outcome, ...] = ("failed", "error", "skipped", "passed")
_LIMIT = 6  # requirement IDs named in one reason line
_DESELECTED = "not selected"  # the message of a requirement a -k selection left out (runner.aggregate)


def check_outcome(check: CheckResult, class_needs: Collection[str]) -> Outcome:
    """A check's outcome as its requirement's class sees it: skipped for configuration that class does
    not need (e.g. a bearer token, for the Basic core class) blocks nothing, like not applicable."""
    neutral = check.needs is not None and check.needs not in (*class_needs, "--max-requests", "selection")
    return "not_applicable" if check.outcome == "skipped" and neutral else check.outcome


def requirement_outcome(checks: Iterable[CheckResult], class_needs: Collection[str]) -> Outcome:
    """Any failure fails; else any error errs; else anything not verified leaves it skipped; else a pass
    passes; a requirement whose every check was not applicable is not applicable."""
    outcomes = {check_outcome(check, class_needs) for check in checks}
    for outcome in _PRECEDENCE:
        if outcome in outcomes:
            return outcome
    return "not_applicable" if outcomes else "skipped"


def _blocks(req: RequirementResult, strict: bool, accepted: Collection[str]) -> bool:
    return req.outcome == "failed" and (req.level == "MUST" or strict) and req.id not in accepted


def _ids(reqs: list[RequirementResult]) -> str:
    more = f" and {len(reqs) - _LIMIT} more" if len(reqs) > _LIMIT else ""
    return ", ".join(req.id for req in reqs[:_LIMIT]) + more


def _first_reason(reqs: list[RequirementResult]) -> str:
    """The first requirement's first message, without the check name it starts with."""
    first = reqs[0]
    reason = first.messages[0].split(": ", 1)[-1] if first.messages else "no check ran"
    return f"{first.id}: {reason}"


def classify_class(
    cls_id: str,
    requirements: list[RequirementResult],
    *,
    claimed: bool,
    strict: bool,
    accepted: Collection[str] = (),
) -> ClassResult:
    """One class's status: conformant, non-conformant, not verified (and why, and how to verify it)."""
    definition = load_classes()[cls_id]
    reqs = [req for req in requirements if req.conformance_class == cls_id]
    result = ClassResult(cls_id, definition.title, claimed, "not claimed", requirements=[r.id for r in reqs])
    if not claimed:
        result.why = "not claimed: its checks did not run (--claim / conformance.claim)"
        return result
    failed = [req for req in reqs if _blocks(req, strict, accepted)]
    errored = [req for req in reqs if req.outcome == "error" and req.level == "MUST"]
    unverified = [req for req in reqs if req.outcome == "skipped" and req.level == "MUST"]
    if failed:
        result.status, result.why = "non-conformant", f"{_ids(failed)} failed"
    elif errored:
        result.status = "not verified"
        result.why = f"{_ids(errored)} could not be checked ({_first_reason(errored)})"
    elif unverified:
        result.status = "not verified"
        result.why = f"{_ids(unverified)} ({_first_reason(unverified)})"
        needed = {check.needs for req in unverified for check in req.checks if check.needs}
        needed |= {
            "selection" for req in unverified if req.messages[:1] and req.messages[0].startswith(_DESELECTED)
        }
        result.needs = sorted(needed)
        result.how_to_verify = [NEEDS_HINTS.get(key, key) for key in result.needs]
    else:
        result.status = "conformant"
    return result


@dataclass(frozen=True)
class Decision:
    """A run's verdict, the one line that says why, and every class's status."""

    verdict: Verdict
    reason: str | None
    classes: list[ClassResult]


def decide(
    requirements: list[RequirementResult],
    *,
    claim: Collection[str],
    strict: bool,
    interrupted: str | None = None,
    no_verdict: str | None = None,
    select: str | None = None,
    accepted: Collection[str] = (),
) -> Decision:
    """The verdict of a run over the claimed classes. ``accepted``: failures a baseline accepts."""
    classes = [
        classify_class(cls_id, requirements, claimed=cls_id in claim, strict=strict, accepted=accepted)
        for cls_id in load_classes()
    ]
    if interrupted:
        return Decision("error", f"interrupted by {interrupted}: the run did not finish", classes)
    if no_verdict:
        return Decision("error", no_verdict, classes)
    verdict, reason = _judge_requirements(requirements, claim, strict, accepted)
    if verdict == "pass" and select:
        verdict, reason = "incomplete", selection_reason(select)
    if verdict == "pass":
        verdict, reason = _judge_classes(classes)
    return Decision(verdict, reason, classes)


def selection_reason(select: str) -> str:
    """Why a selection (-k, --area, --only, a rerun; select says which) is at best incomplete."""
    return f"a selection ({select}) verifies no class in full: it is a debugging run"


def _judge_requirements(
    requirements: list[RequirementResult], claim: Collection[str], strict: bool, accepted: Collection[str]
) -> tuple[Verdict, str | None]:
    """fail when a requirement blocks, error when a claimed MUST could not be checked, else pass."""
    failed = [req for req in requirements if _blocks(req, strict, accepted)]
    if failed:
        level = "" if strict else "MUST "
        count = f"{len(failed)} {level}requirement(s)"
        reason = f"the target is not conformant: {count} failed: {_ids(failed)}"
        warned = [r for r in requirements if r.outcome == "failed" and r.level == "SHOULD" and not strict]
        if warned:  # so that the count agrees with the console's "N failed (M MUST, W SHOULD)"
            reason += f" (and {len(warned)} SHOULD, a warning only without --strict)"
        return "fail", reason
    errored = [
        req
        for req in requirements
        if req.outcome == "error" and req.level == "MUST" and req.conformance_class in claim
    ]
    if errored:
        return "error", f"{len(errored)} requirement(s) could not be checked, e.g. {_first_reason(errored)}"
    return "pass", None


def _judge_classes(classes: list[ClassResult]) -> tuple[Verdict, str | None]:
    """incomplete when a claimed class is not fully verified, naming what would verify it."""
    unverified = [c for c in classes if c.claimed and c.status == "not verified"]
    if not unverified:
        return "pass", None
    lines = ", ".join(f"{c.id} (needs {' and '.join(c.needs)})" if c.needs else c.id for c in unverified)
    return "incomplete", f"claimed classes not fully verified: {lines}"


def area_verdict(requirements: list[RequirementResult], *, strict: bool) -> str:
    """An area's verdict in the report: fail, error, skipped (nothing verified), incomplete, or pass."""
    if any(_blocks(req, strict, ()) for req in requirements):
        return "fail"
    if any(req.outcome == "error" for req in requirements):
        return "error"
    decided = [req for req in requirements if req.outcome in ("passed", "failed")]
    if not decided:
        return "skipped"
    if any(req.outcome == "skipped" and req.level == "MUST" for req in requirements):
        return "incomplete"
    return "pass"
