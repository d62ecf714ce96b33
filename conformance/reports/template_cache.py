"""Compiled report templates kept between runs: Jinja2's bytecode cache, in the suite's cache directory.

Lexing, parsing and compiling ``report.html.j2`` takes about 90 ms, in every run;
loading its compiled code takes about one. Entries live in ``templates/`` of the
suite's cache directory (:func:`conformance.case_cache.cache_dir`).

Jinja2 itself drops an entry whose template source changed, or that another
Python version wrote. The key adds what else decides the compiled code: the
suite's and Jinja2's versions and the source of the module that configures the
environment (its options and filters), so an upgrade never reads an older
entry. Entries are marshalled code, so they are read only from files the
current user alone may write (:func:`conformance.case_cache.read_private`); an
entry that cannot be read is compiled again, and a cache directory that cannot
be written is not used: the cache can only cost time, never fail a run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

from conformance import __version__, case_cache

DIRECTORY = "templates"  # under the cache directory


class TemplateCache(jinja2.BytecodeCache):
    """A bytecode cache whose entries are keyed on the versions and on the code that configures it."""

    def __init__(self, configured_by: Path) -> None:
        configuration = hashlib.sha256(configured_by.read_bytes()).hexdigest()
        self._salt = f"{__version__}|{jinja2.__version__}|{configuration}"

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        """The key of a template: its name and file, the versions, the configuring code."""
        text = f"{self._salt}|{super().get_cache_key(name, filename)}"
        return hashlib.sha256(text.encode()).hexdigest()

    def load_bytecode(self, bucket: Bucket) -> None:
        data = case_cache.read_private(self._directory() / f"{bucket.key}.cache")
        if data is None:
            return
        try:
            bucket.bytecode_from_string(data)
        except Exception:  # a corrupt entry can fail in any way unpickling its checksum can
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        case_cache.write_private(self._directory(), f"{bucket.key}.cache", bucket.bytecode_to_string())

    @staticmethod
    def _directory() -> Path:
        return case_cache.cache_dir() / DIRECTORY
