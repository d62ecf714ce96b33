"""One conformance run: reach the target, run the checks with pytest, build the result.

``execute()`` is the whole run minus the command line: it never raises for a
misbehaving target; it returns a RunResult whose verdict says pass, fail or
error (no verdict could be reached, with the reason).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import httpx
import pytest

from conformance import __version__
from conformance.catalogue import load_catalogue
from conformance.client import Client, ClientLimits, describe_error
from conformance.config import Settings
from conformance.plugin import ConformancePlugin
from conformance.redact import Redactor
from conformance.results import (
    CheckResult,
    RequirementResult,
    RunResult,
    count_outcomes,
    requirement_outcome,
    verdict_of,
)
from conformance.spec import default_spec_path, sha256_of

CHECKS_PACKAGE = "conformance.checks"


@dataclass(frozen=True)
class RunOptions:
    """How the run behaves towards the target (safety bounds)."""

    limits: ClientLimits = ClientLimits()
    allow_unsafe_methods: bool = False
    verify: bool | str = True


def execute(settings: Settings, options: RunOptions | None = None) -> RunResult:
    """Run every selected check against the target and return the result."""
    options = options or RunOptions()
    spec_path = settings.spec_path or default_spec_path()
    started = datetime.now(UTC)
    redactor = Redactor()
    for tenant in (settings.tenant, settings.other_tenant):
        if tenant is not None:
            redactor.add_basic(tenant.tenant_id, tenant.secret)
    with Client(
        settings.target.base_url,
        allowed_hosts=settings.target.hosts(),
        redactor=redactor,
        limits=options.limits,
        verify=options.verify,
        allow_unsafe_methods=options.allow_unsafe_methods,
    ) as client:
        unreachable = preflight(client)
        plugin = ConformancePlugin(settings, client, allow_unsafe_methods=options.allow_unsafe_methods)
        if unreachable is None:
            run_checks(plugin, settings)
        requirements = aggregate(plugin.results, settings)
        verdict = verdict_of(requirements, strict=settings.strict)
        return RunResult(
            verdict="error" if unreachable else verdict,
            error=unreachable or _error_summary(requirements, verdict),
            suite_version=__version__,
            spec_sha256=sha256_of(spec_path),
            target={
                "base_url": settings.target.base_url,
                "token_url": settings.target.token_url,
                "webhooks_token_url": settings.target.webhooks_token_url,
                "tenant_id": settings.tenant.tenant_id,
                "kind": "reference implementation" if settings.reference else "external",
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
            warnings=[
                f"{req.id} (SHOULD) failed: {req.messages[0] if req.messages else req.title}"
                for req in requirements
                if req.level == "SHOULD" and req.outcome == "failed"
            ],
        )


def preflight(client: Client) -> str | None:
    """One unauthenticated GET of the API base: None if the target answers, else why not (one line)."""
    try:
        client.request("GET", client.base_url + "/", phase="preflight", note="is the target reachable?")
    except httpx.HTTPError as exc:
        return f"cannot reach the target at {client.base_url}: {describe_error(exc)}"
    finally:
        client.recorder.take()
    return None


def run_checks(plugin: ConformancePlugin, settings: Settings) -> None:
    """Run the checks package under pytest with the plugin; a pytest usage error is a bug, raise it."""
    ini = Path(str(resources.files("conformance"))) / "checks.ini"
    args = ["-c", str(ini), "--pyargs", CHECKS_PACKAGE, "-p", "no:cacheprovider", "--noconftest"]
    args += ["-p", "no:terminal"]
    if settings.select:
        args += ["-k", settings.select]
    with _isolated_pytest_environment():
        code = pytest.main(args, plugins=[plugin])
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the check runner failed to start (pytest exit {int(code)})")


@contextmanager
def _isolated_pytest_environment() -> Iterator[None]:
    """Keep a user's PYTEST_ADDOPTS from changing the conformance run."""
    saved = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_ADDOPTS"] = saved


def aggregate(results: list[CheckResult], settings: Settings) -> list[RequirementResult]:
    """One RequirementResult per catalogue entry, in catalogue order."""
    by_requirement: dict[str, list[CheckResult]] = {}
    for result in results:
        by_requirement.setdefault(result.requirement, []).append(result)
    requirements = []
    for requirement in load_catalogue().values():
        checks = by_requirement.get(requirement.id, [])
        if checks:
            outcome = requirement_outcome(checks)
            relevant = [c for c in checks if c.outcome == outcome] if outcome != "passed" else []
            messages = [f"{c.name}: {c.message}" for c in relevant if c.message]
        else:
            outcome = "skipped"
            messages = [f"not selected (-k {settings.select})" if settings.select else "no check ran"]
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
            )
        )
    return requirements


def _error_summary(requirements: list[RequirementResult], verdict: str) -> str | None:
    if verdict != "error":
        return None
    errored = [req for req in requirements if req.outcome == "error"]
    first = errored[0]
    reason = first.messages[0].split(": ", 1)[-1] if first.messages else "a check could not run"
    return f"{len(errored)} requirement(s) could not be checked, e.g. {first.id}: {reason}"

