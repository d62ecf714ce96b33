"""Replaying a saved run: ``enrolment-conformance rerun results.json [--only ID]`` and ``run --last-failed``.

A run records in ``results.json`` (key ``replay``) what reaching its target again takes: the
configuration it ran with (URLs, tenant IDs, the *names* of the secret variables, fixture
enrolments), the spec file and, for the bundled reference target, its faults. A rerun reads that back,
takes the secrets from the environment as any run does, and runs only the requirements that failed or
errored (or those ``--only`` names), with the saved run's seed, example count, strictness, claim and
bounds. The opt-ins that put a target or the credentials at risk (--allow-unsafe-methods,
--confirm-production, --allow-plain-http, --insecure, --ca-bundle) are never read from the file: they
are given again. A rerun is a selection, so its verdict is at best incomplete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.client import ClientLimits
from conformance.config import ConfigError, Overrides, Settings
from conformance.results import RunResult
from conformance.schemas import first_problem
from conformance.selection import Selection, checked_ids


class ReplayError(ConfigError):
    """The saved run cannot be replayed as asked (one line; a usage error)."""


@dataclass(frozen=True)
class Replay:
    """What a rerun of a saved run does: which requirements, against which target, within which bounds."""

    result: RunResult
    selection: Selection

    @property
    def reference(self) -> bool:
        return bool(self.result.replay.get("reference"))

    @property
    def faults(self) -> tuple[str, ...]:
        return tuple(self.result.replay.get("faults", ()))

    def config(self, path: Path) -> dict[str, Any]:
        """The saved configuration, checked against the config schema as a file would be."""
        data = self.result.replay.get("config") or {}
        problem = first_problem("config", data)
        if problem:
            raise ReplayError(f"{path}: the saved configuration is not usable: {problem}")
        return data

    def overrides(self, reports_dir: Path, *, allow_plain_http: bool) -> Overrides:
        """The saved run's options, narrowed to the rerun's selection."""
        result = self.result
        spec = self.result.replay.get("spec_path")
        return Overrides(
            environment=result.environment,
            reports_dir=reports_dir,
            spec_path=Path(spec) if spec else None,
            seed=result.seed,
            max_examples=result.max_examples or None,
            strict=result.strict,
            claim=tuple(result.claim) if result.claim_narrowed else None,
            allow_plain_http=allow_plain_http,
            only=self.selection,
        )

    def limits(self) -> ClientLimits:
        """The saved run's bounds (requests, rate, timeout, body size, run deadline, concurrency)."""
        mode, default = self.result.mode, ClientLimits()
        return ClientLimits(
            max_requests=mode.get("max_requests", default.max_requests),
            max_rps=mode.get("max_rps"),
            timeout_s=mode.get("timeout_s", default.timeout_s),
            max_body_bytes=mode.get("max_body_bytes", default.max_body_bytes),
            max_duration_s=mode.get("max_duration_s", default.max_duration_s),
            concurrency=mode.get("concurrency", default.concurrency),
        )

    def check_tls_flags(self, *, insecure: bool, ca_bundle: Path | None) -> None:
        """The saved run's TLS opt-outs are given again (a file cannot switch verification off)."""
        saved = self.result.mode.get("tls_verify", "on")
        if saved == "off" and not insecure:
            raise ReplayError("the saved run did not verify TLS certificates: give --insecure again")
        if saved == "ca-bundle" and ca_bundle is None:
            raise ReplayError("the saved run trusted a --ca-bundle: give --ca-bundle FILE again")


def replay_of(result: RunResult, path: Path, only: Sequence[str] = ()) -> Replay:
    """The rerun of a saved run: its failed and errored requirements, or only those named."""
    if not result.replay:
        raise ReplayError(
            f"{path} does not record the settings of its run (written by an older suite version): "
            "run it again with `enrolment-conformance run`"
        )
    if only:
        ids = checked_ids(only)
        return Replay(result, Selection(frozenset(ids), f"--only {','.join(ids)}"))
    ids = [req.id for req in result.requirements if req.outcome in ("failed", "error")]
    if not ids:
        raise ReplayError(
            f"nothing to re-run: {path} has no failed or errored requirement (verdict "
            f"{result.verdict.upper()}); name one with --only ID"
        )
    return Replay(result, Selection(frozenset(ids), f"rerun of {len(ids)} failed or errored requirement(s)"))


def replay_record(settings: Settings) -> dict[str, Any]:
    """What results.json records for a rerun (no secret: the secret variables are named, not read)."""
    target = settings.target
    credentials: dict[str, Any] = {
        "tenant_id": settings.tenant.tenant_id,
        "api_secret_env": settings.tenant.secret_env,
    }
    if settings.other_tenant is not None:
        credentials["other_tenant"] = {
            "tenant_id": settings.other_tenant.tenant_id,
            "api_secret_env": settings.other_tenant.secret_env,
        }
    fixtures = {
        key: [
            {"assignment_id": f.assignment_id, "enrolment_id": f.enrolment_id}
            | ({"status": f.status} if f.status else {})
            for f in entries
        ]
        for key, entries in (
            ("enrolments", settings.fixtures),
            ("other_tenant_enrolments", settings.other_tenant_fixtures),
        )
        if entries
    }
    urls = {"base_url": target.base_url, "token_url": target.token_url}
    urls["webhooks_token_url"] = target.webhooks_token_url
    config = {"target": {key: url for key, url in urls.items() if url}, "credentials": credentials}
    if fixtures:
        config["fixtures"] = fixtures
    return {
        "reference": settings.reference,
        "faults": list(settings.faults),
        "spec_path": str(settings.spec_path.resolve()) if settings.spec_path else None,
        "config": {} if settings.reference else config,
    }
