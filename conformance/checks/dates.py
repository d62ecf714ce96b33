"""DATE: the date-times of an enrolment and its eventLog, their form and how they relate.

Form (DATE-001) is strict RFC 3339 ``date-time`` (see conformance.timestamps:
``T``, a zone designator, a real calendar date; leap seconds are rejected).
Every other rule compares instants, so ``+01:00`` and ``Z`` renderings of the
same moment are equal, and uses only the dates that parse: a value DATE-001
reports is left out of the other rules rather than failed twice. An absent or
null optional date makes a rule that needs it hold trivially; a status rule
(DATE-003 to DATE-006) is skipped for an enrolment in another status.

"Now" is the run's start (the ``now`` fixture). The target's clock is not ours,
so every comparison with now allows CLOCK_SKEW in the lenient direction: dates
that record the past may be up to CLOCK_SKEW after now (DATE-010); an overdue
enrolment's dueDate, and an open one's availableDate, may be up to CLOCK_SKEW
after now (DATE-004, DATE-006); a scheduled one's availableDate up to
CLOCK_SKEW before now (DATE-005).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

import pytest

from conformance.checks.status import ABSENT, event_objects, shown
from conformance.expect import CheckFailed, expect_no_findings
from conformance.plugin import EnrolmentRead
from conformance.skips import not_applicable
from conformance.timestamps import InvalidTimestamp, is_later, parse_rfc3339

ENROLMENT_DATES = ("availableDate", "dueDate", "lastCompletedAt", "updatedAt")
EVENT_DATES = ("createdAt", "updatedAt")
CLOCK_SKEW = timedelta(minutes=5)


class Stamp(NamedTuple):
    """A date field that parsed: where it is, the text received, and the instant it names."""

    path: str
    text: str
    instant: datetime

    def __str__(self) -> str:
        return f"{self.path} = {self.text}"


def date_fields(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(path, value) of every date field present and not null, enrolment first, then each event."""
    fields = [(name, body[name]) for name in ENROLMENT_DATES if body.get(name) is not None]
    for index, entry in event_objects(body):
        fields += [
            (f"eventLog[{index}].{name}", entry[name]) for name in EVENT_DATES if entry.get(name) is not None
        ]
    return fields


def stamps(body: dict[str, Any]) -> dict[str, Stamp]:
    """path -> Stamp for every date field that parses (absent, null and unparseable ones are left out)."""
    parsed = {}
    for path, value in date_fields(body):
        try:
            parsed[path] = Stamp(path, value, parse_rfc3339(value))
        except InvalidTimestamp:
            continue
    return parsed


def _body(read: EnrolmentRead) -> dict[str, Any]:
    return read.body or {}


def _require_status(body: dict[str, Any], status: str) -> None:
    if body.get("status") != status:
        not_applicable(
            f"applies to {status} enrolments; this one's status is {shown(body.get('status', ABSENT))}"
        )


def _status_date(read: EnrolmentRead, status: str, name: str, meaning: str) -> Stamp:
    """The date a rule on ``status`` enrolments needs: fails when absent or null, skips when unparseable."""
    body = _body(read)
    _require_status(body, status)
    if body.get(name) is None:
        raise CheckFailed(
            f"status {status}: expected {name} ({meaning}), received {shown(body.get(name, ABSENT))}",
            response=read.response,
        )
    stamp = stamps(body).get(name)
    if stamp is None:
        pytest.skip(f"{name} is not an RFC 3339 date-time (DATE-001 reports it)")
    return stamp


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _skew() -> str:
    return f"{CLOCK_SKEW.seconds // 60} min"


@pytest.mark.requirement(id="DATE-001")
def check_dates_are_rfc3339(enrolment_read: EnrolmentRead) -> None:
    """DATE-001: every date field present is an RFC 3339 date-time with a zone and a real calendar date."""
    bad = []
    for path, value in date_fields(_body(enrolment_read)):
        try:
            parse_rfc3339(value)
        except InvalidTimestamp as exc:
            bad.append(f"{path} = {shown(value)} ({exc})")
    expected = "RFC 3339 date-times such as 2023-08-23T09:09:16.076Z or 2023-08-23T10:09:16+01:00"
    expect_no_findings(bad, expected, enrolment_read.response)


