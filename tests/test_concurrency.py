"""--concurrency: requests in flight at once (generated ones, and hand-written ones planned ahead), within
--max-rps, the report unchanged by it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from secrets import token_urlsafe

import httpx
import pytest
from misbehaving import CliRun, run_cli

from conformance.client import Client, ClientLimits
from conformance.client._pool import in_order
from conformance.redact import Redactor
from conformance.reference.server import SECRET_ENVS, Endpoints, Fixtures, config_toml

LATENCY_S = 0.1
MAX_RPS = 20.0
FAULTS = ("server-error-on-malformed-id", "errors-text-plain")  # caught by FUZZ-001 and FUZZ-003
SLOW_TARGET = Path(__file__).with_name("slow_target.py")


# --- the pool ----------------------------------------------------------------


def test_results_come_in_the_order_asked_for_whatever_order_the_calls_end_in() -> None:
    def call(n: int) -> int:
        time.sleep(0.01 * (n % 3))
        return n * n

    assert list(in_order(call, range(20), workers=4)) == [n * n for n in range(20)]


def test_a_call_s_exception_is_raised_in_its_turn_after_the_results_before_it() -> None:
    def call(n: int) -> int:
        if n == 5:
            raise ValueError("five")
        return n

    got: list[int] = []
    with pytest.raises(ValueError, match="five"):
        got.extend(in_order(call, range(20), workers=4))
    assert got == [0, 1, 2, 3, 4]


def test_the_items_iterator_breaking_is_raised_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield from range(3)
        raise RuntimeError("no more")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="no more"):
        got.extend(in_order(lambda n: n, items(), workers=2))
    assert got == [0, 1, 2]


def test_no_more_than_the_workers_run_at_once_and_one_worker_is_the_calling_thread() -> None:
    running, most, lock = 0, 0, threading.Lock()

    def call(n: int) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return threading.current_thread().name

    list(in_order(call, range(16), workers=3))
    assert 1 < most <= 3
    assert set(in_order(call, range(3), workers=1)) == {threading.current_thread().name}


def test_each_call_s_evidence_is_handed_to_the_check_s_thread_in_order() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        time.sleep(0.02 if request.url.path.endswith("0") else 0.0)
        return httpx.Response(200, stream=httpx.ByteStream(b"{}"))  # unread, as a real transport

    limits = ClientLimits(concurrency=4, max_requests=None)
    client = Client(
        "http://target.test",
        allowed_hosts=frozenset({"target.test"}),
        redactor=Redactor(),
        limits=limits,
        transport=httpx.MockTransport(answer),
    )
    paths = [f"/e/{n}" for n in range(12)]
    statuses = list(
        client.concurrently(lambda p: client.request("GET", client.base_url + p).status_code, paths)
    )
    assert statuses == [200] * 12
    assert [exchange.url for exchange in client.recorder.take()] == [client.base_url + p for p in paths]


def test_a_batch_given_up_does_not_wait_out_the_retry_afters_of_its_other_requests() -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path == "/e/0":
            return httpx.Response(200, stream=httpx.ByteStream(b"{}"))
        return httpx.Response(429, headers={"Retry-After": "30"}, stream=httpx.ByteStream(b""))

    client = Client(
        "http://target.test",
        allowed_hosts=frozenset({"target.test"}),
        redactor=Redactor(),
        limits=ClientLimits(concurrency=4, max_requests=None),
        transport=httpx.MockTransport(answer),
    )
    paths = ["/e/0", "/e/1", "/e/2"]
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="stop"):
        for _ in client.concurrently(lambda p: client.request("GET", client.base_url + p), paths):
            raise RuntimeError("stop")  # as an interruption would, while the others wait 30 s to retry
    assert time.monotonic() - started < 5
    assert len(sent) == len(set(sent)) == client.requests_sent  # none retried after the batch was given up
    assert client.request("GET", client.base_url + "/e/0").status_code == 200  # the client sends again


# --- a target 100 ms away ------------------------------------------------------


@pytest.fixture(scope="module")
def distant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """The reference target with FAULTS, LATENCY_S away: (config file, secrets environment, arrivals file)."""
    work = tmp_path_factory.mktemp("distant")
    environ = {env: token_urlsafe(24) for env in SECRET_ENVS.values()}
    arrivals = work / "arrivals"
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        **environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
    }
    process = subprocess.Popen(
        [sys.executable, str(SLOW_TARGET), str(LATENCY_S), str(arrivals), *FAULTS],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints = Endpoints(**json.loads(process.stdout.readline()))
        config = work / "conformance.toml"
        config.write_text(config_toml(endpoints, Fixtures.of(FAULTS), FAULTS), encoding="utf-8")
        yield config, environ, arrivals
    finally:
        process.terminate()
        process.wait(timeout=10)


GENERATED_ONLY = ("--claim", "generated", "--max-examples", "15")


def run_at(
    concurrency: int,
    distant: tuple[Path, dict[str, str], Path],
    reports: Path,
    selection: tuple[str, ...] = GENERATED_ONLY,
) -> tuple[CliRun, float]:
    """A run of selection (generated-only by default) at this concurrency: the run, and the seconds
    from its first request to its last."""
    config, environ, arrivals = distant
    arrivals.write_text("")
    run = run_cli(
        "--config", str(config), *selection, "--max-rps", f"{MAX_RPS:g}",
        "--concurrency", str(concurrency), reports=reports, env=environ, timeout=180,
    )  # fmt: skip
    moments = [float(line) for line in arrivals.read_text().split()]
    return run, max(moments) - min(moments)


def verdicts(run: CliRun) -> list[tuple[str, str, list[str]]]:
    return [(r["id"], r["outcome"], r["messages"]) for r in run.results()["requirements"]]


def test_a_distant_target_is_sent_to_at_the_rate_not_one_round_trip_at_a_time(
    distant: tuple[Path, dict[str, str], Path], tmp_path: Path
) -> None:
    serial, serial_s = run_at(1, distant, tmp_path / "serial")
    concurrent, concurrent_s = run_at(4, distant, tmp_path / "concurrent")
    assert serial.returncode == concurrent.returncode == 1, concurrent.stderr
    requests = concurrent.results()["requests"]["total"]
    assert requests == serial.results()["requests"]["total"] > 40
    assert concurrent.results()["mode"]["concurrency"] == 4
    assert serial_s > 0.9 * requests * LATENCY_S  # one round trip after another
    # about requests / rate (0.05 s each here: 0.5 of the serial run on a quiet machine), under one round
    # trip each even on a loaded one (the suite's own work, serial in both, stretches both); never above
    # the rate
    assert concurrent_s < min(0.85 * serial_s, requests * LATENCY_S), (serial_s, concurrent_s)
    assert concurrent_s > 0.9 * (requests - 1) / MAX_RPS
    outcomes = {id: outcome for id, outcome, _ in verdicts(concurrent)}
    assert outcomes["FUZZ-001"] == outcomes["FUZZ-003"] == "failed"
    assert verdicts(concurrent) == verdicts(serial)


def test_the_hand_written_probes_are_planned_ahead_and_sent_at_the_rate_too(
    distant: tuple[Path, dict[str, str], Path], tmp_path: Path
) -> None:
    hand_written = ("--area", "AUTH", "--area", "ISO")
    serial, serial_s = run_at(1, distant, tmp_path / "serial", hand_written)
    planned, planned_s = run_at(4, distant, tmp_path / "planned", hand_written)
    assert serial.returncode == planned.returncode == 4, planned.stderr  # a selection: incomplete
    requests = planned.results()["requests"]["total"]
    assert requests == serial.results()["requests"]["total"] > 40
    assert "sent ahead (pass 1" in planned.stdout and "sent ahead" not in serial.stdout
    assert serial_s > 0.9 * requests * LATENCY_S  # each check's requests one after another
    assert planned_s < min(0.85 * serial_s, requests * LATENCY_S), (serial_s, planned_s)
    assert verdicts(planned) == verdicts(serial)


def test_a_concurrency_below_one_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("--concurrency", "0", reports=tmp_path)
    assert run.returncode == 2
    assert "--concurrency" in run.error_line
