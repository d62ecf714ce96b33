"""Benchmark: the suite against the bundled reference target, next to its peers, in one table.

    python bench/run.py [--runs 3] [--max-examples 100] [--quick]

On one loopback reference target it measures:

1. a full default ``enrolment-conformance run`` (start to exit, target startup included): the first run
   with an empty case cache, then the median of --runs with the cache warm (conformance.case_cache), with
   the CPU time they took and the machine's load average (a loaded machine stretches wall time, not CPU);
   and the median of --runs against the reference target ``serve``d in the background and named by its
   URL in a config (``run --config``, unsafe methods allowed: the same checks), next to the default run;
2. the peak RSS of a default run, and of a run sending about the default budget's 2000 requests to a
   loopback target answering every request with a ~1 MB body (evidence and fuzzer must stay bounded);
3. the schemathesis CLI (``st run``) on the same spec and target, same checks, same examples per mode,
   for each mode with Basic and with a bearer token (the suite's FUZZ phase covers both schemes);
4. a plain httpx loop of GET requests (the raw throughput of the target), the same loop through the
   suite's own client (its per-request overhead), and the suite's requests per second end to end
   while its checks run (which also pays for case generation and the checks' own work);
5. the suite's request count and its token requests (one per distinct scope set);
6. against the reference target made 100 ms away (tests/slow_target.py) at --max-rps 20: a
   generated-only run (``--claim generated``) with --concurrency 1 and 4, and a whole run with 4 (its
   hand-written checks planned ahead, conformance.planning), each from first request to last, next to
   requests / rate (target: within 1.2x).

--quick measures 1 and 2 only.

Every suite run is a child process with bytecode available, as after ``pip install .`` (which compiles the
package at install time): PYTHONDONTWRITEBYTECODE is dropped from its environment, and one unmeasured
warm-up run first writes the __pycache__ of an editable install.

Nothing here talks to anything but loopback. The secrets are throwaway ones the reference target was
started with for this benchmark.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from conformance.auth import BasicAuth
from conformance.case_cache import CACHE_DIR_ENV
from conformance.client import Client, ClientLimits
from conformance.redact import Redactor
from conformance.reference.data import TENANT_A, Fixture
from conformance.reference.server import (
    LOOPBACK,
    Endpoints,
    Fixtures,
    ReferenceServer,
    config_toml,
    reference_settings,
)
from conformance.spec import default_spec_path

FUZZ_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,negative_data_rejection,ignored_auth"
)
SUITE = [sys.executable, "-m", "conformance", "run"]
# Runs the suite as its only child and prints the child's resource usage as the last stderr line.
MEASURED = (
    "import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps({'maxrss_kb': u.ru_maxrss, 'cpu_s': u.ru_utime + u.ru_stime}), file=sys.stderr); "
    "sys.exit(p.returncode)"
)
NUMBERED = "X-Request-Number"  # makes each request of the throughput loops distinct
LARGE_BODY = 990_000  # bytes: under the default 1 MB cap, so every body is read whole
# Per mode: four sessions of these (about 80% distinct) send about the default budget's 2000 requests; the
# budget is raised to what the run estimates up front, so that the estimate does not refuse it.
BUDGET_EXAMPLES = 760
BUDGET_REQUESTS = 3_300


@dataclass(frozen=True)
class SuiteRun:
    """One suite run's wall time, its CPU time and peak RSS, and what its results.json says about it."""

    seconds: float
    cpu_s: float
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


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: this one's plus env, with bytecode written and read."""
    merged = {**os.environ, **(env or {})}
    merged.pop("PYTHONDONTWRITEBYTECODE", None)
    return merged


