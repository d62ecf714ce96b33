"""The command line: ``enrolment-conformance run | rerun | serve | requirements | faults | report | diff``.

Exit codes of ``run``: 0 conformant (every claimed class verified and passed),
1 non-conformant, 2 usage or configuration error, 3 no verdict (target
unreachable or another infrastructure error), 4 incomplete (nothing failed, but
a claimed class was not fully verified), 130 / 143 interrupted by SIGINT / SIGTERM.
With ``--baseline`` the gate decides instead of the verdict: 1 only for failures
the baseline does not accept (new, or past their expiry); see conformance/baseline.py.
Every non-zero exit prints one line on stderr saying why.
"""

from __future__ import annotations

import gc
import importlib
import os
import pkgutil
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from conformance import __version__
from conformance.client import ClientLimits
from conformance.config import (
    DEFAULT_MAX_RPS,
    ConfigError,
    Overrides,
    Settings,
    apply_run_options,
    default_rate,
    load_settings,
    settings_from_data,
)
from conformance.console import NORMAL, QUIET, VERBOSE, header_lines, print_summary, printable
from conformance.interrupt import interruptible
from conformance.results import RunResult
from conformance.selection import SelectionError, area_selection, close_names

if TYPE_CHECKING:
    from conformance.runner import RunOptions

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
# What a run imports after the reference target's child is started, besides the check modules
PRELOADED = ("conformance.runner", "conformance.progress", "rich.console")


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


