"""Kinds of community service: how patients reach a service and what a full service does to them.

Every service in a config has a ``kind``. The model reads only these properties, never a service's
name, so a new kind made of existing behaviours is one entry here (see docs/howto-service-kind.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceKind:
    """What a kind of service does."""

    name: str
    description: str
    # Patients leaving acute beds are referred to it through a discharge pathway; when it is full
    # they wait in their acute bed, first come first served (a delayed transfer of care).
    takes_transfers: bool
    # Emergencies suitable for it (a group's ``step_up_share``) go there instead of being admitted
    # when a place is free on arrival, and are admitted otherwise; it has no queue.
    diverts_arrivals: bool

    @property
    def allows_assessment(self) -> bool:
        """An assessment (fit to ready) is spent in the acute bed, so only transfers have one."""
        return self.takes_transfers


DISCHARGE = ServiceKind(
    name="discharge",
    description="step-down care after an acute stay (home support, rehab beds, care homes)",
    takes_transfers=True,
    diverts_arrivals=False,
)
STEP_UP_KIND = ServiceKind(
    name="step_up",
    description="admission avoidance: takes suitable emergencies instead of an acute bed",
    takes_transfers=False,
    diverts_arrivals=True,
)

SERVICE_KINDS: dict[str, ServiceKind] = {k.name: k for k in (DISCHARGE, STEP_UP_KIND)}
