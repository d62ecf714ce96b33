"""Rendering: dates as RFC 3339 strings and JSON bodies, in the form the active faults ask for.

By default a date is UTC with milliseconds and ``Z`` (``2023-08-23T09:09:16.076Z``)
and a JSON body is compact. The benign faults ``offset-dates``, ``no-millis`` and
``pretty-json`` and the fault ``dates-without-zone`` change only that form.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_PLUS_ONE = timezone(timedelta(hours=1))


def format_datetime(value: datetime, faults: Collection[str]) -> str:
    """An aware datetime as an RFC 3339 date-time string."""
    offset = "offset-dates" in faults
    local = value.astimezone(_PLUS_ONE if offset else UTC)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if "no-millis" not in faults:
        text += f".{local.microsecond // 1000:03d}"
    if "dates-without-zone" in faults:
        return text
    return text + ("+01:00" if offset else "Z")


def jsonable(value: Any, faults: Collection[str]) -> Any:
    """The value with every datetime (at any depth) rendered as a string."""
    if isinstance(value, datetime):
        return format_datetime(value, faults)
    if isinstance(value, dict):
        return {key: jsonable(item, faults) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item, faults) for item in value]
    return value


def json_bytes(value: Any, faults: Collection[str]) -> bytes:
    """The value as a UTF-8 JSON body (dates rendered)."""
    value = jsonable(value, faults)
    if "pretty-json" in faults:
        return json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
