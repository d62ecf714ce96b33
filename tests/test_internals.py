"""Each use of a schemathesis or hypothesis internal (conformance.internals) still does its job.

When an upgrade moves or changes one of them, the test named after it fails here, instead of a
run quietly judging differently.
"""

from __future__ import annotations

import pickle
from datetime import timedelta
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis

from conformance import internals
from conformance.config import FixtureEnrolment
from conformance.fuzzing import CHECKS, IGNORED_AUTH, MODES, fuzz_document, load_operation
from conformance.spec import default_spec_path, load_spec

BASE_URL = "http://target.test/rest/v1"
FIXTURE = FixtureEnrolment("0123456789abcdef01234567", "89abcdef0123456789abcdef", "open")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """hypothesis may write its caches under the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def operation() -> schemathesis.APIOperation:
    return load_operation(fuzz_document(load_spec(default_spec_path()), BASE_URL, [FIXTURE]), BASE_URL)


def answer(status: int, **kwargs: object) -> httpx.Response:
    response = httpx.Response(status, request=httpx.Request("GET", BASE_URL), **kwargs)  # type: ignore[arg-type]
    response.elapsed = timedelta(0)
    return response


def negative_case(operation: schemathesis.APIOperation) -> schemathesis.Case:
    cases: list[schemathesis.Case] = []

    @hypothesis.settings(max_examples=1, database=None, derandomize=True)
    @hypothesis.given(operation.as_strategy(generation_mode=MODES["negative"]))
    def collect(case: schemathesis.Case) -> None:
        cases.append(case)

    collect()
    return cases[0]


def test_check_functions_finds_every_check_the_suite_uses() -> None:
    names = tuple(name for name in CHECKS.values() if name != IGNORED_AUTH)
    found = internals.check_functions(names)
    assert list(found) == list(names) and all(callable(check) for check in found.values())
    with pytest.raises(ImportError, match="no_such_check"):
        internals.check_functions(("no_such_check",))


@pytest.mark.parametrize(("status", "body", "adapted"), [(400, b"", True), (404, b"{}", False)])
def test_adapt_to_path_decoder_reads_the_probe_answer(
    operation: schemathesis.APIOperation, status: int, body: bytes, adapted: bool
) -> None:
    probe = answer(status, content=body)
    assert internals.adapt_to_path_decoder(operation, probe) is adapted


def test_documented_media_types_are_read_per_status(operation: schemathesis.APIOperation) -> None:
    response = schemathesis.Response.from_any(answer(404, json={}))
    assert "application/json" in internals.documented_media_types(operation, response)


def test_a_rebuilt_case_keeps_its_data_and_negative_metadata(
    operation: schemathesis.APIOperation,
) -> None:
    case = negative_case(operation)
    parts = pickle.loads(pickle.dumps(internals.case_parts(case)))
    rebuilt = internals.rebuild_case(operation, parts)
    assert (rebuilt.path_parameters, rebuilt.formatted_path) == (case.path_parameters, case.formatted_path)
    assert rebuilt.meta is not None and rebuilt.meta.generation.mode.is_negative
    # negative_data_rejection still judges a rebuilt case: an accepted malformed ID fails it
    accepted = schemathesis.Response.from_any(answer(200, json={}))
    check = internals.check_functions(("negative_data_rejection",))["negative_data_rejection"]
    with pytest.raises(schemathesis.errors.FailureGroup):
        rebuilt.validate_response(accepted, checks=[check])


def test_hypothesis_home_is_where_hypothesis_stores_and_is_restored(tmp_path: Path) -> None:
    from hypothesis.configuration import storage_directory

    before = storage_directory(intent_to_write=False).home_directory
    with internals.hypothesis_home(tmp_path):
        assert storage_directory("x", intent_to_write=False).path == tmp_path / "x"
    assert storage_directory(intent_to_write=False).home_directory == before


@pytest.mark.parametrize(("expression", "valid"), [("AUTH- or ERR-003", True), ("AUTH and (", False)])
def test_keyword_expression_error_parses_as_pytest_does(expression: str, valid: bool) -> None:
    detail = internals.keyword_expression_error(expression)
    assert (detail is None) is valid
    if not valid:
        assert detail and "\n" not in detail
