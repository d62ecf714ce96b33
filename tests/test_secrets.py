"""No secret reaches anything a run writes: stdout, stderr, junit.xml, report.html, results.json.

Two full runs with known secrets, then a scan of the captured output and of
every file under --reports for the API secrets (raw, URL-, form- and
JSON-encoded), their HTTP Basic form base64(tenant:secret), and the access
tokens; plus a scan for anything credential-shaped that is not masked
(``Bearer <token>``, ``Basic <payload>``, ``access_token`` / ``client_secret``
values other than ``***``):

- against the bundled reference target, its secrets given through the
  environment (the run reads ENROLMENT_API_SECRET / ENROLMENT_OTHER_API_SECRET);
- against a fake target that quotes every credential back: the Authorization
  header and the request body (with client_secret) in every response body, in
  response headers and in a Set-Cookie, so the redaction of evidence, check
  messages and reports is put to the test. Its tokens are known.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from misbehaving import SECRET, TENANT, CliRun, FakeTarget, LoopbackServer, run_cli, write_config

from conformance.reference.data import TENANT_A, TENANT_B

REFERENCE_SECRETS = {
    # no "+": the reference decodes Basic client credentials as RFC 6749 §2.3.1 says (form-encoded),
    # the suite's token client sends them raw; "/" and "=" still differ in their URL and form encodings
    TENANT_A: "ref-SECRET-A/with=chars~4f1c2d",
    TENANT_B: "ref-SECRET-B/other=chars~9a8b7c",
}

UNMASKED = {
    # a scheme, then a credential-shaped value (a digit, + or / in it: prose like "Bearer challenge" is not)
    "Bearer credential": re.compile(
        r"\bBearer\s+(?!\*\*\*)(?=[A-Za-z0-9._~+/-]*[0-9+/])[A-Za-z0-9._~+/-]{8,}=*"
    ),
    "Basic credential": re.compile(r"\bBasic\s+(?!\*\*\*)(?=[A-Za-z0-9+/]*[0-9+/])[A-Za-z0-9+/]{12,}={0,2}"),
    "access_token value": re.compile(r"\"access_token\"\s*:\s*\"(?!\*\*\*\")[^\"]+\""),
    "token parameter": re.compile(r"\b(?:access_token|client_secret)=(?!\*\*\*)[^&\s\"'<]+"),
}


def secret_forms(tenant: str, secret: str) -> dict[str, str]:
    return {
        "secret": secret,
        "secret, URL-encoded": quote(secret, safe=""),
        "secret, form-encoded": quote_plus(secret),
        "secret, JSON-escaped": json.dumps(secret)[1:-1],
        "base64(tenant:secret)": base64.b64encode(f"{tenant}:{secret}".encode()).decode(),
    }


def written(run: CliRun) -> dict[str, str]:
    """Everything the run wrote: its output and every file under --reports (entities decoded too)."""
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    files = [path for path in run.reports.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"junit.xml", "report.html", "results.json"}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        texts[str(path.relative_to(run.reports))] = text
        texts[f"{path.relative_to(run.reports)} (unescaped)"] = html.unescape(text)
    return texts


def leaks(texts: dict[str, str], known: dict[str, str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for what, value in known.items():
            if value and value in text:
                found.append(f"{what} in {where}")
        for what, pattern in UNMASKED.items():
            for match in pattern.finditer(text):
                found.append(f"unmasked {what} in {where}: {match.group(0)[:40]}...")
    return found


def test_a_reference_run_writes_no_secret(tmp_path: Path) -> None:
    env = {
        "ENROLMENT_API_SECRET": REFERENCE_SECRETS[TENANT_A],
        "ENROLMENT_OTHER_API_SECRET": REFERENCE_SECRETS[TENANT_B],
    }
    run = run_cli("--max-examples", "5", reports=tmp_path / "reports", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.results()
    assert result["requests"]["token"] > 0  # tokens were obtained and used
    known = {}
    for tenant, secret in REFERENCE_SECRETS.items():
        known |= {f"{tenant} {what}": value for what, value in secret_forms(tenant, secret).items()}
    assert leaks(written(run), known) == []
    # the evidence is there, masked
    assert "Basic ***" in (tmp_path / "reports" / "results.json").read_text()


@pytest.fixture
def echoing_run(tmp_path: Path) -> tuple[CliRun, FakeTarget]:
    target = FakeTarget(echo=True)
    with LoopbackServer(target, lifetime=120) as server:
        config = write_config(
            tmp_path, f"{server.origin}/rest/v1", f"{server.origin}/oauth2/token/{{tenantId}}"
        )
        run = run_cli(
            "--config",
            str(config),
            "--max-rps",
            "0",
            "--max-examples",
            "5",
            "--timeout",
            "2",
            reports=tmp_path / "reports",
        )
    return run, target


def test_a_target_that_quotes_credentials_back_gets_them_masked(
    echoing_run: tuple[CliRun, FakeTarget],
) -> None:
    run, target = echoing_run
    assert run.returncode in (0, 1), (
        run.stdout + run.stderr
    )  # the echoes may fail checks, never break the run
    assert target.issued, "the run obtained no token: the scan would prove nothing about tokens"
    known = secret_forms(TENANT, SECRET) | {
        f"access token {n}": token for n, token in enumerate(target.issued)
    }
    texts = written(run)
    assert leaks(texts, known) == []
    # the echoes did reach the evidence, masked: the scan looked at text that held the credentials
    evidence = texts["results.json"]
    assert "X-Debug-Authorization" in evidence or "x-debug-authorization" in evidence
    assert '"authorization": "Basic ***"' in evidence or '\\"authorization\\": \\"Basic ***\\"' in evidence


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scanner itself: each form of each secret, and unmasked credentials, are caught."""
    known = secret_forms(TENANT, SECRET) | {"access token": "fake-ACCESS-token-0-0123456789abcdef"}
    for what, value in known.items():
        assert leaks({"x": f"... {value} ..."}, known), what
    for text in (
        "Authorization: Bearer abcdef0123456789",
        '{"authorization": "Basic ZXUtd2VzdC0yX1g6eHl6MTIzNDU2"}',
        '{"access_token": "opaque"}',
        "grant_type=client_credentials&client_secret=hunter2",
        "GET /x?access_token=abc HTTP/1.1",
    ):
        assert leaks({"x": text}, {}), text
    for text in (
        "Authorization: Bearer ***",
        "Basic ***",
        '{"access_token": "***"}',
        "client_secret=***",
        'WWW-Authenticate: Basic realm="enrolments", Bearer realm="enrolments"',
        "valid Basic credentials",
        'curl -H "Authorization: Bearer $ACCESS_TOKEN"',
    ):
        assert leaks({"x": text}, {}) == [], text
