"""One conformance run: reach the target, run the checks with pytest, build the result.

``execute()`` is the whole run minus the command line: it never raises for a
misbehaving target; it returns a RunResult whose verdict says pass, fail or
error (no verdict could be reached, with the reason). It raises ConfigError
only for what the user must change (a production target without confirmation,
an unusable --ca-bundle, a -k that selects no check).

Everything in the RunResult it returns has been through the run's redactor a
last time (every string, wherever it sits), so no report can show a secret.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import __version__, internals
from conformance.catalogue import load_catalogue, load_classes
from conformance.client import (
    INFRASTRUCTURE_ERRORS,
    REFERENCE_BACKOFF_BASE_S,
    Client,
    ClientLimits,
    InfrastructureError,
    describe_error,
)
from conformance.config import ConfigError, Settings, production_target
from conformance.estimate import estimate
from conformance.har import HarRecorder
from conformance.interrupt import Interruption
from conformance.planning import MAX_PASSES, PlanningPass, worth_planning
from conformance.plugin import ConformancePlugin
from conformance.progress import Progress
from conformance.redact import LAST_RUN, Redactor, run_redactor, scrub
from conformance.replay import replay_record
from conformance.results import (
    REFERENCE_KIND,
    CheckResult,
    RequirementResult,
    RunResult,
    count_outcomes,
    throttling_words,
)
from conformance.spec import default_spec_path, sha256_of
from conformance.tally import RunTally
from conformance.verdict import Decision, decide, requirement_outcome

CHECKS_PACKAGE = "conformance.checks"


@dataclass(frozen=True)
class RunOptions:
    """How the run behaves towards the target (safety bounds)."""

    limits: ClientLimits = field(default_factory=ClientLimits)
    allow_unsafe_methods: bool = False
    ca_bundle: Path | None = None  # extra CA certificates to trust (PEM), added to the default ones
    insecure: bool = False  # no TLS certificate verification at all
    production_confirmed: bool = False  # the user confirmed a production target (--confirm-production)
    checks_package: str = CHECKS_PACKAGE  # the suite's own tests swap in small check sets
    interruption: Interruption = field(default_factory=Interruption)  # set by the signal handler
    recording: HarRecorder | None = None  # run --record: keeps every exchange of the run as HAR
    plan: bool | None = None  # plan the hand-written requests ahead (conformance.planning); None: if worth it


def execute(
    settings: Settings,
    options: RunOptions | None = None,
    on_start: Callable[[Settings, dict[str, Any]], None] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run every selected check against the target and return the result.

    on_start(settings, mode) is called once the run is known to be usable, before the first request;
    progress, if given, is shown each finished check and each request (conformance/progress.py).
    """
    options = options or RunOptions()
    production = checked_usable(settings, options)
    with open_client(settings, options) as client:
        if options.recording is not None:
            options.recording.attach(client.recorder, client.redactor)
        if on_start is not None:
            on_start(settings, run_mode(options, production))
        if progress is not None:
            progress.attach(client)
        plugin = ConformancePlugin(
            settings,
            client,
            allow_unsafe_methods=options.allow_unsafe_methods,
            on_result=progress.check_finished if progress is not None else None,
        )
        unreachable, interrupted = None, None
        try:
            started = time.perf_counter()
            unreachable = preflight(client)
            round_trip_s = time.perf_counter() - started  # connecting included: an upper bound
            if unreachable is None and not _checks_ran(plugin, settings, options, progress, round_trip_s):
                interrupted = options.interruption.signal_name or "SIGINT"
        except KeyboardInterrupt:
            interrupted = options.interruption.signal_name or "SIGINT"
        outcome = RunOutcome(plugin.results, plugin.tally(), plugin.started, unreachable, interrupted)
        return run_result(settings, options, outcome, client.redactor)


def checked_usable(settings: Settings, options: RunOptions) -> str | None:
    """Why the run touches production (None: it does not), once it is known to be usable: a
    ConfigError for an unconfirmed production target, contradicting TLS options or a bad -k."""
    production = production_target(settings)
    if production and not options.production_confirmed:
        raise ConfigError(
            f"refusing to run against production ({production}) without confirmation: the suite would "
            f"send up to {options.limits.max_requests} read-only requests with your credentials; add "
            "--confirm-production if you mean it"
        )
    if options.insecure and options.ca_bundle:
        raise ConfigError("--insecure and --ca-bundle contradict each other: give one")
    if settings.select:
        _check_selection(settings.select)
    return production


def open_client(settings: Settings, options: RunOptions) -> Client:
    """The run's client (a context manager), with the run's redactor and bounds (see client_limits)."""
    redactor = run_redactor(settings)
    LAST_RUN.redactor = redactor
    return Client(
        settings.target.base_url,
        allowed_hosts=settings.target.hosts(),
        redactor=redactor,
        limits=client_limits(settings, options.limits),
        verify=tls_verify(options),
        allow_unsafe_methods=options.allow_unsafe_methods,
        token_urls=(settings.target.token_url, settings.target.webhooks_token_url),
        production_confirmed=options.production_confirmed,
    )