def _options(*decorators: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[..., Any]:
    """Several click options as one decorator (for the options run and rerun share)."""

    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


SAFETY_OPTIONS = _options(
    click.option(
        "--allow-unsafe-methods",
        is_flag=True,
        help="Also send POST, PUT, PATCH and DELETE to the API (the 405 checks). Off: read-only.",
    ),
    click.option(
        "--ca-bundle",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="PEM file of CA certificates to trust as well (e.g. an internal CA).",
    ),
    click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (prints a warning)."),
    click.option(
        "--confirm-production", is_flag=True, help="Required to run against a production environment or host."
    ),
    click.option(
        "--allow-plain-http",
        is_flag=True,
        help="Allow http:// (no TLS) to a non-loopback host; the secrets then cross the network in clear.",
    ),
    click.option(*SECRET_FLAGS, "secret_flag", expose_value=False, hidden=True, callback=_refuse_secret_flag),
)
OUTPUT_OPTIONS = _options(
    click.option(
        "-v", "--verbose", is_flag=True, help="Also show each request as sent: method, path, status, time."
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Print only the results.json sha256 line and the verdict line (and on stderr why it failed).",
    ),
)
# run's options that --last-failed refuses: the saved run's settings decide them
REPLAYED = (
    "config_file", "base_url", "token_url", "webhooks_token_url", "tenant_id", "environment", "spec_path",
    "select", "areas", "claim", "seed", "max_examples", "strict", "faults", "baseline_file",
    "baseline_write", "max_requests", "max_rps", "timeout_s", "max_body_bytes", "max_duration_s",
    "concurrency",
)  # fmt: skip


@dataclass(frozen=True)
class Launch:
    """How the command line starts a run: how much it prints, and the rate the user asked for."""

    verbosity: int = NORMAL
    max_rps: float | None = None  # None: the default for the target (see _rate)
    rate_source: str = "--max-rps says so"  # why max_rps applies, for the header


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
    "--area",
    "areas",
    multiple=True,
    metavar="AREA",
    help="Debugging: only run the checks of this area, matched exactly (AUTH never selects OAUTH; "
    "repeatable); a selection is at best an incomplete verdict.",
)
@click.option(
    "-k",
    "select",
    help="Debugging: only run checks matching this pytest -k expression over check names and requirement "
    "IDs (e.g. 'AUTH-003 or ERR-003'; it matches substrings, so 'AUTH-' selects OAUTH-* too: use --area "
    "for an area); a selection is at best an incomplete verdict.",
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
    "--record",
    "record_file",
    type=click.Path(path_type=Path),
    help="Write every exchange of the run to this HAR 1.2 file (redacted; each entry tagged with its check).",
)
@click.option(
    "--last-failed",
    is_flag=True,
    help="Re-run only the failed and errored requirements of the run saved in --reports, against the "
    "same target (as `rerun REPORTS/results.json`); its reports go to REPORTS/rerun.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=ClientLimits.max_requests,
    show_default=True,
    help="Request budget of the run; a --max-examples that would spend it is refused before the run.",
)
@click.option(
    "--max-rps",
    type=click.FloatRange(min=0),
    default=None,
    help=f"Requests per second at most [default: {DEFAULT_MAX_RPS:g} for a target you name; unlimited "
    "for the bundled target and for a loopback URL (limit a port-forward to a shared system yourself); "
    "0: unlimited].",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=ClientLimits.concurrency,
    show_default=True,
    help="Generated (FUZZ) requests in flight at once, always within --max-rps and --max-requests; "
    "1: one after another. The report does not depend on it.",
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
    "--max-duration",
    "max_duration_s",
    type=click.FloatRange(min=0, min_open=True),
    default=ClientLimits.max_duration_s,
    show_default=True,
    help="Seconds the whole run may take (throttling waits included); past it the run has no verdict.",
)
@SAFETY_OPTIONS
@OUTPUT_OPTIONS
@click.pass_context
def run(ctx: click.Context, **flags: Any) -> None:
    """Run the conformance suite and write junit.xml, report.html and results.json.

    With no target (no --config, --base-url or --env) it starts the bundled
    reference implementation on loopback and tests that.

    The run is read-only unless --allow-unsafe-methods, and never exceeds
    --max-requests or --max-rps. Exit codes: 0 conformant, 1 not conformant,
    2 usage or configuration error, 3 no verdict (unreachable target, TLS or DNS
    failure, target stopped answering ...), 4 incomplete (a claimed class not
    fully verified, or a selection).
    """
    launch = Launch(_verbosity(flags), flags["max_rps"])
    if flags["last_failed"]:
        _refuse_beside_last_failed(ctx)
        _rerun(flags["reports_dir"] / "results.json", (), None, flags, launch.verbosity)
    has_target = bool(flags["config_file"] or flags["base_url"] or flags["environment"])
    _check_faults(flags["faults"], has_target)
    baseline = _load_baseline(flags["baseline_file"])
    check_output_paths(flags["reports_dir"], flags["baseline_write"])
    recording = _recording(flags["record_file"])
    limits = ClientLimits(
        timeout_s=flags["timeout_s"],
        max_requests=flags["max_requests"],
        max_body_bytes=flags["max_body_bytes"],
        max_duration_s=flags["max_duration_s"],
        concurrency=flags["concurrency"],
    )
    # the bundled reference target is the suite's own: it may receive unsafe methods
    options = replace(_run_options(flags, limits, unsafe=not has_target), recording=recording)
    overrides = _overrides(flags)
    if has_target:

        def start(options: RunOptions) -> RunResult:
            return _execute(load_settings(flags["config_file"], overrides), options, launch)
    else:

        def start(options: RunOptions) -> RunResult:
            return _run_against_reference(overrides, flags["faults"], options, launch)

    _session(
        start, options, launch, flags["reports_dir"], baseline, flags["baseline_write"], flags["record_file"]
    )


@cli.command()
@click.argument("results_file", metavar="RESULTS_JSON", type=click.Path(path_type=Path))
@click.option(
    "--only",
    multiple=True,
    metavar="ID",
    help="Re-run this requirement (repeatable), passed or not, instead of every failed and errored one.",
)
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(path_type=Path),
    help="Folder for the rerun's reports [default: rerun/ beside RESULTS_JSON].",
)
@SAFETY_OPTIONS
@OUTPUT_OPTIONS
def rerun(results_file: Path, only: tuple[str, ...], reports_dir: Path | None, **flags: Any) -> None:
    """Re-run the requirements that failed or errored in a saved run (or --only ID), against its target.

    The target, fixtures, tenants (secrets from the environment, as in any run), seed, example count,
    claim and bounds are the saved run's; the opt-ins (--allow-unsafe-methods, --confirm-production,
    --allow-plain-http, --insecure, --ca-bundle) are given again. A rerun is a selection: its verdict is
    at best incomplete (exit 4), or fail (exit 1) if a re-run requirement still fails.
    """
    _rerun(results_file, only, reports_dir, flags, _verbosity(flags))


