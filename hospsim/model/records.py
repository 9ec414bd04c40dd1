"""What one replication produced: each patient's fate and times, and the capacity in force."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cohort import Cohort

# Outcome codes, one per patient.
WAITING = 0  # emergency still waiting for a bed when the run ends
ADMITTED = 1
AVOIDED = 2  # diverted to step-up care
REFUSED = 3  # `when_full: refuse` and no bed
CANCELLED = 4  # elective that found no bed
NOT_ARRIVED = 5  # candidate removed by the plan (demand multiplier, fewer electives booked)
TRANSFERRED = 6  # waited `acute.max_wait_hours` for a bed, then went to another hospital

# The outcome codes' names, as output tables write them (patients.parquet).
OUTCOME_NAMES: dict[int, str] = {
    WAITING: "waiting",
    ADMITTED: "admitted",
    AVOIDED: "avoided",
    REFUSED: "refused",
    CANCELLED: "cancelled",
    NOT_ARRIVED: "not_arrived",
    TRANSFERRED: "transferred",
}


@dataclass(frozen=True)
class Capacity:
    """Places in force on each day (changes take effect at midnight)."""

    core_beds: np.ndarray  # int, per day
    total_beds: np.ndarray  # core + escalation beds open that day
    service_places: np.ndarray  # int, shape (n_services, n_days)


@dataclass(frozen=True)
class Records:
    """What happened to each patient (times in days; NaN where it did not happen in the run)."""

    outcome: np.ndarray  # int8 codes above
    admit_days: np.ndarray
    fit_days: np.ndarray  # medically fit for discharge
    ready_days: np.ndarray  # ready to transfer (fit + assessment), for community pathways
    bed_leave_days: np.ndarray
    service: np.ndarray  # community service used (step-up for avoided patients), -1 none
    service_start_days: np.ndarray
    service_end_days: np.ndarray
    events: int  # events processed
    gate_open_days: dict[str, int | None]  # day each gate opened (None: never)

    def select(self, keep: np.ndarray) -> Records:
        """The records of the patients where ``keep`` is true."""
        return Records(
            outcome=self.outcome[keep],
            admit_days=self.admit_days[keep],
            fit_days=self.fit_days[keep],
            ready_days=self.ready_days[keep],
            bed_leave_days=self.bed_leave_days[keep],
            service=self.service[keep],
            service_start_days=self.service_start_days[keep],
            service_end_days=self.service_end_days[keep],
            events=self.events,
            gate_open_days=self.gate_open_days,
        )


@dataclass(frozen=True)
class Replication:
    """Inputs and raw outputs of one replication (metrics are computed from these)."""

    cohort: Cohort
    capacity: Capacity
    records: Records


class PatientLog:
    """Per-patient outcomes and times, filled in during the run (plain lists: fast to write)."""

    __slots__ = (
        "acute_los",
        "admit",
        "fit",
        "leave",
        "outcome",
        "ready",
        "s_end",
        "s_start",
        "service",
        "suitable",
        "used_service",
    )

    def __init__(self, n: int) -> None:
        nan = float("nan")
        self.outcome = [WAITING] * n
        self.admit = [nan] * n
        self.fit = [nan] * n
        self.ready = [nan] * n  # ready to transfer to the community service (after assessment)
        self.leave = [nan] * n
        self.s_start = [nan] * n
        self.s_end = [nan] * n
        self.used_service = [-1] * n  # service the patient went to (step-up included)
        # Attributes the plan gave each patient on arrival.
        self.acute_los = [nan] * n
        self.service = [-1] * n  # discharge pathway's service, -1 for home
        self.suitable = [False] * n  # suitable for step-up

    def resolved(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The attributes the plan gave each patient: acute LOS, discharge service, step-up suitable."""
        return (
            np.array(self.acute_los),
            np.array(self.service, dtype=np.int64),
            np.array(self.suitable, dtype=bool),
        )

    def records(self, horizon_days: int, gate_open_days: dict[str, int | None], skipped_arrivals: int = 0) -> Records:
        """The log as arrays, with the number of events the run processed (one per candidate but
        the ``skipped_arrivals`` rejected without an event, per midnight, fit, service end and
        assessment)."""
        fit = np.array(self.fit)
        s_end = np.array(self.s_end)
        ready = np.array(self.ready)
        n = len(self.outcome)
        assessed = int(np.count_nonzero(ready > fit))  # an assessment event fired
        events = (n - skipped_arrivals + horizon_days + int(np.count_nonzero(~np.isnan(fit)))
                  + int(np.count_nonzero(~np.isnan(s_end))) + assessed)  # fmt: skip
        return Records(
            outcome=np.array(self.outcome, dtype=np.int8),
            admit_days=np.array(self.admit),
            fit_days=fit,
            ready_days=ready,
            bed_leave_days=np.array(self.leave),
            service=np.array(self.used_service, dtype=np.int64),
            service_start_days=np.array(self.s_start),
            service_end_days=s_end,
            events=events,
            gate_open_days=gate_open_days,
        )
