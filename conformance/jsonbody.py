"""Parsing a body as JSON, within limits: the one JSON parser for everything a target sends.

A body nested deeper than :data:`MAX_DEPTH` is not usable JSON (:class:`UnusableJSON`,
a ValueError): so a hostile body is a finding about the body, never a RecursionError
in the check that reads it or in whatever walks the value afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

MAX_DEPTH = 100  # arrays and objects inside one another; enrolments need fewer than ten


class UnusableJSON(ValueError):
    """The body parses as JSON only beyond the suite's limits; the message says which."""


def parse(text: str | bytes) -> Any:
    """The JSON value of text; ValueError if it is not JSON, UnusableJSON if nested too deep."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise UnusableJSON("not usable JSON: nested too deep") from None
    if depth(value) > MAX_DEPTH:
        raise UnusableJSON(f"not usable JSON: nested too deep (more than {MAX_DEPTH} levels)")
    return value


def response_json(response: httpx.Response) -> Any:
    """The response body's JSON value (decoded as httpx decodes it); see parse."""
    return parse(response.text)


def depth(value: Any) -> int:
    """How deep arrays and objects nest in a JSON value (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def json_type(value: object) -> str:
    """The JSON type name of a parsed value (null, boolean, number, string, array, object)."""
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)
