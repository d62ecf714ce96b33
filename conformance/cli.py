"""The command line: ``enrolment-conformance run | serve | requirements | faults | report | diff``.

Exit codes of ``run``: 0 conformant (every claimed class verified and passed),
1 non-conformant, 2 usage or configuration error, 3 no verdict (target
unreachable or another infrastructure error), 4 incomplete (nothing failed, but
a claimed class was not fully verified), 130 / 143 interrupted by SIGINT / SIGTERM.
With ``--baseline`` the gate decides instead of the verdict: 1 only for failures
the baseline does not accept (new, or past their expiry); see conformance/baseline.py.
Every non-zero exit prints one line on stderr saying why.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click

from conformance import __version__
from conformance.client import ClientLimits
from conformance.config import ConfigError, Overrides, Settings, apply_run_options, load_settings
from conformance.console import describe_mode, print_summary, printable
from conformance.interrupt import interruptible

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
VERDICT_EXIT = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "error": EXIT_ERROR, "incomplete": EXIT_INCOMPLETE}
SECRET_FLAGS = (
    "--api-secret",
    "--secret",
    "--client-secret",
    "--password",
    "--token",
    "--access-token",
    "--api-key",
)
DEFAULT_MAX_RPS = 20.0  # for a target the user names; the bundled reference target is not rate-limited


class UsageFailure(click.ClickException):
    """A usage or configuration problem: one line, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"error: {self.format_message()}", err=True)


def _refuse_secret_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise UsageFailure(
            "a secret on the command line is refused (--api-secret, --secret, --client-secret, --password, "
            "--token ...): it would leak into shell history and process lists; export it in "
            "ENROLMENT_API_SECRET, or in the variable that credentials.api_secret_env names"
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
@click.option(
    "--env", "environment", type=click.Choice(["staging", "production", "staging-mea", "production-mea"])
)
@click.option(
    "--reports", "reports_dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
@click.option(
    "--spec", "spec_path", type=click.Path(path_type=Path), help="Run from another OpenAPI document."
)
@click.option(
    "-k",
    "select",
    help="Debugging: only run checks matching this pytest -k expression (e.g. 'AUTH-003 or ERR-003'); "
    "a selection is at best an incomplete verdict.",
)
@click.option(
    "--claim",
    "claim",
    help="Narrow the claim on purpose to these conformance classes (comma-separated: core, oauth, "
    "isolation, methods, generated); the others do not run [default: every class].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for property-based generation.")
@click.option("--max-examples", type=int, default=100, show_default=True, help="Generated cases per mode.")
@click.option("--strict", is_flag=True, help="Failed SHOULD requirements fail the run too.")
@click.option("--fault", "faults", multiple=True, help="(no target only) switch on a reference-target fault.")
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path),
    help="TOML file of accepted failures: exit 1 only for failures not in it or past their expiry.",
)
@click.option(
    "--baseline-write",
    type=click.Path(path_type=Path),
    help="Write the run's failures to this TOML file as a (refreshed) baseline.",
)
@click.option(
    "--allow-unsafe-methods",
    is_flag=True,
    help="Also send POST, PUT, PATCH and DELETE to the API (the 405 checks). Off: read-only.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=ClientLimits.max_requests,
    show_default=True,
    help="Request budget of the run; checks left when it is spent are errors.",
)
@click.option(
    "--max-rps",
    type=click.FloatRange(min=0),
    default=None,
    help=f"Requests per second at most [default: {DEFAULT_MAX_RPS:g} for a target you name, "
    "unlimited for the bundled reference target; 0: unlimited].",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=ClientLimits.timeout_s,
    show_default=True,
    help="Seconds one request may take in all (connect, headers, body).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=ClientLimits.max_body_bytes,
    show_default=True,
    help="Response bodies are read up to this size; the rest is dropped.",
)
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of CA certificates to trust as well (e.g. an internal CA).",
)
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (prints a warning).")
@click.option(
    "--confirm-production", is_flag=True, help="Required to run against a production environment or host."
)
@click.option(
    "--allow-plain-http",
    is_flag=True,
    help="Allow http:// (no TLS) to a non-loopback host; the secrets then cross the network in clear.",
)
@click.option(*SECRET_FLAGS, "secret_flag", expose_value=False, hidden=True, callback=_refuse_secret_flag)
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
    claim: str | None,
    seed: int,
    max_examples: int,
    strict: bool,
    faults: tuple[str, ...],
    baseline_file: Path | None,
    baseline_write: Path | None,
    allow_unsafe_methods: bool,
    max_requests: int,
    max_rps: float | None,
    timeout_s: float,
    max_body_bytes: int,
    ca_bundle: Path | None,
    insecure: bool,
    confirm_production: bool,
    allow_plain_http: bool,
) -> None:
    """Run the conformance suite and write junit.xml, report.html and results.json.

    With no target (no --config, --base-url or --env) it starts the bundled
    reference implementation on loopback and tests that.

    The run is read-only unless --allow-unsafe-methods, and never exceeds
    --max-requests or --max-rps. Exit codes: 0 conformant, 1 not conformant,
    2 usage or configuration error, 3 no verdict (unreachable target, TLS or DNS
    failure, budget spent, target stopped answering ...).
    """
    from conformance.reports import write_reports
    from conformance.runner import RunOptions

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
        claim=_claimed(claim),
        allow_plain_http=allow_plain_http,
    )
    has_target = bool(config_file or base_url or environment)
    _check_faults(faults, has_target)
    if insecure and ca_bundle:
        raise UsageFailure("--insecure and --ca-bundle contradict each other: give one")
    baseline = _load_baseline(baseline_file)
    _check_output_paths(reports_dir, baseline_write)
    options = RunOptions(
        limits=ClientLimits(
            timeout_s=timeout_s,
            max_requests=max_requests,
            max_rps=(DEFAULT_MAX_RPS if has_target else 0.0) if max_rps is None else max_rps or None,
            max_body_bytes=max_body_bytes,
        ),
        # the bundled reference target is the suite's own: it may receive unsafe methods
        allow_unsafe_methods=allow_unsafe_methods or not has_target,
        ca_bundle=ca_bundle,
        insecure=insecure,
        production_confirmed=confirm_production,
    )
    if insecure:
        click.echo(
            "warning: --insecure: TLS certificates are NOT verified; whoever can intercept the connection "
            "can read the credentials",
            err=True,
        )
    started = time.perf_counter()
    with interruptible() as interruption:
        options = replace(options, interruption=interruption)
        try:
            if has_target:
                result = _execute(load_settings(config_file, overrides), options)
            else:
                result = _run_against_reference(overrides, faults, options)
        except ConfigError as exc:
            raise UsageFailure(str(exc)) from None
        result = _apply_baseline(result, baseline)
        paths = write_reports(result, reports_dir)
        _write_baseline(result, baseline, baseline_write)
        _print_outcome(result, paths, time.perf_counter() - started)
    sys.exit(interruption.exit_code if result.interrupted else VERDICT_EXIT[result.gate or result.verdict])


