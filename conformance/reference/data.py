"""Deterministic seeded data: two tenants, their assignments and enrolments.

Every ID is fixed (24 lowercase hex characters), and every date is computed
relative to the ``now`` given to :func:`seed`, so the records obey the contract's
readings whenever they are generated: past dates are at least a day before
``now``, future dates at least two days after it. Tenant A's first assignment
and enrolment use the path-parameter examples published in the reference, so
the spec's examples resolve to a real enrolment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

TENANT_A = "eu-west-2_RefTenantA"
TENANT_B = "eu-west-2_RefTenantB"


def object_id(label: str) -> str:
    """A fixed 24-lowercase-hex ID derived from a label: the same label always gives the same ID."""
    return hashlib.sha256(label.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Event:
    """One eventLog entry."""

    type: str
    previous_status: str
    new_status: str
    created_at: datetime
    updated_at: datetime | None = None
    completion_id: str | None = None

    def document(self) -> dict[str, Any]:
        """The entry as a JSON-shaped dict (dates still datetimes; absent fields left out)."""
        doc: dict[str, Any] = {"type": self.type}
        if self.completion_id is not None:
            doc["completionId"] = self.completion_id
        doc |= {"previousStatus": self.previous_status, "newStatus": self.new_status}
        doc["createdAt"] = self.created_at
        if self.updated_at is not None:
            doc["updatedAt"] = self.updated_at
        return doc


@dataclass(frozen=True)
class Enrolment:
    """An enrolment and the tenant that owns it."""

    tenant_id: str
    id: str
    assignment_id: str
    user_id: str
    status: str
    events: tuple[Event, ...]
    updated_at: datetime
    audience_id: str | None = None
    primary_content_id: str | None = None
    available_date: datetime | None = None
    due_date: datetime | None = None
    last_completed_at: datetime | None = None

    def document(self) -> dict[str, Any]:
        """The enrolment as a JSON-shaped dict (dates still datetimes; absent fields left out)."""
        optional = {
            "audienceId": self.audience_id,
            "primaryContentId": self.primary_content_id,
        }
        dates = {
            "availableDate": self.available_date,
            "dueDate": self.due_date,
            "lastCompletedAt": self.last_completed_at,
        }
        doc: dict[str, Any] = {"id": self.id, "userId": self.user_id, "assignmentId": self.assignment_id}
        doc |= {key: value for key, value in optional.items() if value is not None}
        doc["status"] = self.status
        doc |= {key: value for key, value in dates.items() if value is not None}
        doc["eventLog"] = [event.document() for event in self.events]
        doc["updatedAt"] = self.updated_at
        return doc


class Fixture(NamedTuple):
    """An enrolment a suite config can name: where it is and the status it holds."""

    assignment_id: str
    enrolment_id: str
    status: str


@dataclass(frozen=True)
class ReferenceData:
    """The seeded enrolments of both tenants, and the ``now`` their dates are relative to."""

    seeded_at: datetime
    enrolments: tuple[Enrolment, ...]

    def get(self, tenant_id: str | None, assignment_id: str | None, enrolment_id: str) -> Enrolment | None:
        """The enrolment with this ID under this tenant and assignment (None for either: any)."""
        for enrolment in self.enrolments:
            if (
                enrolment.id == enrolment_id
                and tenant_id in (None, enrolment.tenant_id)
                and assignment_id in (None, enrolment.assignment_id)
            ):
                return enrolment
        return None

    def has_assignment(self, tenant_id: str | None, assignment_id: str) -> bool:
        """Whether the tenant (None: any tenant) has enrolments under this assignment."""
        return any(
            e.assignment_id == assignment_id and tenant_id in (None, e.tenant_id) for e in self.enrolments
        )

    def fixtures(self, tenant_id: str) -> tuple[Fixture, ...]:
        """The tenant's enrolments as (assignment_id, enrolment_id, status), for writing configs."""
        return tuple(
            Fixture(e.assignment_id, e.id, e.status) for e in self.enrolments if e.tenant_id == tenant_id
        )

    def without_status(self, status: str) -> ReferenceData:
        """The same data minus every enrolment holding this status."""
        return replace(self, enrolments=tuple(e for e in self.enrolments if e.status != status))

    def placeholder(self, tenant_id: str, assignment_id: str, enrolment_id: str) -> Enrolment:
        """A made-up open enrolment carrying the given IDs (what a target that invents records returns)."""
        template = next(e for e in self.enrolments if e.status == "open")
        return replace(template, tenant_id=tenant_id, id=enrolment_id, assignment_id=assignment_id)


def seed(now: datetime) -> ReferenceData:
    """The reference data, with every date relative to ``now`` (an aware datetime)."""
    return ReferenceData(now, tuple(_tenant_a(now)) + tuple(_tenant_b(now)))


def _at(now: datetime, days: int, hours: int = 0, minutes: int = 0, ms: int = 0) -> datetime:
    """``now`` plus whole days and a time of day (under 24 h): the sign of ``days`` says past or future."""
    return now + timedelta(days=days, hours=hours, minutes=minutes, milliseconds=ms)


def _events(*steps: tuple[str, str, str, datetime, datetime | None, str | None]) -> tuple[Event, ...]:
    return tuple(Event(*step) for step in steps)


