"""report.html in a real headless browser: Debian's chromium, driven over the DevTools protocol.

The browser is driven through ``--remote-debugging-pipe`` (JSON messages on
file descriptors 3 and 4), so no driver or websocket package is needed. CI
installs chromium (``apt-get install -y chromium`` in .ci/run); with ``CI=true``
in the environment a missing chromium fails these tests, elsewhere they are
skipped, saying why. Set CHROMIUM to use another binary.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_reports import a_requirement, a_run, an_exchange, the_requirements

from conformance.baseline import Baseline, BaselineEntry, apply_baseline
from conformance.reports import HTML_NAME, JSON_NAME, results_sha256, write_reports
from conformance.results import CheckResult, RunResult

TIMEOUT_S = 90.0
_TRAMPOLINE = """
import fcntl, os, sys
high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
os.dup2(high[0], 3)
os.dup2(high[1], 4)
os.execv(sys.argv[3], sys.argv[3:])
"""
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = (
    "chromium is not on PATH: install Debian's chromium (apt-get install -y chromium, as .ci/run "
    "does) or set CHROMIUM=/path/to/chrome to check report.html in a real browser"
)
WIDTH, MAX_HEIGHT = 1280, 5000  # issue 11: a run with three faults renders under 5,000 px at 1280 px wide
THREE_FAULTS = ("broken-status-chain", "errors-text-plain", "no-www-authenticate")


def chromium_or_skip(binary: str | None, environ: Mapping[str, str]) -> str:
    """The chromium to use; without one, skip, except in CI (CI=true), where a missing browser fails."""
    if binary is None:
        if environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI=true and {MISSING}", pytrace=False)
        pytest.skip(MISSING)
    return binary


class DevTools:
    """A headless chromium and one page of it, spoken to over the DevTools pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no name resolves
            f"--user-data-dir={profile / 'profile'}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(profile / "config"),
            "XDG_CACHE_HOME": str(profile / "cache"),
        }
        # a trampoline maps our pipe ends onto the descriptors 3 and 4 that chromium expects
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(to_browser_r), str(from_browser_w), binary, *flags],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> dict[str, Any]:
        """Send a command and wait for its answer; events that arrive meanwhile are kept in self.events."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first event named method (already received or still to come)."""
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive())

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; page exceptions fail the test."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression!r} raised {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.send("Browser.close", session=False)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(f"chromium did not answer within {TIMEOUT_S:.0f} s")
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise AssertionError(f"chromium closed the DevTools pipe: {stderr[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)


def a_report_run() -> RunResult:
    """A failing run with evidence (two exchanges, one collapsed), an accepted failure and a warning."""
    requirements = the_requirements()
    auth = next(req for req in requirements if req.id == "AUTH-003")
    auth.checks[0].exchanges.append(an_exchange(note="second probe", status=403, response_body="forbidden"))
    requirements.append(
        a_requirement(
            "STATUS-005",
            "MUST",
            [
                CheckResult(
                    "check_event_chain",
                    "STATUS-005",
                    "failed",
                    message="chain broken",
                    exchanges=[an_exchange()],
                )
            ],
        )
    )
    baseline = Baseline(
        (BaselineEntry("STATUS-005", "*", "known chain bug", None),), "baseline.toml", "0" * 64
    )
    return apply_baseline(a_run(requirements), baseline, date(2026, 1, 1))


@contextlib.contextmanager
def loaded(report: Path, profile: Path, *, scripts: bool = True) -> Iterator[DevTools]:
    """report.html in headless chromium at 1280 px wide, with console and network recorded."""
    browser = DevTools(chromium_or_skip(CHROMIUM, os.environ), profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = browser.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        browser.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.send(f"{domain}.enable")
        metrics = {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser.send("Emulation.setDeviceMetricsOverride", metrics)
        browser.send("Emulation.setScriptExecutionDisabled", {"value": not scripts})
        browser.send("Page.navigate", {"url": report.as_uri()})
        browser.wait_for("Page.loadEventFired")
        browser.evaluate("new Promise(r => requestAnimationFrame(() => r(1)))")
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevTools, Path]]:
    """The report of a_report_run() loaded in headless chromium."""
    reports = tmp_path_factory.mktemp("browser-report")
    paths = write_reports(a_report_run(), reports)
    with loaded(paths[HTML_NAME], tmp_path_factory.mktemp("chromium")) as browser:
        yield browser, reports


@pytest.fixture(scope="module")
def three_faults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report.html of a real run of the bundled target with three faults switched on."""
    chromium_or_skip(CHROMIUM, os.environ)
    reports = tmp_path_factory.mktemp("three-faults")
    faults = [arg for fault in THREE_FAULTS for arg in ("--fault", fault)]
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "run", *faults, "--reports", str(reports)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return reports / HTML_NAME


def test_the_report_loads_offline_without_console_errors(page: tuple[DevTools, Path]) -> None:
    browser, _ = page
    problems = [
        event
        for event in browser.events
        if event.get("method") == "Runtime.exceptionThrown"
        or (
            event.get("method") == "Runtime.consoleAPICalled"
            and event["params"]["type"] in ("error", "assert")
        )
        or (event.get("method") == "Log.entryAdded" and event["params"]["entry"]["level"] == "error")
        or event.get("method") == "Network.loadingFailed"
    ]
    assert problems == []
    requested = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(url.startswith(("file:", "data:")) for url in requested), requested


def test_the_verdict_and_the_failures_come_first(page: tuple[DevTools, Path]) -> None:
    browser, reports = page
    banner = browser.evaluate(
        "(() => { const h = document.querySelector('header.banner'); const r = h.getBoundingClientRect();"
        " return {text: h.innerText, top: r.top, bottom: r.bottom, height: innerHeight}; })()"
    )
    assert banner["text"].startswith("FAIL") and "CI gate: FAIL" in banner["text"]
    assert banner["top"] >= 0 and banner["bottom"] <= banner["height"]  # visible without scrolling
    order = browser.evaluate(
        "[...document.querySelectorAll('body > header, body > section')].map(e => e.id || 'banner')"
    )
    assert order[:5] == ["banner", "failures", "warnings", "statement", "baseline"]
    first = browser.evaluate(
        "(() => { const a = document.querySelector('#failures a[href=\"#AUTH-003\"]');"
        " return {bottom: a.getBoundingClientRect().bottom, height: innerHeight,"
        " row: a.closest('tr').innerText}; })()"
    )
    assert first["bottom"] <= first["height"]  # the first failure is on the first screen
    assert "enrolment-conformance rerun results.json --only AUTH-003" in first["row"]
    digest = browser.evaluate("document.getElementById('results-sha256').textContent")
    assert digest == results_sha256(reports / JSON_NAME)


def test_a_failure_is_reachable_and_its_evidence_expands(page: tuple[DevTools, Path]) -> None:
    browser, _ = page
    browser.evaluate("document.querySelector('#failures a[href=\"#AUTH-003\"]').click()")
    state = browser.evaluate(
        "(() => { const s = document.getElementById('AUTH-003');"
        " const d = [...s.querySelectorAll('details')];"
        " return {hash: location.hash, top: s.getBoundingClientRect().top, open: d.map(x => x.open),"
        " height: innerHeight, bottom: scrollY + innerHeight >= document.documentElement.scrollHeight}; })()"
    )
    assert state["hash"] == "#AUTH-003"
    # scrolled to the failure (to its top, or as far as the page goes when it is near the end)
    assert abs(state["top"]) < 5 or (state["bottom"] and 0 <= state["top"] < state["height"])
    assert state["open"] == [False, True, False]  # evidence collapsed; once opened, its first exchange shows
    browser.evaluate("document.querySelector('#AUTH-003 details.evidence > summary').click()")
    expanded = browser.evaluate(
        "(() => { const d = document.querySelectorAll('#AUTH-003 details.exchange')[1];"
        " d.querySelector('summary').click(); const pre = d.querySelector('pre.body');"
        " return {open: d.open, height: pre.getBoundingClientRect().height, text: pre.innerText}; })()"
    )
    assert expanded == {"open": True, "height": pytest.approx(expanded["height"]), "text": "forbidden"}
    assert expanded["height"] > 0
    markup = browser.evaluate("document.querySelectorAll('#details img, #details script').length")
    assert markup == 0  # the target's <script>/<img> in the evidence stayed text


def test_printing_opens_every_details(page: tuple[DevTools, Path]) -> None:
    browser, _ = page
    closed = "[...document.querySelectorAll('details')].filter(d => !d.open).length"
    total = browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = false) || 0")
    assert total == 0 and browser.evaluate(closed) > 1
    browser.evaluate("dispatchEvent(new Event('beforeprint'))")  # the page's one inline script, CSP-allowed
    assert browser.evaluate(closed) == 0


def test_the_accepted_failure_is_marked(page: tuple[DevTools, Path]) -> None:
    browser, _ = page
    marks = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#requirements tbody tr')]"
        ".map(r => [r.cells[0].textContent, r.cells[2].textContent.replace(/\\s+/g, ' ').trim()]))"
    )
    assert marks["STATUS-005"] == "failed accepted"
    assert marks["AUTH-003"] == "failed new"


def test_the_area_tables_share_their_columns_and_ids_never_wrap(page: tuple[DevTools, Path]) -> None:
    browser, _ = page
    browser.evaluate("document.querySelectorAll('#requirements details').forEach(d => d.open = true) || 0")
    layout = browser.evaluate(
        "[...document.querySelectorAll('#requirements table')].map(t => [...t.rows[1].cells].map(c => ["
        "Math.round(c.getBoundingClientRect().left), Math.round(c.getBoundingClientRect().width)]))"
    )
    assert len(layout) > 1 and all(columns == layout[0] for columns in layout)
    lines = browser.evaluate(
        "[...document.querySelectorAll('td.id')].map(c => { const r = document.createRange();"
        " r.selectNodeContents(c); return r.getBoundingClientRect().height"
        " / parseFloat(getComputedStyle(c).lineHeight); })"
    )
    assert lines and max(lines) < 1.5  # every requirement ID on one line
    styles = browser.evaluate(
        "[...new Set([...document.querySelectorAll('td.id')].map(c => getComputedStyle(c).whiteSpace))]"
    )
    assert styles == ["nowrap"]  # and stays so in a narrow window


def test_three_faults_render_under_5000_px_readable_without_javascript(
    three_faults: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with loaded(three_faults, tmp_path_factory.mktemp("chromium"), scripts=False) as browser:
        assert browser.evaluate("typeof addEventListener") == "function"  # DevTools still evaluates
        height = browser.evaluate("document.documentElement.scrollHeight")
        listed = browser.evaluate(
            "[...document.querySelectorAll('#failures td.id a')].map(a => [a.textContent,"
            " document.getElementById(a.hash.slice(1)) !== null])"
        )
        text = browser.evaluate("document.getElementById('failures').innerText")
        closed = browser.evaluate("[...document.querySelectorAll('details')].filter(d => !d.open).length")
    assert height < MAX_HEIGHT, f"{height} px tall at {WIDTH} px wide"
    assert [id for id, _ in listed] == ["AUTH-007", "OAUTH-014", "STATUS-005", "ERR-005", "FUZZ-003"]
    assert all(found for _, found in listed)  # each links to its evidence
    assert "Failed requirements (5)" in text
    assert closed > 0  # the evidence is there, collapsed: <details> needs no script to open


def test_a_missing_chromium_fails_in_ci_and_skips_elsewhere() -> None:
    with pytest.raises(pytest.fail.Exception, match="CI=true and chromium is not on PATH"):
        chromium_or_skip(None, {"CI": "true"})
    with pytest.raises(pytest.skip.Exception, match="chromium is not on PATH"):
        chromium_or_skip(None, {})
    assert chromium_or_skip("/opt/chromium", {"CI": "true"}) == "/opt/chromium"