def _rerun(
    results_file: Path,
    only: Iterable[str],
    reports_dir: Path | None,
    flags: dict[str, Any],
    verbosity: int,
) -> NoReturn:
    """Replay a saved run (rerun, run --last-failed)."""
    from conformance.diffing import ResultsError, load_results
    from conformance.replay import replay_of

    try:
        replay = replay_of(load_results(results_file), results_file, tuple(only))
        replay.check_tls_flags(insecure=flags["insecure"], ca_bundle=flags["ca_bundle"])
    except (ResultsError, ConfigError, SelectionError) as exc:
        raise UsageFailure(str(exc)) from None
    reports_dir = reports_dir or results_file.parent / "rerun"
    check_output_paths(reports_dir, None)
    limits = replay.limits()
    # the saved run's limit, if it had one; else the default for the target, decided again
    launch = Launch(verbosity, limits.max_rps, f"it is the rate of the saved run {results_file}")
    options = _run_options(flags, limits, unsafe=replay.reference)
    overrides = replay.overrides(reports_dir, allow_plain_http=flags["allow_plain_http"])

    def start(options: RunOptions) -> RunResult:
        if replay.reference:
            return _run_against_reference(overrides, replay.faults, options, launch)
        return _execute(settings_from_data(replay.config(results_file), overrides), options, launch)

    _session(start, options, launch, reports_dir, None, None)


def _verbosity(flags: dict[str, Any]) -> int:
    if flags["quiet"] and flags["verbose"]:
        raise UsageFailure("-q and -v contradict each other: give one")
    return QUIET if flags["quiet"] else VERBOSE if flags["verbose"] else NORMAL


def _refuse_beside_last_failed(ctx: click.Context) -> None:
    """--last-failed takes the saved run's settings: a flag that would change them is a usage error."""
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        if param.name in REPLAYED and source not in (None, click.core.ParameterSource.DEFAULT):
            flag = max(param.opts, key=len)
            raise UsageFailure(
                f"--last-failed re-runs the saved run with its own settings: drop {flag} "
                "(or run without --last-failed)"
            )


def _overrides(flags: dict[str, Any]) -> Overrides:
    """run's flags that override the configuration."""
    try:
        only = area_selection(flags["areas"]) if flags["areas"] else None
    except SelectionError as exc:
        raise UsageFailure(str(exc)) from None
    return Overrides(
        base_url=flags["base_url"],
        token_url=flags["token_url"],
        webhooks_token_url=flags["webhooks_token_url"],
        tenant_id=flags["tenant_id"],
        environment=flags["environment"],
        reports_dir=flags["reports_dir"],
        spec_path=flags["spec_path"],
        select=flags["select"],
        seed=flags["seed"],
        max_examples=flags["max_examples"],
        strict=flags["strict"],
        claim=claimed_option(flags["claim"]),
        allow_plain_http=flags["allow_plain_http"],
        only=only,
    )


def _run_options(flags: dict[str, Any], limits: ClientLimits, *, unsafe: bool) -> RunOptions:
    """How the run treats the target, from the safety flags (the same for run and rerun)."""
    from conformance.runner import RunOptions

    if flags["insecure"] and flags["ca_bundle"]:
        raise UsageFailure("--insecure and --ca-bundle contradict each other: give one")
    if flags["insecure"]:
        click.echo(
            "warning: --insecure: TLS certificates are NOT verified; whoever can intercept the connection "
            "can read the credentials",
            err=True,
        )
    return RunOptions(
        limits=limits,
        allow_unsafe_methods=flags["allow_unsafe_methods"] or unsafe,
        ca_bundle=flags["ca_bundle"],
        insecure=flags["insecure"],
        production_confirmed=flags["confirm_production"],
    )


def _session(
    start: Callable[[RunOptions], RunResult],
    options: RunOptions,
    launch: Launch,
    reports_dir: Path,
    baseline: Any,
    baseline_write: Path | None,
    record_file: Path | None = None,
) -> NoReturn:
    """Run (interruptibly), apply the baseline, write the reports (and --record's HAR), print the outcome,
    exit."""
    from conformance.reports import write_reports

    started = time.perf_counter()
    with interruptible() as interruption:
        try:
            result = start(replace(options, interruption=interruption))
        except ConfigError as exc:
            raise UsageFailure(str(exc)) from None
        result = _apply_baseline(result, baseline)
        paths = write_reports(result, reports_dir)
        _write_baseline(result, baseline, baseline_write, launch.verbosity)
        _write_recording(options.recording, record_file)
        _print_outcome(result, paths, time.perf_counter() - started, launch.verbosity)
    sys.exit(interruption.exit_code if result.interrupted else VERDICT_EXIT[result.gate or result.verdict])


