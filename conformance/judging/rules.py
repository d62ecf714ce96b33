"""The judgements applied to recorded enrolment exchanges: the checks' own, run over what was recorded.

The body checks (``checks/schema.py``, ``status.py``, ``dates.py``) send nothing:
they judge the fixture read the plugin hands them. Every one whose fixtures a
recording can provide (:data:`RECORDED_FIXTURES`) is found by its signature and
run on every recorded 200 read, with ``now`` the moment the exchange was
recorded; a parametrized one once per parameter set of its own
``pytest.mark.parametrize``, under the requirement that set is marked with.
Request-sending checks lend their judgement functions instead
(``auth.judge_refused``, ``errors.judge_not_found``, ``errors.judge_error_body``,
``auth.expect_challenge``, ``http.expect_no_redirect`` ...), applied where what was
sent (see :mod:`conformance.judging.sent`) makes them rule the answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any

import httpx
import pytest

from conformance import jsonbody
from conformance.checks import dates, schema, status
from conformance.checks._support import ERROR_REQUESTS
from conformance.checks.auth import expect_challenge
from conformance.checks.errors import judge_error_body
from conformance.checks.http import expect_no_redirect
from conformance.config import FixtureEnrolment, Settings
from conformance.expect import CheckFailed, expect_no_server_error
from conformance.judging.sent import (
    MALFORMED_ID_REQUIREMENTS,
    TAGGED,
    UNAUTHENTICATED,
    EnrolmentPath,
    expectation,
)
from conformance.plugin import EnrolmentRead
from conformance.results import CheckResult
from conformance.skips import classify

BODY_CHECK_MODULES = (schema, status, dates)
# The fixtures of a check that a recording provides; a check asking for any other one sends requests.
RECORDED_FIXTURES = frozenset({"enrolment_read", "enrolment_response", "spec", "now", "note"})
# The requirements the exchange-level judgements below are applied for.
EXCHANGE_REQUIREMENTS = frozenset({"AUTH-007", "ERR-005", "HTTP-003", "FUZZ-001"})


@dataclass(frozen=True)
class BodyCheck:
    """A check that judges one fixture read and sends nothing, with its parameters and requirement."""

    check: Callable[..., None]
    requirement: str
    params: dict[str, Any]
    param_id: str = ""  # the parameter set's id, as pytest names it

    def fixtures(self) -> set[str]:
        return set(inspect.signature(self.check).parameters) - set(self.params)

    def name(self, where: str) -> str:
        return f"{self.check.__name__}[{where}{'-' + self.param_id if self.param_id else ''}]"

    def run(self, values: dict[str, Any], note: Callable[[str], None]) -> None:
        """Call the check with the recorded values its parameters name."""
        given = {**values, "note": note, **self.params}
        self.check(**{name: given[name] for name in inspect.signature(self.check).parameters})


@dataclass
class Seen:
    """One recorded enrolment exchange with an answer: where it is, what it asked for, when."""

    where: str  # FILE#INDEX
    path: EnrolmentPath
    request: httpx.Request
    response: httpx.Response
    at: datetime
    tags: dict[str, str]

    @property
    def what(self) -> str:
        return f"the recorded GET of {self.path.assignment_id}/{self.path.enrolment_id} ({self.where})"


@cache
def body_checks() -> tuple[BodyCheck, ...]:
    """Every check of the body modules whose fixtures a recording provides, once per parameter set."""
    found = []
    for module in BODY_CHECK_MODULES:
        for name, check in vars(module).items():
            if not name.startswith("check_") or not callable(check):
                continue
            sets = parameter_sets(check)
            parameters = {name for _, _, params in sets for name in params}
            if not set(inspect.signature(check).parameters) <= RECORDED_FIXTURES | parameters:
                continue
            found += [BodyCheck(check, req, params, param_id) for req, param_id, params in sets]
    return tuple(found)


def parameter_sets(check: Callable[..., None]) -> list[tuple[str, str, dict[str, Any]]]:
    """(requirement, id, parameters) of each parameter set of the check's parametrize mark (one at most):
    the requirement of the set's mark, else the check's; the id the set's, else its values joined with
    "-" (pytest's for strings). An unparametrized check has one set, of no parameters."""
    marks = getattr(check, "pytestmark", [])
    parametrize = [mark for mark in marks if mark.name == "parametrize"]
    if not parametrize:
        return [(_requirement_of(marks), "", {})]
    (mark,) = parametrize
    names, values = mark.args[0], mark.args[1]
    names = [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)
    sets = []
    for value in values:
        param = (
            value
            if isinstance(value, _ParameterSet)
            else pytest.param(*(value if len(names) > 1 else [value]))
        )
        requirement = _requirement_of([*param.marks, *marks])
        param_id = param.id or "-".join(map(str, param.values))
        sets.append((requirement, param_id, dict(zip(names, param.values, strict=True))))
    return sets


_ParameterSet = type(pytest.param())  # what pytest.param gives (pytest does not export the class)


def _requirement_of(marks: Iterable[Any]) -> str:
    return next(mark.kwargs["id"] for mark in marks if mark.name == "requirement")


def judgeable() -> frozenset[str]:
    """Every requirement some judgement here can decide from recorded traffic."""
    return frozenset(
        {check.requirement for check in body_checks()}
        | {"STATUS-008"}
        | set(TAGGED)
        | {requirement for requirement, _ in UNAUTHENTICATED.values()}
        | set(MALFORMED_ID_REQUIREMENTS.values())
        | EXCHANGE_REQUIREMENTS
    )


def judged(name: str, requirement: str, judge: Callable[[Callable[[str], None]], None]) -> CheckResult:
    """Run one judgement (given a note sink) and say what it found, as a check instance of the run."""
    notes: list[str] = []
    try:
        judge(notes.append)
    except CheckFailed as failure:
        evidence = [failure.exchange] if failure.exchange is not None else []
        return CheckResult(name, requirement, "failed", str(failure), exchanges=evidence, notes=notes)
    except pytest.skip.Exception as skip:
        reason = str(skip.msg)
        kind, needs = classify(reason)
        outcome = "not_applicable" if kind == "not_applicable" else "skipped"
        return CheckResult(name, requirement, outcome, reason, notes=notes, needs=needs)
    except Exception as exc:  # a judgement that breaks on odd input is an error of the suite, not a finding
        return CheckResult(
            name, requirement, "error", f"the check itself broke ({exc!r}); please report this"
        )
    return CheckResult(name, requirement, "passed", notes=notes)


def exchange_results(
    seen: Seen, read: EnrolmentRead | None, settings: Settings | None, spec: dict[str, Any]
) -> Iterator[CheckResult]:
    """Every judgement that rules this exchange: its status for what was sent, its shape, its body
    (read: the exchange as a fixture read, see enrolment_read; None unless it is a 200)."""
    response, where = seen.response, seen.where
    rule = expectation(seen.request, seen.path, seen.tags, settings)
    if rule is not None:
        what = f"{seen.what}, sent with {rule.sent}"
        yield judged(f"expected_status[{where}]", rule.requirement, lambda _: rule.judge(response, what))
    elif response.status_code >= 500 or seen.tags.get("requirement", "").startswith("FUZZ"):
        yield judged(
            f"no_server_error[{where}]", "FUZZ-001", lambda _: expect_no_server_error(response, seen.what)
        )
    yield judged(f"no_redirect[{where}]", "HTTP-003", lambda _: expect_no_redirect(response, seen.what))
    if response.status_code == 401:
        yield judged(f"challenge[{where}]", "AUTH-007", lambda _: expect_challenge(response, seen.what))
    if response.status_code in ERROR_REQUESTS:
        yield judged(f"error_body[{where}]", "ERR-005", lambda _: judge_error_body(response, seen.what))
    if read is not None:
        yield from body_results(read, seen, spec)


def enrolment_read(seen: Seen, settings: Settings | None) -> EnrolmentRead | None:
    """A 200 exchange as the fixture read the body checks judge (its expected status from --config)."""
    if seen.response.status_code != 200:
        return None
    ids = (seen.path.assignment_id, seen.path.enrolment_id)
    configured = (
        [f for f in settings.fixtures if (f.assignment_id, f.enrolment_id) == ids] if settings else []
    )
    fixture = configured[0] if configured else FixtureEnrolment(*ids)
    try:
        body = jsonbody.response_json(seen.response)
    except ValueError:
        body = None
    return EnrolmentRead(fixture, seen.response, body if isinstance(body, dict) else None)


def body_results(read: EnrolmentRead, seen: Seen, spec: dict[str, Any]) -> Iterator[CheckResult]:
    """The body checks over one recorded 200 read (those that need its JSON body only when it has one)."""
    values = {"enrolment_read": read, "enrolment_response": read.response, "spec": spec, "now": seen.at}
    for body_check in body_checks():
        if "enrolment_read" in body_check.fixtures() and read.body is None:
            continue  # SCHEMA-001 and SCHEMA-004 say what the body is instead
        yield judged(body_check.name(seen.where), body_check.requirement, partial(body_check.run, values))


def coverage_result(reads: list[EnrolmentRead]) -> CheckResult:
    """STATUS-008 over every distinct enrolment the recordings read with 200."""
    return judged(
        "check_fixtures_cover_every_status[recorded]",
        "STATUS-008",
        lambda _: status.check_fixtures_cover_every_status(reads),
    )