def timed_suite(args: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> SuiteRun:
    """Run the suite in a subprocess of its own (so its usage is its own, its target's included)."""
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", MEASURED, *SUITE, "--reports", reports, *args],
            capture_output=True,
            text=True,
            env=child_env(env),
        )
        seconds = time.perf_counter() - started
        *stderr, usage_line = proc.stderr.rstrip("\n").split("\n")
        if proc.returncode not in ok:
            sys.exit(f"bench: the suite run failed (exit {proc.returncode}): {' '.join(stderr).strip()}")
        usage = json.loads(usage_line)
        result = json.loads(Path(reports, "results.json").read_text())
    return SuiteRun(seconds, usage["cpu_s"], result, usage["maxrss_kb"] / 1024)


def default_runs(runs: int, examples: list[str]) -> tuple[SuiteRun, list[SuiteRun]]:
    """The first default run with an empty case cache, then `runs` more with it warm (after a warm-up run
    of its own cache, which leaves the package's bytecode written)."""
    with tempfile.TemporaryDirectory() as warm_up:
        timed_suite(examples, {CACHE_DIR_ENV: warm_up})
    with tempfile.TemporaryDirectory() as cache:
        env = {CACHE_DIR_ENV: cache}
        cold = timed_suite(examples, env)
        return cold, [timed_suite(examples, env) for _ in range(runs)]


@contextmanager
def served_target() -> Iterator[tuple[Path, dict[str, str]]]:
    """``enrolment-conformance serve --port 0 --write-config F`` in the background: F and the secrets it
    was started with; stopped with SIGINT, as Ctrl+C stops it."""
    secrets = {"ENROLMENT_API_SECRET": "served-target-a", "ENROLMENT_OTHER_API_SECRET": "served-target-b"}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "conformance.toml")
        args = [sys.executable, "-m", "conformance", "serve", "--port", "0", "--write-config", str(config)]
        process = subprocess.Popen(
            args, env=child_env(secrets), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        try:
            assert process.stdout is not None
            process.stdout.readline()  # the banner's first line: the config is written, the port listens
            if process.poll() is not None or not config.exists():
                sys.exit(f"bench: serve exited {process.returncode} before it listened")
            yield config, secrets
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)


def served_runs(runs: int, examples: list[str]) -> list[SuiteRun]:
    """`runs` runs against the served target, by its config, with a warm case cache of their own."""
    with served_target() as (config, secrets), tempfile.TemporaryDirectory() as cache:
        env = {**secrets, CACHE_DIR_ENV: cache}
        args = ["--config", str(config), "--allow-unsafe-methods", *examples]
        timed_suite(args, env)  # fills the case cache
        return [timed_suite(args, env) for _ in range(runs)]


