"""Planning: the hand-written checks' requests found before the run, and sent concurrently.

A check sends its requests one after another, each waiting for its answer, so against a
target 100 ms away the ~150 hand-written probes cost 15 s whatever ``--concurrency``
says. When the target is that far (:func:`worth_planning`), the run first runs the
hand-written checks in planning passes (``runner.plan_ahead``): the client answers what
it already has and, at each check's first request it has no answer for, notes the
request and stops the check (``Planned``); the noted requests are then sent
concurrently (``Client.send_ahead``, within ``--max-rps`` and the budget as ever), and
the next pass goes one request further into the checks that stopped. Up to
:data:`MAX_PASSES` passes: a check with more requests than that sends the rest itself.

The run proper then finds its answers waiting. Each request is still made by its check,
in its order, and recorded as that check's evidence, so planning changes how long a run
takes, not what it reports. A request planned but never made (a check whose requests
depend on something else than the answers) would be sent for nothing: against the
reference target none is (``Memo.unclaimed``, tests/test_planning.py). Generated checks
are not planned: FUZZ sends its cases concurrently itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from conformance.client import ClientLimits, Plan, Planned

MAX_PASSES = 4  # most checks send one to three requests
# Below this round trip a pass of the checks (about a second of CPU) costs more than it saves.
MIN_ROUND_TRIP_S = 0.025


def worth_planning(round_trip_s: float, limits: ClientLimits) -> bool:
    """Whether to plan: with more than one request in flight allowed, when one request at a time cannot
    keep up with the rate limit (a round trip longer than --max-rps's interval, and than
    MIN_ROUND_TRIP_S)."""
    if limits.concurrency <= 1:
        return False
    interval = 1 / limits.max_rps if limits.max_rps else 0.0
    return round_trip_s > max(interval, MIN_ROUND_TRIP_S)


class PlanningPass:
    """The pytest plugin of one planning pass: only the hand-written checks not yet run to their end
    run; a check that stops at a request (Planned) runs again in the next pass, and so does one that
    used an answer sent ahead for a request other than a GET or HEAD (a token request), which each
    use claims in turn: a later pass, like the run, must meet it in the same order."""

    def __init__(self, plan: Plan, finished: set[str], is_generated: Callable[[pytest.Item], bool]) -> None:
        self.plan = plan
        self.finished = finished  # node IDs of the checks an earlier pass ran to their end; grows
        self.is_generated = is_generated
        self._again: set[str] = set()  # checks of this pass that run again in the next
        self._claims_before = 0

    @pytest.hookimpl(trylast=True)  # after the plugin's claim and selection
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        kept, deselected = [], []
        for item in items:
            done = self.is_generated(item) or item.nodeid in self.finished
            (deselected if done else kept).append(item)
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = kept

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._claims_before = self.plan.claims

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        report: pytest.TestReport = yield
        if call.excinfo is not None and call.excinfo.errisinstance(Planned):
            self._again.add(item.nodeid)
        if call.when == "teardown":
            if self.plan.claims != self._claims_before:
                self._again.add(item.nodeid)
            if item.nodeid not in self._again:
                self.finished.add(item.nodeid)
        return report
