"""What a run prints on the terminal: the header before the first request, the failures, the summary
and the verdict line, every target-controlled string through :func:`printable` first (its control
characters shown as escapes, see :mod:`conformance.controls`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.controls import printable
from conformance.results import RunResult

if TYPE_CHECKING:
    from conformance.config import Settings

VERDICT_LINES = {
    "pass": "PASS: conformant",
    "fail": "FAIL: non-conformant",
    "incomplete": "INCOMPLETE: not every claimed class was verified",
    "error": "ERROR: no verdict",
}
LINE_WIDTH = 110
QUIET, NORMAL, VERBOSE = -1, 0, 1  # -q: the digest and verdict lines only; -v: each request too
Echo = Callable[..., None]


def describe_mode(mode: dict[str, Any]) -> str:
    """One line saying how the run treated the target (from results.json's mode)."""
    methods = (
        "unsafe methods allowed"
        if mode.get("unsafe_methods")
        else "read-only (GET/HEAD; POST to token endpoints)"
    )
    rps = mode.get("max_rps")
    parts = [
        methods,
        f"at most {mode.get('max_requests')} requests",
        f"{rps:g} requests/s" if rps else "no rate limit",
        f"timeout {mode.get('timeout_s'):g} s",
        f"bodies capped at {mode.get('max_body_bytes')} bytes",
        {"on": "TLS verified", "ca-bundle": "TLS verified (with --ca-bundle)", "off": "TLS NOT verified"}.get(
            str(mode.get("tls_verify")), "TLS ?"
        ),
    ]
    if mode.get("production"):
        parts.append("production (confirmed)")
    return ", ".join(parts)


def header_lines(settings: Settings, mode: dict[str, Any], *, rate_why: str, version: str) -> list[str]:
    """What the run prints before its first request: target, mode, rate and why, claim, selection."""
    target = settings.target.base_url
    if settings.reference:
        target += " (bundled reference implementation)"
    if settings.faults:
        target += f" with fault(s) {', '.join(settings.faults)}"
    rps = mode.get("max_rps")
    narrowed = " (narrowed)" if settings.claim else ""
    lines = [
        f"enrolment-conformance {version} against {printable(target)}",
        f"mode: {describe_mode(mode)}",
        f"rate: {f'at most {rps:g} requests/s' if rps else 'no limit'}, because {printable(rate_why)}",
        f"claim: {', '.join(settings.claimed_classes())}{narrowed}",
    ]
    selection = settings.selection_words()
    if selection:
        only = sorted(settings.only.ids) if settings.only else []
        ids = f": {', '.join(only)}" if 0 < len(only) <= 8 else ""
        lines.append(f"selection: {printable(selection)}{ids} (a selection: at best an incomplete verdict)")
    return lines


def requirement_lines(
    result: RunResult, label_of: Callable[..., str | None], note_of: Callable[..., str]
) -> list[str]:
    """One wrapped entry per failed or errored requirement (never cut mid-message)."""
    lines = []
    for req in result.requirements:
        if req.outcome not in ("failed", "error"):
            continue
        # label_of: ACCEPTED, a failure the baseline accepts
        label = label_of(req) or finding_label(req.outcome, req.level, strict=result.strict)
        message = note_of(req) + (req.messages[0] if req.messages else req.title)
        lines += finding_lines(label, req.id, req.level, message)
    return lines


def finding_label(outcome: str, level: str, *, strict: bool) -> str:
    """The label of a failed or errored finding: FAIL, ERROR, or WARN (a SHOULD failed, unless strict)."""
    if outcome != "failed":
        return "ERROR"
    return "WARN" if level == "SHOULD" and not strict else "FAIL"


def finding_line(label: str, requirement: str, level: str, message: str) -> str:
    """One finding (FAIL, ERROR, WARN ...) on one line, not wrapped."""
    return f"{label:5} {requirement} ({level}) {printable(message)}"


def finding_lines(label: str, requirement: str, level: str, message: str) -> list[str]:
    """One finding (see finding_line), wrapped at LINE_WIDTH: never cut mid-message."""
    return textwrap.wrap(
        finding_line(label, requirement, level, message),
        width=LINE_WIDTH,
        initial_indent="  ",
        subsequent_indent="        ",
    )


def counts_line(result: RunResult, seconds: float) -> str:
    """The requirement counts, with the failures split by level as the verdict counts them."""
    counts = result.counts
    failed = counts.get("failed", 0)
    levels = ", ".join(
        f"{counts[key]} {level}" for level in ("MUST", "SHOULD") if counts.get(key := f"{level}_failed")
    )
    failed_text = f"{failed} failed" + (f" ({levels})" if failed else "")
    requests = result.requests.get("total", 0)
    throttled = result.throttling.get("responses", 0)
    throttled_text = (
        f" ({throttled} throttled, {result.throttling.get('wait_s', 0):g} s waited)" if throttled else ""
    )
    return (
        f"{counts['total']} requirements: {counts['passed']} passed, {failed_text}, "
        f"{counts['skipped']} not verified, {counts.get('not_applicable', 0)} not applicable, "
        f"{counts['error']} error; {requests} requests{throttled_text} in {seconds:.1f} s"
    )


def class_lines(result: RunResult) -> list[str]:
    """One line per conformance class: its status, and for one not verified, why and how to verify it."""
    lines = []
    for cls in result.classes:
        line = f"  class {cls.id:10} {cls.status}"
        if cls.status not in ("conformant", "not claimed") and cls.why:
            line += f": {printable(cls.why)}"
        lines += textwrap.wrap(line, width=LINE_WIDTH, subsequent_indent="                   ")
        if cls.how_to_verify:
            lines.append(f"                   to verify: {'; '.join(cls.how_to_verify)}")
    return lines


def verdict_line(result: RunResult) -> str:
    """The console's last line; a pass of a narrowed claim says so."""
    line = f"verdict: {VERDICT_LINES[result.verdict]}"
    if result.interrupted:
        line += f" (interrupted by {result.interrupted})"
    elif result.verdict == "pass" and result.claim_narrowed:
        line += f" for the claimed classes only: {', '.join(result.claim)}"
    return line


def print_summary(
    result: RunResult,
    paths: dict[str, Path],
    seconds: float,
    echo: Echo,
    baseline_lines: list[str],
    *,
    quiet: bool = False,
) -> None:
    """Everything the run prints after the checks: failures, counts, classes, reports and the verdict;
    quiet (-q): the results.json digest and the verdict line only."""
    from conformance.baseline import console_label, console_note
    from conformance.reports import JSON_NAME, results_sha256

    if quiet:
        echo(f"results.json sha256: {results_sha256(paths[JSON_NAME])}")
        echo(verdict_line(result))
        return
    for line in requirement_lines(result, console_label, console_note):
        echo(line)
    echo(counts_line(result, seconds))
    for line in class_lines(result):
        echo(line)
    for warning in result.warnings:
        echo(f"  warning: {printable(warning)}")
    for line in baseline_lines:
        echo(printable(line))
    for name, path in paths.items():
        echo(f"  {name}: {path}")
    echo(f"results.json sha256: {results_sha256(paths[JSON_NAME])}")
    echo(verdict_line(result))
