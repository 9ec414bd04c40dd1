"""The places the engine manages besides beds: community service pools and the boarding queue."""

from __future__ import annotations

from collections import deque

from ..config.service_kinds import ServiceKind


class ServicePool:
    """A community service's places today, the places in use (by patients in their stay and by
    patients who have finished it and wait to move on) and, for a service that takes transfers,
    the patients ready to move in who wait in their current place - acute bed or another
    service's place - first come first served."""

    __slots__ = ("index", "kind", "occupied", "places", "routes_onward", "takes_transfers", "waiting")

    def __init__(self, index: int, kind: ServiceKind, places: int, routes_onward: bool = False) -> None:
        self.index = index
        self.kind = kind
        self.takes_transfers = kind.takes_transfers
        self.routes_onward = routes_onward  # may send patients on to other services
        self.places = places
        self.occupied = 0
        self.waiting: deque[int] = deque()

    def has_place(self) -> bool:
        """Is a place free?"""
        return self.occupied < self.places

    def can_take_now(self) -> bool:
        """Can a newly ready patient move in at once (a free place and nobody waiting ahead)?"""
        return self.occupied < self.places and not self.waiting


class BoardingQueue:
    """Emergencies waiting for an acute bed (in ED), first come first served."""

    __slots__ = ("max_wait_days", "waiting")

    def __init__(self, max_wait_days: float | None) -> None:
        self.waiting: deque[int] = deque()
        # A patient still waiting this long is transferred to another hospital (None: no limit).
        self.max_wait_days = max_wait_days

    def join(self, pid: int) -> None:
        """Add a patient to the back of the queue."""
        self.waiting.append(pid)

    def leave(self, pid: int) -> None:
        """Take a patient out of the queue wherever they are (their wait limit ran out)."""
        self.waiting.remove(pid)
