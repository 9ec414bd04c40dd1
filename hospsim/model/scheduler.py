"""The engine's event queue: a time-ordered heap of callbacks, with SimPy's ordering rules.

Events run in order of (time, priority, order of scheduling): at equal times an ``URGENT`` event
(a midnight) comes before every ``NORMAL`` one, and events of equal priority run in the order
they were scheduled - exactly as in SimPy, whose ``Environment`` the engine used before; the
property tests compare the two. The engine keeps its own queue rather than SimPy's because it
needs two things SimPy offers only through private attributes: urgent events, and setting the
clock to an arrival's exact time. A callback is ``callback(arg)``; nothing else is allocated per
event, which keeps the per-event path lean.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

URGENT = 0  # before anything else due at the same instant (capacity changes at midnight)
NORMAL = 1

Callback = Callable[[Any], None]


class EventQueue:
    """A clock and the events still to come."""

    __slots__ = ("_heap", "_order", "now", "processed")

    def __init__(self) -> None:
        self.now = 0.0
        self.processed = 0  # events run so far
        self._heap: list[tuple[float, int, int, Callback, Any]] = []
        self._order = 0

    def after(self, delay: float, callback: Callback, arg: Any) -> None:
        """Run ``callback(arg)`` ``delay`` days from now (``NORMAL`` priority)."""
        self._order += 1
        heappush(self._heap, (self.now + delay, NORMAL, self._order, callback, arg))

    def at(self, time: float, callback: Callback, arg: Any) -> None:
        """Run ``callback(arg)`` at ``time`` exactly (``NORMAL`` priority); ``time`` >= now."""
        self._order += 1
        heappush(self._heap, (time, NORMAL, self._order, callback, arg))

    def urgent_after(self, delay: float, callback: Callback, arg: Any) -> None:
        """Run ``callback(arg)`` ``delay`` days from now, before any ``NORMAL`` event due then."""
        self._order += 1
        heappush(self._heap, (self.now + delay, URGENT, self._order, callback, arg))

    @property
    def scheduled(self) -> int:
        """Events scheduled so far (the order number of the latest)."""
        return self._order

    def pending(self) -> list[tuple[float, int, int, str, Any]]:
        """The events still to come, in the order they will run: (time, priority, order of
        scheduling, handler name, argument)."""
        return sorted((t, p, o, callback.__name__, arg) for t, p, o, callback, arg in self._heap)

    def run(self, until: float) -> None:
        """Run every event due before ``until``; afterwards the queue is empty.

        Emptying it drops the callbacks still pending (patients present at the horizon): they are
        bound methods of the engine, which holds this queue, so keeping them would make a
        reference cycle that keeps the whole replication alive until a full garbage collection.
        """
        heap = self._heap
        done = 0
        try:
            while heap and heap[0][0] < until:
                time, _, _, callback, arg = heappop(heap)
                self.now = time
                callback(arg)
                done += 1
        finally:
            heap.clear()
            self.processed += done
