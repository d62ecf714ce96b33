"""Baselines: the failures a team has accepted, so that CI fails on new failures only.

A baseline is a TOML file of ``[[accepted]]`` entries::

    [[accepted]]
    requirement = "AUTH-003"                                # a catalogue requirement ID
    target = "https://public.api.learnstaging.link/rest/v1" # target.base_url; or "*", or "reference"
    reason = "403 for a wrong secret: fix planned in PLAT-1234"
    expires = 2027-01-31                                    # optional TOML date: last day the entry holds

``apply_baseline`` is applied to a finished run. It never changes the conformance
verdict (``verdict`` stays what the target deserves); it marks each failed
requirement ``new``, ``accepted`` or ``expired``, lists the entries whose
requirement now passes (``fixed``: remove them from the baseline), and sets
``gate``, the verdict that decides the exit code: ``fail`` only for new or expired
MUST failures (any level with ``--strict``), ``error`` when the run reached no
verdict or a check could not run, else ``pass``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from conformance.results import REFERENCE_KIND, RequirementResult, RunResult, Verdict
from conformance.schemas import first_problem
from conformance.toml_text import toml_string
from conformance.verdict import selection_reason

ANY_TARGET = "*"
REFERENCE_TARGET = "reference"  # the bundled reference implementation, whatever port it ran on
NEW, ACCEPTED, EXPIRED = "new", "accepted", "expired"
_NOTE_CHARS = 80
_COMMENT_CHARS = 240


class BaselineError(Exception):
    """The baseline file cannot be used; the message is one line saying why."""


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted failure: a requirement, on a target, for a reason, possibly until a date."""

    requirement: str
    target: str
    reason: str
    expires: date | None = None

    def applies_to(self, target: str) -> bool:
        """Whether the entry covers runs against target (a key made by :func:`target_key`)."""
        return self.target == ANY_TARGET or _normal(self.target) == _normal(target)

    def expired(self, today: date) -> bool:
        """An entry holds through its expiry date and has expired from the day after."""
        return self.expires is not None and today > self.expires

    def to_dict(self) -> dict[str, str | None]:
        return {
            "requirement": self.requirement,
            "target": self.target,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True)
class Baseline:
    """A parsed baseline file."""

    entries: tuple[BaselineEntry, ...]
    source: str = "baseline"
    sha256: str = ""

    def entry_for(self, requirement: str, target: str) -> BaselineEntry | None:
        """The entry that covers requirement on target: one naming the target wins over "*"."""
        matches = [e for e in self.entries if e.requirement == requirement and e.applies_to(target)]
        matches.sort(key=lambda e: e.target == ANY_TARGET)
        return matches[0] if matches else None


def target_key(result: RunResult) -> str:
    """How a baseline names the target of a run: its API base URL, or "reference" for the bundled one."""
    if result.target.get("kind") == REFERENCE_KIND:
        return REFERENCE_TARGET
    return _normal(result.target.get("base_url") or "")


# --- reading -----------------------------------------------------------------


