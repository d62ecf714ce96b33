"""SCHEMA: the 200 body against the spec's Enrolment schema, the IDs it echoes, its media type.

Unknown extra fields are allowed (the contract says they must be tolerated):
SCHEMA-001 lists them as a note in the report instead of failing. Formats are
checked (``date-time`` needs rfc3339-validator, from jsonschema[format-nongpl]);
the check refuses to pass if the installed jsonschema cannot check them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import ValidationError

from conformance.auth import BearerAuth
from conformance.checks.status import ABSENT, event_objects, shown
from conformance.client import Client
from conformance.expect import CheckFailed, is_json_content_type, json_object, listed
from conformance.fuzzing import resolve_ref
from conformance.plugin import EnrolmentRead
from conformance.spec import schema_validator

SCHEMA_NAME = "Enrolment"
IMPOSSIBLE_DATE_TIME = "2023-02-30T09:09:16Z"
# The body fields that echo a path parameter: (requirement, field, what the expected value is).
ECHOED_IDS = (
    ("SCHEMA-002", "id", "the enrolmentId requested"),
    ("SCHEMA-003", "assignmentId", "the assignmentId in the path"),
)


class FormatCheckingUnavailable(RuntimeError):
    """The installed jsonschema cannot check date-time formats: SCHEMA-001 would pass what it should fail."""


def _expect_200(response: httpx.Response) -> None:
    if response.status_code != 200:
        pytest.skip(
            f"needs a 200 read of the fixture enrolment; the target answered {response.status_code} "
            "(AUTH-001 reports it)"
        )


def _shortened(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _where(error: ValidationError) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return "$" + path


def declared_properties(spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The property names the spec declares for an Enrolment and for one of its eventLog entries."""
    enrolment = resolve_ref(spec, spec["components"]["schemas"][SCHEMA_NAME])
    event = resolve_ref(spec, enrolment["properties"]["eventLog"]["items"])
    return set(enrolment["properties"]), set(event["properties"])


