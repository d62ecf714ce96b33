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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import __version__
from conformance.catalogue import load_catalogue, load_classes
from conformance.client import Client, ClientLimits, InfrastructureError, describe_error
from conformance.config import ConfigError, Settings, production_target
from conformance.interrupt import Interruption
from conformance.plugin import ConformancePlugin
from conformance.redact import LAST_RUN, run_redactor, scrub
from conformance.results import (
    REFERENCE_KIND,
    CheckResult,
    RequirementResult,
    RunResult,
    count_outcomes,
)
from conformance.spec import default_spec_path, sha256_of
from conformance.verdict import decide, requirement_outcome

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


def execute(
    settings: Settings,
    options: RunOptions | None = None,
    on_start: Callable[[Settings, dict[str, Any]], None] | None = None,
) -> RunResult:
    """Run every selected check against the target and return the result.

    on_start(settings, mode) is called once the run is known to be usable, before the first request.
    """
    options = options or RunOptions()
    production = production_target(settings)
    if production and not options.production_confirmed:
        limits = options.limits
        raise ConfigError(
            f"refusing to run against production ({production}) without confirmation: the suite would "
            f"send up to {limits.max_requests} read-only requests with your credentials; add "
            "--confirm-production if you mean it"
        )
    if options.insecure and options.ca_bundle:
        raise ConfigError("--insecure and --ca-bundle contradict each other: give one")
    if settings.select:
        _check_selection(settings.select)
    verify = tls_verify(options)
    started = datetime.now(UTC)
    redactor = run_redactor(settings)
    LAST_RUN.redactor = redactor
    with Client(
        settings.target.base_url,
        allowed_hosts=settings.target.hosts(),
        redactor=redactor,
        limits=options.limits,
        verify=verify,
        allow_unsafe_methods=options.allow_unsafe_methods,
        token_urls=(settings.target.token_url, settings.target.webhooks_token_url),
        production_confirmed=options.production_confirmed,
    ) as client:
        if on_start is not None:
            on_start(settings, run_mode(options, production))
        plugin = ConformancePlugin(settings, client, allow_unsafe_methods=options.allow_unsafe_methods)
        unreachable, interrupted = None, None
        try:
            unreachable = preflight(client)
            if unreachable is None and not run_checks(plugin, settings, options.checks_package):
                interrupted = options.interruption.signal_name or "SIGINT"
        except KeyboardInterrupt:
            interrupted = options.interruption.signal_name or "SIGINT"
        result = _result(settings, options, plugin, started, unreachable, interrupted)
        return scrub(result, redactor)


def _result(
    settings: Settings,
    options: RunOptions,
    plugin: ConformancePlugin,
    started: datetime,
    unreachable: str | None,
    interrupted: str | None,
) -> RunResult:
    """The RunResult of a run: requirements, classes and verdict, provenance, what the run met."""
    client = plugin.client
    requirements = aggregate(plugin.results, settings, interrupted=interrupted)
    claim = settings.claimed_classes()
    unresponsive = client.unresponsive()
    if unreachable is None and unresponsive and any(req.outcome == "error" for req in requirements):
        errored = sum(1 for req in requirements if req.outcome == "error")
        unreachable = f"{unresponsive[0]}: {errored} requirement(s) could not be checked"
    decision = decide(
        requirements,
        claim=claim,
        strict=settings.strict,
        interrupted=interrupted,
        no_verdict=unreachable,
        select=settings.select,
    )
    return RunResult(
        verdict=decision.verdict,
        error=unreachable or (decision.reason if decision.verdict == "error" else None),
        verdict_reason=decision.reason,
        classes=decision.classes,
        claim=list(claim),
        claim_narrowed=settings.claim is not None,
        select=settings.select,
        interrupted=interrupted,
        suite_version=__version__,
        spec_sha256=sha256_of(settings.spec_path or default_spec_path()),
        target={
            "base_url": settings.target.base_url,
            "token_url": settings.target.token_url,
            "webhooks_token_url": settings.target.webhooks_token_url,
            "tenant_id": settings.tenant.tenant_id,
            "kind": REFERENCE_KIND if settings.reference else "external",
        },
        environment=settings.environment,
        reference_faults=list(settings.faults),
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        counts=count_outcomes(requirements),
        requirements=requirements,
        seed=settings.seed,
        max_examples=settings.max_examples,
        strict=settings.strict,
        requests={**dict(client.requests_by_phase), "total": client.requests_sent},
        status_coverage=dict(sorted(plugin.status_seen.items())),
        tokens={"requests": len(plugin.tokens.obtained), "scope_sets": sorted(set(plugin.tokens.obtained))},
        warnings=_warnings(requirements, settings, client, options) + client.redactor.warnings,
        mode=run_mode(options, production_target(settings)),
        limits_hit={
            "throttled_retries": client.throttled_responses,
            "throttle_wait_s": round(client.throttle_wait_s, 1),
            "truncated_bodies": client.truncated_bodies,
            "budget_spent": client.budget_spent,
            "unresponsive": client.unresponsive(),
        },
    )