@pytest.mark.requirement(id="DATE-002")
def check_available_not_after_due(enrolment_read: EnrolmentRead) -> None:
    """DATE-002: availableDate is not after dueDate (holds when either is absent)."""
    dates = stamps(_body(enrolment_read))
    available, due = dates.get("availableDate"), dates.get("dueDate")
    if available and due and is_later(available.instant, due.instant):
        raise CheckFailed(
            f"expected availableDate not after dueDate, received {available} after {due}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="DATE-003")
def check_complete_has_completion_before_due(enrolment_read: EnrolmentRead) -> None:
    """DATE-003: a complete enrolment has lastCompletedAt, and it is not after dueDate (if any)."""
    completed = _status_date(enrolment_read, "complete", "lastCompletedAt", "the recorded completion")
    due = stamps(_body(enrolment_read)).get("dueDate")
    if due and is_later(completed.instant, due.instant):
        raise CheckFailed(
            f"status complete: expected the completion not after the due date, "
            f"received {completed} after {due}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="DATE-004")
def check_overdue_is_past_due(enrolment_read: EnrolmentRead, now: datetime) -> None:
    """DATE-004: an overdue enrolment has a dueDate, not after now + CLOCK_SKEW."""
    due = _status_date(enrolment_read, "overdue", "dueDate", "the due date it has exceeded")
    if is_later(due.instant, now, tolerance=CLOCK_SKEW):
        raise CheckFailed(
            f"status overdue: expected a dueDate in the past (not after now + {_skew()}, "
            f"{_at(now + CLOCK_SKEW)}), received {due}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="DATE-005")
def check_scheduled_becomes_available_later(
    enrolment_read: EnrolmentRead, now: datetime, note: Callable[[str], None]
) -> None:
    """DATE-005: a scheduled enrolment's availableDate, if it has one, is after now - CLOCK_SKEW."""
    body = _body(enrolment_read)
    _require_status(body, "scheduled")
    if body.get("availableDate") is None:
        note(
            "scheduled with no availableDate (allowed: the contract does not require one): nothing to compare"
        )
        return
    available = _status_date(enrolment_read, "scheduled", "availableDate", "the date it will become open")
    if is_later(now, available.instant, tolerance=CLOCK_SKEW):
        raise CheckFailed(
            f"status scheduled: expected an availableDate still ahead (after now - {_skew()}, "
            f"{_at(now - CLOCK_SKEW)}), received {available}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="DATE-006")
def check_open_is_available(enrolment_read: EnrolmentRead, now: datetime) -> None:
    """DATE-006: an open enrolment has no availableDate, or one not after now + CLOCK_SKEW."""
    body = _body(enrolment_read)
    _require_status(body, "open")
    available = stamps(body).get("availableDate")
    if available is None and body.get("availableDate") is not None:
        pytest.skip("availableDate is not an RFC 3339 date-time (DATE-001 reports it)")
    if available and is_later(available.instant, now, tolerance=CLOCK_SKEW):
        raise CheckFailed(
            f"status open: expected no availableDate, or one not after now + {_skew()} "
            f"({_at(now + CLOCK_SKEW)}), received {available}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="DATE-007")
def check_events_in_time_order(enrolment_read: EnrolmentRead) -> None:
    """DATE-007: eventLog createdAt never decreases from one entry to the next (array order)."""
    created = [stamp for path, stamp in stamps(_body(enrolment_read)).items() if path.endswith("].createdAt")]
    backwards = [
        f"{later} is before {earlier}"
        for earlier, later in pairwise(created)
        if is_later(earlier.instant, later.instant)
    ]
    expected = "eventLog entries oldest first (createdAt never decreasing)"
    expect_no_findings(backwards, expected, enrolment_read.response)


@pytest.mark.requirement(id="DATE-008")
def check_event_created_not_after_updated(enrolment_read: EnrolmentRead) -> None:
    """DATE-008: an eventLog entry's createdAt is not after its updatedAt (when it has one)."""
    body = _body(enrolment_read)
    dates = stamps(body)
    bad = []
    for index, _ in event_objects(body):
        created, updated = (dates.get(f"eventLog[{index}].{name}") for name in EVENT_DATES)
        if created and updated and is_later(created.instant, updated.instant):
            bad.append(f"{created} is after {updated}")
    expect_no_findings(bad, "each event's createdAt not after its updatedAt", enrolment_read.response)


@pytest.mark.requirement(id="DATE-009")
def check_enrolment_updated_after_events(enrolment_read: EnrolmentRead) -> None:
    """DATE-009: the enrolment's updatedAt is not before any event's createdAt or updatedAt."""
    dates = stamps(_body(enrolment_read))
    updated = dates.get("updatedAt")
    if updated is None:
        pytest.skip("no RFC 3339 updatedAt to compare (SCHEMA-001 and DATE-001 report it)")
    events = [stamp for path, stamp in dates.items() if path.startswith("eventLog[")]
    if not events:
        return
    latest = max(events, key=lambda stamp: stamp.instant)
    if is_later(latest.instant, updated.instant):
        raise CheckFailed(
            f"expected the enrolment's updatedAt not before its latest event, received {updated} "
            f"before {latest}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="DATE-010")
def check_past_dates_not_in_future(enrolment_read: EnrolmentRead, now: datetime) -> None:
    """DATE-010: updatedAt, lastCompletedAt and event createdAt/updatedAt are not after now + CLOCK_SKEW."""
    future = [
        str(stamp)
        for path, stamp in stamps(_body(enrolment_read)).items()
        if path in ("updatedAt", "lastCompletedAt") or path.startswith("eventLog[")
        if is_later(stamp.instant, now, tolerance=CLOCK_SKEW)
    ]
    expected = f"dates that record the past to be no later than now + {_skew()} ({_at(now + CLOCK_SKEW)})"
    expect_no_findings(future, expected, enrolment_read.response)
