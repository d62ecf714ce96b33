"""Generated cases kept between runs, under a digest of everything that determines them.

Generating cases (hypothesis over schemathesis's strategies) is about half of a
default run, and with ``derandomize`` the same inputs always give the same cases.
So the cases of one generation mode are stored in the user's cache directory
(``platformdirs``; ``ENROLMENT_CONFORMANCE_CACHE_DIR`` overrides it) under a
digest of: the document schemathesis works from (its ``servers`` aside, which
only say where requests go), the mode, ``--seed``, ``--max-examples``, whether
generation left unsafe path characters out, a digest of the generating code,
and the versions of the suite, schemathesis and hypothesis. A run with the same inputs reads them back instead
of generating them again.

The cache can only cost time, never change a verdict: an entry that is missing,
unreadable, corrupt or written by another user is generated again (and
rewritten, atomically); a cache directory that cannot be written is not used.
Entries are pickles (the cases carry schemathesis's generation metadata, which
``negative_data_rejection`` reads), so they are read only from files the
current user owns and nobody else may write, in a directory only they can enter
(:func:`read_private`, :func:`write_private`: the report template cache,
:mod:`conformance.reports.template_cache`, keeps its compiled code the same way).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import platformdirs

from conformance import __version__

CACHE_DIR_ENV = "ENROLMENT_CONFORMANCE_CACHE_DIR"
FORMAT = 1  # bumped when what an entry holds changes


def cache_dir() -> Path:
    """The suite's cache directory (not created here)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("enrolment-conformance"))


def digest(document: dict[str, Any], **inputs: Any) -> str:
    """The key of the cases generated from document with these inputs (mode, seed, examples ...)."""
    determining = {
        "document": {key: value for key, value in document.items() if key != "servers"},
        "inputs": inputs,
        "versions": [FORMAT, __version__, version("schemathesis"), version("hypothesis")],
    }
    text = json.dumps(determining, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load(key: str) -> list[Any] | None:
    """The entry stored under key, or None when there is none that can be trusted and read."""
    data = read_private(cache_dir() / "cases" / f"{key}.pickle")
    if data is None:
        return None
    try:
        entry = pickle.loads(data)  # a file only this user can write
    except Exception:  # a corrupt or stale entry can fail in any way unpickling can: generate again
        return None
    if not (isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("cases"), list)):
        return None
    return entry["cases"]


def store(key: str, cases: list[Any]) -> None:
    """Store the entry under key, atomically; a cache that cannot be written is skipped."""
    try:
        data = pickle.dumps({"key": key, "cases": cases}, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    write_private(cache_dir() / "cases", f"{key}.pickle", data)


def read_private(path: Path) -> bytes | None:
    """The bytes of a cache file, or None when it is missing, unreadable, or not the current user's alone
    (it or its directory): what it holds is loaded as code."""
    try:
        if not (_private(path.parent) and _private(path)):
            return None
        return path.read_bytes()
    except OSError:
        return None


def write_private(directory: Path, name: str, data: bytes) -> None:
    """Write data to directory/name atomically, the directory created private; a directory that cannot
    be written, or is not private, is skipped."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(directory):
            return
    except OSError:
        return
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
            handle.write(data)
        os.replace(temporary, directory / name)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)  # a full disk leaves no .tmp behind


def _private(path: Path) -> bool:
    """True when path is the current user's and no one else may write to it (or enter, for a directory)."""
    info = path.lstat()
    if info.st_uid != os.getuid() or stat.S_ISLNK(info.st_mode):
        return False
    closed = stat.S_IWGRP | stat.S_IWOTH | (stat.S_IXGRP | stat.S_IXOTH if stat.S_ISDIR(info.st_mode) else 0)
    return not info.st_mode & closed