def run_mode(options: RunOptions, production: str | None = None) -> dict[str, Any]:
    """What results.json says about how the run treated the target."""
    limits = options.limits
    return {
        "read_only": not options.allow_unsafe_methods,
        "unsafe_methods": options.allow_unsafe_methods,
        "max_requests": limits.max_requests,
        "max_rps": limits.max_rps,
        "timeout_s": limits.timeout_s,
        "max_body_bytes": limits.max_body_bytes,
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


def run_checks(plugin: ConformancePlugin, settings: Settings, package: str = CHECKS_PACKAGE) -> bool:
    """Run the checks package under pytest with the plugin: True when it ran to the end, False when it
    was interrupted. A pytest usage error is a bug: raise it."""
    ini = Path(str(resources.files("conformance"))) / "checks.ini"
    args = ["-c", str(ini), "--pyargs", package, "-p", "no:cacheprovider", "--noconftest"]
    # --assert=plain: checks fail with CheckFailed, never bare asserts; and with python_files = *.py
    # assertion rewriting would recompile every module imported during collection (seconds per run).
    args += ["-p", "no:terminal", "--assert=plain"]
    if settings.select:
        args += ["-k", settings.select]
    with _isolated_pytest_environment():
        code = pytest.main(args, plugins=[plugin, _NoTracebacks()])
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        if settings.select:
            raise ConfigError(
                f"-k {settings.select!r} selects no check: `enrolment-conformance requirements` lists them"
            )
        raise RuntimeError(f"no checks were collected from {package}")
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the check runner failed to start (pytest exit {int(code)})")
    return code != pytest.ExitCode.INTERRUPTED


class _NoTracebacks:
    """The plugin reads each check's exception itself; pytest's source-annotated tracebacks (built for
    every failed or errored check, and never shown) cost up to a second each against a broken target."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.option.tbstyle = "no"


def _check_selection(select: str) -> None:
    """A -k expression pytest cannot parse is a usage error (exit 2), said in one line, before any request."""
    try:
        from _pytest.mark import expression
    except ImportError:  # pragma: no cover - pytest moved it; pytest's own usage error still stops the run
        return
    malformed = (SyntaxError, *(e for e in [getattr(expression, "ParseError", None)] if isinstance(e, type)))
    try:
        expression.Expression.compile(select)
    except malformed as exc:
        detail = getattr(exc, "msg", None) or str(exc)
        raise ConfigError(
            f"-k {select!r} is not a valid selection expression ({detail}); e.g. 'AUTH or ERR-003'"
        ) from None


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
    results: list[CheckResult], settings: Settings, *, interrupted: str | None = None
) -> list[RequirementResult]:
    """One RequirementResult per catalogue entry, in catalogue order."""
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
            outcome = "skipped"
            messages = [_not_run(requirement.conformance_class in claim, settings, interrupted)]
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


def _not_run(claimed: bool, settings: Settings, interrupted: str | None) -> str:
    """Why a requirement has no check result at all."""
    if not claimed:
        return "not claimed: its class is outside --claim, so its checks did not run"
    if interrupted:
        return f"not run: the run was interrupted ({interrupted})"
    if settings.select:
        return f"not selected (-k {settings.select})"
    return "no check ran"


def _warnings(
    requirements: list[RequirementResult], settings: Settings, client: Client, options: RunOptions
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
    if client.budget_spent:
        warnings.append(f"the request budget ({client.limits.max_requests}, --max-requests) was spent")
    warnings += client.unresponsive()
    if client.truncated_bodies:
        warnings.append(
            f"{client.truncated_bodies} response body(ies) exceeded the {client.limits.max_body_bytes}-byte "
            "cap and were truncated (--max-body-bytes)"
        )
    if client.throttled_responses:
        warnings.append(
            f"the target throttled {client.throttled_responses} request(s); the run waited "
            f"{client.throttle_wait_s:.1f} s as told by Retry-After and retried"
        )
    return warnings
