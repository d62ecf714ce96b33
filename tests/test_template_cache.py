"""The report template is compiled once and its code kept, but never read back when it may be stale or
someone else may have written it, and a cache that cannot be written costs nothing but time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
from jinja2.bccache import bc_magic
from test_reports import DIGEST, a_result

from conformance.case_cache import CACHE_DIR_ENV
from conformance.reports import html as html_report
from conformance.reports import template_cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache directory of the test's own, and a template environment made afresh, as in a new run."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    html_report._environment.cache_clear()
    yield tmp_path / "cache" / template_cache.DIRECTORY
    html_report._environment.cache_clear()


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates compiled from source."""
    names: list[str] = []
    compile_source = jinja2.Environment.compile

    def counted(self: jinja2.Environment, source: str, name: str | None = None, *args: object) -> object:
        names.append(name or "")
        return compile_source(self, source, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    return names


def a_new_run() -> str:
    """The report as a new process renders it: the environment (and its cache) made again."""
    html_report._environment.cache_clear()
    return html_report.render_html(a_result(), results_sha256=DIGEST)


def test_a_second_run_reads_the_compiled_template(cache: Path, compiled: list[str]) -> None:
    first = a_new_run()
    assert len(list(cache.glob("*.cache"))) == 1
    assert a_new_run() == first
    assert compiled == [html_report.TEMPLATE]  # the first run only


def test_an_entry_of_another_suite_version_is_not_read(
    cache: Path, compiled: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = a_new_run()
    monkeypatch.setattr(template_cache, "__version__", "99.0.0")
    assert a_new_run() == first
    assert compiled == [html_report.TEMPLATE] * 2
    assert len(list(cache.glob("*.cache"))) == 2


def test_an_entry_others_may_write_or_a_corrupt_one_is_compiled_anew(
    cache: Path, compiled: list[str]
) -> None:
    first = a_new_run()
    (entry,) = cache.glob("*.cache")
    entry.chmod(0o666)
    assert a_new_run() == first
    entry.write_bytes(bc_magic + b"\x80 not a pickle")  # the right header, then garbage
    entry.chmod(0o600)
    assert a_new_run() == first
    assert compiled == [html_report.TEMPLATE] * 3


def test_a_cache_directory_that_cannot_be_made_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: list[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "cache"))
    try:
        assert a_new_run() == a_new_run()
    finally:
        html_report._environment.cache_clear()
    assert compiled == [html_report.TEMPLATE] * 2