def _claimed(claim: str | None) -> tuple[str, ...] | None:
    """--claim as a tuple of known class IDs (a usage error names close matches)."""
    from conformance.catalogue import load_classes

    if claim is None:
        return None
    names = tuple(name.strip() for name in claim.split(",") if name.strip())
    known = load_classes()
    for name in names:
        if name not in known:
            raise UsageFailure(f"--claim: unknown conformance class {name!r}{_close(name, known)}")
    if not names:
        raise UsageFailure(f"--claim names no class; choose from {', '.join(known)}")
    return names


def _close(name: str, known: Iterable[str]) -> str:
    """'; did you mean X?' for a misspelt name, then every known name."""
    known = list(known)
    matches = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {' or '.join(matches)}?" if matches else ""
    return f"{hint} (known: {', '.join(known)})"


def _check_faults(faults: tuple[str, ...], has_target: bool) -> None:
    """--fault names a known fault of the bundled target, and only without a target of the user's."""
    from conformance.reference.faults import FAULTS

    if faults and has_target:
        raise UsageFailure(
            "--fault applies to the bundled reference target only; drop --config/--base-url/--env"
        )
    for name in faults:
        if name not in FAULTS:
            matches = difflib.get_close_matches(name, FAULTS, n=3)
            hint = f"; did you mean {' or '.join(matches)}?" if matches else ""
            raise UsageFailure(f"unknown fault {name!r}{hint} (`enrolment-conformance faults` lists them)")


