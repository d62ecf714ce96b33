"""Why a check did not judge anything: the kinds of skip, as the checks raise them and the plugin reads them.

A skip is one of three things, and only the first two are decided by the user:

- the check **needs** configuration the run does not have (a config key or a flag):
  ``skip_needing("target.token_url", "...")``. The classes that need that key are
  *not verified*; a class that does not need it is not held back by it;
- the requirement is **not applicable** to the data at hand (no complete enrolment,
  an opaque token, no expected status on a fixture): ``not_applicable("...")``. It
  blocks nothing, and the report shows it as such;
- any other skip (a prerequisite the target did not meet, e.g. no 200 to judge a
  body from) leaves the requirement *not verified*; a requirement that failed
  usually says why.

The kind travels in the skip reason's first words, so it survives anything that
carries pytest reports (xdist workers included).
"""

from __future__ import annotations

import re
from typing import Literal, NoReturn

import pytest

NOT_APPLICABLE = "not applicable: "
_NEEDS = re.compile(r"^needs (?P<key>--[a-z-]+|[a-z_]+(?:\.[a-z_]+)+): ")

SkipKind = Literal["needs", "not_applicable", "unverified"]


def needs_reason(key: str, why: str) -> str:
    """The skip reason of a check that needs the config key (or flag) ``key``."""
    return f"needs {key}: {why}"


def skip_needing(key: str, why: str) -> NoReturn:
    """Skip the running check: it needs configuration ``key`` the run does not have."""
    pytest.skip(needs_reason(key, why))


def not_applicable(why: str) -> NoReturn:
    """Skip the running check: the requirement does not apply to the data at hand."""
    pytest.skip(NOT_APPLICABLE + why)


def classify(reason: str) -> tuple[SkipKind, str | None]:
    """The kind of a skip reason, and the config key it needs (for "needs" skips)."""
    if reason.startswith(NOT_APPLICABLE):
        return "not_applicable", None
    match = _NEEDS.match(reason)
    if match:
        return "needs", match.group("key")
    return "unverified", None
