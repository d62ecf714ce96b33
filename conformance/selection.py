"""Exact selections of requirements: ``--area AUTH``, ``--only ID``, and a re-run of a saved run's failures.

Unlike ``-k`` (a pytest keyword expression that matches substrings, so ``-k AUTH-`` also selects
OAUTH-001), a selection names whole requirement IDs. Like ``-k`` it is a debugging tool: a run that
selects is at best incomplete, since it verifies no class in full.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.catalogue import areas, load_catalogue

MAX_LISTED = 12  # an unknown name's message lists this many known names at most


class SelectionError(ValueError):
    """A selection names an area or requirement the catalogue does not have (one line)."""


@dataclass(frozen=True)
class Selection:
    """The requirement IDs a run is limited to, and how the user asked for them (for messages)."""

    ids: frozenset[str]
    label: str  # e.g. "--area AUTH", "--only AUTH-003", "rerun of reports/results.json"

    def __contains__(self, requirement: object) -> bool:
        return requirement in self.ids


def area_selection(names: Iterable[str]) -> Selection:
    """The requirements of the named areas (exact, case-insensitive: AUTH never means OAUTH)."""
    wanted = [name.strip().upper() for name in names if name.strip()]
    known = areas()
    for name in wanted:
        if name not in known:
            raise SelectionError(f"--area: unknown area {name!r}{close_names(name, known)}")
    ids = frozenset(req.id for req in load_catalogue().values() if req.area in wanted)
    return Selection(ids, f"--area {','.join(wanted)}")


def checked_ids(ids: Iterable[str], flag: str = "--only") -> list[str]:
    """ids, upper-cased, each one a requirement of the catalogue."""
    known = list(load_catalogue())
    checked = []
    for requirement in ids:
        requirement = requirement.strip().upper()
        if requirement not in known:
            hint = close_names(requirement, known, lister="enrolment-conformance requirements")
            raise SelectionError(f"{flag}: unknown requirement {requirement!r}{hint}")
        checked.append(requirement)
    return checked


def close_names(name: str, known: Iterable[str], lister: str | None = None) -> str:
    """'; did you mean X?' for a misspelt name, then the known names; past MAX_LISTED of them, the
    command that lists them instead (lister)."""
    known = list(known)
    matches = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {' or '.join(matches)}?" if matches else ""
    if lister is not None and len(known) > MAX_LISTED:
        return f"{hint} (`{lister}` lists them)"
    return f"{hint} (known: {', '.join(known)})"
