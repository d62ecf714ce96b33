"""A misbehaving target never crashes the suite, never hangs it, and gets the right exit code.

Each test points the real CLI (a subprocess, loopback only: see misbehaving.py)
at a small loopback server that misbehaves one way, and checks the one-line
message on stderr, the exit code, that the reports were written, and how long
it took. Exit codes: 0 conformant, 1 not conformant, 2 usage, 3 no verdict.
"""

from __future__ import annotations

import socket
import ssl
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest
import trustme
from misbehaving import (
    SECRET,
    CliRun,
    FakeTarget,
    LoopbackServer,
    Received,
    cli_main,
    drip,
    enrolment_request,
    fixture_read,
    hang,
    html,
    huge,
    not_json,
    redirect,
    reset,
    run_cli,
    throttle,
    token_request,
    truncated,
    write_config,
)

from conformance.client import Client, ClientLimits
from conformance.redact import Redactor

FAST = ("--max-rps", "0", "--max-examples", "5")
# the Basic-auth checks only (pytest -k matches substrings: "AUTH" alone would take OAUTH and FUZZ too)
BASIC_AUTH = "AUTH and not OAUTH and not FUZZ"
STARTUP = (
    15.0  # seconds a CLI run may take besides its timeouts (interpreter, imports, collection; under load)
)


def only(*requirements: str) -> tuple[str, str]:
    """-k selecting exactly these requirements (pytest -k matches substrings: AUTH-001 is in OAUTH-001)."""
    return "-k", f"({' or '.join(requirements)}) and not OAUTH"


def run_against(server: LoopbackServer, tmp_path: Path, *args: str, token: bool = True, **kwargs) -> CliRun:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = write_config(
        tmp_path, f"{server.origin}/rest/v1", f"{server.origin}/oauth2/token/{{tenantId}}" if token else None
    )
    return run_cli("--config", str(config), *FAST, *args, reports=tmp_path / "reports", **kwargs)


def assert_no_verdict(run: CliRun, *phrases: str) -> None:
    assert run.returncode == 3, run.stdout + run.stderr
    assert run.error_line.startswith("error: "), run.stderr
    for phrase in phrases:
        assert phrase in run.error_line, run.error_line
    assert "Traceback" not in run.stderr + run.stdout
    assert run.reports_written()
    assert run.results()["verdict"] == "error"


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- cannot connect: exit 3 within seconds ------------------------------------------------------


def test_refused_connection_exits_3_within_seconds(tmp_path: Path) -> None:
    port = free_port()
    run = run_cli(
        "--base-url",
        f"http://127.0.0.1:{port}/rest/v1",
        "--tenant-id",
        "eu-west-2_X",
        reports=tmp_path / "reports",
        env={"ENROLMENT_API_SECRET": SECRET},
    )
    assert_no_verdict(
        run, f"cannot reach the target at http://127.0.0.1:{port}/rest/v1", "connection refused"
    )
    assert run.seconds < STARTUP
    assert run.results()["requests"]["total"] == 1


def test_dns_failure_exits_3_naming_dns(tmp_path: Path) -> None:
    run = run_cli(
        "--base-url",
        "https://nonexistent.invalid/rest/v1",
        "--tenant-id",
        "eu-west-2_X",
        reports=tmp_path / "reports",
        env={"ENROLMENT_API_SECRET": SECRET},
    )
    assert_no_verdict(run, "DNS lookup failed: the host name does not resolve")
    assert run.seconds < STARTUP


# --- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_target(tls_ca: trustme.CA):  # type: ignore[no-untyped-def]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1").configure_cert(context)
    with LoopbackServer(FakeTarget(), tls=context) as server:
        yield server


def test_an_untrusted_certificate_exits_3_naming_tls(tls_target: LoopbackServer, tmp_path: Path) -> None:
    run = run_against(tls_target, tmp_path, *only("AUTH-001"))
    assert_no_verdict(run, "TLS failure: the certificate could not be verified", "--ca-bundle")
    assert run.seconds < STARTUP
    assert tls_target.received == []  # nothing was sent over the unverified connection


