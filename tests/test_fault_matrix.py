"""The fault matrix: proof that every check can fail, and that benign variants raise no alarm.

Each reference-target fault is switched on in turn and the whole suite is run
against it (the real CLI, in a subprocess). A fault must make every requirement
it declares fail; a benign variant must pass with zero failures. The table of
fault -> requirements that caught it is printed at the end of the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.catalogue import load_catalogue
from conformance.reference.faults import FAULTS

CLEAN = "(clean)"
MAX_EXAMPLES = "25"  # FUZZ faults trigger on every malformed ID, so a short generation finds them
WORKERS = 2


@dataclass(frozen=True)
class MatrixRow:
    """One run of the suite against the reference target with one fault switched on."""

    fault: str
    exit_code: int
    verdict: str
    failed: frozenset[str]
    errors: frozenset[str]
    stderr: str


def _run_with(fault: str, reports: Path) -> MatrixRow:
    args = [
        sys.executable,
        "-m",
        "conformance",
        "run",
        "--reports",
        str(reports),
        "--max-examples",
        MAX_EXAMPLES,
    ]
    args.append("--allow-unsafe-methods")  # our own loopback target: the 405 checks may send writes
    if fault != CLEAN:
        args += ["--fault", fault]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    result = json.loads((reports / "results.json").read_text())
    outcomes = {r["id"]: r["outcome"] for r in result["requirements"]}
    return MatrixRow(
        fault=fault,
        exit_code=proc.returncode,
        verdict=result["verdict"],
        failed=frozenset(i for i, o in outcomes.items() if o == "failed"),
        errors=frozenset(i for i, o in outcomes.items() if o == "error"),
        stderr=proc.stderr.strip(),
    )


@pytest.fixture(scope="module")
def matrix(request: pytest.FixtureRequest) -> dict[str, MatrixRow]:
    """Run the suite once per fault (and once clean), two runs at a time."""
    names = [CLEAN, *FAULTS]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(WORKERS) as pool:
        rows = pool.map(lambda name: _run_with(name, Path(tmp) / name), names)
        table = {row.fault: row for row in rows}
    request.config.pluginmanager.register(MatrixTable(table), "fault-matrix-table")
    return table


class MatrixTable:
    """A tiny plugin that prints the matrix in the terminal summary (run this module without xdist)."""

    def __init__(self, rows: dict[str, MatrixRow]) -> None:
        self.rows = rows

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.section("fault matrix: fault -> requirements that caught it")
        width = max(len(name) for name in self.rows)
        terminalreporter.write_line(f"{'fault'.ljust(width)}  verdict  caught by")
        for name, row in self.rows.items():
            caught = ", ".join(sorted(row.failed)) or "-"
            terminalreporter.write_line(f"{name.ljust(width)}  {row.verdict:7}  {caught}")


def test_clean_target_passes_with_zero_failures(matrix: dict[str, MatrixRow]) -> None:
    row = matrix[CLEAN]
    assert (row.verdict, row.exit_code, row.failed, row.errors) == ("pass", 0, frozenset(), frozenset()), (
        row.stderr
    )


@pytest.mark.parametrize("name", [f.name for f in FAULTS.values() if f.benign])
def test_benign_variant_passes(matrix: dict[str, MatrixRow], name: str) -> None:
    row = matrix[name]
    assert (row.verdict, row.failed, row.errors) == ("pass", frozenset(), frozenset()), row.stderr


@pytest.mark.parametrize("name", [f.name for f in FAULTS.values() if not f.benign])
def test_fault_is_caught_by_its_declared_requirements(matrix: dict[str, MatrixRow], name: str) -> None:
    row, fault = matrix[name], FAULTS[name]
    missed = set(fault.requirements) - row.failed
    assert not missed, (
        f"{name}: declared {sorted(fault.requirements)} but these did not fail: {sorted(missed)}"
    )
    catalogue = load_catalogue()
    if any(catalogue[req].level == "MUST" for req in fault.requirements):
        assert (row.verdict, row.exit_code) == ("fail", 1), row.stderr
    else:  # a SHOULD-only fault is a warning: the run still passes without --strict
        assert (row.verdict, row.exit_code) == ("pass", 0), row.stderr


def test_every_requirement_is_proven_by_some_fault() -> None:
    declared = {req for fault in FAULTS.values() for req in fault.requirements}
    assert set(load_catalogue()) - declared == set()
