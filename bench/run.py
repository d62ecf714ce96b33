"""Benchmark: the suite against the bundled reference target, next to its peers, in one table.

    python bench/run.py [--runs 3] [--max-examples 100]

On one loopback reference target it measures:

1. a full default ``enrolment-conformance run`` (start to exit, target startup included), median of --runs;
2. the schemathesis CLI (``st run``) on the same spec and target, same checks, same examples per mode,
   for each mode with Basic and with a bearer token (the suite's FUZZ phase covers both schemes);
3. a plain httpx loop of GET requests (the raw throughput of the target), the same loop through the
   suite's own client (its per-request overhead), and the suite's requests per second end to end
   while its checks run (which also pays for case generation and the checks' own work);
4. the suite's peak RSS, its request count and its token requests (one per distinct scope set).

Nothing here talks to anything but loopback. The secrets are throwaway ones the reference target was
started with for this benchmark.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance.auth import BasicAuth
from conformance.client import Client, ClientLimits
from conformance.redact import Redactor
from conformance.reference.data import TENANT_A
from conformance.reference.server import ReferenceServer, config_toml, reference_settings
from conformance.spec import default_spec_path

FUZZ_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,negative_data_rejection,ignored_auth"
)
SUITE = [sys.executable, "-m", "conformance", "run"]


@dataclass(frozen=True)
class SuiteRun:
    """One suite run's wall time and what its results.json says about it."""

    seconds: float
    result: dict
    peak_rss_mb: float

    @property
    def checks_seconds(self) -> float:
        return sum(c["duration_s"] for r in self.result["requirements"] for c in r["checks"])

    @property
    def fuzz_seconds(self) -> float:
        return sum(
            c["duration_s"] for r in self.result["requirements"] if r["area"] == "FUZZ" for c in r["checks"]
        )

    @property
    def requests(self) -> int:
        return self.result["requests"]["total"]


def timed_suite(args: list[str], env: dict[str, str] | None = None) -> SuiteRun:
    """Run the suite in a subprocess; peak RSS is the largest child's, so run it with no child of its own."""
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        proc = subprocess.run(
            [*SUITE, "--reports", reports, *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        )
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"bench: the suite run failed (exit {proc.returncode}): {proc.stderr.strip()}")
        result = json.loads(Path(reports, "results.json").read_text())
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return SuiteRun(seconds, result, peak_kb / 1024)


def st_run(server: ReferenceServer, max_examples: int, authorization: str, mode: str) -> float:
    """Time `st run` on the spec's GET operation with the same checks and examples for one mode.

    One invocation per mode: with --mode all, st's --max-examples counts cases across both modes.
    """
    args = [
        str(Path(sys.executable).with_name("st")),
        "run",
        str(default_spec_path()),
        "--url",
        server.base_url,
        "--include-operation-id",
        "getEnrolment",
        "--header",
        f"Authorization: {authorization}",
        "--phases",
        "examples,fuzzing",
        "--mode",
        mode,
        "--max-examples",
        str(max_examples),
        "--seed",
        "0",
        "--checks",
        FUZZ_CHECKS,
        "--generation-database",
        "none",
        "--no-color",
    ]
    started = time.perf_counter()
    subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - started


def bearer_token(server: ReferenceServer, secret: str) -> str:
    response = httpx.post(
        server.token_url.replace("{tenantId}", TENANT_A),
        data={
            "grant_type": "client_credentials",
            "client_id": TENANT_A,
            "client_secret": secret,
            "scope": "api/read",
        },
    )
    return response.json()["access_token"]


def raw_rps(
    server: ReferenceServer, secret: str, fixtures: list[tuple[str, str]], count: int = 1000
) -> float:
    """Requests per second of a plain httpx loop of authenticated GETs of the fixture enrolments."""
    with httpx.Client(auth=(TENANT_A, secret)) as client:
        started = time.perf_counter()
        for i in range(count):
            assignment_id, enrolment_id = fixtures[i % len(fixtures)]
            client.get(f"{server.base_url}/assignments/{assignment_id}/enrolments/{enrolment_id}")
        return count / (time.perf_counter() - started)


