"""A hostile target cannot hurt the user: no credential leaks, no terminal takeover, no crash without reports.

Each case runs the real CLI (a subprocess, loopback only) at one hostile
target of ``hostile.py`` and asserts the exit code, that ``junit.xml``,
``report.html`` and ``results.json`` are written (junit.xml parses), that
stdout, stderr and report.html carry no control character (but the report's
line breaks and tabs), and that no credential the run holds or derives appears
in anything it wrote: the API secret, the near-secrets the AUTH checks send
(suffixed, truncated, one character changed, case-swapped), the Basic payloads
built from them, and the access tokens; each raw, base64-, URL- or
form-encoded, or in another case. Secrets of realistic length (one made only of
header-name characters, so it can be echoed as a header name) and a
4-character one.
"""

from __future__ import annotations

import base64
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hostile import (
    ESCAPES,
    DeepJwtTarget,
    EchoingTarget,
    EscapingTarget,
    PaddedTarget,
    deep_json,
    received_credentials,
    with_raw_headers,
)
from misbehaving import (
    TENANT,
    CliRun,
    Conn,
    FakeTarget,
    LoopbackServer,
    Received,
    cli_main,
    enrolment_body,
    run_cli,
    token_request,
    write_config,
)

from conformance.checks.auth import UNKNOWN_TENANT, wrong_secrets

LONG_SECRET = "Kq7vXw2LmT9pRz4NbY6sHd3F"  # header-name characters only: a target can echo it as a name
ODD_SECRET = "fake-SECRET/value+4b1d=9e7a"  # characters URL- and form-encoding change
SHORT_SECRET = "Qz9X"
FAST = ("--max-rps", "0", "--max-examples", "5", "--timeout", "5")
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
CONTROL_IN_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forbidden(secret: str, tokens: set[str]) -> dict[str, str]:
    """Every credential of the run, and every credential derived from it, in every encoding, by name."""
    values = {"secret": secret, **{kind: wrong for kind, wrong in wrong_secrets(secret).items() if wrong}}
    values |= {f"access token {n}": token for n, token in enumerate(sorted(tokens))}
    found = {f"Basic {UNKNOWN_TENANT}:secret": b64(f"{UNKNOWN_TENANT}:{secret}")}
    for what, value in values.items():
        found |= {
            what: value,
            f"{what}, URL-encoded": quote(value, safe=""),
            f"{what}, form-encoded": quote_plus(value),
            f"{what}, base64": b64(value),
            f"Basic {what}": b64(f"{TENANT}:{value}"),
            f"Basic {what}, form-encoded first": b64(f"{quote_plus(TENANT)}:{quote_plus(value)}"),
        }
    return found


def artifacts(run: CliRun) -> dict[str, str]:
    """stdout, stderr and every file the run wrote (HTML entities decoded too)."""
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for path in run.reports.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            texts[path.name] = text
            texts[f"{path.name}, unescaped"] = html.unescape(text)
    return texts


def leaks(run: CliRun, secret: str, tokens: set[str]) -> list[str]:
    """Each form found, and each credential found in any case (the HTTP client lowercases header names)."""
    found = []
    for where, text in artifacts(run).items():
        lowered = text.lower()
        for what, value in forbidden(secret, tokens).items():
            if value in text:
                found.append(f"{what} in {where}")
            elif "encoded" not in what and "base64" not in what and value.lower() in lowered:
                found.append(f"{what}, in another case, in {where}")
    return found


def run_at(target: FakeTarget, tmp_path: Path, handler: Callable | None = None) -> CliRun:
    with LoopbackServer(handler or target, lifetime=180) as server:
        config = write_config(
            tmp_path, f"{server.origin}/rest/v1", f"{server.origin}/oauth2/token/{{tenantId}}"
        )
        return run_cli(
            "--config",
            str(config),
            *FAST,
            reports=tmp_path / "reports",
            env={"FAKE_TARGET_SECRET": target.secret},
            timeout=240,
        )


def assert_harmless(run: CliRun, target: FakeTarget, exit_code: int) -> None:
    """The exit code, the three reports, a clean terminal, and no credential anywhere."""
    assert run.returncode == exit_code, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.reports_written(), run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert "RecursionError" not in "".join(artifacts(run).values())
    for stream in (run.stdout, run.stderr, (run.reports / "report.html").read_text(encoding="utf-8")):
        assert not CONTROL_IN_LINES.search(stream), repr(CONTROL_IN_LINES.search(stream))
    ET.parse(run.reports / "junit.xml")  # XML 1.0 has no room for most control characters
    assert run.stdout.rstrip().splitlines()[-1].startswith("verdict: ")
    assert leaks(run, target.secret, set(target.issued)) == []


