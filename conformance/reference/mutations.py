"""Data faults: how a fault changes the enrolments the reference target serves.

Each record fault is a small function that edits one enrolment document (the
JSON-shaped dict of :meth:`Enrolment.document`, dates still datetimes) in place;
it receives the ``now`` the data was seeded at, so "in the future" stays true.
:func:`dataset` applies the one fault that changes which enrolments exist.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from conformance.reference.data import ReferenceData, seed

Document = dict[str, Any]
RecordFault = Callable[[Document, datetime], None]


def _events(doc: Document) -> list[Document]:
    events: list[Document] = doc["eventLog"]
    return events


def _extra_fields(doc: Document, now: datetime) -> None:
    doc["version"] = 3
    doc["source"] = {"system": "reference", "region": "eu-west-2"}
    for event in _events(doc):
        event["actor"] = "system"


def _status_capitalised(doc: Document, now: datetime) -> None:
    if doc["status"] == "open":
        doc["status"] = "Open"


def _event_status_unknown(doc: Document, now: datetime) -> None:
    for event in _events(doc):
        for key in ("previousStatus", "newStatus"):
            if event[key] == "open":
                event[key] = "active"


def _status_unassigned(doc: Document, now: datetime) -> None:
    if doc["status"] == "archived":
        doc["status"] = _events(doc)[-1]["newStatus"] = "unassigned"


def _first_event_not_unassigned(doc: Document, now: datetime) -> None:
    _events(doc)[0]["previousStatus"] = "scheduled"


def _broken_status_chain(doc: Document, now: datetime) -> None:
    events = _events(doc)
    if len(events) > 1:
        events[1]["previousStatus"] = "archived"  # no first event ends archived


def _status_not_last_event(doc: Document, now: datetime) -> None:
    events = _events(doc)
    if len(events) > 1:
        events.pop()  # every event changes the status, so the one before it ends elsewhere


def _fixture_status_changed(doc: Document, now: datetime) -> None:
    if doc["status"] == "open":
        archived_at = now - timedelta(hours=1)
        _events(doc).append(
            {
                "type": "enrolment.archived",
                "previousStatus": "open",
                "newStatus": "archived",
                "createdAt": archived_at,
                "updatedAt": archived_at,
            }
        )
        doc["status"] = "archived"
        doc["updatedAt"] = archived_at


def _impossible_date(doc: Document, now: datetime) -> None:
    if "availableDate" in doc:
        doc["availableDate"] = f"{doc['availableDate']:%Y}-02-30T09:00:00.000Z"


def _available_after_due(doc: Document, now: datetime) -> None:
    if doc["status"] == "archived":
        doc["availableDate"] = doc["dueDate"] + timedelta(days=1)


def _complete_after_due(doc: Document, now: datetime) -> None:
    if doc["status"] == "complete":
        doc["lastCompletedAt"] = doc["dueDate"] + timedelta(hours=1)


def _complete_without_completion(doc: Document, now: datetime) -> None:
    if doc["status"] == "complete":
        del doc["lastCompletedAt"]


def _overdue_due_in_future(doc: Document, now: datetime) -> None:
    if doc["status"] == "overdue":
        doc["dueDate"] = now + timedelta(days=7)


def _scheduled_available_in_past(doc: Document, now: datetime) -> None:
    if doc["status"] == "scheduled":
        doc["availableDate"] = now - timedelta(days=1)


def _open_available_in_future(doc: Document, now: datetime) -> None:
    if doc["status"] == "open":
        doc["availableDate"] = now + timedelta(days=2)


def _events_out_of_order(doc: Document, now: datetime) -> None:
    events = _events(doc)
    if len(events) > 1:
        first, second = events[0], events[1]
        for key in ("createdAt", "updatedAt"):
            first[key], second[key] = second.get(key), first.get(key)
            for event in (first, second):
                if event[key] is None:
                    del event[key]


def _event_updated_before_created(doc: Document, now: datetime) -> None:
    first = _events(doc)[0]
    first["updatedAt"] = first["createdAt"] - timedelta(hours=1)


def _enrolment_updated_before_event(doc: Document, now: datetime) -> None:
    doc["updatedAt"] = _events(doc)[-1]["createdAt"] - timedelta(days=1)


def _completed_in_future(doc: Document, now: datetime) -> None:
    if doc["status"] == "complete":
        doc["lastCompletedAt"] = now + timedelta(days=2)


def _missing_user_id(doc: Document, now: datetime) -> None:
    del doc["userId"]


def _audience_id_number(doc: Document, now: datetime) -> None:
    if "audienceId" in doc:
        doc["audienceId"] = 63_000_000_001


def _wrong_enrolment_id(doc: Document, now: datetime) -> None:
    doc["id"] = doc["id"][::-1]


def _wrong_assignment_id(doc: Document, now: datetime) -> None:
    doc["assignmentId"] = doc["assignmentId"][::-1]


RECORD_FAULTS: dict[str, RecordFault] = {
    "extra-fields": _extra_fields,
    "status-capitalised": _status_capitalised,
    "event-status-unknown": _event_status_unknown,
    "status-unassigned": _status_unassigned,
    "first-event-not-unassigned": _first_event_not_unassigned,
    "broken-status-chain": _broken_status_chain,
    "status-not-last-event": _status_not_last_event,
    "fixture-status-changed": _fixture_status_changed,
    "impossible-date": _impossible_date,
    "available-after-due": _available_after_due,
    "complete-after-due": _complete_after_due,
    "complete-without-completion": _complete_without_completion,
    "overdue-due-in-future": _overdue_due_in_future,
    "scheduled-available-in-past": _scheduled_available_in_past,
    "open-available-in-future": _open_available_in_future,
    "events-out-of-order": _events_out_of_order,
    "event-updated-before-created": _event_updated_before_created,
    "enrolment-updated-before-event": _enrolment_updated_before_event,
    "completed-in-future": _completed_in_future,
    "missing-user-id": _missing_user_id,
    "audience-id-number": _audience_id_number,
    "wrong-enrolment-id": _wrong_enrolment_id,
    "wrong-assignment-id": _wrong_assignment_id,
}


def dataset(now: datetime, faults: Collection[str]) -> ReferenceData:
    """The enrolments that exist with these faults on, dates relative to ``now``."""
    data = seed(now)
    if "missing-scheduled-enrolment" in faults:
        data = data.without_status("scheduled")
    return data


def apply_record_faults(doc: Document, faults: Collection[str], now: datetime) -> Document:
    """Apply the active record faults, in name order, to an enrolment document."""
    for name in sorted(faults):
        mutate = RECORD_FAULTS.get(name)
        if mutate is not None:
            mutate(doc, now)
    return doc
