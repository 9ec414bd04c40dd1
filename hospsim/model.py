"""One replication of the whole system: a SimPy discrete-event simulation in days.

Bed pools are plain counters with FIFO queues rather than ``simpy.Resource`` (whose release is
O(capacity)); each patient is a chain of SimPy timeout events with callbacks rather than a
generator process, which measured about three times faster on the per-patient path. The model
reads no files, prints nothing and keeps no global state: it takes a validated config and a
replication seed and returns arrays.

Patient flow:
  emergency arrival -> step-up place free and patient suitable? -> avoided (community stay)
                    -> else acute bed free (and nobody waiting)? -> admitted
                    -> else queue (ED boarding, FIFO) or refused, per ``acute.when_full``
  elective arrival  -> bed free and nobody waiting? admitted, else cancelled
  medically fit     -> home: bed freed
                    -> community pathway: place free (and nobody waiting)? transfer, bed freed
                       else wait in the acute bed (delayed transfer of care), FIFO per service
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy

from .cohort import Cohort, build_cohort
from .config import STEP_UP, Config
from .demand import calendar
from .streams import Streams

# Outcome codes, one per patient.
WAITING = 0  # emergency still waiting for a bed when the run ends
ADMITTED = 1
AVOIDED = 2  # diverted to step-up care
REFUSED = 3  # `when_full: refuse` and no bed
CANCELLED = 4  # elective that found no bed


@dataclass(frozen=True)
class Capacity:
    """Places available on each day (changes take effect at midnight)."""

    core_beds: np.ndarray  # int, per day
    total_beds: np.ndarray  # core + escalation beds open that day
    service_places: np.ndarray  # int, shape (n_services, n_days)

    def change_days(self) -> np.ndarray:
        """Days (> 0) on which any capacity differs from the day before."""
        stacked = np.vstack([self.total_beds[None, :], self.service_places])
        changed = np.any(stacked[:, 1:] != stacked[:, :-1], axis=0)
        return np.flatnonzero(changed) + 1


def build_capacity(cfg: Config) -> Capacity:
    """Evaluate the capacity schedules for every simulated day."""
    n = cfg.horizon_days
    core = cfg.acute.beds.daily_int(n)
    total = core.copy()
    esc = cfg.acute.escalation
    if esc is not None and esc.beds > 0:
        _, _, month = calendar(cfg.start_date, n)
        total = total + np.where(np.isin(month, esc.months), esc.beds, 0)
    places = np.array([s.capacity.daily_int(n) for s in cfg.services.values()], dtype=np.int64)
    return Capacity(core_beds=core, total_beds=total, service_places=places.reshape(len(cfg.services), n))


@dataclass(frozen=True)
class Records:
    """What happened to each patient (times in days; NaN where it did not happen in the run)."""

    outcome: np.ndarray  # int8 codes above
    admit_days: np.ndarray
    fit_days: np.ndarray  # medically fit for discharge
    bed_leave_days: np.ndarray
    service: np.ndarray  # community service used (step-up for avoided patients), -1 none
    service_start_days: np.ndarray
    service_end_days: np.ndarray
    events: int  # SimPy events processed


def simulate(cohort: Cohort, capacity: Capacity, when_full: str, horizon_days: int) -> Records:
    """Run the discrete-event simulation of one replication up to ``horizon_days``."""
    env = simpy.Environment()
    timeout = env.timeout
    n = len(cohort)
    nan = float("nan")

    arrival = cohort.arrival_days.tolist()
    elective = cohort.is_elective.tolist()
    suitable = cohort.step_up_suitable.tolist()
    step_up_los = cohort.step_up_los_days.tolist()
    acute_los = cohort.acute_los_days.tolist()
    service = cohort.service.tolist()
    service_los = cohort.service_los_days.tolist()

    outcome = [WAITING] * n
    admit = [nan] * n
    fit = [nan] * n
    leave = [nan] * n
    s_start = [nan] * n
    s_end = [nan] * n
    used_service = [-1] * n

    names = cohort.service_names
    step_up = names.index(STEP_UP) if STEP_UP in names else -1
    s_occ = [0] * len(names)
    s_cap = [int(c) for c in capacity.service_places[:, 0]] if len(names) else []
    s_queue: list[deque] = [deque() for _ in names]
    s_cap_by_day = capacity.service_places.tolist()
    beds_by_day = capacity.total_beds.tolist()
    acute_queue: deque = deque()
    queue_when_full = when_full == "queue"
    occ = 0
    cap = beds_by_day[0]

    def admit_patient(pid: int) -> None:
        nonlocal occ
        occ += 1
        outcome[pid] = ADMITTED
        admit[pid] = env.now
        timeout(acute_los[pid], pid).callbacks.append(on_fit)

    def free_bed(pid: int, now: float) -> None:
        nonlocal occ
        occ -= 1
        leave[pid] = now
        while acute_queue and occ < cap:
            admit_patient(acute_queue.popleft())

    def start_service(s: int, pid: int, now: float, los: float) -> None:
        s_occ[s] += 1
        used_service[pid] = s
        s_start[pid] = now
        timeout(los, pid).callbacks.append(on_service_end)

    def transfer_waiting(s: int, now: float) -> None:
        q = s_queue[s]
        while q and s_occ[s] < s_cap[s]:
            pid = q.popleft()
            start_service(s, pid, now, service_los[pid])
            free_bed(pid, now)

    def on_fit(ev: simpy.Event) -> None:
        pid = ev._value
        now = env.now
        fit[pid] = now
        s = service[pid]
        if s < 0:
            free_bed(pid, now)
        elif s_occ[s] < s_cap[s] and not s_queue[s]:
            start_service(s, pid, now, service_los[pid])
            free_bed(pid, now)
        else:
            s_queue[s].append(pid)  # delayed transfer of care: keeps the acute bed

    def on_service_end(ev: simpy.Event) -> None:
        pid = ev._value
        now = env.now
        s = used_service[pid]
        s_occ[s] -= 1
        s_end[pid] = now
        if s != step_up:
            transfer_waiting(s, now)

    def arrivals():
        for pid in range(n):
            yield timeout(arrival[pid] - env.now)
            if elective[pid]:
                if occ < cap and not acute_queue:
                    admit_patient(pid)
                else:
                    outcome[pid] = CANCELLED
                continue
            if suitable[pid] and s_occ[step_up] < s_cap[step_up]:
                outcome[pid] = AVOIDED
                start_service(step_up, pid, env.now, step_up_los[pid])
            elif occ < cap and not acute_queue:
                admit_patient(pid)
            elif queue_when_full:
                acute_queue.append(pid)
            else:
                outcome[pid] = REFUSED

    change_days = capacity.change_days().tolist()

    def capacity_changes():
        nonlocal cap
        for day in change_days:
            yield timeout(day - env.now)
            now = env.now
            cap = beds_by_day[day]
            while acute_queue and occ < cap:
                admit_patient(acute_queue.popleft())
            for s in range(len(names)):
                s_cap[s] = s_cap_by_day[s][day]
                if s != step_up:
                    transfer_waiting(s, now)

    env.process(capacity_changes())
    env.process(arrivals())
    env.run(until=horizon_days)

    fit_a = np.array(fit)
    s_end_a = np.array(s_end)
    events = n + int(np.count_nonzero(~np.isnan(fit_a))) + int(np.count_nonzero(~np.isnan(s_end_a)))
    return Records(
        outcome=np.array(outcome, dtype=np.int8),
        admit_days=np.array(admit),
        fit_days=fit_a,
        bed_leave_days=np.array(leave),
        service=np.array(used_service, dtype=np.int64),
        service_start_days=np.array(s_start),
        service_end_days=s_end_a,
        events=events + len(change_days),
    )


@dataclass(frozen=True)
class Replication:
    """Inputs and raw outputs of one replication (metrics are computed from these)."""

    cohort: Cohort
    capacity: Capacity
    records: Records


def run_model(cfg: Config, replication_seed: int) -> Replication:
    """Draw the patients, evaluate the capacity schedules and simulate one replication."""
    streams = Streams(replication_seed)
    cohort = build_cohort(cfg, streams)
    capacity = build_capacity(cfg)
    records = simulate(cohort, capacity, cfg.acute.when_full, cfg.horizon_days)
    return Replication(cohort=cohort, capacity=capacity, records=records)
