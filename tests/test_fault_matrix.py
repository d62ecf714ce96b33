"""The fault matrix: proof that every check can fail, and that benign variants raise no alarm.

One reference target runs for the whole module (``matrix_target.py``, a child
process) and each fault is switched on in turn; the suite runs in this process
(``runner.execute``, the same run the CLI makes). The clean target and every
benign variant get a full run, which must pass with no failure and no error:
they prove there are no false alarms. A fault gets a run of the checks of the
requirements it declares (an exact selection, as ``--only``), every one of which must fail; a selection
never ends better than ``incomplete``, so the verdict asserted is ``fail`` when
a declared requirement is a MUST, and anything but ``fail`` otherwise (a SHOULD
is a warning). The table of fault -> requirements that caught it is printed at
the end of the test session. The catalogue's own consistency is checked here
too. (The verdict -> exit code mapping is tests/test_run.py's.)
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe

import pytest

import conformance.checks
from conformance.catalogue import load_catalogue
from conformance.client import ClientLimits
from conformance.config import Credentials, FixtureEnrolment, Settings, Target
from conformance.reference.data import TENANT_A, TENANT_B
from conformance.reference.faults import CATALOGUE, FAULTS, UnknownFault, checked
from conformance.reference.mutations import RECORD_FAULTS
from conformance.reference.server import SECRET_ENVS, Endpoints, Fixtures
from conformance.reference.throttling import THROTTLING
from conformance.runner import CHECKS_PACKAGE, RunOptions, execute
from conformance.selection import Selection

CLEAN = "(clean)"
MAX_EXAMPLES = 25  # FUZZ faults trigger on every malformed ID, so a short generation finds them
TARGET = Path(__file__).with_name("matrix_target.py")


@dataclass(frozen=True)
class MatrixRow:
    """One run of the suite against the reference target with one fault switched on."""

    fault: str
    verdict: str
    failed: frozenset[str]
    errors: frozenset[str]
    reason: str


class SwitchedTarget:
    """The matrix's reference target (a child process): its endpoints, its secrets, and switch()."""

    def __init__(self) -> None:
        self.secrets = {tenant: token_urlsafe(24) for tenant in SECRET_ENVS}
        environ = {SECRET_ENVS[tenant]: secret for tenant, secret in self.secrets.items()}
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            **environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
        }
        self.process = subprocess.Popen(
            [sys.executable, str(TARGET)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.endpoints = Endpoints(**json.loads(self.process.stdout.readline()))

    def switch(self, faults: tuple[str, ...]) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(list(faults)) + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)

    def settings(self, faults: tuple[str, ...], only: Selection | None) -> Settings:
        fixtures = Fixtures.of(faults)
        return Settings(
            target=Target(
                self.endpoints.base_url, self.endpoints.token_url, self.endpoints.webhooks_token_url
            ),
            tenant=Credentials(TENANT_A, self.secrets[TENANT_A], SECRET_ENVS[TENANT_A]),
            other_tenant=Credentials(TENANT_B, self.secrets[TENANT_B], SECRET_ENVS[TENANT_B]),
            fixtures=tuple(FixtureEnrolment(*fixture) for fixture in fixtures.tenant),
            other_tenant_fixtures=tuple(
                FixtureEnrolment(f.assignment_id, f.enrolment_id) for f in fixtures.other_tenant
            ),
            max_examples=MAX_EXAMPLES,
            reference=True,
            faults=faults,
            only=only,
        )


def check_modules() -> dict[str, str]:
    """requirement ID -> the check module whose checks are marked with it (read from the marks)."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(conformance.checks.__path__):
        module = importlib.import_module(f"{CHECKS_PACKAGE}.{info.name}")
        for name, check in vars(module).items():
            marks = getattr(check, "pytestmark", []) if name.startswith("check_") else []
            for mark in marks:
                params = mark.args[1] if mark.name == "parametrize" and len(mark.args) > 1 else ()
                for requirement in [mark, *(m for p in params for m in getattr(p, "marks", ()))]:
                    if requirement.name == "requirement":
                        found[requirement.kwargs["id"]] = module.__name__
    return found


CHECK_MODULES = check_modules()


def _run_with(target: SwitchedTarget, name: str) -> MatrixRow:
    """A full run for the clean target and benign variants. For a fault, a run of its declared
    requirements' checks (an exact selection), collected from their module alone when they share one."""
    fault = FAULTS.get(name)
    faults = (name,) if fault else ()
    declared = fault.requirements if fault else ()  # none for the clean target and benign variants
    only = Selection(frozenset(declared), f"the requirements {name} declares") if declared else None
    modules = {CHECK_MODULES.get(requirement, CHECKS_PACKAGE) for requirement in declared}
    package = modules.pop() if len(modules) == 1 else CHECKS_PACKAGE
    target.switch(faults)
    options = RunOptions(
        limits=ClientLimits(max_requests=None),  # a reference target: backed off from briefly (client_limits)
        allow_unsafe_methods=True,
        checks_package=package,
    )
    result = execute(target.settings(faults, only), options)
    outcomes = {r.id: r.outcome for r in result.requirements}
    return MatrixRow(
        fault=name,
        verdict=result.verdict,
        failed=frozenset(i for i, o in outcomes.items() if o == "failed"),
        errors=frozenset(i for i, o in outcomes.items() if o == "error"),
        reason=result.verdict_reason or "",
    )


@pytest.fixture(scope="module")
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, MatrixRow]]:
    """Run the suite once per fault (and once clean) against one long-lived target."""
    target = SwitchedTarget()
    try:
        table = {name: _run_with(target, name) for name in [CLEAN, *FAULTS]}
    finally:
        target.close()
    request.config.pluginmanager.register(MatrixTable(table), "fault-matrix-table")
    yield table