def _tenant_a(now: datetime) -> Iterable[Enrolment]:
    assignment_1 = "12347d805d8ecbf46f5b5278"  # the published assignmentId example
    assignment_2 = object_id("tenant-a/assignment-2")
    audience_1, audience_2 = object_id("tenant-a/audience-1"), object_id("tenant-a/audience-2")
    content_1, content_2 = object_id("tenant-a/content-1"), object_id("tenant-a/content-2")

    def at(days: int, hours: int = 0, minutes: int = 0, ms: int = 0) -> datetime:
        return _at(now, days, hours, minutes, ms)

    yield Enrolment(
        TENANT_A,
        "63f57d805d8ecbf46f5b5278",  # the published enrolmentId example
        assignment_1,
        object_id("tenant-a/user-1"),
        "open",
        _events(
            ("enrolment.created", "unassigned", "scheduled", at(-20, 8), at(-20, 8), None),
            ("enrolment.opened", "scheduled", "open", at(-10, 9, 9, 16_076), at(-10, 9, 9, 16_076), None),
        ),
        updated_at=at(-10, 9, 10),
        audience_id=audience_1,
        primary_content_id=content_1,
        available_date=at(-10, 9, 9, 16_076),
        due_date=at(14, 9, 9, 16_076),
    )
    yield Enrolment(
        TENANT_A,
        object_id("tenant-a/enrolment-overdue"),
        assignment_1,
        object_id("tenant-a/user-2"),
        "overdue",
        _events(
            (
                "enrolment.created",
                "unassigned",
                "scheduled",
                at(-40, 10, 15, 250),
                at(-40, 10, 15, 250),
                None,
            ),
            ("enrolment.opened", "scheduled", "open", at(-30, 9, 0, 120), at(-30, 9, 0, 120), None),
            ("enrolment.overdue", "open", "overdue", at(-3, 9, 0, 480), at(-3, 9, 0, 480), None),
        ),
        updated_at=at(-3, 9, 0, 480),
        audience_id=audience_1,
        primary_content_id=content_1,
        available_date=at(-30, 9),
        due_date=at(-3, 9),
    )
    completion = object_id("tenant-a/completion-1")
    yield Enrolment(
        TENANT_A,
        object_id("tenant-a/enrolment-complete"),
        assignment_1,
        object_id("tenant-a/user-3"),
        "complete",
        _events(
            ("enrolment.created", "unassigned", "open", at(-25, 9, 0, 310), None, None),
            ("enrolment.completed", "open", "complete", at(-12, 14, 32, 7_405), at(-12, 14, 33), completion),
        ),
        updated_at=at(-12, 14, 33),
        audience_id=audience_1,
        primary_content_id=content_1,
        available_date=at(-25, 9),
        due_date=at(-5, 17),
        last_completed_at=at(-12, 14, 32, 7_405),
    )
    yield Enrolment(  # assigned to the user directly: no audience
        TENANT_A,
        object_id("tenant-a/enrolment-scheduled"),
        assignment_2,
        object_id("tenant-a/user-4"),
        "scheduled",
        _events(
            ("enrolment.created", "unassigned", "scheduled", at(-2, 11, 45, 903), at(-2, 11, 45, 903), None),
        ),
        updated_at=at(-2, 11, 45, 903),
        primary_content_id=content_2,
        available_date=at(7, 9),
        due_date=at(37, 9),
    )
    completion = object_id("tenant-a/completion-2")
    yield Enrolment(
        TENANT_A,
        object_id("tenant-a/enrolment-archived"),
        assignment_2,
        object_id("tenant-a/user-5"),
        "archived",
        _events(
            ("enrolment.created", "unassigned", "open", at(-90, 9, 0, 77), at(-90, 9, 0, 77), None),
            ("enrolment.completed", "open", "complete", at(-70, 16, 5, 44), at(-70, 16, 5, 44), completion),
            ("enrolment.archived", "complete", "archived", at(-45, 12), at(-45, 12), None),
        ),
        updated_at=at(-45, 12),
        audience_id=audience_2,
        primary_content_id=content_2,
        available_date=at(-90, 9),
        due_date=at(-60, 9),
        last_completed_at=at(-70, 16, 5, 44),
    )


def _tenant_b(now: datetime) -> Iterable[Enrolment]:
    assignment = object_id("tenant-b/assignment-1")
    audience, content = object_id("tenant-b/audience-1"), object_id("tenant-b/content-1")

    def at(days: int, hours: int = 0, minutes: int = 0, ms: int = 0) -> datetime:
        return _at(now, days, hours, minutes, ms)

    yield Enrolment(
        TENANT_B,
        object_id("tenant-b/enrolment-open"),
        assignment,
        object_id("tenant-b/user-1"),
        "open",
        _events(("enrolment.created", "unassigned", "open", at(-5, 9, 0, 512), at(-5, 9, 0, 512), None)),
        updated_at=at(-5, 9, 0, 512),
        audience_id=audience,
        primary_content_id=content,
        available_date=at(-5, 9),
        due_date=at(20, 9),
    )
    completion = object_id("tenant-b/completion-1")
    yield Enrolment(
        TENANT_B,
        object_id("tenant-b/enrolment-complete"),
        assignment,
        object_id("tenant-b/user-2"),
        "complete",
        _events(
            ("enrolment.created", "unassigned", "open", at(-15, 9, 0, 64), at(-15, 9, 0, 64), None),
            ("enrolment.completed", "open", "complete", at(-1, 10, 30, 901), at(-1, 10, 30, 901), completion),
        ),
        updated_at=at(-1, 10, 30, 901),
        audience_id=audience,
        primary_content_id=content,
        available_date=at(-15, 9),
        due_date=at(5, 9),
        last_completed_at=at(-1, 10, 30, 901),
    )
