"""What one replication produced: each patient's fate and times, and the capacity in force."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .cohort import Cohort
from .monitor import DailyLevel

# Outcome codes, one per patient.
WAITING = 0  # emergency still waiting for a bed when the run ends
ADMITTED = 1
AVOIDED = 2  # diverted to step-up care
REFUSED = 3  # `when_full: refuse` and no bed
ON_LIST = 4  # elective still on the waiting list when the run ends (booked or not)
NOT_ARRIVED = 5  # emergency candidate removed by the plan (demand multiplier)
TRANSFERRED = 6  # waited `acute.max_wait_hours` for a bed, then went to another hospital

# The outcome codes' names, as output tables write them (patients.parquet).
OUTCOME_NAMES: dict[int, str] = {
    WAITING: "waiting",
    ADMITTED: "admitted",
    AVOIDED: "avoided",
    REFUSED: "refused",
    ON_LIST: "waiting_list",
    NOT_ARRIVED: "not_arrived",
    TRANSFERRED: "transferred",
}


@dataclass(frozen=True)
class Capacity:
    """Places in force on each day (changes take effect at midnight)."""

    core_beds: np.ndarray  # int, per day
    total_beds: np.ndarray  # core + escalation beds open that day
    service_places: np.ndarray  # int, shape (n_services, n_days)


# Where a community visit's patient came from (``Visits.origin``), besides a sender service's index.
FROM_ACUTE = -1  # an acute bed
FROM_ARRIVAL = -2  # diverted to step-up care on arrival
FROM_CENSUS = -3  # already in the service at day 0 (a census start)


@dataclass(frozen=True)
class Visits:
    """One row per referral of a patient to a community service, in the order referred (times in
    days; NaN where it had not happened by the end of the run). A patient finishing its stay in
    a place (acute bed or service) and going on to service D spends D's assessment in that place,
    is then ready, and waits in that place until D has a free place (blocking after service)."""

    patient: np.ndarray  # int: index of the patient in the records
    service: np.ndarray  # int: the service referred to
    origin: np.ndarray  # int: the sender service's index, FROM_ACUTE, FROM_ARRIVAL or FROM_CENSUS
    depth: np.ndarray  # int: 0 for the patient's first community visit, 1 for the next, ...
    referred_days: np.ndarray  # finished its stay in the sender's place (arrival for a diversion)
    ready_days: np.ndarray  # ready to move in (after the assessment)
    start_days: np.ndarray  # moved in
    stay_end_days: np.ndarray  # finished its stay here
    leave_days: np.ndarray  # left this service's place (home, or moved on)

    def __len__(self) -> int:
        return int(self.patient.size)

    def renumbered(self, new_index: np.ndarray) -> Visits:
        """The visits with patient ``i`` renumbered ``new_index[i]``."""
        return replace(self, patient=new_index[self.patient])


# The daily levels an engine may sweep as it runs (DailyLevels rows): each a count of intervals, as
# kpis._Measures measures it from the records. Service ``s``'s levels follow the four acute ones.
OCCUPIED, EMERGENCY_OCCUPIED, DELAYED, BOARDING = 0, 1, 2, 3  # beds; delayed: from fit to leaving
SERVICE_OCCUPIED, SERVICE_BLOCKED, SERVICE_QUEUE = 0, 1, 2  # + ACUTE_LEVELS + 3 * s
ACUTE_LEVELS, LEVELS_PER_SERVICE = 4, 3


def service_level(service: int, which: int) -> int:
    """The DailyLevels level of service ``service``'s ``which`` (SERVICE_OCCUPIED, ...)."""
    return ACUTE_LEVELS + LEVELS_PER_SERVICE * service + which


@dataclass(frozen=True)
class DailyLevels:
    """Each level's daily statistics, swept by the compiled engine as the level changed: the
    numbers :func:`~.monitor.daily_level` gives from the records' intervals, bit for bit (the
    lockstep tests compare the daily tables of both engines)."""

    mean: np.ndarray  # float [level, day]: time integral over the day (its mean: days are 1 long)
    peak: np.ndarray  # float [level, day]: highest level held for a positive time
    midnight: np.ndarray  # float [level, day]: the level at the midnight that ends the day
    occupied_excess: np.ndarray  # float [day]: OCCUPIED over the core beds, at most the escalation beds

    def daily(self, level: int) -> DailyLevel:
        """Level ``level`` as ``daily_level`` gives it (its excess: OCCUPIED's over the core beds,
        capped at the escalation beds open; None for the others)."""
        excess = self.occupied_excess if level == OCCUPIED else None
        return DailyLevel(
            mean=self.mean[level], max=self.peak[level], midnight=self.midnight[level], mean_excess=excess
        )


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
    times_cancelled: np.ndarray  # int: times an elective's booked admission was cancelled
    cancellation_days: np.ndarray  # when each cancellation happened (one entry per cancellation)
    cancelled_patient: np.ndarray  # int: whose booked admission it was (aligned with cancellation_days)
    events: int  # events processed
    gate_open_days: dict[str, int | None]  # day each gate opened (None: never)
    visits: Visits = field(default_factory=lambda: empty_visits())  # every community visit
    levels: DailyLevels | None = None  # the daily levels, if the engine swept them as it ran

    def select(self, keep: np.ndarray) -> Records:
        """The records of the patients where ``keep`` is true (these records if it is true for
        every patient: records are never changed in place)."""
        if keep.all():
            return self
        index = np.flatnonzero(keep)  # taking by index: several times faster than masks
        new_index = np.cumsum(keep) - 1  # each kept patient's number among the kept
        return Records(
            outcome=self.outcome.take(index),
            admit_days=self.admit_days.take(index),
            fit_days=self.fit_days.take(index),
            ready_days=self.ready_days.take(index),
            bed_leave_days=self.bed_leave_days.take(index),
            service=self.service.take(index),
            service_start_days=self.service_start_days.take(index),
            service_end_days=self.service_end_days.take(index),
            times_cancelled=self.times_cancelled.take(index),
            cancellation_days=self.cancellation_days,
            cancelled_patient=new_index[self.cancelled_patient],  # electives are never dropped
            events=self.events,
            gate_open_days=self.gate_open_days,
            visits=self.visits.renumbered(new_index),  # only patients who arrived visit
            levels=self.levels,  # a patient who did not arrive was never in any
        )