def claimed_option(claim: str | None) -> tuple[str, ...] | None:
    """--claim as a tuple of known class IDs (a usage error names close matches)."""
    from conformance.catalogue import load_classes

    if claim is None:
        return None
    names = tuple(name.strip() for name in claim.split(",") if name.strip())
    known = load_classes()
    for name in names:
        if name not in known:
            raise UsageFailure(f"--claim: unknown conformance class {name!r}{close_names(name, known)}")
    if not names:
        raise UsageFailure(f"--claim names no class; choose from {', '.join(known)}")
    return names


def _check_faults(faults: tuple[str, ...], has_target: bool) -> None:
    """--fault names a known fault of the bundled target, and only without a target of the user's."""
    from conformance.reference.faults import FAULTS

    if faults and has_target:
        raise UsageFailure(
            "--fault applies to the bundled reference target only; drop --config/--base-url/--env"
        )
    for name in faults:
        if name not in FAULTS:
            hint = close_names(name, FAULTS, lister="enrolment-conformance faults")
            raise UsageFailure(f"unknown fault {name!r}{hint}")


def check_output_paths(reports_dir: Path, baseline_write: Path | None) -> None:
    """Every output place is usable before the first request: the reports folder (created when the
    reports are written) is a folder or can be made one, and a --baseline-write file can be written."""
    if reports_dir.exists() and not reports_dir.is_dir():
        raise UsageFailure(f"--reports {reports_dir} is a file, not a folder: name a folder for the reports")
    _expect_writable(reports_dir, f"--reports {reports_dir}")
    if baseline_write is not None:
        if baseline_write.is_dir():
            raise UsageFailure(f"--baseline-write {baseline_write} is a folder: name a file")
        _expect_writable(baseline_write.parent, f"--baseline-write {baseline_write}")


def _recording(path: Path | None):  # type: ignore[no-untyped-def]
    """A HAR recorder for --record, its file checked writable before the first request; None without."""
    from conformance.har import HarRecorder

    if path is None:
        return None
    if path.is_dir():
        raise UsageFailure(f"--record {path} is a folder: name a .har file")
    _expect_writable(path.parent, f"--record {path}")
    return HarRecorder()


def _write_recording(recording, path: Path | None) -> None:  # type: ignore[no-untyped-def]
    """--record: write the run's exchanges as HAR."""
    if recording is None or path is None:
        return
    try:
        entries = recording.write(path)
    except OSError as exc:
        raise UsageFailure(f"cannot write the HAR file {path}: {exc.strerror or exc}") from None
    click.echo(f"recorded: {path} ({entries} exchanges, HAR {recording.version})")


def _expect_writable(folder: Path, what: str) -> None:
    """The folder, or the nearest folder above it that exists, can be written to."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageFailure(f"{what}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageFailure(f"{what}: {existing} is not writable")


def _execute(settings: Settings, options: RunOptions, launch: Launch) -> RunResult:
    """Run, printing the header once the run is known to be usable, before the first request."""
    from rich.console import Console

    from conformance.estimate import budget_problem
    from conformance.progress import Progress
    from conformance.runner import execute

    _preload(options.checks_package)  # done already while a reference target started: then at no cost
    _startup_done()
    rps, why = _rate(launch, settings)
    options = replace(options, limits=replace(options.limits, max_rps=rps))
    problem = budget_problem(settings, options.limits.max_requests) if options.limits.max_requests else None
    if problem:
        raise UsageFailure(problem)
    progress = Progress(click.echo, verbosity=launch.verbosity, console=Console(), strict=settings.strict)

    def header(settings: Settings, mode: dict[str, Any]) -> None:
        if launch.verbosity > QUIET:
            for line in header_lines(settings, mode, rate_why=why, version=__version__):
                click.echo(line)

    return execute(settings, options, on_start=header, progress=progress)


def _rate(launch: Launch, settings: Settings) -> tuple[float | None, str]:
    """The run's rate limit (None: unlimited) and why it applies, for the header."""
    if launch.max_rps is not None:
        return launch.max_rps or None, launch.rate_source
    return default_rate(settings)


