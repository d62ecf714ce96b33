"""Checks on the project's own OpenAPI document, spec/openapi.yaml."""

import itertools
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_URI = "urn:enrolment-conformance:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))

ENROLMENT_PATH = "/assignments/{assignmentId}/enrolments/{enrolmentId}"
ID_PATTERN = "^[0-9a-f]{24}$"
STATUSES = {"archived", "complete", "open", "overdue", "scheduled", "unassigned"}


def _escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def _walk(node, pointer=""):
    """Yield (pointer, node) for every mapping in the document."""
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{_escape(key)}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _examples():
    """Yield (where, schema pointer, value) for every example in the document.

    Covers `example`/`examples` beside a `schema` (parameters, headers, media
    types) and the JSON Schema `examples` list inside a schema.
    """
    for pointer, node in _walk(SPEC):
        if "schema" in node:
            schema_pointer = f"{pointer}/schema"
            if "example" in node:
                yield f"{pointer}/example", schema_pointer, node["example"]
            for name, example in node.get("examples", {}).items():
                where = f"{pointer}/examples/{_escape(name)}"
                yield where, schema_pointer, example["value"]
        elif isinstance(node.get("examples"), list):
            for index, value in enumerate(node["examples"]):
                yield f"{pointer}/examples/{index}", pointer, value


EXAMPLES = list(_examples())


def _validator(schema_pointer):
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{schema_pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _resolve(node):
    while "$ref" in node:
        node = REGISTRY.resolver(SPEC_URI).lookup(node["$ref"]).contents
    return node


def _path_parameters():
    for path, path_item in SPEC["paths"].items():
        for parameter in map(_resolve, path_item.get("parameters", [])):
            if parameter["in"] == "path":
                yield path, parameter


def _enrolment_operation():
    return SPEC["paths"][ENROLMENT_PATH]["get"]


def _enrolment_200_example():
    content = _enrolment_operation()["responses"]["200"]["content"]
    (example,) = content["application/json"]["examples"].values()
    return example["value"]


def test_document_is_valid_openapi():
    validate(SPEC)


def test_example_search_finds_the_200_parameter_and_error_examples():
    wheres = [where for where, _, _ in EXAMPLES]
    assert any(where.startswith(f"/paths/{_escape(ENROLMENT_PATH)}/get/responses/200/") for where in wheres)
    assert any(where.startswith("/components/parameters/EnrolmentId/") for where in wheres)
    assert any(where.startswith("/components/responses/NotFound/content/") for where in wheres)


@pytest.mark.parametrize(
    ("schema_pointer", "value"),
    [pytest.param(schema_pointer, value, id=where) for where, schema_pointer, value in EXAMPLES],
)
def test_example_validates_against_its_schema(schema_pointer, value):
    errors = [error.message for error in _validator(schema_pointer).iter_errors(value)]
    assert errors == []


@pytest.mark.parametrize("bad_date", ["not-a-date", "2023-13-45T09:09:16Z", "2023-08-23T09:09:16"])
def test_date_time_format_is_enforced(bad_date):
    enrolment = {**_enrolment_200_example(), "updatedAt": bad_date}
    assert not _validator("/components/schemas/Enrolment").is_valid(enrolment)


def test_status_enum_is_exactly_the_six_values():
    enum = SPEC["components"]["schemas"]["EnrolmentStatus"]["enum"]
    assert len(enum) == len(STATUSES)
    assert set(enum) == STATUSES


def test_operation_security_is_basic_or_oauth2_read_or_all():
    assert _enrolment_operation()["security"] == [
        {"basic": []},
        {"oauth2": ["api/read"]},
        {"oauth2": ["api/all"]},
    ]


@pytest.mark.parametrize(
    "parameter",
    [pytest.param(parameter, id=f"{path}:{parameter['name']}") for path, parameter in _path_parameters()],
)
def test_path_parameter_is_a_required_string_with_a_pattern(parameter):
    assert parameter["required"] is True
    assert parameter["schema"]["type"] == "string"
    assert parameter["schema"]["pattern"]


@pytest.mark.parametrize("name", ["assignmentId", "enrolmentId"])
def test_enrolment_id_parameter_has_the_hex_pattern(name):
    (parameter,) = [p for path, p in _path_parameters() if path == ENROLMENT_PATH and p["name"] == name]
    assert parameter["schema"]["pattern"] == ID_PATTERN


def test_enrolment_example_event_chain_follows_the_readings():
    enrolment = _enrolment_200_example()
    events = enrolment["eventLog"]
    assert events[0]["previousStatus"] == "unassigned"
    for earlier, later in itertools.pairwise(events):
        assert later["previousStatus"] == earlier["newStatus"]
    assert enrolment["status"] == events[-1]["newStatus"] != "unassigned"
