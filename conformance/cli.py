"""The command line: ``enrolment-conformance run | serve | requirements | faults``.

Exit codes of ``run``: 0 conformant, 1 non-conformant, 2 usage or configuration
error, 3 no verdict (target unreachable or another infrastructure error).
Every non-zero exit prints one line on stderr saying why.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from conformance import __version__
from conformance.config import ConfigError, Overrides, Settings, apply_run_options, load_settings

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
VERDICT_EXIT = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "error": EXIT_ERROR}
SECRET_FLAGS = ("--api-secret", "--secret", "--client-secret", "--password", "--token")


class UsageFailure(click.ClickException):
    """A usage or configuration problem: one line, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"error: {self.format_message()}", err=True)


def _refuse_secret_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise UsageFailure(
            f"{param.opts[0]} is refused: secrets on the command line leak into shell history and process "
            "lists; export the secret in an environment variable and name it in credentials.api_secret_env"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="enrolment-conformance")
def cli() -> None:
    """Conformance suite for GET /assignments/{assignmentId}/enrolments/{enrolmentId}."""


@cli.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML configuration file.")
@click.option("--base-url", help="API base URL, e.g. https://public.api.learnstaging.link/rest/v1")
@click.option("--token-url", help="Public-API token endpoint, with {tenantId}.")
@click.option("--webhooks-token-url", help="Webhooks token endpoint, with {tenantId}.")
@click.option("--tenant-id", help="Tenant ID (the secret is read from ENROLMENT_API_SECRET or the config).")
@click.option("--env", "environment", type=click.Choice(["staging", "production", "staging-mea", "production-mea"]))
@click.option("--reports", "reports_dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), help="Run from another OpenAPI document.")
@click.option("-k", "select", help="Only run checks matching this pytest -k expression (e.g. 'AUTH or ERR-003').")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for property-based generation.")
@click.option("--max-examples", type=int, default=100, show_default=True, help="Generated cases per mode.")
@click.option("--strict", is_flag=True, help="Failed SHOULD requirements fail the run too.")
@click.option("--fault", "faults", multiple=True, help="(no target only) switch on a reference-target fault.")
@click.option("--api-secret", "--secret", "--client-secret", expose_value=False, hidden=True,
              callback=_refuse_secret_flag)
def run(
    config_file: Path | None,
    base_url: str | None,
    token_url: str | None,
    webhooks_token_url: str | None,
    tenant_id: str | None,
    environment: str | None,
    reports_dir: Path,
    spec_path: Path | None,
    select: str | None,
    seed: int,
    max_examples: int,
    strict: bool,
    faults: tuple[str, ...],
) -> None:
    """Run the conformance suite and write junit.xml, report.html and results.json.

    With no target (no --config, --base-url or --env) it starts the bundled
    reference implementation on loopback and tests that.
    """
    from conformance.reports import write_reports
    from conformance.runner import execute

    overrides = Overrides(
        base_url=base_url,
        token_url=token_url,
        webhooks_token_url=webhooks_token_url,
        tenant_id=tenant_id,
        environment=environment,
        reports_dir=reports_dir,
        spec_path=spec_path,
        select=select,
        seed=seed,
        max_examples=max_examples,
        strict=strict,
    )
    has_target = bool(config_file or base_url or environment)
    if faults and has_target:
        raise UsageFailure("--fault applies to the bundled reference target only; drop --config/--base-url/--env")
    started = time.perf_counter()
    try:
        if has_target:
            settings = load_settings(config_file, overrides)
            result = execute(settings)
        else:
            result = _run_against_reference(overrides, faults)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    paths = write_reports(result, reports_dir)
    _print_summary(result, paths, time.perf_counter() - started)
    sys.exit(VERDICT_EXIT[result.verdict])


def _run_against_reference(overrides: Overrides, faults: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from conformance.reference.server import ReferenceServer, reference_settings
    from conformance.runner import execute

    with ReferenceServer(faults=faults) as server:
        settings: Settings = apply_run_options(reference_settings(server), overrides)
        return execute(settings)


def _print_summary(result, paths: dict[str, Path], seconds: float) -> None:  # type: ignore[no-untyped-def]
    from conformance.reports import JSON_NAME, results_sha256

    counts = result.counts
    target = result.target["base_url"]
    kind = " (bundled reference implementation)" if result.target.get("kind") == "reference implementation" else ""
    if result.reference_faults:
        kind += f" with fault(s) {', '.join(result.reference_faults)}"
    click.echo(f"enrolment-conformance {result.suite_version} against {target}{kind}")
    for req in result.requirements:
        if req.outcome in ("failed", "error"):
            label = "FAIL" if req.outcome == "failed" else "ERROR"
            if req.outcome == "failed" and req.level == "SHOULD" and not result.strict:
                label = "WARN"
            message = req.messages[0] if req.messages else req.title
            click.echo(f"  {label:5} {req.id} ({req.level}) {message[:220]}")
    requests = result.requests.get("total", 0)
    click.echo(
        f"{counts['total']} requirements: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['error']} error; {requests} requests in {seconds:.1f} s"
    )
    for name, path in paths.items():
        click.echo(f"  {name}: {path}")
    click.echo(f"results.json sha256: {results_sha256(paths[JSON_NAME])}")
    verdict = {"pass": "PASS: conformant", "fail": "FAIL: non-conformant", "error": "ERROR: no verdict"}
    click.echo(f"verdict: {verdict[result.verdict]}")
    if result.verdict == "fail":
        failed = [r.id for r in result.requirements if r.outcome == "failed" and (r.level == "MUST" or result.strict)]
        click.echo(f"error: the target is not conformant: {len(failed)} requirement(s) failed: {', '.join(failed)}",
                   err=True)
    elif result.verdict == "error":
        click.echo(f"error: {result.error}", err=True)


@cli.command()
@click.option("--port", type=int, default=8000, show_default=True, help="Loopback port (0 picks a free one).")
@click.option("--fault", "faults", multiple=True, help="Switch on a fault (repeatable); see `faults`.")
@click.option("--write-config", type=click.Path(path_type=Path), help="Write a suite config for this server.")
def serve(port: int, faults: tuple[str, ...], write_config: Path | None) -> None:
    """Run the bundled reference implementation on loopback until interrupted."""
    from conformance.reference.faults import FAULTS
    from conformance.reference.server import serve as serve_reference

    unknown = [name for name in faults if name not in FAULTS]
    if unknown:
        raise UsageFailure(f"unknown fault {unknown[0]!r}; `enrolment-conformance faults` lists them")
    sys.exit(serve_reference(port, list(faults), write_config))


@cli.command()
@click.option("--area", help="Only this area (AUTH, OAUTH, SCOPE, STATUS, DATE, SCHEMA, ERR, ISO, HTTP, FUZZ).")
def requirements(area: str | None) -> None:
    """List the requirements catalogue: ID, area, level, title and source."""
    from conformance.catalogue import load_catalogue

    for req in load_catalogue().values():
        if area and req.area != area.upper():
            continue
        click.echo(f"{req.id:11} {req.area:7} {req.level:7} {req.title}")
        click.echo(f"{'':27}source: {req.source}")


@cli.command()
def faults() -> None:
    """List the reference target's faults and the requirements expected to catch each."""
    from conformance.reference.faults import FAULTS

    for fault in FAULTS.values():
        caught_by = "benign: must still pass" if fault.benign else ", ".join(fault.requirements)
        click.echo(f"{fault.name:40} {fault.description}  [{caught_by}]")


def main() -> int:
    """Console-script entry point."""
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return EXIT_ERROR
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("ENROLMENT_CONFORMANCE_DEBUG"):
            raise
        click.echo(f"error: internal error: {exc.__class__.__name__}: {exc} "
                   "(set ENROLMENT_CONFORMANCE_DEBUG=1 for the traceback)", err=True)
        return EXIT_ERROR
    return EXIT_PASS
