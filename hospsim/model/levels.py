"""Counts that move up and down in time, with the running integral that gates read at midnight."""

from __future__ import annotations


class Level:
    """A count (patients delayed, beds occupied) and its integral over the current day."""

    __slots__ = ("_area", "_since", "count")

    def __init__(self) -> None:
        self.count = 0
        self._area = 0.0  # count x days since the last midnight
        self._since = 0.0

    def change(self, delta: int, now: float) -> None:
        """Add ``delta`` to the count at time ``now``."""
        self._area += self.count * (now - self._since)
        self._since = now
        self.count += delta

    def snapshot(self) -> tuple[int, float, float]:
        """(count, integral since the last midnight up to the last change, time of that change)."""
        return self.count, self._area, self._since

    def close_day(self, now: float) -> float:
        """The integral since the last midnight, up to ``now`` (a midnight); starts the next day."""
        area = self._area + self.count * (now - self._since)
        self._area = 0.0
        self._since = now
        return area


class BedPool(Level):
    """The acute beds: beds open today (core and escalation) and beds occupied."""

    __slots__ = ("capacity",)

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def has_free_bed(self) -> bool:
        """Is a bed free (after a cut, occupancy can stay above capacity until patients leave)?"""
        return self.count < self.capacity
