"""What changed between two runs: ``enrolment-conformance diff OLD.json NEW.json``.

Requirements are matched by ID. A requirement is *newly failing* when it failed in
NEW but not in OLD (whatever OLD said: passed, skipped, error, or absent), and
*newly passing* when it passed in NEW and failed in OLD. Every other change of
outcome is listed too, and so are requirements only one run has (the catalogue
changed between suite versions). When either run was partial (a selection: ``-k``, ``--area``,
``--only``, a rerun), the requirements it did not select are left out of the comparison, and the diff
says so: "passed -> not selected" is no change of the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conformance import jsonbody
from conformance.baseline import target_key
from conformance.results import RequirementResult, RunResult


class ResultsError(Exception):
    """A file is not a readable results.json; the message is one line saying why."""


@dataclass(frozen=True)
class Change:
    """One requirement whose outcome differs between the runs (None: absent from that run)."""

    id: str
    level: str
    title: str
    old: str | None
    new: str | None
    message: str = ""  # NEW's first message, when NEW failed or errored


@dataclass(frozen=True)
class ResultDiff:
    old: RunResult
    new: RunResult
    newly_failing: list[Change] = field(default_factory=list)
    newly_passing: list[Change] = field(default_factory=list)
    other_changes: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # IDs one of the runs did not select

    @property
    def blocking(self) -> list[Change]:
        """Newly failing requirements that fail NEW's verdict: MUST, or any level when NEW was strict."""
        return [c for c in self.newly_failing if c.level == "MUST" or self.new.strict]


def load_results(path: Path) -> RunResult:
    """Read a saved results.json; every problem is a one-line ResultsError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path} cannot be read: {exc}") from None
    try:
        data = jsonbody.parse(text)  # a handed-over file may be hostile: nested too deep is not JSON here
    except ValueError as exc:
        raise ResultsError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or "requirements" not in data or "verdict" not in data:
        raise ResultsError(
            f"{path} is not a results.json of enrolment-conformance (no verdict, requirements)"
        )
    try:
        return RunResult.from_dict(data)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ResultsError(f"{path} is not a results.json this suite version can read: {exc}") from None


def diff_results(old: RunResult, new: RunResult) -> ResultDiff:
    """Compare two runs requirement by requirement (NEW's catalogue order, then removed ones)."""
    old_by_id = {req.id: req for req in old.requirements}
    new_ids = {req.id for req in new.requirements}
    diff = ResultDiff(old, new)
    for req in new.requirements:
        before = old_by_id.get(req.id)
        if _not_selected(req) or (before is not None and _not_selected(before)):
            diff.left_out.append(req.id)
            continue
        change = _change(req, before.outcome if before else None, req.outcome)
        if before is None:
            diff.added.append(change)
        if req.outcome == "failed" and (before is None or before.outcome != "failed"):
            diff.newly_failing.append(change)
        elif before is not None and req.outcome == "passed" and before.outcome == "failed":
            diff.newly_passing.append(change)
        elif before is not None and before.outcome != req.outcome:
            diff.other_changes.append(change)
    for req in old.requirements:
        if req.id not in new_ids:
            diff.removed.append(_change(req, req.outcome, None))
    return diff


def format_diff(diff: ResultDiff, old_name: str = "OLD", new_name: str = "NEW") -> list[str]:
    """The diff as console lines."""
    old, new = diff.old, diff.new
    lines = [
        f"old: {old_name}: {_describe(old)}",
        f"new: {new_name}: {_describe(new)}",
    ]
    if target_key(old) != target_key(new):
        lines.append(
            f"note: the runs have different targets ({old.target.get('base_url')} and "
            f"{new.target.get('base_url')})"
        )
    if old.spec_sha256 != new.spec_sha256:
        lines.append("note: the runs used different specs (spec SHA-256 differs)")
    if old.suite_version != new.suite_version:
        lines.append(f"note: suite versions differ ({old.suite_version} and {new.suite_version})")
    for which, name, result in (("old", old_name, old), ("new", new_name, new)):
        if result.select:
            lines.append(f"note: the {which} run ({name}) was partial, a selection ({result.select})")
    if diff.left_out:
        lines.append(
            f"note: {len(diff.left_out)} requirement(s) a partial run did not select are left out of "
            "the comparison"
        )
    lines.append(f"verdict: {old.verdict.upper()} -> {new.verdict.upper()}")
    sections = (
        ("newly failing", diff.newly_failing),
        ("newly passing", diff.newly_passing),
        ("other changes", diff.other_changes),
        ("added requirements (only in new)", diff.added),
        ("removed requirements (only in old)", diff.removed),
    )
    for heading, changes in sections:
        lines.append(f"{heading}: {len(changes)}" + ("" if changes else " (none)"))
        for change in changes:
            detail = f": {change.message[:200]}" if change.message else ""
            lines.append(
                f"  {change.id} ({change.level}) {change.old or 'absent'} -> {change.new or 'absent'}{detail}"
            )
    return lines


def _not_selected(req: RequirementResult) -> bool:
    """A requirement a partial run left out (runner.aggregate's message for it)."""
    return req.outcome == "skipped" and bool(req.messages) and req.messages[0].startswith("not selected")


def _change(req: RequirementResult, old: str | None, new: str | None) -> Change:
    message = req.messages[0].splitlines()[0] if new in ("failed", "error") and req.messages else ""
    return Change(req.id, req.level, req.title, old, new, message)


def _describe(result: RunResult) -> str:
    return (
        f"{result.verdict.upper()} against {result.target.get('base_url')}, {result.started_at}, "
        f"suite {result.suite_version}"
    )
