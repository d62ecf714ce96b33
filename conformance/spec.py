"""The OpenAPI document: where it is, its fingerprint, and its schemas as JSON Schema."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator


def default_spec_path() -> Path:
    """The bundled spec: inside the installed package, or spec/ beside it in a source checkout."""
    bundled = Path(str(resources.files("conformance"))) / "spec" / "openapi.yaml"
    if bundled.is_file():
        return bundled
    return Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def load_spec(path: Path) -> dict[str, Any]:
    """Parse the OpenAPI document (YAML or JSON)."""
    with path.open(encoding="utf-8") as handle:
        # libyaml's loader when PyYAML has it: the pure-Python one costs ~0.1 s on this document
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(document, dict) or "paths" not in document:
        raise ValueError(f"{path} is not an OpenAPI document (no 'paths')")
    return document


def schema_validator(spec: dict[str, Any], name: str) -> Draft202012Validator:
    """A format-checking validator for components/schemas/<name> (OpenAPI 3.1 is JSON Schema 2020-12)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": spec.get("components", {})}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
