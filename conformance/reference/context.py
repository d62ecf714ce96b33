"""What every handler of the reference target shares: faults, secrets, tokens, the clock and the data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, time

from conformance.reference.data import ReferenceData
from conformance.reference.mutations import dataset
from conformance.reference.tokens import TokenStore


class Context:
    """The state of one reference app.

    The data is seeded relative to the start of the current UTC day and seeded
    again when the day changes, so every read within a day returns the same
    dates while "past" and "future" stay true however long the server runs.
    """

    def __init__(
        self, secrets: Mapping[str, str], faults: frozenset[str], now: Callable[[], datetime]
    ) -> None:
        self.secrets = dict(secrets)
        self.faults = faults
        self.now = now
        self.tokens = TokenStore(now, unsigned_jwt="jwt-tokens-unsigned-check" in faults)
        self._data: ReferenceData | None = None

    def data(self) -> ReferenceData:
        """Today's data, with the dataset-level faults applied."""
        now = self.now()
        day_start = datetime.combine(now.date(), time(), now.tzinfo)
        if self._data is None or self._data.seeded_at != day_start:
            self._data = dataset(day_start, self.faults)
        return self._data