def split_fields(spec: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(declared, extra): the body's fields the spec declares, each event reduced to its declared fields,
    and path -> value of every field it does not declare (``eventLog[i].name`` for an event's)."""
    enrolment, event = declared_properties(spec)
    declared = {name: value for name, value in body.items() if name in enrolment}
    extra = {name: value for name, value in body.items() if name not in enrolment}
    if isinstance(declared.get("eventLog"), list):
        declared["eventLog"] = [
            {name: value for name, value in entry.items() if name in event}
            if isinstance(entry, dict)
            else entry
            for entry in declared["eventLog"]
        ]
    for index, entry in event_objects(body):
        extra.update(
            {f"eventLog[{index}].{name}": value for name, value in entry.items() if name not in event}
        )
    return declared, extra


def _differing(basic: dict[str, Any], bearer: dict[str, Any]) -> list[str]:
    return [
        f"{name} (Basic: {shown(basic.get(name, ABSENT))}, Bearer: {shown(bearer.get(name, ABSENT))})"
        for name in sorted(basic.keys() | bearer.keys())
        if basic.get(name, ABSENT) != bearer.get(name, ABSENT)
    ]


def extra_fields(spec: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """The fields of the body (and of each event) that the schema does not declare, as readable items."""
    enrolment, event = declared_properties(spec)
    extras = [name for name in body if name not in enrolment]
    by_field: dict[str, list[str]] = {}
    for index, entry in event_objects(body):
        for name in entry:
            if name not in event:
                by_field.setdefault(name, []).append(str(index))
    extras += [f"eventLog[{','.join(indexes)}].{name}" for name, indexes in by_field.items()]
    return extras


@pytest.mark.requirement(id="SCHEMA-001")
def check_body_matches_the_schema(
    enrolment_response: httpx.Response, spec: dict[str, Any], note: Callable[[str], None]
) -> None:
    """SCHEMA-001: the 200 body is a JSON object valid against the spec's Enrolment schema, with formats."""
    _expect_200(enrolment_response)
    body = json_object(enrolment_response, "200 response to a valid Basic read")
    validator = schema_validator(spec, SCHEMA_NAME)
    if validator.format_checker is None or validator.format_checker.conforms(
        IMPOSSIBLE_DATE_TIME, "date-time"
    ):
        raise FormatCheckingUnavailable(
            "jsonschema does not check the date-time format here: install rfc3339-validator "
            "(jsonschema[format-nongpl])"
        )
    extras = extra_fields(spec, body)
    if extras:
        note(f"unknown extra fields (allowed): {', '.join(extras)}")
    errors = sorted(
        validator.iter_errors(body), key=lambda error: [str(part) for part in error.absolute_path]
    )
    if errors:
        found = [f"{_where(error)}: {_shortened(error.message)}" for error in errors]
        raise CheckFailed(
            f"expected the body to match the {SCHEMA_NAME} schema of the spec; received "
            f"{len(errors)} violation(s): {listed(found)}",
            response=enrolment_response,
        )


@pytest.mark.parametrize(
    ("field", "meaning"),
    [
        pytest.param(field, meaning, id=field, marks=pytest.mark.requirement(id=requirement))
        for requirement, field, meaning in ECHOED_IDS
    ],
)
def check_ids_are_the_path_ones(enrolment_read: EnrolmentRead, field: str, meaning: str) -> None:
    """SCHEMA-002 (id) / SCHEMA-003 (assignmentId): the body echoes the ID in the path, exactly."""
    fixture = enrolment_read.fixture
    expected = {"id": fixture.enrolment_id, "assignmentId": fixture.assignment_id}[field]
    received = (enrolment_read.body or {}).get(field, ABSENT)
    if received != expected:
        raise CheckFailed(
            f'{field}: expected "{expected}" ({meaning}), received {shown(received)}',
            response=enrolment_read.response,
        )


@pytest.mark.requirement(id="SCHEMA-004")
def check_200_is_json(enrolment_response: httpx.Response) -> None:
    """SCHEMA-004: a 200 response has a JSON Content-Type (application/json or +json, parameters allowed)."""
    _expect_200(enrolment_response)
    if not is_json_content_type(enrolment_response):
        received = enrolment_response.headers.get("content-type", "no Content-Type header")
        raise CheckFailed(
            f"Content-Type: expected application/json (or a +json type), received {received}",
            response=enrolment_response,
        )


@pytest.mark.requirement(id="SCHEMA-005")
def check_bearer_read_is_the_same(
    client: Client,
    bearer: Callable[..., BearerAuth],
    enrolment_read: EnrolmentRead,
    spec: dict[str, Any],
    note: Callable[[str], None],
) -> None:
    """SCHEMA-005: a bearer (api/read) read returns the same values as the Basic read for every field the
    spec declares (of the enrolment and of its events); undeclared extra fields that differ (a request ID,
    say) are listed as a note."""
    fixture = enrolment_read.fixture
    response = client.get_enrolment(
        fixture.assignment_id,
        fixture.enrolment_id,
        auth=bearer("api/read"),
        note="the same enrolment, read with Bearer",
    )
    if response.status_code != 200:
        pytest.skip(
            f"the bearer (api/read) read answered {response.status_code}, not 200 (SCOPE-001 reports it)"
        )
    body = json_object(response, "200 response to a bearer read")
    basic_declared, basic_extra = split_fields(spec, enrolment_read.body or {})
    bearer_declared, bearer_extra = split_fields(spec, body)
    extras = _differing(basic_extra, bearer_extra)
    if extras:
        note(f"undeclared extra fields differ between the Basic and Bearer reads (allowed): {listed(extras)}")
    differing = _differing(basic_declared, bearer_declared)
    if differing:
        raise CheckFailed(
            "expected the same values as the Basic read for the fields the spec declares; "
            f"received differing fields: {listed(differing)}",
            response=response,
        )
