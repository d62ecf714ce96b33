"""The requirements catalogue (``requirements.toml``), loaded once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

AREAS = ("AUTH", "OAUTH", "SCOPE", "STATUS", "DATE", "SCHEMA", "ERR", "ISO", "HTTP", "FUZZ")
LEVELS = ("MUST", "SHOULD")


@dataclass(frozen=True)
class Requirement:
    """One promise of the contract that the suite checks."""

    id: str
    title: str
    level: str
    source: str

    @property
    def area(self) -> str:
        return self.id.split("-", 1)[0]


@cache
def load_catalogue() -> dict[str, Requirement]:
    """Requirements by ID, in catalogue order."""
    text = resources.files("conformance").joinpath("requirements.toml").read_text(encoding="utf-8")
    entries = tomllib.loads(text)["requirement"]
    return {entry["id"]: Requirement(**entry) for entry in entries}
