"""The command's entry point pauses the garbage collector for the start-up imports (conformance.entry)."""

from __future__ import annotations

import gc
import subprocess
import sys

from conformance.cli import _startup_done


def test_the_collector_resumes_once_the_imports_are_done_with_their_objects_frozen() -> None:
    gc.disable()
    try:
        _startup_done()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()


def test_a_collector_left_running_is_left_alone() -> None:
    before = gc.get_freeze_count()
    _startup_done()  # the suite used as a library, or from tests: nothing frozen
    assert gc.isenabled() and gc.get_freeze_count() == before


def test_the_command_starts_with_the_collector_paused() -> None:
    probe = (
        "import gc, conformance.cli as cli; "
        "cli.main = lambda: print(gc.isenabled()) or 0; "
        "from conformance.entry import main; main()"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
