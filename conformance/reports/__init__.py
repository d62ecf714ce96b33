"""The three reports of a run: junit.xml, report.html and results.json, all rendered from a RunResult."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conformance.reports.html import render_html
from conformance.reports.junit import render_junit
from conformance.reports.statement import conformance_statement
from conformance.results import RunResult

JSON_NAME, JUNIT_NAME, HTML_NAME = "results.json", "junit.xml", "report.html"


def render_json(result: RunResult) -> str:
    """The results.json document: the conformance statement first, then the whole result."""
    document = {"statement": conformance_statement(result), **result.to_dict()}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_reports(result: RunResult, directory: Path) -> dict[str, Path]:
    """Write the three reports into directory (created if needed) and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in (JUNIT_NAME, HTML_NAME, JSON_NAME)}
    results_json = render_json(result)
    paths[JSON_NAME].write_text(results_json, encoding="utf-8")
    digest = hashlib.sha256(results_json.encode("utf-8")).hexdigest()
    paths[JUNIT_NAME].write_text(render_junit(result), encoding="utf-8")
    paths[HTML_NAME].write_text(render_html(result, results_sha256=digest), encoding="utf-8")
    return paths


def results_sha256(path: Path) -> str:
    """The SHA-256 of a saved results.json, as printed at the end of a run."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