# --- credentials quoted back -----------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [LONG_SECRET, ODD_SECRET, SHORT_SECRET], ids=["long", "odd", "short"])
def test_a_target_that_echoes_every_credential_leaks_none(tmp_path: Path, secret: str) -> None:
    target = EchoingTarget(secret=secret)
    run = run_at(target, tmp_path)
    assert_harmless(run, target, 1)  # the echoed status is not a status of the contract
    assert target.issued, "no token was obtained: the scan would prove nothing about tokens"
    result = (run.reports / "results.json").read_text(encoding="utf-8")
    assert "x-echo-0" in result and "received ***" in result  # the echoes reached the evidence, masked
    if secret == SHORT_SECRET:
        assert "shorter than 6 characters" in run.stdout


def test_the_scan_finds_each_form_of_each_credential(tmp_path: Path) -> None:
    """leaks() itself: every name forbidden() gives is found in a file of a run."""
    (tmp_path / "reports").mkdir()
    for what, value in forbidden(SHORT_SECRET, {"tok-1"}).items():
        (tmp_path / "reports" / "results.json").write_text(f"... {value} ...")
        run = CliRun(0, "", "", 0.0, tmp_path / "reports")
        assert leaks(run, SHORT_SECRET, {"tok-1"}), what
    (tmp_path / "reports" / "results.json").write_text('{"x-qz9x-wrong": "1"}')
    assert "suffixed, in another case, in results.json" in leaks(run, SHORT_SECRET, {"tok-1"})


# --- the terminal ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def escaping_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliRun, FakeTarget]:
    target = EscapingTarget(secret=LONG_SECRET)
    # a second Content-Type: failure messages quote the content type, so the header reaches the terminal
    header = f"Content-Type: text/x-{ESCAPES.replace(chr(13), '')}\r\n".encode()
    return run_at(target, tmp_path_factory.mktemp("escaping"), with_raw_headers(target, header)), target


def test_escape_sequences_in_bodies_and_headers_are_shown_not_acted_on(
    escaping_run: tuple[CliRun, FakeTarget],
) -> None:
    run, target = escaping_run
    assert_harmless(run, target, 1)
    assert "\\x1b[2K\\r" in run.stdout  # a FAIL line quoted a body (the status value), escaped
    assert "text/x-\\x1b[2K\\x1b[1Averdict" in run.stdout  # and the header


def test_diff_and_report_of_its_results_show_the_escapes_not_act_on_them(
    escaping_run: tuple[CliRun, FakeTarget], tmp_path: Path
) -> None:
    """results.json files are handed around: diff and report print what they hold, escaped."""
    new = escaping_run[0].reports / "results.json"
    old = json.loads(new.read_text(encoding="utf-8"))
    old["target"]["base_url"] += ESCAPES
    for requirement in old["requirements"]:
        requirement["outcome"] = "passed"
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    for args in (("diff", str(tmp_path / "old.json"), str(new)), ("report", str(tmp_path / "old.json"))):
        code, out, err = cli_main(*args)
        assert code == (1 if args[0] == "diff" else 0), out + err
        assert "\\x1b" in out and not CONTROL.search(out + err), args[0]


def test_a_results_file_nested_too_deep_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_bytes(deep_json())
    for args in (("report", str(tmp_path / "deep.json")), ("diff", *[str(tmp_path / "deep.json")] * 2)):
        code, out, err = cli_main(*args)
        assert (code, out) == (2, "")
        assert err == f"error: {tmp_path / 'deep.json'} is not JSON: not usable JSON: nested too deep\n"


def test_escape_sequences_and_bytes_that_are_not_ascii_in_headers(
    tmp_path: Path, plain_outcomes: dict[str, str]
) -> None:
    target = FakeTarget(secret=LONG_SECRET)
    escapes = ESCAPES.replace("\r", "")  # a bare CR ends a header line: the client refuses it (see below)
    raw = (
        f'X-Escapes: {escapes}\r\nWWW-Authenticate: Basic realm="{escapes}"\r\n'.encode()
        + b"X-Latin-1: caf\xe9 \xff\xfe\r\nX-Utf-8: caf\xc3\xa9\r\nX-Invalid-Utf-8: \xc3\x28\xa0\xa1\r\n"
    )
    run = run_at(target, tmp_path, with_raw_headers(target, raw))
    assert_harmless(run, target, 1)
    assert run.outcomes() == plain_outcomes


def test_a_bare_cr_in_a_header_is_no_verdict(tmp_path: Path) -> None:
    target = FakeTarget(secret=LONG_SECRET)
    run = run_at(target, tmp_path, with_raw_headers(target, f"X-Escapes: {ESCAPES}\r\n".encode()))
    assert_harmless(run, target, 3)
    assert "illegal header line" in run.error_line


