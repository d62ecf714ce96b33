"""RFC 3339 date-times: strict parsing into aware datetimes, and comparison as instants.

The grammar is RFC 3339 §5.6 ``date-time``: ``full-date "T" full-time``, where
``full-time`` is ``hh:mm:ss``, an optional fraction of any length, and a zone
designator that is required (``Z`` or ``±hh:mm``). ``T`` and ``Z`` may be lower
case (§5.6 NOTE). Not accepted: a space instead of ``T`` (allowed by a prose
note for readability, but not by the grammar, nor by JSON Schema's
``date-time``), a missing zone, ``±hhmm`` or ``±hh`` offsets, and ISO 8601
forms such as week dates.

On top of the grammar, the date must exist in the calendar (no 2023-02-30, no
year 0000) and hour, minute and offset must be in range (no 24:00). Leap
seconds (``:60``) are rejected: Python cannot represent them, no common
platform emits them, and the JSON Schema format checker behind SCHEMA-001
(rfc3339-validator) rejects them too, so both checks agree.

Fractions beyond microseconds are truncated, so two instants that differ by
less than a microsecond compare equal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from conformance.jsonbody import json_type

_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
)


class InvalidTimestamp(ValueError):
    """The value is not an RFC 3339 date-time; the message says why."""


def parse_rfc3339(value: object) -> datetime:
    """The instant an RFC 3339 ``date-time`` string names, as an aware datetime in UTC.

    Raises InvalidTimestamp, saying what is wrong, for anything else.
    """
    if not isinstance(value, str):
        raise InvalidTimestamp(f"expected a date-time string, received a JSON {json_type(value)}")
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise InvalidTimestamp(
            "does not match the RFC 3339 date-time form YYYY-MM-DDThh:mm:ss[.fraction]"
            " followed by Z or ±hh:mm"
        )
    year, month, day, hour, minute, second = (
        int(match[name]) for name in ("year", "month", "day", "hour", "minute", "second")
    )
    if second == 60:
        raise InvalidTimestamp("leap seconds (:60) are not accepted")
    zone = UTC
    if match["sign"]:
        offset_hour, offset_minute = int(match["offset_hour"]), int(match["offset_minute"])
        if offset_hour > 23 or offset_minute > 59:
            raise InvalidTimestamp(f"the offset {value[-6:]} is out of range")
        offset = timedelta(hours=offset_hour, minutes=offset_minute)
        zone = timezone(-offset if match["sign"] == "-" else offset)
    microsecond = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
    except ValueError as exc:
        raise InvalidTimestamp(f"not a real date and time ({exc})") from None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp("outside the years 0001-9999 once converted to UTC") from None


def is_later(value: datetime, reference: datetime, *, tolerance: timedelta = timedelta(0)) -> bool:
    """True when ``value`` is an instant after ``reference`` plus ``tolerance`` (both aware)."""
    if value.tzinfo is None or reference.tzinfo is None:
        raise ValueError("compare aware datetimes only: a naive one names no instant")
    return value > reference + tolerance