def test_ca_bundle_trusts_the_certificate(
    tls_target: LoopbackServer, tls_ca: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    run = run_against(tls_target, tmp_path, *only("AUTH-001", "AUTH-002"), "--ca-bundle", str(bundle))
    assert run.returncode == 4, run.stdout + run.stderr  # a -k selection is at best incomplete
    assert run.results()["mode"]["tls_verify"] == "ca-bundle"
    assert "TLS verified (with --ca-bundle)" in run.stdout


def test_insecure_runs_and_warns(tls_target: LoopbackServer, tmp_path: Path) -> None:
    run = run_against(tls_target, tmp_path, *only("AUTH-001", "AUTH-002"), "--insecure")
    assert run.returncode == 4, run.stdout + run.stderr  # a -k selection is at best incomplete
    assert run.stderr.startswith("warning: --insecure: TLS certificates are NOT verified")
    result = run.results()
    assert result["mode"]["tls_verify"] == "off"
    assert any("not verified" in warning for warning in result["warnings"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--ca-bundle", "missing.pem"), "does not exist"),
        (("--ca-bundle", "{not_pem}"), "is not a usable PEM CA bundle"),
        (("--ca-bundle", "{not_pem}", "--insecure"), "contradict each other"),
    ],
)
def test_bad_tls_options_are_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("this is not a certificate\n")
    args = tuple(arg.format(not_pem=not_pem) for arg in args)
    run = run_cli(
        "--base-url",
        "https://127.0.0.1:9/rest/v1",
        "--tenant-id",
        "eu-west-2_X",
        *args,
        reports=tmp_path / "reports",
        env={"ENROLMENT_API_SECRET": SECRET},
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.error_line.startswith("error: ") and message in run.error_line
    assert not (tmp_path / "reports").exists()


# --- hangs -------------------------------------------------------------------------------------


def test_a_target_that_never_answers_exits_3_after_the_timeout(tmp_path: Path) -> None:
    with LoopbackServer(hang, lifetime=30) as server:
        run = run_against(server, tmp_path, "--timeout", "0.5")
    assert_no_verdict(run, "timed out", "no complete answer within 0.5 s of --timeout")
    assert run.seconds < STARTUP + 0.5
    assert len(server.received) == 1  # the preflight decided: nothing else was sent


def test_a_partial_hang_makes_those_checks_errors_and_the_run_ends(tmp_path: Path) -> None:
    # only the malformed-ID requests hang: AUTH-008's two, and AUTH-007's malformed-id case
    target = FakeTarget().when(lambda r: "not-an-id" in r.path, hang)
    with LoopbackServer(target, lifetime=60) as server:
        run = run_against(server, tmp_path, "-k", BASIC_AUTH, "--timeout", "0.5")
    assert_no_verdict(run, "2 requirement(s) could not be checked", "timed out")
    outcomes = run.outcomes()
    assert (outcomes["AUTH-007"], outcomes["AUTH-008"]) == ("error", "error")
    assert all(outcomes[f"AUTH-00{n}"] == "passed" for n in (1, 2, 3, 4, 5, 6, 9)), outcomes
    assert "no complete answer within 0.5 s of --timeout" in run.messages("AUTH-008")
    assert run.seconds < STARTUP + 3 * 0.5


def test_a_target_that_stops_answering_is_given_up_on(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget().when(enrolment_request, hang), lifetime=60) as server:
        run = run_against(server, tmp_path, "-k", BASIC_AUTH, "--timeout", "0.5")
    assert_no_verdict(run, "the API stopped answering: 3 requests in a row failed")
    assert len(server.received) == 1 + 3  # the preflight, then three timeouts, then nothing
    assert set(run.outcomes()[f"AUTH-00{n}"] for n in range(1, 10)) == {"error"}
    assert run.seconds < STARTUP + 3 * 0.5


def test_a_body_that_drips_is_cut_at_the_deadline() -> None:
    with LoopbackServer(drip(0.05), lifetime=30) as server:
        client = Client(
            server.origin,
            allowed_hosts=frozenset({server.netloc}),
            redactor=Redactor(),
            limits=ClientLimits(timeout_s=0.5),
        )
        with client:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout, match=r"within 0\.5 s"):
                client.request("GET", server.origin + "/slow")
            elapsed = time.monotonic() - started
    # a byte every 50 ms never trips a per-read timeout: the deadline does (the server drips for 30 s)
    assert 0.45 < elapsed < 5.0


# --- broken answers: findings or errors, never crashes ----------------------------------------------


@pytest.mark.parametrize(
    ("misbehaviour", "message"),
    [
        (reset, "connection"),  # reset by the target, or broken, depending on where the RST lands
        (truncated, "connection broken: the target did not send a complete HTTP answer"),
    ],
    ids=["reset-mid-response", "truncated-body"],
)
def test_a_broken_answer_is_an_error_of_that_check(tmp_path: Path, misbehaviour, message: str) -> None:  # type: ignore[no-untyped-def]
    with LoopbackServer(FakeTarget().when(fixture_read, misbehaviour)) as server:
        run = run_against(server, tmp_path, *only("AUTH-001", "AUTH-002", "AUTH-003"))
    assert_no_verdict(run, "AUTH-001", message)
    assert run.outcomes()["AUTH-001"] == "error"
    assert run.outcomes()["AUTH-002"] == run.outcomes()["AUTH-003"] == "passed"
    assert "could not get an answer from the target" in run.messages("AUTH-001")
    assert run.seconds < STARTUP


def test_an_html_error_page_is_a_finding(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget().when(fixture_read, html(502))) as server:
        run = run_against(server, tmp_path, *only("AUTH-001", "AUTH-002"))
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.error_line == "error: the target is not conformant: 1 MUST requirement(s) failed: AUTH-001"
    assert "expected 200, received 502 (text/html" in run.messages("AUTH-001")
    assert run.reports_written() and run.seconds < STARTUP


def test_a_body_that_is_not_json_is_a_finding(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget().when(fixture_read, not_json(200))) as server:
        run = run_against(server, tmp_path, *only("AUTH-001", "SCHEMA-001"))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "SCHEMA-001" in run.error_line
    assert "expected a JSON object body" in run.messages("SCHEMA-001")
    assert run.outcomes()["AUTH-001"] == "passed"


def test_a_huge_body_is_read_up_to_the_cap_in_bounded_memory(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget()) as server:
        normal = run_against(server, tmp_path / "normal", *only("AUTH-001", "SCHEMA-001"), measure_rss=True)
    with LoopbackServer(FakeTarget().when(fixture_read, huge(50_000_000))) as server:
        big = run_against(server, tmp_path / "huge", *only("AUTH-001", "SCHEMA-001"), measure_rss=True)
    assert normal.returncode == 4, normal.stdout + normal.stderr  # a -k selection
    assert big.returncode == 1, big.stdout + big.stderr  # the cut body is not a JSON enrolment: SCHEMA-001
    result = big.results()
    assert result["limits_hit"]["truncated_bodies"] >= 1
    assert any("exceeded the 1000000-byte cap" in warning for warning in result["warnings"])
    bodies = [
        e["response_body"] or "" for r in result["requirements"] for c in r["checks"] for e in c["exchanges"]
    ]
    assert any("body truncated: larger than the 1000000-byte cap" in body for body in bodies)
    assert big.max_rss_kb - normal.max_rss_kb < 30_000, (normal.max_rss_kb, big.max_rss_kb)
    assert big.seconds < STARTUP + 2


def test_a_huge_body_costs_the_client_only_the_cap() -> None:
    with LoopbackServer(huge(50_000_000)) as server:
        client = Client(
            server.origin,
            allowed_hosts=frozenset({server.netloc}),
            redactor=Redactor(),
            limits=ClientLimits(max_body_bytes=1_000_000),
        )
        with client:
            tracemalloc.start()
            try:
                started = time.monotonic()
                response = client.request("GET", server.origin + "/big")
                elapsed = time.monotonic() - started
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert response.extensions["truncated"] and len(response.content) == 1_000_000
    assert peak < 8_000_000, peak
    assert elapsed < 10  # not the 50 MB: the cap


# --- redirects ----------------------------------------------------------------------------------


def test_a_redirect_is_a_finding_and_is_not_followed(tmp_path: Path) -> None:
    def record_only(conn, request: Received) -> bool:  # type: ignore[no-untyped-def]
        return conn.respond(200, {"stolen": request.authorization})

    with (
        LoopbackServer(record_only) as elsewhere,
        LoopbackServer(FakeTarget().when(enrolment_request, redirect(elsewhere.origin))) as server,
    ):
        run = run_against(server, tmp_path, *only("AUTH-001", "HTTP-003"))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "AUTH-001" in run.error_line and "HTTP-003" in run.error_line
    assert "received 307" in run.messages("AUTH-001")
    assert elsewhere.received == [] and elsewhere.connections == 0  # nothing, so no Authorization either
    assert all(r.authorization is None or r.headers.get("host") == server.netloc for r in server.received)


# --- token endpoint trouble ---------------------------------------------------------------------------


def _bad_token_json(conn, request: Received) -> bool:  # type: ignore[no-untyped-def]
    return conn.respond(200, b'{"access_token": "abc", "token_type": ', content_type="application/json")


@pytest.mark.parametrize(
    ("trouble", "reason"),
    [
        ("slow", "no complete answer within 0.5 s of --timeout"),
        ("down", "Connection refused"),
        ("malformed", "the token response is not JSON"),
    ],
)
def test_token_trouble_errors_the_token_checks_and_basic_checks_still_run(
    tmp_path: Path, trouble: str, reason: str
) -> None:
    target = FakeTarget()
    if trouble == "slow":
        target.when(token_request, hang)
    elif trouble == "malformed":
        target.when(token_request, _bad_token_json)
    with LoopbackServer(target, lifetime=60) as server:
        token_url = f"{server.origin}/oauth2/token/{{tenantId}}"
        if trouble == "down":
            token_url = f"http://127.0.0.1:{free_port()}/oauth2/token/{{tenantId}}"
        config = write_config(tmp_path, f"{server.origin}/rest/v1", token_url)
        run = run_cli(
            "--config",
            str(config),
            *FAST,
            *only("AUTH-001", "AUTH-003", "SCOPE-001", "SCOPE-002"),
            "--timeout",
            "0.5",
            reports=tmp_path / "reports",
        )
    assert_no_verdict(run, "could not be checked")
    outcomes = run.outcomes()
    assert outcomes["AUTH-001"] == outcomes["AUTH-003"] == "passed"
    for requirement in ("SCOPE-001", "SCOPE-002"):
        assert outcomes[requirement] == "error"
        assert "could not obtain a public token" in run.messages(requirement)
        assert reason in run.messages(requirement), run.messages(requirement)
    assert run.seconds < STARTUP + 2 * 0.5


# --- throttling -----------------------------------------------------------------------------------


def test_a_throttled_run_still_reaches_its_verdict(tmp_path: Path) -> None:
    target = FakeTarget()
    target.when(enrolment_request, throttle(2, retry_after="1", then=target.answer))
    with LoopbackServer(target) as server:
        run = run_against(server, tmp_path, *only("AUTH-001", "AUTH-002", "AUTH-003"))
    assert run.returncode == 4, run.stdout + run.stderr  # a -k selection is at best incomplete
    result = run.results()
    assert result["limits_hit"]["throttled_retries"] == 2
    assert result["limits_hit"]["throttle_wait_s"] == 2.0
    assert any("throttled 2 request(s)" in warning for warning in result["warnings"])
    assert 2.0 <= run.seconds < STARTUP + 2


def test_a_target_that_keeps_throttling_is_no_verdict_not_non_conformance(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget().when(fixture_read, throttle(1000, retry_after="0"))) as server:
        run = run_against(server, tmp_path, *only("AUTH-001", "AUTH-002"))
    assert_no_verdict(run, "AUTH-001", "answered 429 to every try")
    assert run.outcomes() == {**run.outcomes(), "AUTH-001": "error", "AUTH-002": "passed"}


# --- budget and rate limit --------------------------------------------------------------------------


def test_the_request_budget_is_never_exceeded(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget()) as server:
        run = run_against(server, tmp_path, "-k", BASIC_AUTH, "--max-requests", "5")
    assert run.returncode == 4, run.stdout + run.stderr  # cut short by the budget: incomplete, never a pass
    messages = [m for req in run.results()["requirements"] for m in req["messages"]]
    assert any("budget spent" in m and "--max-requests" in m for m in messages)
    assert len(server.received) == 5
    result = run.results()
    assert result["requests"]["total"] == 5 and result["limits_hit"]["budget_spent"] is True
    assert result["mode"]["max_requests"] == 5
    cut = [r["id"] for r in result["requirements"] if "budget spent" in " ".join(r["messages"])]
    assert cut and all(run.outcomes()[rid] == "skipped" for rid in cut)  # not verified, not an error


def test_a_spent_budget_does_not_hide_failures_found_before(tmp_path: Path) -> None:
    target = FakeTarget().when(
        lambda r: enrolment_request(r) and r.authorization is None,
        lambda conn, r: conn.respond(200, {"id": "x"}),
    )
    with LoopbackServer(target) as server:
        run = run_against(server, tmp_path, "-k", BASIC_AUTH, "--max-requests", "5")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "AUTH-002" in run.error_line
    assert len(server.received) == 5
    assert any("budget" in warning for warning in run.results()["warnings"])


def test_the_rate_limit_is_never_exceeded(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget()) as server:
        config = write_config(
            tmp_path, f"{server.origin}/rest/v1", f"{server.origin}/oauth2/token/{{tenantId}}"
        )
        run = run_cli("--config", str(config), "-k", BASIC_AUTH, "--max-rps", "10", reports=tmp_path / "r")
    assert run.returncode == 4, run.stdout + run.stderr  # a -k selection is at best incomplete
    times = sorted(r.at for r in server.received)  # when the server read each request
    assert len(times) >= 15
    in_any_second = max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times))
    assert in_any_second <= 10
    assert (times[-1] - times[0]) >= (len(times) - 2) * 0.1  # spread out, with one interval of slack
    assert run.results()["mode"]["max_rps"] == 10