class MatrixTable:
    """A tiny plugin that prints the matrix in the terminal summary (run this module without xdist)."""

    def __init__(self, rows: dict[str, MatrixRow]) -> None:
        self.rows = rows

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.section("fault matrix: fault -> requirements that caught it")
        width = max(len(name) for name in self.rows)
        terminalreporter.write_line(f"{'fault'.ljust(width)}  verdict     caught by")
        for name, row in self.rows.items():
            caught = ", ".join(sorted(row.failed)) or "-"
            terminalreporter.write_line(f"{name.ljust(width)}  {row.verdict:10}  {caught}")


def test_clean_target_passes_with_zero_failures(matrix: dict[str, MatrixRow]) -> None:
    row = matrix[CLEAN]
    assert (row.verdict, row.failed, row.errors) == ("pass", frozenset(), frozenset()), row.reason


@pytest.mark.parametrize("name", [f.name for f in FAULTS.values() if f.benign])
def test_benign_variant_passes(matrix: dict[str, MatrixRow], name: str) -> None:
    row = matrix[name]
    assert (row.verdict, row.failed, row.errors) == ("pass", frozenset(), frozenset()), row.reason


@pytest.mark.parametrize("name", [f.name for f in FAULTS.values() if not f.benign])
def test_fault_is_caught_by_its_declared_requirements(matrix: dict[str, MatrixRow], name: str) -> None:
    row, fault = matrix[name], FAULTS[name]
    missed = set(fault.requirements) - row.failed
    assert not missed, (
        f"{name}: declared {sorted(fault.requirements)} but these did not fail: {sorted(missed)}"
    )
    catalogue = load_catalogue()
    if any(catalogue[req].level == "MUST" for req in fault.requirements):
        assert row.verdict == "fail", row.reason
    else:  # a SHOULD-only fault is a warning: the run does not fail without --strict
        assert row.verdict != "fail", row.reason


# --- the fault catalogue itself ---------------------------------------------------------------


def test_every_requirement_is_proven_by_a_real_fault() -> None:
    declared = {req for fault in CATALOGUE if not fault.benign for req in fault.requirements}
    assert set(load_catalogue()) - declared == set()


def test_every_requirement_has_a_check_module() -> None:
    assert set(load_catalogue()) - set(CHECK_MODULES) == set()


def test_declared_requirements_exist() -> None:
    declared = {req for fault in CATALOGUE for req in fault.requirements}
    assert declared - set(load_catalogue()) == set()


def test_fault_names_are_unique_kebab_case() -> None:
    names = [fault.name for fault in CATALOGUE]
    assert len(names) == len(set(names)) == len(FAULTS)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)
    assert all(FAULTS[name].name == name for name in FAULTS)
    assert set(RECORD_FAULTS) <= set(FAULTS)


def test_benign_faults_declare_nothing_and_real_faults_something() -> None:
    for fault in CATALOGUE:
        assert bool(fault.requirements) != fault.benign, fault.name
        assert len(set(fault.requirements)) == len(fault.requirements), fault.name
        assert fault.description and "\n" not in fault.description, fault.name
    assert {f.name for f in CATALOGUE if f.benign} == {
        "extra-fields",
        "offset-dates",
        "no-millis",
        "pretty-json",
        *THROTTLING,
    }
    # throttling: 429 with and without Retry-After, 503 with it, each on the API and the token endpoint
    assert {name for name in THROTTLING if name.startswith("throttled-api-")} == {
        "throttled-api-429",
        "throttled-api-429-no-retry-after",
        "throttled-api-503",
    }
    assert {name.replace("-api-", "-token-") for name in THROTTLING if "-api-" in name} == {
        name for name in THROTTLING if "-token-" in name
    }


def test_unknown_names_are_refused_with_the_valid_ones() -> None:
    assert checked(["pretty-json", "pretty-json"]) == {"pretty-json"}
    with pytest.raises(UnknownFault) as caught:
        checked(["pretty-json", "nope"])
    message = str(caught.value)
    assert "'nope'" in message and "mock-mode" in message and "\n" not in message