def _check_output_paths(reports_dir: Path, baseline_write: Path | None) -> None:
    """Every output place is usable before the first request: the reports folder (created when the
    reports are written) is a folder or can be made one, and a --baseline-write file can be written."""
    if reports_dir.exists() and not reports_dir.is_dir():
        raise UsageFailure(f"--reports {reports_dir} is a file, not a folder: name a folder for the reports")
    _expect_writable(reports_dir, f"--reports {reports_dir}")
    if baseline_write is not None:
        if baseline_write.is_dir():
            raise UsageFailure(f"--baseline-write {baseline_write} is a folder: name a file")
        _expect_writable(baseline_write.parent, f"--baseline-write {baseline_write}")


def _expect_writable(folder: Path, what: str) -> None:
    """The folder, or the nearest folder above it that exists, can be written to."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageFailure(f"{what}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageFailure(f"{what}: {existing} is not writable")


def _execute(settings: Settings, options):  # type: ignore[no-untyped-def]
    """Run, printing the header once the run is known to be usable, before the first request."""
    from conformance.runner import execute

    return execute(settings, options, on_start=_print_header)


def _print_header(settings: Settings, mode: dict[str, object]) -> None:
    click.echo(f"enrolment-conformance {__version__} against {_target_words(settings)}")
    click.echo(f"mode: {describe_mode(mode)}")
    click.echo(f"claim: {', '.join(settings.claimed_classes())}{' (narrowed)' if settings.claim else ''}")


def _target_words(settings: Settings) -> str:
    words = settings.target.base_url
    if settings.reference:
        words += " (bundled reference implementation)"
    if settings.faults:
        words += f" with fault(s) {', '.join(settings.faults)}"
    return words


def _run_against_reference(overrides: Overrides, faults: tuple[str, ...], options):  # type: ignore[no-untyped-def]
    from conformance.reference.server import SECRET_ENVS, ReferenceServer, reference_settings

    # The reference target's secrets are random per run, unless both variables are set (the secret-scan
    # test sets them, to look for known values in everything the run writes).
    given = {tenant: os.environ.get(env, "") for tenant, env in SECRET_ENVS.items()}
    secrets = given if all(given.values()) else None
    with ReferenceServer(faults=faults, secrets=secrets) as server:
        settings: Settings = apply_run_options(reference_settings(server), overrides)
        return _execute(settings, options)


def _print_outcome(result, paths: dict[str, Path], seconds: float) -> None:  # type: ignore[no-untyped-def]
    """The summary on stdout, and on stderr one line saying why the exit code is not 0."""
    from conformance.baseline import gate_error, gate_line
    from conformance.baseline import summary_lines as baseline_summary

    lines = baseline_summary(result)
    if result.gate is not None:
        lines.append(gate_line(result))
    print_summary(result, paths, seconds, click.echo, lines)
    if result.gate is not None and result.gate != "pass":
        click.echo(f"error: {printable(gate_error(result))}", err=True)
    elif result.gate is None and result.verdict != "pass":
        click.echo(f"error: {printable(result.verdict_reason or result.verdict)}", err=True)


def _load_baseline(path: Path | None):  # type: ignore[no-untyped-def]
    """The --baseline file, checked before the run so that a bad file costs no requests (exit 2)."""
    from conformance.baseline import BaselineError, load_baseline

    if path is None:
        return None
    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise UsageFailure(str(exc)) from None


def _apply_baseline(result, baseline):  # type: ignore[no-untyped-def]
    from conformance.baseline import apply_baseline

    return result if baseline is None else apply_baseline(result, baseline, datetime.now(UTC).date())


def _write_baseline(result, previous, path: Path | None) -> None:  # type: ignore[no-untyped-def]
    """--baseline-write: record the run's failures (refreshing the --baseline file's entries, if any)."""
    from conformance.baseline import written_baseline

    if path is None:
        return
    if result.verdict == "error" and not any(req.outcome == "failed" for req in result.requirements):
        click.echo(f"warning: baseline not written to {path}: the run reached no verdict", err=True)
        return
    try:
        path.write_text(written_baseline(result, previous, datetime.now(UTC).date()), encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"cannot write the baseline {path}: {exc.strerror or exc}") from None
    failed = sum(1 for req in result.requirements if req.outcome == "failed")
    click.echo(f"baseline written: {path} ({failed} failed requirement(s) recorded; edit each reason)")


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
@click.option(
    "--area", help="Only this area (AUTH, OAUTH, SCOPE, STATUS, DATE, SCHEMA, ERR, ISO, HTTP, FUZZ)."
)
def requirements(area: str | None) -> None:
    """List the requirements catalogue: ID, area, level, title and source."""
    from conformance.catalogue import load_catalogue

    areas = list(dict.fromkeys(req.area for req in load_catalogue().values()))
    if area and area.upper() not in areas:
        raise UsageFailure(f"unknown area {area!r}: choose one of {', '.join(areas)}")
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


@cli.command()
@click.argument("results_file", metavar="RESULTS_JSON", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="HTML file to write [default: report.html beside RESULTS_JSON].",
)
@click.option("--junit", "junit_out", type=click.Path(path_type=Path), help="Also write a junit.xml here.")
@click.option(
    "--junit-properties",
    is_flag=True,
    help="In that junit.xml, give each testcase a <properties> element (shown by the Jenkins JUnit "
    "plugin with keepProperties; not valid against junit-10.xsd).",
)
def report(results_file: Path, out: Path | None, junit_out: Path | None, junit_properties: bool) -> None:
    """Re-render report.html (and optionally junit.xml) from a saved results.json.

    The report shows the SHA-256 of RESULTS_JSON: it matches the
    "results.json sha256" line at the end of the run that wrote the file, if the
    file is unchanged. Exit 0 when rendered, 2 when RESULTS_JSON cannot be read.
    """
    from conformance.diffing import ResultsError, load_results
    from conformance.reports import results_sha256
    from conformance.reports.html import render_html
    from conformance.reports.junit import render_junit

    try:
        result = load_results(results_file)
    except ResultsError as exc:
        raise UsageFailure(str(exc)) from None
    out = out or results_file.parent / "report.html"
    if out.resolve() == results_file.resolve():
        raise UsageFailure(f"--out {out} would overwrite the results file")
    digest = results_sha256(results_file)
    try:
        out.write_text(render_html(result, results_sha256=digest), encoding="utf-8")
        if junit_out:
            junit_out.write_text(render_junit(result, testcase_properties=junit_properties), encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"cannot write the report: {exc.strerror or exc}") from None
    click.echo(f"report.html: {out}")
    if junit_out:
        click.echo(f"junit.xml: {junit_out}")
    click.echo(f"results.json sha256: {digest}")
    gate = f"; gate {result.gate.upper()}" if result.gate else ""
    where = f"{result.target.get('base_url')}, {result.started_at}"
    click.echo(printable(f"verdict: {result.verdict.upper()} ({where}){gate}"))


@cli.command()
@click.argument("old_file", metavar="OLD_JSON", type=click.Path(path_type=Path))
@click.argument("new_file", metavar="NEW_JSON", type=click.Path(path_type=Path))
def diff(old_file: Path, new_file: Path) -> None:
    """Print what changed between two saved results.json: newly failing, newly passing, other changes.

    Exit 0 when nothing newly fails at MUST level (any level if NEW ran with
    --strict), 1 when something does, 2 when a file cannot be read.
    """
    from conformance.diffing import ResultsError, diff_results, format_diff, load_results

    try:
        old, new = load_results(old_file), load_results(new_file)
    except ResultsError as exc:
        raise UsageFailure(str(exc)) from None
    changes = diff_results(old, new)
    for line in format_diff(changes, str(old_file), str(new_file)):
        click.echo(printable(line))  # the files hold what a target sent
    if changes.blocking:
        ids = ", ".join(change.id for change in changes.blocking)
        click.echo(f"error: {len(changes.blocking)} requirement(s) newly failing: {ids}", err=True)
        sys.exit(EXIT_FAIL)


def main() -> int:
    """Console-script entry point: every failure ends with one line on stderr and an exit code."""
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return EXIT_USAGE
    except click.UsageError as exc:
        hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.echo(f"error: {' '.join(exc.format_message().split())}{hint}", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("error: interrupted before the run started; no reports written", err=True)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("ENROLMENT_CONFORMANCE_DEBUG"):
            raise
        from conformance.redact import redact_text

        message = redact_text(" ".join(f"{exc.__class__.__name__}: {exc}".split()))
        click.echo(
            f"error: internal error: {message} (set ENROLMENT_CONFORMANCE_DEBUG=1 for the traceback)",
            err=True,
        )
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_PASS
