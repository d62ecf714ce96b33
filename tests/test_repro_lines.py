"""Every curl line of a full run parses as shell: in results.json and in report.html, for every exchange.

One full run against the reference target with faults that fail checks of
every kind of request the suite sends (wrong and derived Basic secrets, a
hand-made Authorization header, token requests with a wrong client secret,
bearer reads, an access token in the query), with secrets that need quoting;
then ``bash -n`` over each repro line found.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from misbehaving import CliRun, run_cli

from conformance.reference.data import TENANT_A, TENANT_B

SECRETS = {
    "ENROLMENT_API_SECRET": "ref-SECRET-A/with=chars~4f1c2d",
    "ENROLMENT_OTHER_API_SECRET": "ref-SECRET-B/other=chars~9a8b7c",
}
FAULTS = (
    "wrong-secret-403",
    "secret-prefix-accepted",
    "malformed-basic-500",
    "query-token-accepted",
    "token-wrong-secret-accepted",
    "token-basic-invalid-client-400",
    "read-scope-refused",
)
CURL_IN_HTML = re.compile(r'<pre class="curl">(.*?)</pre>', re.DOTALL)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    faults = [arg for fault in FAULTS for arg in ("--fault", fault)]
    run = run_cli(
        *faults, "--max-examples", "5", reports=tmp_path_factory.mktemp("run") / "reports", env=SECRETS
    )
    assert run.returncode == 1, run.stdout + run.stderr
    return run


def curl_values(value: Any) -> Iterator[str]:
    """Every string under a "curl" key, anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "curl" and isinstance(item, str):
                yield item
            else:
                yield from curl_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from curl_values(item)


def not_shell(lines: set[str]) -> list[str]:
    return [line for line in sorted(lines) if subprocess.run(["bash", "-n", "-c", line]).returncode != 0]


def test_every_curl_line_of_results_json_parses_as_shell(faulty_run: CliRun) -> None:
    lines = set(curl_values(faulty_run.results()))
    assert len(lines) > 100
    # the kinds of line the faults make the run write
    markers = ('"${ENROLMENT_API_SECRET%?}"', "$ACCESS_TOKEN", "client_secret=", "base64", "access_token=")
    for marker in markers:
        assert any(marker in line for line in lines), marker
    assert not_shell(lines) == []


def test_every_curl_line_of_report_html_parses_as_shell(faulty_run: CliRun) -> None:
    page = (faulty_run.reports / "report.html").read_text(encoding="utf-8")
    lines = {html.unescape(line) for line in CURL_IN_HTML.findall(page)}
    assert len(lines) > 10  # the failures' evidence
    assert not_shell(lines) == []


def test_no_curl_line_holds_a_secret(faulty_run: CliRun) -> None:
    lines = json.dumps(list(curl_values(faulty_run.results())))
    for tenant, secret in zip((TENANT_A, TENANT_B), SECRETS.values(), strict=True):
        assert secret not in lines and secret[:-1] not in lines, tenant


def test_the_check_finds_a_line_that_is_not_shell() -> None:
    """not_shell itself: the line the redactor once cut (its closing quote gone) is caught."""
    assert not_shell({"curl -d 'client_secret=*** http://h/", "curl 'http://h/'"}) == [
        "curl -d 'client_secret=*** http://h/"
    ]