def suite_client_rps(server: ReferenceServer, fixtures: list[tuple[str, str]], count: int = 1000) -> float:
    """The same loop through the suite's own client (budget, rate limiter, evidence, redaction)."""
    settings = reference_settings(server)
    redactor = Redactor()
    redactor.add_basic(settings.tenant.tenant_id, settings.tenant.secret)
    limits = ClientLimits(max_requests=None)
    auth = BasicAuth(settings.tenant)
    with Client(
        settings.target.base_url, allowed_hosts=settings.target.hosts(), redactor=redactor, limits=limits
    ) as client:
        started = time.perf_counter()
        for i in range(count):
            client.get_enrolment(*fixtures[i % len(fixtures)], auth=auth)
            client.recorder.take()
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="full runs to take the median of")
    parser.add_argument("--max-examples", type=int, default=100, help="generated cases per generation mode")
    options = parser.parse_args()
    examples = ["--max-examples", str(options.max_examples)]

    full_runs = [timed_suite(examples) for _ in range(options.runs)]
    full = statistics.median(run.seconds for run in full_runs)

    with ReferenceServer() as server, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "conformance.toml")
        config.write_text(config_toml(server.endpoints, server.fixtures))
        # --max-rps 0: a named target is rate-limited to 20 req/s by default; this one is our own loopback
        measured = timed_suite(["--config", str(config), "--max-rps", "0", *examples], env=server.environ)
        secret = server.secrets[TENANT_A]
        basic = "Basic " + base64.b64encode(f"{TENANT_A}:{secret}".encode()).decode()
        bearer = f"Bearer {bearer_token(server, secret)}"
        st_seconds = sum(
            st_run(server, options.max_examples, authorization, mode)
            for authorization in (basic, bearer)
            for mode in ("positive", "negative")
        )
        fixtures = [(f.assignment_id, f.enrolment_id) for f in server.fixtures.tenant]
        raw = raw_rps(server, secret, fixtures)
        client_rps = suite_client_rps(server, fixtures)

    suite_rps = measured.requests / measured.checks_seconds
    tokens = measured.result.get("tokens", {})
    rows = [
        (f"full default run, median of {options.runs} (s)", f"{full:.2f}", "<= 15", full <= 15),
        ("suite FUZZ phase (s)", f"{measured.fuzz_seconds:.2f}", "", None),
        ("st run, 2 modes x Basic/Bearer (s)", f"{st_seconds:.2f}", "", None),
        (
            "FUZZ phase / st run",
            f"{measured.fuzz_seconds / st_seconds:.2f}",
            "<= 1.0",
            measured.fuzz_seconds <= st_seconds,
        ),
        (
            "whole run / st run",
            f"{measured.seconds / st_seconds:.2f}",
            "<= 1.5",
            measured.seconds <= 1.5 * st_seconds,
        ),
        ("raw httpx loop (req/s)", f"{raw:.0f}", "", None),
        ("suite client, same loop (req/s)", f"{client_rps:.0f}", "", None),
        (
            "suite client / raw (per-request overhead)",
            f"{client_rps / raw:.2f}",
            ">= 0.60",
            client_rps >= 0.6 * raw,
        ),
        ("suite end to end while checking (req/s)", f"{suite_rps:.0f}", "", None),
        (
            "end to end / raw (incl. generation, checks)",
            f"{suite_rps / raw:.2f}",
            ">= 0.60",
            suite_rps >= 0.6 * raw,
        ),
        ("suite peak RSS (MB)", f"{measured.peak_rss_mb:.0f}", "< 300", measured.peak_rss_mb < 300),
        ("requests sent", str(measured.requests), "", None),
        (
            "token requests / distinct scope sets",
            f"{tokens.get('requests', '?')} / {len(tokens.get('scope_sets', [])) or '?'}",
            "equal",
            tokens.get("requests") == len(tokens.get("scope_sets", [])) if tokens else None,
        ),
    ]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"max examples {options.max_examples} per mode"
    )
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  {'value':>8}  {'target':14}  met")
    for name, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{name.ljust(width)}  {value:>8}  {target:14}  {mark}")


if __name__ == "__main__":
    main()