def client_limits(settings: Settings, limits: ClientLimits) -> ClientLimits:
    """The run's bounds for its target: the bundled reference target is backed off from only briefly
    (REFERENCE_BACKOFF_BASE_S), since it is the suite's own."""
    return replace(limits, backoff_base_s=REFERENCE_BACKOFF_BASE_S) if settings.reference else limits


@dataclass
class RunOutcome:
    """What the checks left for the result: their results and tally (all processes), how it ended."""

    results: list[CheckResult]
    tally: RunTally
    started: datetime
    unreachable: str | None = None  # why the preflight got no answer
    interrupted: str | None = None  # the signal that stopped the run


def run_result(settings: Settings, options: RunOptions, outcome: RunOutcome, redactor: Redactor) -> RunResult:
    """The RunResult of a run (scrubbed by redactor): requirements, classes and verdict, provenance,
    what the run met."""
    tally, unreachable, interrupted = outcome.tally, outcome.unreachable, outcome.interrupted
    requirements = aggregate(outcome.results, settings, interrupted=interrupted, unreachable=unreachable)
    claim = settings.claimed_classes()
    unreachable = unreachable or _no_verdict(tally, options, requirements)
    decision = decide(
        requirements,
        claim=claim,
        strict=settings.strict,
        interrupted=interrupted,
        no_verdict=unreachable,
        select=settings.selection_words(),
    )
    outcome = replace(outcome, unreachable=unreachable)
    return scrub(_run_result(settings, options, outcome, requirements, decision), redactor)


def _no_verdict(tally: RunTally, options: RunOptions, requirements: list[RequirementResult]) -> str | None:
    """Why the run has no verdict although the target was reached: it stopped answering, or the run
    reached its deadline (--max-duration) before every check had its answer."""
    errored = sum(1 for req in requirements if req.outcome == "error")
    if tally.deadline_passed:
        return (
            f"the run reached its --max-duration of {options.limits.max_duration_s:g} s before it was "
            f"done: {errored} requirement(s) could not be checked"
        )
    if tally.unresponsive and errored:
        return f"{tally.unresponsive[0]}: {errored} requirement(s) could not be checked"
    return None


def _run_result(
    settings: Settings,
    options: RunOptions,
    outcome: RunOutcome,
    requirements: list[RequirementResult],
    decision: Decision,
) -> RunResult:
    """The RunResult literal: one field per line, the values worked out above."""
    tally = outcome.tally
    return RunResult(
        verdict=decision.verdict,
        error=outcome.unreachable or (decision.reason if decision.verdict == "error" else None),
        verdict_reason=decision.reason,
        classes=decision.classes,
        claim=list(settings.claimed_classes()),
        claim_narrowed=settings.claim is not None,
        select=settings.selection_words(),
        interrupted=outcome.interrupted,
        replay=replay_record(settings),
        suite_version=__version__,
        spec_sha256=sha256_of(settings.spec_path or default_spec_path()),
        target=_target_record(settings),
        environment=settings.environment,
        reference_faults=list(settings.faults),
        started_at=outcome.started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        counts=count_outcomes(requirements),
        requirements=requirements,
        seed=settings.seed,
        max_examples=settings.max_examples,
        strict=settings.strict,
        requests={**tally.requests, "total": tally.requests_sent},
        status_coverage=dict(sorted(tally.status_seen.items())),
        tokens={"requests": len(tally.tokens), "scope_sets": sorted(set(tally.tokens))},
        warnings=_warnings(requirements, settings, tally, options) + tally.warnings,
        mode=run_mode(options, production_target(settings)),
        throttling=tally.throttling,
        limits_hit=_limits_hit(tally),
    )


def _target_record(settings: Settings) -> dict[str, Any]:
    """results.json's target: the URLs and tenant the run used, and whether it was the bundled one."""
    return {
        "base_url": settings.target.base_url,
        "token_url": settings.target.token_url,
        "webhooks_token_url": settings.target.webhooks_token_url,
        "tenant_id": settings.tenant.tenant_id,
        "kind": REFERENCE_KIND if settings.reference else "external",
    }


def _limits_hit(tally: RunTally) -> dict[str, Any]:
    """results.json's limits_hit: the bounds the run met."""
    return {
        "truncated_bodies": tally.truncated_bodies,
        "budget_spent": tally.budget_spent,
        "unresponsive": tally.unresponsive,
        "deadline_passed": tally.deadline_passed,
    }