# --- read-only by default ---------------------------------------------------------------------------------


def test_by_default_a_named_target_gets_read_only_requests_within_max_rps(tmp_path: Path) -> None:
    # a loopback target gets no rate limit by default (test_experience.py): the limit is asked for here
    with LoopbackServer(FakeTarget()) as server:
        config = write_config(
            tmp_path, f"{server.origin}/rest/v1", f"{server.origin}/oauth2/token/{{tenantId}}"
        )
        run = run_cli(
            "--config",
            str(config),
            "--max-rps",
            "20",
            *only("HTTP-001", "AUTH-001", "AUTH-002", "SCOPE-001"),
            reports=tmp_path / "reports",
        )
    assert run.returncode == 4, run.stdout + run.stderr  # a -k selection is at best incomplete
    assert run.outcomes()["HTTP-001"] == "skipped"
    assert "--allow-unsafe-methods" in run.messages("HTTP-001")
    methods = {(r.method, r.path.split("/")[1]) for r in server.received}
    assert methods <= {("GET", "rest"), ("HEAD", "rest"), ("POST", "oauth2")}, methods
    mode = run.results()["mode"]
    assert mode == {
        **mode,
        "read_only": True,
        "unsafe_methods": False,
        "max_rps": 20,
        "max_requests": 2000,
        "timeout_s": 10,
        "max_body_bytes": 1_000_000,
        "tls_verify": "on",
        "production": False,
    }
    assert (
        "mode: read-only (GET/HEAD; POST to token endpoints), at most 2000 requests, 20 requests/s"
        in run.stdout
    )
    times = sorted(r.at for r in server.received)
    assert (times[-1] - times[0]) >= (len(times) - 2) / 20  # spread out, with one interval of slack


