"""The suite's only uses of its dependencies' private APIs (schemathesis, hypothesis, pytest): one
function each.

Everything else uses what the libraries document: :mod:`conformance.fuzzing` uses
``schemathesis.openapi.from_dict``, ``schema[path][method]``, ``operation.as_strategy``,
``operation.Case``, ``case.validate_response``, ``schemathesis.config`` and
``hypothesis.given``; the runner uses ``pytest.main``. What they do not offer publicly is
reached here, each in one function that imports what it uses, and ``tests/test_internals.py``
exercises every one of them, so an upgrade that moves or changes one fails that test by name
instead of quietly changing what a run does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from schemathesis import APIOperation, Case, Response

CheckFunction = Callable[..., bool | None]


def check_functions(names: tuple[str, ...]) -> dict[str, CheckFunction]:
    """schemathesis's built-in checks by name (the OpenAPI ones live in a module it does not document)."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks

    found = {name: getattr(checks, name, None) for name in names}
    found["not_a_server_error"] = not_a_server_error
    missing = [name for name in names if not callable(found.get(name))]
    if missing:
        raise ImportError(f"schemathesis no longer provides the checks {missing}")
    return {name: found[name] for name in names}


def adapt_to_path_decoder(operation: APIOperation, probe: httpx.Response) -> bool:
    """schemathesis's UnsafePathDecoder probe, judged on our client's answer to it: when the server's
    URL decoder refused backslashes and control characters before routing, generation leaves them out
    of path parameters (as schemathesis's engine does). True when it did."""
    from schemathesis.engine.run.probes import ProbeOutcome, UnsafePathDecoder

    if UnsafePathDecoder().analyze_response(probe) != ProbeOutcome.FAILURE:  # type: ignore[arg-type]
        return False
    operation.schema.adapt_to_path_decoder_rejection()
    return True


def documented_media_types(operation: APIOperation, response: Response) -> list[str]:
    """The media types the spec documents for the response's status, as content_type_conformance
    reads them."""
    return list(operation.schema.get_content_types(operation, response))  # type: ignore[attr-defined]


def case_parts(case: Case) -> dict[str, Any]:
    """What rebuild_case needs to make the case again: its data and its generation metadata (which
    negative_data_rejection reads). Plain values and schemathesis's own dataclasses, picklable."""
    return {
        "path_parameters": dict(case.path_parameters),
        "headers": dict(case.headers or {}),
        "query": dict(case.query or {}),
        "meta": case.meta,
    }


def rebuild_case(operation: APIOperation, parts: dict[str, Any]) -> Case:
    """The case case_parts described, for operation (operation.Case takes the metadata privately)."""
    return operation.Case(
        path_parameters=parts["path_parameters"],
        headers=parts["headers"],
        query=parts["query"],
        _meta=parts["meta"],
    )


@contextmanager
def hypothesis_home(directory: Path) -> Iterator[None]:
    """Point hypothesis's storage (unicode tables, source constants) at directory for the duration,
    then restore it. Its public HYPOTHESIS_STORAGE_DIRECTORY is read once per process, too early."""
    from hypothesis.configuration import set_hypothesis_home_dir, storage_directory

    previous = storage_directory(intent_to_write=False).home_directory
    set_hypothesis_home_dir(directory)
    try:
        yield
    finally:
        set_hypothesis_home_dir(previous)


def keyword_expression_error(expression: str) -> str | None:
    """Why pytest cannot parse expression as a -k expression, or None when it can (pytest has no
    public parser for it; it would otherwise say so only once the run has started)."""
    from _pytest.mark.expression import Expression

    try:
        Expression.compile(expression)
    except SyntaxError as exc:
        return exc.msg or str(exc)
    return None
