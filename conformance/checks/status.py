"""STATUS: the enrolment status and the status history its eventLog tells.

Values are compared exactly (the statuses are lowercase and case-sensitive).
The latest event is the last entry in array order: the eventLog lists the
oldest event first, and DATE-007 checks that the entries are in time order.
Missing fields and entries that are not objects are SCHEMA-001's to report;
the chain checks here pass over them rather than fail twice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.config import STATUSES
from conformance.expect import CheckFailed, expect_no_findings
from conformance.plugin import EnrolmentRead
from conformance.skips import not_applicable

UNASSIGNED = "unassigned"
HELD_STATUSES = tuple(status for status in STATUSES if status != UNASSIGNED)
EVENT_STATUS_FIELDS = ("previousStatus", "newStatus")
ABSENT = object()  # a field that is not in the body at all (unlike null)


def shown(value: object, limit: int = 80) -> str:
    """A JSON value as it appeared in the body (strings quoted, so case and spaces show), shortened."""
    if value is ABSENT:
        return "no such field"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def event_log(body: dict[str, Any]) -> list[Any]:
    """The eventLog entries, or none when eventLog is absent or not an array."""
    events = body.get("eventLog")
    return events if isinstance(events, list) else []


def event_objects(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(index, entry) for every eventLog entry that is a JSON object."""
    return [(index, entry) for index, entry in enumerate(event_log(body)) if isinstance(entry, dict)]


@pytest.mark.requirement(id="STATUS-001")
def check_status_is_a_known_value(enrolment_read: EnrolmentRead) -> None:
    """STATUS-001: status is exactly one of archived, complete, open, overdue, scheduled, unassigned."""
    status = (enrolment_read.body or {}).get("status", ABSENT)
    if status not in STATUSES:
        raise CheckFailed(
            f"status: expected exactly one of {', '.join(STATUSES)} (lowercase), received {shown(status)}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="STATUS-002")
def check_event_statuses_are_known_values(enrolment_read: EnrolmentRead) -> None:
    """STATUS-002: every eventLog previousStatus and newStatus is exactly one of the six status values."""
    bad = [
        f"eventLog[{index}].{field} = {shown(entry.get(field, ABSENT))}"
        for index, entry in event_objects(enrolment_read.body or {})
        for field in EVENT_STATUS_FIELDS
        if entry.get(field, ABSENT) not in STATUSES
    ]
    expected = f"every previousStatus and newStatus to be exactly one of {', '.join(STATUSES)}"
    expect_no_findings(bad, expected, enrolment_read.response)


@pytest.mark.requirement(id="STATUS-003")
def check_unassigned_is_never_current(enrolment_read: EnrolmentRead) -> None:
    """STATUS-003: the current status is never unassigned (that is only ever a previousStatus)."""
    if (enrolment_read.body or {}).get("status") == UNASSIGNED:
        raise CheckFailed(
            f"status: expected one of {', '.join(HELD_STATUSES)} (unassigned is only ever a previousStatus), "
            'received "unassigned"',
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="STATUS-004")
def check_first_event_comes_from_unassigned(enrolment_read: EnrolmentRead) -> None:
    """STATUS-004: the eventLog has a first entry (the creation event), with previousStatus unassigned."""
    events = (enrolment_read.body or {}).get("eventLog", ABSENT)
    if not isinstance(events, list) or not events:
        raise CheckFailed(
            f"eventLog: expected at least one eventLog entry (the creation event), received {shown(events)}",
            response=enrolment_read.response,
        )
    first = events[0]
    if not isinstance(first, dict):
        received = f"an entry that is not an object: {shown(first)}"
    elif first.get("previousStatus", ABSENT) != UNASSIGNED:
        received = shown(first.get("previousStatus", ABSENT))
    else:
        return
    raise CheckFailed(
        f'eventLog[0].previousStatus: expected "unassigned" (the creation event), received {received}',
        response=enrolment_read.response,
    )


@pytest.mark.requirement(id="STATUS-005")
def check_event_chain_is_continuous(enrolment_read: EnrolmentRead) -> None:
    """STATUS-005: each eventLog entry's previousStatus equals the prior entry's newStatus."""
    events = event_log(enrolment_read.body or {})
    breaks = []
    for index in range(1, len(events)):
        prior, entry = events[index - 1], events[index]
        if not (isinstance(prior, dict) and "newStatus" in prior):
            continue
        if isinstance(entry, dict) and entry.get("previousStatus", prior["newStatus"]) != prior["newStatus"]:
            breaks.append(
                f"eventLog[{index}].previousStatus = {shown(entry['previousStatus'])} but "
                f"eventLog[{index - 1}].newStatus = {shown(prior['newStatus'])}"
            )
    expected = "each entry's previousStatus to equal the prior entry's newStatus"
    expect_no_findings(breaks, expected, enrolment_read.response)


@pytest.mark.requirement(id="STATUS-006")
def check_status_is_the_latest_new_status(enrolment_read: EnrolmentRead) -> None:
    """STATUS-006: the current status equals the newStatus of the latest (last) eventLog entry."""
    body = enrolment_read.body or {}
    events = event_log(body)
    if not events:
        pytest.skip("no eventLog entries to compare the status with (STATUS-004 reports it)")
    last, index = events[-1], len(events) - 1
    if not isinstance(last, dict) or "newStatus" not in last:
        pytest.skip(f"eventLog[{index}] has no newStatus to compare the status with (SCHEMA-001 reports it)")
    status = body.get("status", ABSENT)
    if status != last["newStatus"]:
        raise CheckFailed(
            f"status: expected the newStatus of the latest event, eventLog[{index}].newStatus = "
            f"{shown(last['newStatus'])}, received status {shown(status)}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="STATUS-007")
def check_status_matches_the_configured_one(enrolment_read: EnrolmentRead) -> None:
    """STATUS-007: the status returned is the one the configuration says the fixture holds."""
    fixture = enrolment_read.fixture
    if fixture.status is None:
        not_applicable(
            f"no expected status configured for {fixture.label} (status in [[fixtures.enrolments]])"
        )
    status = (enrolment_read.body or {}).get("status", ABSENT)
    if status != fixture.status:
        raise CheckFailed(
            f"status: expected {shown(fixture.status)} (configured for {fixture.label}), "
            f"received {shown(status)}",
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="STATUS-008")
def check_fixtures_cover_every_status(all_enrolment_reads: list[EnrolmentRead]) -> None:
    """STATUS-008: the fixture enrolments, together, hold every status an enrolment can hold."""
    seen = {str(read.body.get("status")) for read in all_enrolment_reads if read.body is not None}
    missing = [status for status in HELD_STATUSES if status not in seen]
    if not missing:
        return
    observed = ", ".join(sorted(seen)) or "none"
    unread = [read.fixture.label for read in all_enrolment_reads if read.body is None]
    raise CheckFailed(
        f"expected the {len(all_enrolment_reads)} fixture enrolment(s) to cover "
        f"{', '.join(HELD_STATUSES)} (observed: {observed}; never observed: {', '.join(missing)}), so the "
        "rules for the statuses never observed went unchecked (configure a [[fixtures.enrolments]] "
        "holding each)" + (f"; not readable with a 200 JSON body: {', '.join(unread)}" if unread else "")
    )
