"""Before the first request: about how many requests a run will send, at most.

A run whose ``--max-examples`` would spend the request budget (which the hand-written checks alone would
not) is refused with these numbers (exit 2)
instead of turning the requirements it could not reach into "budget spent". The figure is an upper
bound: the hand-written checks' share is measured on the bundled reference target (148 requests with
its 5 + 2 fixture enrolments, 2026-12-02) plus a margin per further fixture, and each generation
session sends at most ``--max-examples`` cases (fewer when cases repeat), plus FUZZ-006's replays.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.catalogue import load_catalogue
from conformance.config import Settings

HAND_WRITTEN = 150  # requests of the hand-written checks of a full run with REFERENCE_FIXTURES fixtures
REFERENCE_FIXTURES = 7
PER_FIXTURE = 6  # requests per fixture enrolment beyond those (reads, scopes, isolation probes)
SESSION_EXTRA = 3  # per generation session: FUZZ-006's replays without and with wrong credentials


@dataclass(frozen=True)
class Estimate:
    """The requests a run would send, at most: hand-written checks and generated cases."""

    hand_written: int
    sessions: int  # generation sessions (positive/negative x Basic/Bearer)
    max_examples: int

    @property
    def generated(self) -> int:
        return self.sessions * (self.max_examples + SESSION_EXTRA)

    @property
    def total(self) -> int:
        return self.hand_written + self.generated

    def largest_max_examples(self, budget: int) -> int:
        """The largest --max-examples this run could use within budget (0: none fits)."""
        if not self.sessions:
            return self.max_examples
        return max(0, (budget - self.hand_written) // self.sessions - SESSION_EXTRA)


def estimate(settings: Settings) -> Estimate:
    """The upper bound of the requests this run would send (the -k expression, pytest's, is not read)."""
    claimed = settings.claimed_classes()
    selected = [
        req
        for req in load_catalogue().values()
        if req.conformance_class in claimed and settings.selects(req.id)
    ]
    fuzz = any(req.area == "FUZZ" for req in selected)
    sessions = (4 if settings.target.token_url else 2) if fuzz else 0
    fixtures = len(settings.fixtures) + len(settings.other_tenant_fixtures)
    hand_written = HAND_WRITTEN + PER_FIXTURE * max(0, fixtures - REFERENCE_FIXTURES)
    if settings.only is not None:
        share = sum(1 for req in selected if req.area != "FUZZ") / len(load_catalogue())
        hand_written = round(hand_written * share)
    return Estimate(hand_written, sessions, settings.max_examples)


def budget_problem(settings: Settings, budget: int) -> str | None:
    """The one-line refusal when the run would spend the request budget, else None."""
    if settings.select:
        return None  # a -k expression is pytest's to match: which checks it keeps is not known here
    found = estimate(settings)
    fits = found.largest_max_examples(budget)
    if found.total <= budget or not found.sessions or not fits:
        return None  # within budget, or a budget too small for the hand-written checks alone: the user's
    return (
        f"--max-examples {found.max_examples} would spend the request budget: the run would send up to "
        f"{found.total} requests ({found.hand_written} for the hand-written checks + {found.sessions} "
        f"generation sessions x ({found.max_examples} cases + {SESSION_EXTRA})) and --max-requests is "
        f"{budget}; lower --max-examples to {fits} or less, or raise --max-requests to {found.total}"
    )