def run_mode(options: RunOptions, production: str | None = None) -> dict[str, Any]:
    """What results.json says about how the run treated the target."""
    limits = options.limits
    return {
        "read_only": not options.allow_unsafe_methods,
        "unsafe_methods": options.allow_unsafe_methods,
        "max_requests": limits.max_requests,
        "max_rps": limits.max_rps,
        "concurrency": limits.concurrency,
        "timeout_s": limits.timeout_s,
        "max_body_bytes": limits.max_body_bytes,
        "max_duration_s": limits.max_duration_s,
        "tls_verify": "off" if options.insecure else ("ca-bundle" if options.ca_bundle else "on"),
        "production": bool(production),
    }


def tls_verify(options: RunOptions) -> bool | ssl.SSLContext:
    """True (the default trust store), False (--insecure) or a context that also trusts --ca-bundle."""
    if options.insecure:
        return False
    if options.ca_bundle is None:
        return True
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    try:
        context.load_verify_locations(cafile=str(options.ca_bundle))
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
        raise ConfigError(
            f"--ca-bundle {options.ca_bundle} is not a usable PEM CA bundle: {reason}"
        ) from None
    return context


def preflight(client: Client) -> str | None:
    """One unauthenticated GET of the API base: None if the target answers, else why not (one line)."""
    try:
        client.request("GET", client.base_url + "/", phase="preflight", note="is the target reachable?")
    except httpx.HTTPError as exc:
        return f"cannot reach the target at {client.base_url}: {describe_error(exc)}"
    except InfrastructureError as exc:
        return f"no verdict from the target at {client.base_url}: {exc}"
    finally:
        client.recorder.take()
    return None


def _checks_ran(
    plugin: ConformancePlugin,
    settings: Settings,
    options: RunOptions,
    progress: Progress | None,
    round_trip_s: float,
) -> bool:
    """Plan the hand-written requests ahead when worth it (round_trip_s: the preflight's), then run the
    checks: False when interrupted."""
    client = plugin.client
    if _planning(settings, options, round_trip_s) and not plan_ahead(settings, client, options, progress):
        return False
    extra = [progress] if progress is not None else []
    return run_checks(plugin, settings, options.checks_package, extra)


def _planning(settings: Settings, options: RunOptions, round_trip_s: float) -> bool:
    """Whether the run plans its hand-written requests ahead (RunOptions.plan; None: when worth it, and
    the request budget cannot run out)."""
    if options.plan is not None:
        return options.plan
    budget = options.limits.max_requests
    if budget is not None and estimate(settings).total > budget:
        return False  # a budget that may run out must leave the same checks unverified either way
    return worth_planning(round_trip_s, options.limits)


def plan_ahead(
    settings: Settings, client: Client, options: RunOptions, progress: Progress | None = None
) -> bool:
    """The planning passes before the run (conformance.planning): False when one was interrupted. A
    bound of the run reached while sending ahead ends planning; the run meets it again, as it would."""
    finished: set[str] = set()
    for number in range(1, MAX_PASSES + 1):
        plugin = ConformancePlugin(settings, client, allow_unsafe_methods=options.allow_unsafe_methods)
        with client.planning() as plan:
            passing = PlanningPass(plan, finished, plugin.is_generated)
            code = _pytest_main(settings, options.checks_package, [plugin, passing])
        if code == pytest.ExitCode.INTERRUPTED:
            return False
        if not plan.requests:
            break
        try:
            client.send_ahead(plan.requests)
        except INFRASTRUCTURE_ERRORS:
            break
        finally:
            if progress is not None:
                progress.sent_ahead(len(plan.requests), number)
    return True


def run_checks(
    plugin: ConformancePlugin,
    settings: Settings,
    package: str = CHECKS_PACKAGE,
    extra_plugins: list[object] | None = None,
) -> bool:
    """Run the checks package under pytest with the plugin (and extra_plugins, e.g. the live progress):
    True when it ran to the end, False when it was interrupted. A pytest usage error is a bug: raise it."""
    code = _pytest_main(settings, package, [plugin, *(extra_plugins or [])])
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        if settings.selection_words():
            only_k = settings.select and settings.only is None
            what = f"-k {settings.select!r}" if only_k else settings.selection_words()
            raise ConfigError(f"{what} selects no check: `enrolment-conformance requirements` lists them")
        raise RuntimeError(f"no checks were collected from {package}")
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the check runner failed to start (pytest exit {int(code)})")
    return code != pytest.ExitCode.INTERRUPTED


