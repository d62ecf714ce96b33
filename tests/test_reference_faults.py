"""The fault catalogue: it covers the requirements catalogue, and every fault has a hook."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from conformance.reference import faults as faults_module
from conformance.reference.faults import CATALOGUE, FAULTS, UnknownFault, checked
from conformance.reference.mutations import RECORD_FAULTS
from conformance.reference.throttling import THROTTLING

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "conformance" / "reference"
REQUIREMENTS = {
    entry["id"]
    for entry in tomllib.loads((ROOT / "conformance" / "requirements.toml").read_text())["requirement"]
}


def test_fault_names_are_unique_kebab_case() -> None:
    names = [fault.name for fault in CATALOGUE]
    assert len(names) == len(set(names)) == len(FAULTS)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)
    assert all(FAULTS[name].name == name for name in FAULTS)


def test_declared_requirements_exist() -> None:
    declared = {req for fault in CATALOGUE for req in fault.requirements}
    assert declared - REQUIREMENTS == set()


def test_every_requirement_is_declared_by_a_real_fault() -> None:
    declared = {req for fault in CATALOGUE if not fault.benign for req in fault.requirements}
    assert REQUIREMENTS - declared == set()


def test_benign_faults_declare_nothing_and_real_faults_something() -> None:
    for fault in CATALOGUE:
        assert bool(fault.requirements) != fault.benign, fault.name
        assert len(set(fault.requirements)) == len(fault.requirements), fault.name
    assert {f.name for f in CATALOGUE if f.benign} == {
        "extra-fields",
        "offset-dates",
        "no-millis",
        "pretty-json",
        *THROTTLING,
    }
    assert {name for name in THROTTLING if name.startswith("throttled-api-")} == {
        "throttled-api-429",
        "throttled-api-429-no-retry-after",
        "throttled-api-503",
    }
    assert {name.replace("-api-", "-token-") for name in THROTTLING if "-api-" in name} == {
        name for name in THROTTLING if "-token-" in name
    }


def test_descriptions_are_one_line() -> None:
    for fault in CATALOGUE:
        assert fault.description and "\n" not in fault.description, fault.name


def test_every_fault_has_a_hook_in_the_reference_code() -> None:
    code = "\n".join(
        path.read_text() for path in REFERENCE.glob("*.py") if path.name != Path(faults_module.__file__).name
    )
    assert [name for name in FAULTS if f'"{name}"' not in code] == []
    assert set(RECORD_FAULTS) <= set(FAULTS)


def test_unknown_names_are_refused_with_the_valid_ones() -> None:
    assert checked(["pretty-json", "pretty-json"]) == {"pretty-json"}
    with pytest.raises(UnknownFault) as caught:
        checked(["pretty-json", "nope"])
    message = str(caught.value)
    assert "'nope'" in message and "mock-mode" in message and "\n" not in message
