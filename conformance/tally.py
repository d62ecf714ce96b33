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


@dataclass
class RunTally:
    """Counters of one process (or, merged, of the whole run)."""

    requests: dict[str, int] = field(default_factory=dict)  # requests sent, per phase
    status_seen: dict[str, int] = field(default_factory=dict)  # status value -> fixture reads
    tokens: list[str] = field(default_factory=list)  # one entry per token fetched: "<endpoint> <scopes>"
    throttled_retries: int = 0
    throttle_wait_s: float = 0.0
    truncated_bodies: int = 0
    budget_spent: bool = False
    unresponsive: list[str] = field(default_factory=list)  # why the API or token endpoint was given up on
    warnings: list[str] = field(default_factory=list)  # the redactor's (short secrets)

    def merged(self, other: RunTally) -> RunTally:
        """The tally of both processes: counts summed, findings listed once."""
        return RunTally(
            requests=dict(Counter(self.requests) + Counter(other.requests)),
            status_seen=dict(Counter(self.status_seen) + Counter(other.status_seen)),
            tokens=self.tokens + other.tokens,
            throttled_retries=self.throttled_retries + other.throttled_retries,
            throttle_wait_s=self.throttle_wait_s + other.throttle_wait_s,
            truncated_bodies=self.truncated_bodies + other.truncated_bodies,
            budget_spent=self.budget_spent or other.budget_spent,
            unresponsive=list(dict.fromkeys(self.unresponsive + other.unresponsive)),
            warnings=list(dict.fromkeys(self.warnings + other.warnings)),
        )

    @property
    def requests_sent(self) -> int:
        return sum(self.requests.values())
