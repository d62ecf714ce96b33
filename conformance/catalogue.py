"""The requirements catalogue (``requirements.toml``): the requirements and the conformance classes."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

LEVELS = ("MUST", "SHOULD")
# What each key or flag a class needs is, for "how to verify" lines.
NEEDS_HINTS = {
    "fixtures.enrolments": "[[fixtures.enrolments]] in the config: enrolments known to exist "
    "(under two assignments, with their expected status)",
    "target.token_url": "target.token_url in the config (or --token-url)",
    "target.webhooks_token_url": "target.webhooks_token_url in the config (or --webhooks-token-url)",
    "credentials.other_tenant": "[credentials.other_tenant] in the config: a second tenant and its secret",
    "fixtures.other_tenant_enrolments": "[[fixtures.other_tenant_enrolments]] in the config",
    "--allow-unsafe-methods": "--allow-unsafe-methods (sends POST, PUT, PATCH, DELETE to the API)",
    "--max-requests": "a larger --max-requests",
    "selection": "a run without a selection (-k, --area, --only, rerun)",
}


def area_of(requirement_id: str) -> str:
    """The area of a requirement ID (its prefix): AUTH for AUTH-003."""
    return requirement_id.split("-", 1)[0]


@dataclass(frozen=True)
class Requirement:
    """One promise of the contract that the suite checks."""

    id: str
    title: str
    level: str
    source: str
    conformance_class: str

    @property
    def area(self) -> str:
        return area_of(self.id)


@dataclass(frozen=True)
class ConformanceClass:
    """A named group of requirements a vendor can claim, and the configuration it needs to be verified."""

    id: str
    title: str
    needs: tuple[str, ...]


def _catalogue() -> dict[str, Any]:
    text = resources.files("conformance").joinpath("requirements.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def load_catalogue() -> dict[str, Requirement]:
    """Requirements by ID, in catalogue order."""
    return {
        entry["id"]: Requirement(entry["id"], entry["title"], entry["level"], entry["source"], entry["class"])
        for entry in _catalogue()["requirement"]
    }


@cache
def load_classes() -> dict[str, ConformanceClass]:
    """Conformance classes by ID, in catalogue order."""
    return {
        entry["id"]: ConformanceClass(entry["id"], entry["title"], tuple(entry["needs"]))
        for entry in _catalogue()["class"]
    }


def areas() -> list[str]:
    """The areas of the catalogue (the ID prefixes), in catalogue order."""
    return list(dict.fromkeys(req.area for req in load_catalogue().values()))
