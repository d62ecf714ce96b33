"""The JSON Schemas of the suite's TOML files, and the one line that says where a document breaks one.

``config.schema.json`` describes the run configuration (conformance/config.py),
``baseline.schema.json`` the baseline file (conformance/baseline.py). Both are
JSON Schema 2020-12 with ``additionalProperties: false`` everywhere, so that a
typo in a key is an error, not a silently skipped check. Each leaf's
``description`` says what it must be, in the words of the error message. TOML
dates are not JSON: the format ``toml-date`` accepts a TOML local date only.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from conformance.toml_text import toml_string

_FOUND_CHARS = 80
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("toml-date")
def _is_toml_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``NAME.schema.json`` shipped with the package (``config`` or ``baseline``)."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str, definition: str | None) -> Draft202012Validator:
    schema = load_schema(name)
    if definition is not None:  # one entry of $defs, with the others beside it for its references
        schema = {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]}
    return Draft202012Validator(schema, format_checker=_FORMATS)


def first_problem(
    name: str, document: Any, *, definition: str | None = None, where: str | None = None
) -> str | None:
    """One line for the first place where document breaks schema name, or None if it fits.

    With definition, document is checked against that entry of the schema's
    ``$defs`` only (a value given by a command-line flag), and where names it.
    """
    # the shallowest error, and of those the first in schema order (which is the documented order of keys)
    errors = _validator(name, definition).iter_errors(document)
    error = min(errors, key=lambda error: len(error.absolute_path), default=None)
    return None if error is None else _message(error, where)


def key_path(path: Sequence[str | int]) -> str:
    """A TOML key path as users write it: ``fixtures.enrolments[0].enrolment_id``.

    A key that is not a bare TOML key is quoted as TOML quotes it, so that no
    control character of a key in the file reaches the terminal.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if _BARE_KEY.fullmatch(part) else toml_string(part)
        text += f".{key}" if text else key
    return text


def _message(error: ValidationError, where: str | None) -> str:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = next(key for key in error.validator_value if key not in error.instance)
        return f"{key_path([*path, missing])} is missing"
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))[0]
        close = difflib.get_close_matches(unknown, known, n=1)
        hint = f": did you mean {key_path([*path, close[0]])}?" if close else ""
        return f"unknown key {key_path([*path, unknown])}{hint} (known: {', '.join(known)})"
    expected = error.schema.get("description")
    if expected is None and error.validator == "enum":
        expected = f"one of {', '.join(map(str, error.validator_value))}"
    at = where or key_path(path) or "the document"
    if expected is None:
        return f"{at}: {error.message}"
    return f"{at} must be {expected}, got {_found(error.instance)}"


def _found(value: object) -> str:
    """What was found, in TOML's words; long text is cut so that the message stays one short line."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= _FOUND_CHARS else text[: _FOUND_CHARS - 3] + "..."
