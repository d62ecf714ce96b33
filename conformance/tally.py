"""What one process of a run met besides the check results: requests, tokens, statuses, bounds.

A run is one process, or under pytest-xdist a controller and its workers, each
with its own client and token cache. Each process takes its :class:`RunTally`;
the controller merges them (``merged``) so that results.json counts the whole
run. A tally is plain data (``asdict`` / ``RunTally(**data)``): it crosses the
xdist channel as it is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunTally:
    """Counters of one process (or, merged, of the whole run)."""

    requests: dict[str, int] = field(default_factory=dict)  # requests sent, per phase
    status_seen: dict[str, int] = field(default_factory=dict)  # status value -> fixture reads
    tokens: list[str] = field(default_factory=list)  # one entry per token fetched: "<endpoint> <scopes>"
    throttling: dict[str, Any] = field(default_factory=dict)  # the client's Throttling.summary()
    truncated_bodies: int = 0
    budget_spent: bool = False
    deadline_passed: bool = False  # the run reached --max-duration
    unresponsive: list[str] = field(default_factory=list)  # why the API or token endpoint was given up on
    warnings: list[str] = field(default_factory=list)  # the redactor's (short secrets)

    def merged(self, other: RunTally) -> RunTally:
        """The tally of both processes: counts summed, findings listed once."""
        return RunTally(
            requests=dict(Counter(self.requests) + Counter(other.requests)),
            status_seen=dict(Counter(self.status_seen) + Counter(other.status_seen)),
            tokens=self.tokens + other.tokens,
            throttling=merged_throttling(self.throttling, other.throttling),
            truncated_bodies=self.truncated_bodies + other.truncated_bodies,
            budget_spent=self.budget_spent or other.budget_spent,
            deadline_passed=self.deadline_passed or other.deadline_passed,
            unresponsive=list(dict.fromkeys(self.unresponsive + other.unresponsive)),
            warnings=list(dict.fromkeys(self.warnings + other.warnings)),
        )

    @property
    def requests_sent(self) -> int:
        return sum(self.requests.values())


def merged_throttling(one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Two processes' throttling summaries as one: answers and waits summed; the rates summed too,
    since each xdist worker paces its own share of the rate (None, unlimited, when either is)."""
    if not one or not other:
        return one or other

    def rate(key: str) -> float | None:
        return None if one.get(key) is None or other.get(key) is None else one[key] + other[key]

    return {
        "responses": one["responses"] + other["responses"],
        "by_status": dict(Counter(one["by_status"]) + Counter(other["by_status"])),
        "wait_s": round(one["wait_s"] + other["wait_s"], 1),
        "settled_rps": rate("settled_rps"),
        "lowest_rps": rate("lowest_rps"),
    }
