"""Judging recorded traffic: a verdict from HAR files, without sending a single request.

:func:`judge_files` reads the HAR files, picks out the enrolment exchanges (a GET of
``.../assignments/{a}/enrolments/{e}`` that got an answer), applies every judgement
that needs only a request and its response (:mod:`conformance.judging.rules`), and
returns the same RunResult a live run does, redacted the same way. Requirements
whose checks send requests of their own cannot be verified from traffic: they are
not verified, so the verdict is ``incomplete`` unless a finding makes it ``fail``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from conformance import __version__
from conformance.catalogue import load_catalogue
from conformance.client import MAX_EVIDENCE_BODY, evidence
from conformance.config import Credentials, Settings, Target
from conformance.har import Recorded, read_har
from conformance.judging.rules import Seen, coverage_result, enrolment_read, exchange_results, judgeable
from conformance.judging.sent import enrolment_path
from conformance.redact import Redactor, run_redactor, scrub
from conformance.results import CheckResult, ClassResult, RunResult, count_outcomes
from conformance.runner import aggregate
from conformance.spec import default_spec_path, load_spec, sha256_of
from conformance.verdict import decide

RECORDED_KIND = "recorded traffic"  # target.kind of a judged run
LIVE_RUN = "enrolment-conformance run"


@dataclass(frozen=True)
class Picked:
    """The enrolment exchanges of the files, and how many entries of each file were not judged."""

    seen: list[Seen]
    others: Counter[str]


def judge_files(
    paths: list[Path],
    settings: Settings | None = None,
    *,
    strict: bool = False,
    spec_path: Path | None = None,
) -> RunResult:
    """The verdict the recorded exchanges of paths support (HarError if one is not HAR).

    settings (from --config) tells which credentials were valid and what the fixtures hold."""
    started = datetime.now(UTC)
    recordings = [(path, read_har(path)) for path in paths]
    redactor = _redactor(recordings, settings)
    picked = pick(recordings, redactor, started)
    spec = load_spec(spec_path or default_spec_path())
    checks, reads = [], {}
    for seen in picked.seen:
        read = enrolment_read(seen, settings)  # the body parsed once, for the body checks and STATUS-008
        checks += exchange_results(seen, read, settings, spec)
        if read is not None and read.body is not None:
            reads.setdefault(read.fixture.label, read)
    if reads:
        checks.append(coverage_result(list(reads.values())))
    checks += unjudged(checks)
    base = picked.seen[0].path.base if picked.seen else ""
    settings = settings or Settings(Target(base), Credentials("", "", ""))
    result = _result(
        paths, picked, checks, replace(settings, strict=settings.strict or strict), spec_path, started
    )
    return scrub(result, redactor)


def _redactor(recordings: list[tuple[Path, list[Recorded]]], settings: Settings | None) -> Redactor:
    """The configured secrets, and every credential the recorded requests carry."""
    redactor = run_redactor(settings) if settings is not None else Redactor()
    for _, recorded in recordings:
        for exchange in recorded:
            for value in exchange.request.headers.get_list("authorization"):
                redactor.add_authorization(value)
    return redactor


def pick(recordings: list[tuple[Path, list[Recorded]]], redactor: Redactor, now: datetime) -> Picked:
    """The answered GETs of an enrolment, each with its evidence; the other entries counted per file."""
    seen, others = [], Counter()
    for path, recorded in recordings:
        for index, exchange in enumerate(recorded):
            target = enrolment_path(exchange.request.url)
            if exchange.request.method != "GET" or target is None or exchange.response is None:
                others[path.name] += 1
                continue
            exchange.response.extensions["exchange"] = evidence(
                exchange.request,
                exchange.response,
                redactor,
                auth=None,
                form=None,
                note=exchange.tags.get("note") or exchange.tags.get("check"),
                elapsed_ms=exchange.elapsed_ms,
                max_body_bytes=MAX_EVIDENCE_BODY,
            )
            where = f"{path.name}#{index}"
            at = exchange.started or now
            seen.append(Seen(where, target, exchange.request, exchange.response, at, exchange.tags))
    return Picked(seen, others)


def unjudged(checks: list[CheckResult]) -> list[CheckResult]:
    """A not-verified result, saying why, for every requirement no judgement reached."""
    reached = {check.requirement for check in checks}
    can = judgeable()
    missing = []
    for requirement in load_catalogue():
        if requirement in reached:
            continue
        why = (
            "no recorded exchange of the kind it judges (the evidence holds none of the requests it rules)"
            if requirement in can
            else f"not judged from recorded traffic: its checks send requests of their own ({LIVE_RUN})"
        )
        missing.append(CheckResult("judge", requirement, "skipped", why))
    return missing


def _result(
    paths: list[Path],
    picked: Picked,
    checks: list[CheckResult],
    settings: Settings,
    spec_path: Path | None,
    started: datetime,
) -> RunResult:
    base = picked.seen[0].path.base if picked.seen else ""
    requirements = aggregate(checks, settings)
    decision = decide(requirements, claim=settings.claimed_classes(), strict=settings.strict)
    return RunResult(
        verdict=decision.verdict,
        verdict_reason=decision.reason,
        classes=[_what_traffic_can_verify(cls) for cls in decision.classes],
        claim=list(settings.claimed_classes()),
        suite_version=__version__,
        spec_sha256=sha256_of(spec_path or default_spec_path()),
        target={"base_url": base, "tenant_id": settings.tenant.tenant_id or None, "kind": RECORDED_KIND},
        environment=statement_line(paths, len(picked.seen)),
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        counts=count_outcomes(requirements),
        requirements=requirements,
        strict=settings.strict,
        requests={"total": 0},
        warnings=[
            verifiable_line(),
            *(
                f"{count} entries of {name} are not answered GETs of an enrolment: not judged"
                for name, count in picked.others.items()
            ),
        ],
        mode={
            "judged_from": [str(path) for path in paths],
            "exchanges": len(picked.seen),
            "requests_sent": 0,
        },
    )


def statement_line(paths: list[Path], exchanges: int) -> str:
    """What the statement says the verdict rests on."""
    return f"judged from recorded traffic: {exchanges} exchanges from {', '.join(str(p) for p in paths)}"


def verifiable_line() -> str:
    """Which classes recorded traffic can verify in full, and which it cannot."""
    catalogue, can = load_catalogue(), judgeable()
    by_class: dict[str, bool] = {}
    for requirement in catalogue.values():
        judged = requirement.level != "MUST" or requirement.id in can
        by_class[requirement.conformance_class] = by_class.get(requirement.conformance_class, True) and judged
    able = [cls for cls, ok in by_class.items() if ok] or ["none"]
    unable = [cls for cls, ok in by_class.items() if not ok]
    return (
        f"recorded traffic can verify the classes {', '.join(able)}; it cannot verify {', '.join(unable)} "
        f"(some of their MUST requirements need requests of their own: {LIVE_RUN})"
    )


def _what_traffic_can_verify(cls: ClassResult) -> ClassResult:
    """The class, saying which of its MUST requirements recorded traffic cannot verify (a live run can)."""
    catalogue = load_catalogue()
    cannot = [r for r in cls.requirements if catalogue[r].level == "MUST" and r not in judgeable()]
    if cls.claimed and cannot:
        cls.how_to_verify = [
            f"recorded traffic cannot verify {', '.join(cannot)}: {LIVE_RUN} sends the requests they need",
            *cls.how_to_verify,
        ]
    elif cls.claimed and cls.status == "not verified":
        cls.how_to_verify.append(f"record the requests its requirements rule ({LIVE_RUN} --record FILE.har)")
    return cls
