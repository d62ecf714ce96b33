"""Response builders of the reference target: JSON bodies and the API's error responses.

Errors are JSON objects ``{"error": ..., "message": ...}``; the faults
``errors-text-plain``, ``errors-html`` and ``error-body-array`` change that.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from typing import Any

from starlette.responses import Response

from conformance.reference.render import json_bytes

JSON = "application/json"


def json_response(
    value: Any,
    faults: Collection[str],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str = JSON,
) -> Response:
    """A JSON body (dates rendered per the faults)."""
    return Response(json_bytes(value, faults), status, headers=headers, media_type=media_type)


def error_response(
    status: int,
    error: str,
    message: str,
    faults: Collection[str],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error of the enrolment API: a JSON object naming the error, with a message."""
    if "errors-text-plain" in faults:
        return Response(f"{error}: {message}\n", status, headers=headers, media_type="text/plain")
    if "errors-html" in faults:
        page = (
            f"<html><body><h1>{status} {html.escape(error)}</h1><p>{html.escape(message)}</p></body></html>"
        )
        return Response(page, status, headers=headers, media_type="text/html")
    body: Any = [error, message] if "error-body-array" in faults else {"error": error, "message": message}
    return json_response(body, faults, status, headers)