def load_baseline(path: Path, known_requirements: Collection[str] | None = None) -> Baseline:
    """Read and check a baseline file; every problem is a one-line BaselineError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(f"baseline file {path} does not exist") from None
    except OSError as exc:
        raise BaselineError(f"baseline file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BaselineError(f"baseline file {path} is not UTF-8 text") from None
    if known_requirements is None:
        from conformance.catalogue import load_catalogue

        known_requirements = set(load_catalogue())
    entries = parse_baseline(text, str(path), known_requirements)
    return Baseline(entries, str(path), hashlib.sha256(raw).hexdigest())


def parse_baseline(
    text: str, source: str = "baseline", known_requirements: Collection[str] | None = None
) -> tuple[BaselineEntry, ...]:
    """The entries of a baseline document (checked against schemas/baseline.schema.json); source names it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BaselineError(f"baseline file {source} is not valid TOML: {exc}") from None
    problem = first_problem("baseline", data)
    if problem:
        raise BaselineError(f"baseline file {source}: {problem}")
    entries: list[BaselineEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(data.get("accepted", [])):
        where = f"baseline file {source}: accepted[{index}]"
        entry = _entry(item, where, known_requirements)
        key = (entry.requirement, _normal(entry.target))
        if key in seen:
            raise BaselineError(
                f"{where} repeats accepted[{seen[key]}] ({entry.requirement} on {entry.target})"
            )
        seen[key] = index
        entries.append(entry)
    return tuple(entries)


def _entry(item: dict[str, Any], where: str, known: Collection[str] | None) -> BaselineEntry:
    """The entry of one [[accepted]] table the schema let through, its requirement in the catalogue."""
    requirement = item["requirement"].strip()
    if known is not None and requirement not in known:
        raise BaselineError(
            f"{where}.requirement: unknown requirement {requirement!r} "
            "(`enrolment-conformance requirements` lists them)"
        )
    return BaselineEntry(requirement, item["target"].strip(), item["reason"].strip(), item.get("expires"))


def _normal(target: str) -> str:
    return target.strip().rstrip("/")


# --- applying ----------------------------------------------------------------


def apply_baseline(result: RunResult, baseline: Baseline, today: date) -> RunResult:
    """The run with its failures marked new / accepted / expired, its fixed entries listed and its gate set.

    ``verdict`` and ``counts`` are left as they are: the baseline decides what CI
    tolerates, not whether the target conforms.
    """
    target = target_key(result)
    requirements, marked = _marked(result, baseline, target, today)
    fixed, unverified, elsewhere = _entries_by_outcome(result, baseline, target)
    applied = replace(
        result,
        requirements=requirements,
        baseline={
            "file": baseline.source,
            "sha256": baseline.sha256,
            "applied_on": today.isoformat(),
            "target": target,
            "entries": len(baseline.entries),
            "other_targets": elsewhere,
            "accepted": marked[ACCEPTED],
            "expired": marked[EXPIRED],
            "new": marked[NEW],
            "fixed": fixed,
            "unverified": unverified,
        },
    )
    return replace(applied, gate=gate_of(applied))


def _marked(
    result: RunResult, baseline: Baseline, target: str, today: date
) -> tuple[list[RequirementResult], dict[str, list[str]]]:
    """Each requirement with its baseline mark (failures only), and the failed IDs by mark."""
    requirements: list[RequirementResult] = []
    marked: dict[str, list[str]] = {NEW: [], ACCEPTED: [], EXPIRED: []}
    for req in result.requirements:
        if req.outcome != "failed":
            requirements.append(replace(req, baseline=None))
            continue
        entry = baseline.entry_for(req.id, target)
        status = NEW if entry is None else EXPIRED if entry.expired(today) else ACCEPTED
        marked[status].append(req.id)
        mark = {"status": status, "reason": None, "expires": None}
        if entry is not None:
            mark.update(reason=entry.reason, expires=entry.to_dict()["expires"])
        requirements.append(replace(req, baseline=mark))
    return requirements, marked


def _entries_by_outcome(
    result: RunResult, baseline: Baseline, target: str
) -> tuple[list[dict[str, str | None]], list[dict[str, str | None]], int]:
    """The entries for target whose requirement passed (fixed) or did not run (unverified); others' count."""
    by_id = {req.id: req for req in result.requirements}
    fixed, unverified, elsewhere = [], [], 0
    for entry in baseline.entries:
        if not entry.applies_to(target):
            elsewhere += 1
            continue
        req = by_id.get(entry.requirement)
        outcome = req.outcome if req else "skipped"
        if outcome == "passed":
            fixed.append(entry.to_dict())
        elif outcome != "failed":
            unverified.append({**entry.to_dict(), "outcome": outcome})
    return fixed, unverified, elsewhere


def blocking(result: RunResult) -> list[RequirementResult]:
    """The failures that fail the gate: new or expired, at MUST level (any level with strict)."""
    return [
        req
        for req in result.requirements
        if req.outcome == "failed"
        and (req.baseline or {}).get("status", NEW) != ACCEPTED
        and (req.level == "MUST" or result.strict)
    ]


def gate_of(result: RunResult) -> Verdict:
    """fail on a blocking failure; else error if there is no verdict or a check could not run; else
    incomplete if a claimed class was not fully verified (or the run was a -k selection); else pass.
    A baseline accepts failures: it never turns an incomplete or errored run into a pass."""
    if blocking(result):
        return "fail"
    if result.verdict == "error" or any(req.outcome == "error" for req in result.requirements):
        return "error"
    if result.verdict == "incomplete" or result.select:
        return "incomplete"
    if any(cls.claimed and cls.status == "not verified" for cls in result.classes):
        return "incomplete"
    return "pass"


# --- reporting ---------------------------------------------------------------


def console_label(req: RequirementResult) -> str | None:
    """ACCEPTED for a failure the baseline accepts, None when the usual FAIL/WARN label applies."""
    status = (req.baseline or {}).get("status")
    return "ACCEPTED" if status == ACCEPTED else None


def console_note(req: RequirementResult) -> str:
    """What the baseline says about a failed requirement, for its console line ('' without a baseline)."""
    mark = req.baseline or {}
    status = mark.get("status")
    if status == ACCEPTED:
        until = f" until {mark['expires']}" if mark.get("expires") else ""
        reason = str(mark.get("reason") or "")
        reason = reason if len(reason) <= _NOTE_CHARS else reason[: _NOTE_CHARS - 3] + "..."
        return f"[accepted{until}: {reason}] "
    if status == EXPIRED:
        return f"[baseline entry expired on {mark.get('expires')}] "
    if status == NEW:
        return "[new] "
    return ""


def summary_lines(result: RunResult) -> list[str]:
    """The console lines of a baseline: counts, then a "fixed, remove from baseline" line per fixed entry."""
    info = result.baseline
    if not info:
        return []
    lines = [
        f"baseline {info['file']}: {len(info['accepted'])} accepted, {len(info['new'])} new, "
        f"{len(info['expired'])} expired, {len(info['fixed'])} fixed"
        + (f", {len(info['unverified'])} not checked by this run" if info["unverified"] else "")
    ]
    lines += [
        f"  fixed, remove from baseline: {entry['requirement']} ({entry['reason']})"
        for entry in info["fixed"]
    ]
    return lines


def gate_line(result: RunResult) -> str | None:
    """The gate's stdout line, or None without a baseline."""
    if result.gate is None:
        return None
    if result.gate == "pass":
        accepted = len((result.baseline or {}).get("accepted", []))
        tail = f" ({accepted} accepted failure(s); the verdict above is unchanged)" if accepted else ""
        return f"gate: PASS: no failure outside the baseline{tail}"
    if result.gate == "fail":
        return f"gate: FAIL: {len(blocking(result))} failure(s) not accepted by the baseline"
    if result.gate == "incomplete":
        return "gate: INCOMPLETE: no failure outside the baseline, but a claimed class was not fully verified"
    return "gate: ERROR: no verdict"


def gate_error(result: RunResult) -> str:
    """The stderr line of a gate that did not pass: only the failures the baseline does not accept."""
    failures = [f"{req.id} ({(req.baseline or {}).get('status', NEW)})" for req in blocking(result)]
    if failures:
        return f"{len(failures)} failure(s) not accepted by the baseline: {', '.join(failures)}"
    if result.error:
        return result.error
    if result.gate == "incomplete":
        unverified = [cls.id for cls in result.classes if cls.claimed and cls.status == "not verified"]
        if result.select:
            return selection_reason(result.select)
        return f"claimed classes not fully verified: {', '.join(unverified)}"
    errored = [req.id for req in result.requirements if req.outcome == "error"]
    return f"no verdict: {len(errored)} requirement(s) could not be checked: {', '.join(errored)}"


# --- writing -----------------------------------------------------------------


def written_baseline(result: RunResult, previous: Baseline | None, today: date) -> str:
    """A baseline document accepting every current failure of result.

    With a previous baseline it is a refresh: entries for other targets and for
    requirements this run did not check are kept, reasons and expiry dates of
    still-failing requirements are kept, and fixed entries are dropped.
    """
    target = target_key(result)
    by_id = {req.id: req for req in result.requirements}
    entries: list[BaselineEntry] = []
    comments: dict[BaselineEntry, str] = {}
    covered: set[str] = set()
    for entry in previous.entries if previous else ():
        req = by_id.get(entry.requirement)
        if not entry.applies_to(target) or req is None or req.outcome in ("skipped", "error"):
            entries.append(entry)
        elif req.outcome == "failed":
            entries.append(entry)
            covered.add(entry.requirement)
    for req in result.requirements:
        if req.outcome == "failed" and req.id not in covered:
            entry = BaselineEntry(req.id, target, f"found failing on {today.isoformat()}: {req.title}")
            entries.append(entry)
            message = (req.messages[0] if req.messages else "").splitlines()
            comments[entry] = f"{req.level} failed: {message[0] if message else req.title}"
    return render_baseline(entries, header=_header(result, today), comments=comments)


def render_baseline(
    entries: Iterable[BaselineEntry],
    header: Iterable[str] = (),
    comments: dict[BaselineEntry, str] | None = None,
) -> str:
    """A baseline document (TOML) holding entries, each optionally preceded by a one-line comment."""
    lines = [f"# {line}" if line else "#" for line in header]
    for entry in entries:
        lines.append("")
        comment = " ".join((comments or {}).get(entry, "").split())
        comment = "".join(char for char in comment if ord(char) >= 0x20 and ord(char) != 0x7F)
        if comment:
            lines.append(f"# {comment[:_COMMENT_CHARS]}")
        lines.append("[[accepted]]")
        lines += [f"requirement = {toml_string(entry.requirement)}", f"target = {toml_string(entry.target)}"]
        lines.append(f"reason = {toml_string(entry.reason)}")
        lines.append(f"expires = {entry.expires.isoformat()}" if entry.expires else "# expires = YYYY-MM-DD")
    return "\n".join(lines).lstrip("\n") + "\n"


def _target_words(result: RunResult) -> str:
    if result.target.get("kind") == REFERENCE_KIND:
        return "the bundled reference implementation"
    return str(result.target.get("base_url"))


def _header(result: RunResult, today: date) -> list[str]:
    return [
        "enrolment-conformance baseline: failures accepted for now, so that CI fails only on new ones.",
        f"Written by `enrolment-conformance run --baseline-write` on {today.isoformat()}",
        f"from a run against {_target_words(result)} (suite {result.suite_version}).",
        "Edit each reason to say why the failure is accepted, and set expires = YYYY-MM-DD",
        "(the last day the entry holds) so that it is looked at again.",
        f'target: the API base URL, "{REFERENCE_TARGET}" (the bundled reference target) or "{ANY_TARGET}".',
    ]