@pytest.fixture(scope="module")
def plain_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The outcomes of a run at the same target without the hostile part (it has findings of its own)."""
    target = FakeTarget(secret=LONG_SECRET)
    run = run_at(target, tmp_path_factory.mktemp("plain"))
    assert_harmless(run, target, 1)
    return run.outcomes()


def fixture_read_of(target: FakeTarget) -> Callable[[Received], bool]:
    """Picks the GETs of the fixture enrolment with the target's valid Basic credentials."""
    return lambda request: (
        request.method == "GET"
        and request.authorization == f"Basic {target.basic_payload}"
        and request.path.endswith(f"/enrolments/{enrolment_body()['id']}")
    )


def broken_echo(conn: Conn, request: Received) -> bool:
    """An answer the client cannot parse (a bare CR in a header) quoting the credentials it received."""
    echoed = " ".join(received_credentials(request))
    return conn.send(f"HTTP/1.1 200 OK\r\nX-Echo: {echoed}\r{ESCAPES}\r\nContent-Length: 0\r\n\r\n".encode())


def test_an_unparsable_answer_quoting_credentials_leaks_none(tmp_path: Path) -> None:
    target = FakeTarget(secret=ODD_SECRET).when(lambda request: bool(request.authorization), broken_echo)
    run = run_at(target, tmp_path)
    assert_harmless(run, target, 1)
    assert "illegal header line: bytearray(b'X-Echo: Basic ***" in run.messages("AUTH-001")


# --- parser limits ---------------------------------------------------------------------------------------


def deep(conn: Conn, request: Received) -> bool:
    return conn.respond(200, deep_json())


def test_json_nested_100000_deep_from_the_api_is_a_finding(tmp_path: Path) -> None:
    target = FakeTarget(secret=LONG_SECRET)
    run = run_at(target.when(fixture_read_of(target), deep), tmp_path)
    assert_harmless(run, target, 1)
    assert run.outcomes()["SCHEMA-001"] == "failed"
    assert "not usable JSON: nested too deep" in run.messages("SCHEMA-001")


def test_json_nested_100000_deep_from_the_token_endpoint(tmp_path: Path) -> None:
    target = FakeTarget(secret=LONG_SECRET).when(token_request, deep)
    run = run_at(target, tmp_path)
    assert_harmless(run, target, 1)
    assert run.outcomes()["OAUTH-001"] == "failed"
    assert "not usable JSON: nested too deep" in run.messages("OAUTH-001")


def test_an_access_token_whose_jwt_payload_is_nested_too_deep_is_opaque(
    tmp_path: Path, plain_outcomes: dict[str, str]
) -> None:
    """The OAUTH-012 checks read a JWT's claims; claims nested too deep make it a token like any other."""
    target = DeepJwtTarget(secret=LONG_SECRET)
    run = run_at(target, tmp_path)
    assert_harmless(run, target, 1)
    assert run.outcomes() == plain_outcomes


def invalid_utf8(conn: Conn, request: Received) -> bool:
    return conn.respond(200, b'{"id": "\xff\xfe\xc3\x28", "status": "\xe9"}')


def test_a_body_that_is_not_utf8_is_a_finding(tmp_path: Path) -> None:
    target = FakeTarget(secret=LONG_SECRET)
    run = run_at(target.when(fixture_read_of(target), invalid_utf8), tmp_path)
    assert_harmless(run, target, 1)
    assert run.outcomes()["SCHEMA-001"] == "failed"


def test_bodies_of_a_megabyte(tmp_path: Path, plain_outcomes: dict[str, str]) -> None:
    target = PaddedTarget(secret=LONG_SECRET)
    run = run_at(target, tmp_path)
    assert_harmless(run, target, 1)
    assert run.outcomes() == plain_outcomes


# --- header floods ---------------------------------------------------------------------------------------


def test_thousands_of_headers(tmp_path: Path, plain_outcomes: dict[str, str]) -> None:
    target = FakeTarget(secret=LONG_SECRET)
    raw = b"".join(b"X-Flood-%d: %d\r\n" % (n, n) for n in range(3000))
    run = run_at(target, tmp_path, with_raw_headers(target, raw))
    assert_harmless(run, target, 1)
    assert run.outcomes() == plain_outcomes
    # the evidence keeps the first header lines of each answer, not 3000 (11 MB of results.json)
    results = (run.reports / "results.json").read_text(encoding="utf-8")
    assert "2903 more header lines not kept as evidence" in results
    assert len(results) < 2_000_000


def test_a_header_larger_than_the_client_reads_is_no_verdict(tmp_path: Path) -> None:
    target = FakeTarget(secret=LONG_SECRET)
    run = run_at(target, tmp_path, with_raw_headers(target, b"X-Huge: " + b"h" * 200_000 + b"\r\n"))
    assert_harmless(run, target, 3)
    assert run.error_line.startswith("error: ")