def _run_against_reference(
    overrides: Overrides, faults: tuple[str, ...], options: RunOptions, launch: Launch
) -> RunResult:
    from conformance.reference.server import SECRET_ENVS, ReferenceServer, reference_settings

    # The reference target's secrets are random per run, unless both variables are set (the secret-scan
    # test sets them, to look for known values in everything the run writes).
    given = {tenant: os.environ.get(env, "") for tenant, env in SECRET_ENVS.items()}
    secrets = given if all(given.values()) else None
    server = ReferenceServer(faults=faults, secrets=secrets)
    server.start(wait=False)  # the child starts up while this process imports what the run needs
    try:
        _preload(options.checks_package)
        settings: Settings = apply_run_options(reference_settings(server), overrides)  # its ready line
        return _execute(settings, options, launch)
    finally:
        # The child shuts down (uvicorn takes ~0.2 s) while the reports are written; a thread waits for
        # it (and kills it if it lingers), and the interpreter waits for that thread before it exits.
        server.terminate()
        threading.Thread(target=server.stop, name="reference-stop").start()


def _startup_done() -> None:
    """The start-up imports are done: if conformance.entry paused the garbage collector for them, their
    objects leave its view (gc.freeze) and it resumes for what the run allocates."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _preload(checks_package: str) -> None:
    """Import what the run imports next (pytest, and the check modules pytest collects, schemathesis among
    what they use) while the reference target's child starts up: the two start-ups overlap."""
    for module in PRELOADED:
        importlib.import_module(module)
    package = importlib.import_module(checks_package)
    for module in pkgutil.iter_modules(package.__path__, f"{checks_package}."):
        importlib.import_module(module.name)


def _print_outcome(result: RunResult, paths: dict[str, Path], seconds: float, verbosity: int) -> None:
    """The summary on stdout, and on stderr one line saying why the exit code is not 0."""
    from conformance.baseline import gate_error, gate_line
    from conformance.baseline import summary_lines as baseline_summary

    lines = baseline_summary(result)
    if result.gate is not None:
        lines.append(gate_line(result))
    print_summary(result, paths, seconds, click.echo, lines, quiet=verbosity <= QUIET)
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


def _write_baseline(result, previous, path: Path | None, verbosity: int = NORMAL) -> None:  # type: ignore[no-untyped-def]
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
    if verbosity > QUIET:
        click.echo(f"baseline written: {path} ({failed} failed requirement(s) recorded; edit each reason)")


@cli.command()
@click.argument("har_files", metavar="FILE.har...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="TOML config naming the tenant, its secret variable and the fixtures (tells valid credentials).",
)
@click.option(
    "--reports", "reports_dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
@click.option("--strict", is_flag=True, help="Failed SHOULD requirements fail the verdict too.")
def judge(har_files: tuple[Path, ...], config_file: Path | None, reports_dir: Path, strict: bool) -> None:
    """Judge recorded traffic (HAR files) without sending a request; write the three reports.

    Every check that needs only a request and its answer is applied to the recorded GETs
    of an enrolment. Exit codes as for run: 1 a finding, 4 incomplete (what the traffic
    cannot verify), 2 a file that is not HAR or a bad --config.
    """
    from conformance.har import HarError
    from conformance.judging import judge_files
    from conformance.reports import write_reports

    check_output_paths(reports_dir, None)
    started = time.perf_counter()
    try:
        settings = load_settings(config_file, Overrides(strict=strict)) if config_file else None
        result = judge_files(list(har_files), settings, strict=strict)
    except (ConfigError, HarError) as exc:
        raise UsageFailure(str(exc)) from None
    click.echo(f"enrolment-conformance {__version__}: {printable(result.environment or '')}; no request sent")
    paths = write_reports(result, reports_dir)
    _print_outcome(result, paths, time.perf_counter() - started, NORMAL)
    sys.exit(VERDICT_EXIT[result.verdict])


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
    from conformance.catalogue import areas, load_catalogue

    known = areas()
    if area and area.upper() not in known:
        raise UsageFailure(f"unknown area {area!r}: choose one of {', '.join(known)}")
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
        if isinstance(exc, click.NoSuchOption):  # never suggest a flag that is then refused
            exc.possibilities = [flag for flag in exc.possibilities or () if flag not in SECRET_FLAGS]
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