class LargeBodies(BaseHTTPRequestHandler):
    """A loopback target answering every GET with a ~1 MB JSON body, and token requests with a token."""

    body = json.dumps({"padding": "x" * (LARGE_BODY - 16)}).encode()
    token = json.dumps(
        {"access_token": "large-bodies-token-0123456789", "token_type": "Bearer", "expires_in": 3600}
    ).encode()

    def do_GET(self) -> None:
        self._answer(self.body)

    def do_HEAD(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(self.token)

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) or len(self.body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def large_body_target() -> Iterator[Endpoints]:
    server = ThreadingHTTPServer((LOOPBACK, 0), LargeBodies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Endpoints.at(LOOPBACK, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def large_body_run() -> SuiteRun:
    """A run of about the default budget's requests against ~1 MB bodies: its peak RSS is what bounded
    evidence is for."""
    fixture = Fixture("12347d805d8ecbf46f5b5278", "63f57d805d8ecbf46f5b5278", "open")
    with large_body_target() as endpoints, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "conformance.toml")
        config.write_text(config_toml(endpoints, Fixtures((fixture,), (fixture,))))
        secrets = {"ENROLMENT_API_SECRET": "large-bodies-a", "ENROLMENT_OTHER_API_SECRET": "large-bodies-b"}
        args = ["--config", str(config), "--max-rps", "0", "--max-examples", str(BUDGET_EXAMPLES)]
        args += ["--max-requests", str(BUDGET_REQUESTS)]
        return timed_suite(args, {**secrets, CACHE_DIR_ENV: tmp}, ok=(1, 3, 4))


@contextmanager
def distant_target(latency_s: float) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """The reference target, every answer latency_s late (tests/slow_target.py): its config, secrets, and
    the file it writes the moment of each request's arrival to."""
    secrets = {"ENROLMENT_API_SECRET": "distant-target-a", "ENROLMENT_OTHER_API_SECRET": "distant-target-b"}
    script = Path(__file__).resolve().parent.parent / "tests" / "slow_target.py"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **secrets, "PYTHONPATH": str(script.parent.parent)}
        arrivals = Path(tmp, "arrivals")
        args = [sys.executable, str(script), str(latency_s), str(arrivals)]
        process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            endpoints = Endpoints(**json.loads(process.stdout.readline()))
            config = Path(tmp, "conformance.toml")
            config.write_text(config_toml(endpoints, Fixtures.of(())))
            yield config, secrets, arrivals
        finally:
            process.terminate()
            process.wait(timeout=10)


def distant_rows(examples: list[str], latency_s: float = 0.1, rps: float = 20.0) -> list[Row]:
    """Against the reference target 100 ms away at --max-rps 20: a generated-only run one request at a
    time and four at once, and a whole run (hand-written checks planned ahead) four at once, each timed
    from its first request to its last (the target's arrivals), next to requests / rate."""
    rows: list[Row] = []
    away = f"{latency_s * 1000:g} ms away, --max-rps {rps:g}"
    with distant_target(latency_s) as (config, secrets, arrivals):
        generated = ["--claim", "generated"]
        runs = [("generated only", 1, generated), ("generated only", 4, generated)]
        for what, concurrency, narrowing in [*runs, ("whole run", 4, ["--allow-unsafe-methods"])]:
            arrivals.write_text("")
            args = ["--config", str(config), *narrowing, "--max-rps", f"{rps:g}", *examples]
            run = timed_suite([*args, "--concurrency", str(concurrency)], secrets)
            moments = [float(line) for line in arrivals.read_text().split()]
            span = max(moments) - min(moments)
            floor = (run.requests - 1) / rps
            name = f"{away}, {what}, --concurrency {concurrency}: first to last request (s)"
            measured = f"{span:.2f} ({span / floor:.2f}x; {run.seconds:.1f} wall)"
            rows.append((name, measured, f"~{floor:.1f}", None))
            rows.append((f"  (requests sent: {run.requests}; target: about requests / rate)", "", "", None))
    return rows


def load() -> str:
    return "/".join(f"{n:.1f}" for n in os.getloadavg())


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
    """Requests per second of a plain httpx loop of authenticated GETs of the fixture enrolments, each
    distinct (a numbered header: the suite's client answers an identical GET from its memory)."""
    with httpx.Client(auth=(TENANT_A, secret)) as client:
        started = time.perf_counter()
        for i in range(count):
            assignment_id, enrolment_id = fixtures[i % len(fixtures)]
            url = f"{server.base_url}/assignments/{assignment_id}/enrolments/{enrolment_id}"
            client.get(url, headers={NUMBERED: str(i)})
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
            client.get_enrolment(*fixtures[i % len(fixtures)], auth=auth, headers={NUMBERED: str(i)})
            client.recorder.take()
        return count / (time.perf_counter() - started)


Row = tuple[str, str, str, bool | None]


def run_rows(runs: int, examples: list[str]) -> list[Row]:
    """The default run's time (cold cache, then warm median), CPU, load, and the two peak RSS figures."""
    before = load()
    cold, warm = default_runs(runs, examples)
    after = load()
    median = statistics.median(run.seconds for run in warm)
    cpu = statistics.median(run.cpu_s for run in warm)
    served = served_runs(runs, examples)
    served_median = statistics.median(run.seconds for run in served)
    peak = max(run.peak_rss_mb for run in [cold, *warm])
    large = large_body_run()
    return [
        (f"default run, median of {runs}, warm cache (s)", f"{median:.2f}", "<= 2.0", median <= 2.0),
        ("default run, empty case cache (s)", f"{cold.seconds:.2f}", "", None),
        ("default run CPU, suite + target (s)", f"{cpu:.2f}", "", None),
        (f"served target, run --config, median of {runs} (s)", f"{served_median:.2f}", "", None),
        (
            "served target run / default run",
            f"{served_median / median:.2f}",
            "<= 1.3",
            served_median <= 1.3 * median,
        ),
        ("load average 1/5/15 min, before / after", f"{before} / {after}", "", None),
        ("default run peak RSS (MB)", f"{peak:.0f}", "< 150", peak < 150),
        (
            f"~1 MB bodies: peak RSS (MB), {large.requests} requests (default budget 2000)",
            f"{large.peak_rss_mb:.0f}",
            "< 300",
            large.peak_rss_mb < 300,
        ),
        ("~1 MB bodies: wall (s)", f"{large.seconds:.2f}", "", None),
    ]


def peers(max_examples: int, examples: list[str]) -> tuple[SuiteRun, float, float, float]:
    """On one reference target: a suite run, st run's seconds, a raw loop's and the client's req/s."""
    with ReferenceServer() as server, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "conformance.toml")
        config.write_text(config_toml(server.endpoints, server.fixtures))
        # --max-rps 0: a named target is rate-limited to 20 req/s by default; this one is our own loopback
        # exit 4: a named target's run does not verify the methods class without --allow-unsafe-methods
        measured = timed_suite(
            ["--config", str(config), "--max-rps", "0", *examples], server.environ, ok=(0, 4)
        )
        secret = server.secrets[TENANT_A]
        basic = "Basic " + base64.b64encode(f"{TENANT_A}:{secret}".encode()).decode()
        bearer = f"Bearer {bearer_token(server, secret)}"
        st_seconds = sum(
            st_run(server, max_examples, authorization, mode)
            for authorization in (basic, bearer)
            for mode in ("positive", "negative")
        )
        fixtures = [(f.assignment_id, f.enrolment_id) for f in server.fixtures.tenant]
        return measured, st_seconds, raw_rps(server, secret, fixtures), suite_client_rps(server, fixtures)