def _pytest_main(settings: Settings, package: str, plugins: list[object]) -> int | pytest.ExitCode:
    """pytest.main over the checks package, with plugins, isolated from the user's pytest set-up."""
    ini = Path(str(resources.files("conformance"))) / "checks.ini"
    args = ["-c", str(ini), "--pyargs", package, "-p", "no:cacheprovider", "--noconftest"]
    # --assert=plain: checks fail with CheckFailed, never bare asserts; and with python_files = *.py
    # assertion rewriting would recompile every module imported during collection (seconds per run).
    args += ["-p", "no:terminal", "--assert=plain"]
    args += ["--capture=no"]  # the live progress prints while checks run; checks themselves print nothing
    # no:unraisableexception: its full garbage collections at exit cost ~0.3 s each, for warnings never shown
    args += ["-p", "no:unraisableexception"]
    if settings.select:
        args += ["-k", settings.select]
    with _isolated_pytest_environment():
        return pytest.main(args, plugins=[*plugins, _NoTracebacks()])


class _NoTracebacks:
    """The plugin reads each check's exception itself; pytest's source-annotated tracebacks (built for
    every failed or errored check, and never shown) cost up to a second each against a broken target."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.option.tbstyle = "no"


def _check_selection(select: str) -> None:
    """A -k expression pytest cannot parse is a usage error (exit 2), said in one line, before any request."""
    detail = internals.keyword_expression_error(select)
    if detail is not None:
        raise ConfigError(
            f"-k {select!r} is not a valid selection expression ({detail}); e.g. -k 'AUTH-003 or ERR-003', "
            "or --area AUTH for a whole area"
        )


@contextmanager
def _isolated_pytest_environment() -> Iterator[None]:
    """Keep a user's PYTEST_ADDOPTS and installed pytest plugins from changing the conformance run.

    Plugin autoloading is off: the checks need none of them, and loading (and assertion-rewriting)
    schemathesis's, hypothesis's and xdist's plugins costs seconds per run.
    """
    saved = {
        name: os.environ.pop(name, None) for name in ("PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    }
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def aggregate(
    results: list[CheckResult],
    settings: Settings,
    *,
    interrupted: str | None = None,
    unreachable: str | None = None,
) -> list[RequirementResult]:
    """One RequirementResult per catalogue entry, in catalogue order; with the target unreachable, the
    claimed and selected requirements that could not run are errors (no verdict), not 'not verified'."""
    by_requirement: dict[str, list[CheckResult]] = {}
    for result in results:
        by_requirement.setdefault(result.requirement, []).append(result)
    classes = load_classes()
    claim = settings.claimed_classes()
    requirements = []
    for requirement in load_catalogue().values():
        checks = by_requirement.get(requirement.id, [])
        needs = classes[requirement.conformance_class].needs
        if checks:
            outcome = requirement_outcome(checks, needs)
            relevant = [c for c in checks if c.outcome == outcome] if outcome != "passed" else []
            messages = [f"{c.name}: {c.message}" for c in relevant if c.message]
        else:
            claimed, selected = requirement.conformance_class in claim, settings.selects(requirement.id)
            outcome = "error" if unreachable and claimed and selected and not settings.select else "skipped"
            messages = [_not_run(claimed, selected, settings, interrupted, unreachable)]
        requirements.append(
            RequirementResult(
                id=requirement.id,
                title=requirement.title,
                level=requirement.level,
                area=requirement.area,
                source=requirement.source,
                outcome=outcome,
                messages=messages,
                checks=checks,
                conformance_class=requirement.conformance_class,
            )
        )
    return requirements


def _not_run(
    claimed: bool, selected: bool, settings: Settings, interrupted: str | None, unreachable: str | None
) -> str:
    """Why a requirement has no check result at all."""
    if not claimed:
        return "not claimed: its class is outside --claim, so its checks did not run"
    if interrupted:
        return f"not run: the run was interrupted ({interrupted})"
    if not selected:
        return f"not selected ({settings.selection_words()})"
    if unreachable:
        return f"not checked: {unreachable}"
    if settings.selection_words():
        return f"not selected ({settings.selection_words()})"
    return "no check ran"


def _warnings(
    requirements: list[RequirementResult], settings: Settings, tally: RunTally, options: RunOptions
) -> list[str]:
    """What the report lists under warnings: failed SHOULD requirements (unless strict), then the bounds
    the run met."""
    warnings = []
    if not settings.strict:
        warnings += [
            f"{req.id} (SHOULD) failed: {req.messages[0] if req.messages else req.title}"
            for req in requirements
            if req.level == "SHOULD" and req.outcome == "failed"
        ]
    if options.insecure:
        warnings.append("TLS certificates were not verified (--insecure)")
    limits = options.limits
    if tally.budget_spent:
        warnings.append(f"the request budget ({limits.max_requests}, --max-requests) was spent")
    warnings += tally.unresponsive
    if tally.truncated_bodies:
        warnings.append(
            f"{tally.truncated_bodies} response body(ies) exceeded the {limits.max_body_bytes}-byte "
            "cap and were truncated (--max-body-bytes)"
        )
    throttled = throttling_words(tally.throttling)
    if throttled:
        warnings.append(f"throttling: {throttled}")
    return warnings