def empty_visits() -> Visits:
    """No community visits."""
    i, f = np.empty(0, dtype=np.int64), np.empty(0)
    return Visits(i, i, i, i, f, f, f, f, f)


def final_states(rec: Records) -> dict[str, int]:
    """Where every patient who arrived (or was referred) is at the end of the run: each in
    exactly one state. Raises ``AssertionError`` if any patient is in none or in two."""
    out = rec.outcome
    admitted = out == ADMITTED
    in_bed = admitted & np.isnan(rec.bed_leave_days)
    v = rec.visits
    holding = v.patient[~np.isnan(v.start_days) & np.isnan(v.leave_days)]
    in_service = admitted & ~in_bed & np.isin(np.arange(out.size), holding)
    states = {
        "waiting for a bed": out == WAITING,
        "on the waiting list": out == ON_LIST,
        "in an acute bed": in_bed,
        "in a community service": in_service,
        "discharged": admitted & ~in_bed & ~in_service,
        "transferred elsewhere": out == TRANSFERRED,
        "refused": out == REFUSED,
        "avoided (step-up)": out == AVOIDED,
    }
    per_patient = np.sum(list(states.values()), axis=0) if out.size else np.zeros(0)
    if not np.all(per_patient == 1):
        raise AssertionError(f"{int(np.sum(per_patient != 1))} patients are not in exactly one state")
    return {name: int(mask.sum()) for name, mask in states.items()}


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
        "cancellation_days",
        "cancelled_patient",
        "fit",
        "leave",
        "outcome",
        "ready",
        "s_end",
        "s_start",
        "service",
        "suitable",
        "times_cancelled",
        "used_service",
        "v_depth",
        "v_leave",
        "v_origin",
        "v_patient",
        "v_ready",
        "v_referred",
        "v_service",
        "v_start",
        "v_stay_end",
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
        self.times_cancelled = [0] * n
        self.cancellation_days: list[float] = []
        self.cancelled_patient: list[int] = []
        # Attributes the plan gave each patient on arrival.
        self.acute_los = [nan] * n
        self.service = [-1] * n  # discharge pathway's service, -1 for home
        self.suitable = [False] * n  # suitable for step-up
        # Community visits, one entry per referral (see Visits).
        self.v_patient: list[int] = []
        self.v_service: list[int] = []
        self.v_origin: list[int] = []
        self.v_depth: list[int] = []
        self.v_referred: list[float] = []
        self.v_ready: list[float] = []
        self.v_start: list[float] = []
        self.v_stay_end: list[float] = []
        self.v_leave: list[float] = []

    def refer(self, pid: int, service: int, origin: int, depth: int, now: float) -> int:
        """A new community visit (the patient has finished its stay where it is); its index."""
        nan = float("nan")
        self.v_patient.append(pid)
        self.v_service.append(service)
        self.v_origin.append(origin)
        self.v_depth.append(depth)
        self.v_referred.append(now)
        self.v_ready.append(nan)
        self.v_start.append(nan)
        self.v_stay_end.append(nan)
        self.v_leave.append(nan)
        return len(self.v_patient) - 1

    def visits(self) -> Visits:
        """The community visits as arrays."""
        ints = [np.array(x, dtype=np.int64) for x in (self.v_patient, self.v_service, self.v_origin, self.v_depth)]
        times = [
            np.array(x, dtype=float)
            for x in (self.v_referred, self.v_ready, self.v_start, self.v_stay_end, self.v_leave)
        ]
        return Visits(*ints, *times)

    def resolved(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The attributes the plan gave each patient: acute LOS, discharge service, step-up suitable."""
        return (
            np.array(self.acute_los),
            np.array(self.service, dtype=np.int64),
            np.array(self.suitable, dtype=bool),
        )

    def cancel(self, pid: int, now: float) -> None:
        """An elective's booked admission cancelled (no bed): it goes back on the list."""
        self.times_cancelled[pid] += 1
        self.cancellation_days.append(now)
        self.cancelled_patient.append(pid)

    def records(self, events: int, gate_open_days: dict[str, int | None]) -> Records:
        """The log as arrays, with the number of events the run processed."""
        return Records(
            outcome=np.array(self.outcome, dtype=np.int8),
            admit_days=np.array(self.admit),
            fit_days=np.array(self.fit),
            ready_days=np.array(self.ready),
            bed_leave_days=np.array(self.leave),
            service=np.array(self.used_service, dtype=np.int64),
            service_start_days=np.array(self.s_start),
            service_end_days=np.array(self.s_end),
            times_cancelled=np.array(self.times_cancelled, dtype=np.int64),
            cancellation_days=np.array(self.cancellation_days, dtype=float),
            cancelled_patient=np.array(self.cancelled_patient, dtype=np.int64),
            events=events,
            gate_open_days=gate_open_days,
            visits=self.visits(),
        )