def peer_rows(max_examples: int, examples: list[str]) -> list[Row]:
    """The suite next to st run and to a plain httpx loop."""
    measured, st_seconds, raw, client_rps = peers(max_examples, examples)
    suite_rps = measured.requests / measured.checks_seconds
    tokens = measured.result.get("tokens", {})
    fuzz = measured.fuzz_seconds
    return [
        ("suite FUZZ phase (s)", f"{fuzz:.2f}", "", None),
        ("st run, 2 modes x Basic/Bearer (s)", f"{st_seconds:.2f}", "", None),
        ("FUZZ phase / st run", f"{fuzz / st_seconds:.2f}", "<= 1.0", fuzz <= st_seconds),
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
        ("requests sent", str(measured.requests), "", None),
        (
            "token requests / distinct scope sets",
            f"{tokens.get('requests', '?')} / {len(tokens.get('scope_sets', [])) or '?'}",
            "equal",
            tokens.get("requests") == len(tokens.get("scope_sets", [])) if tokens else None,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="warm-cache default runs to take the median of")
    parser.add_argument("--max-examples", type=int, default=100, help="generated cases per generation mode")
    parser.add_argument("--quick", action="store_true", help="the run time and memory figures only")
    options = parser.parse_args()
    examples = ["--max-examples", str(options.max_examples)]
    rows = run_rows(options.runs, examples)
    if not options.quick:
        rows += peer_rows(options.max_examples, examples) + distant_rows(examples)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"max examples {options.max_examples} per mode"
    )
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  {'value':>12}  {'target':8}  met")
    for name, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{name.ljust(width)}  {value:>12}  {target:8}  {mark}")


if __name__ == "__main__":
    main()