def test_unsafe_methods_need_the_opt_in(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget()) as server:
        run = run_against(server, tmp_path, *only("HTTP-001"), "--allow-unsafe-methods")
    assert run.returncode == 4, run.stdout + run.stderr  # a -k selection is at best incomplete
    assert run.outcomes()["HTTP-001"] == "passed"
    assert {"POST", "PUT", "PATCH", "DELETE"} <= {
        r.method for r in server.received if r.path.startswith("/rest/")
    }
    assert run.results()["mode"]["unsafe_methods"] is True
    assert "unsafe methods allowed" in run.stdout


# --- production and secrets on the command line ----------------------------------------------------------


def test_production_needs_confirmation_before_any_request(tmp_path: Path) -> None:
    run = run_cli(
        "--env",
        "production",
        "--tenant-id",
        "eu-west-2_X",
        reports=tmp_path / "reports",
        env={"ENROLMENT_API_SECRET": SECRET},
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.error_line == (
        "error: refusing to run against production (--env production) without confirmation: the suite would "
        "send up to 2000 read-only requests with your credentials; add --confirm-production if you mean it"
    )
    assert run.stdout == "" and not (tmp_path / "reports").exists()
    assert run.seconds < STARTUP


@pytest.mark.parametrize(
    ("target", "why"),
    [
        (("--env", "production-mea"), "--env production-mea"),
        (
            ("--base-url", "https://public.api.learn.link/rest/v1"),
            "public.api.learn.link is a production host",
        ),
        (("--base-url", "HTTPS://PUBLIC.API.MEA.LEARN.TECH./rest/v1"), "is a production host"),
        (
            (
                "--base-url",
                "http://127.0.0.1:9/rest/v1",
                "--webhooks-token-url",
                "https://user.api.learn.link/oauth2/token/{tenantId}",
            ),
            "user.api.learn.link is a production host",
        ),
    ],
)
def test_every_way_of_naming_production_needs_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: tuple[str, ...], why: str
) -> None:
    monkeypatch.setenv("ENROLMENT_API_SECRET", SECRET)
    code, out, err = cli_main("run", *target, "--tenant-id", "eu-west-2_X", "--reports", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert err.startswith("error: refusing to run against production (") and why in err
    assert not (tmp_path / "r").exists()


def test_confirmed_production_proceeds(tmp_path: Path) -> None:
    # loopback guard: the production name does not resolve here, and nothing leaves the machine
    run = run_cli(
        "--env",
        "production",
        "--confirm-production",
        "--tenant-id",
        "eu-west-2_X",
        "--timeout",
        "1",
        reports=tmp_path / "reports",
        env={"ENROLMENT_API_SECRET": SECRET},
    )
    assert_no_verdict(run, "https://public.api.learn.link/rest/v1", "DNS lookup failed", "loopback guard")
    assert run.results()["mode"]["production"] is True
    assert "production (confirmed)" in run.stdout


def test_a_secret_on_the_command_line_is_refused(tmp_path: Path) -> None:
    run = run_cli(
        "--base-url",
        "http://127.0.0.1:9/rest/v1",
        "--tenant-id",
        "eu-west-2_X",
        "--api-secret",
        "hunter2-on-the-command-line",
        reports=tmp_path / "reports",
    )
    assert run.returncode == 2
    assert run.error_line.startswith("error: a secret on the command line is refused")
    assert "shell history" in run.error_line and "ENROLMENT_API_SECRET" in run.error_line
    assert "hunter2-on-the-command-line" not in run.stdout + run.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    "flag",
    ["--secret", "--client-secret", "--password", "--token", "--access-token", "--api-key", "--api-secret="],
)
def test_every_secret_flag_is_refused(tmp_path: Path, flag: str) -> None:
    args = [flag + "hunter2-value"] if flag.endswith("=") else [flag, "hunter2-value"]
    code, out, err = cli_main(
        "run", "--base-url", "http://127.0.0.1:9/rest/v1", *args, "--reports", str(tmp_path / "r")
    )
    assert code == 2 and out == ""
    assert err.startswith("error: a secret on the command line is refused") and len(err.splitlines()) == 1
    assert "hunter2-value" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--timeout", "0"), "Invalid value for '--timeout'"),
        (("--max-requests", "0"), "Invalid value for '--max-requests'"),
        (("--max-rps", "-1"), "Invalid value for '--max-rps'"),
        (("--max-body-bytes", "0"), "Invalid value for '--max-body-bytes'"),
        (("--no-such-flag",), "No such option"),
        (("-k", "AUTH and ("), "is not a valid selection expression"),
    ],
)
def test_bad_limits_are_one_line_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    monkeypatch.setenv("ENROLMENT_API_SECRET", SECRET)
    code, out, err = cli_main(
        "run",
        "--base-url",
        "http://127.0.0.1:9/rest/v1",
        "--tenant-id",
        "eu-west-2_X",
        *args,
        "--reports",
        str(tmp_path / "r"),
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err


def test_a_selection_that_matches_no_check_is_a_usage_error(tmp_path: Path) -> None:
    with LoopbackServer(FakeTarget()) as server:
        run = run_against(server, tmp_path, "-k", "NO-SUCH-REQUIREMENT-999")
    assert run.returncode == 2, run.stdout + run.stderr
    assert (
        run.error_line == "error: -k 'NO-SUCH-REQUIREMENT-999' selects no check: `enrolment-conformance "
        "requirements` lists them"
    )


def test_everything_misbehaving_at_once_still_ends(tmp_path: Path) -> None:
    """A target that hangs, resets, throttles and redirects at random still gives a bounded, clean run."""
    behaviours = [
        hang,
        reset,
        truncated,
        html(500),
        not_json(200),
        redirect("http://127.0.0.1:9"),
        throttle(1000, retry_after="0"),
    ]
    count = {"n": 0}

    def chaos(conn, request: Received) -> bool:  # type: ignore[no-untyped-def]
        count["n"] += 1
        return behaviours[count["n"] % len(behaviours)](conn, request)

    target = FakeTarget().when(lambda r: r.path != "/rest/v1/", chaos)
    with LoopbackServer(target, lifetime=90) as server:
        run = run_against(server, tmp_path, "-k", "not FUZZ", "--timeout", "0.5", "--max-requests", "300")
    assert run.returncode in (1, 3), run.stdout + run.stderr
    assert run.error_line.startswith("error: ") and "Traceback" not in run.stderr
    assert run.reports_written()
    assert "the check itself broke" not in (tmp_path / "reports" / "results.json").read_text()
    assert run.seconds < STARTUP + 10 * 0.5 + 10  # at most 10 timeouts, then the breaker
