"""One replication of the whole system: a SimPy discrete-event simulation in days.

Bed pools are plain counters with FIFO queues rather than ``simpy.Resource`` (whose release is
O(capacity)); each patient is a chain of SimPy timeout events with callbacks rather than a
generator process, which measured about three times faster on the per-patient path. The model
reads no files, prints nothing and keeps no global state: it takes a validated config and a
replication seed and returns arrays.

Plan levers (LOS multiplier, step-up share, pathway mix, demand) are read on the arrival day;
capacities change at midnight; gates are checked at every midnight before that day's capacity is
set.

Patient flow:
  emergency arrival -> step-up place free and patient suitable? -> avoided (community stay)
                    -> else acute bed free (and nobody waiting)? -> admitted
                    -> else queue (ED boarding, FIFO) or refused, per ``acute.when_full``;
                       a queue wait past ``acute.max_wait_hours`` ends in a transfer elsewhere
  elective arrival  -> bed free and nobody waiting? admitted, else cancelled
  medically fit     -> home: bed freed
                    -> community pathway: place free (and nobody waiting)? transfer, bed freed
                       else wait in the acute bed (delayed transfer of care), FIFO per service
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy

from ..config import STEP_UP, Config
from .cohort import Candidates, Cohort, build_candidates
from .plan import Gate, Levers, build_levers
from .streams import Streams

# Outcome codes, one per patient.
WAITING = 0  # emergency still waiting for a bed when the run ends
ADMITTED = 1
AVOIDED = 2  # diverted to step-up care
REFUSED = 3  # `when_full: refuse` and no bed
CANCELLED = 4  # elective that found no bed
NOT_ARRIVED = 5  # candidate removed by the plan (demand multiplier, fewer electives booked)
TRANSFERRED = 6  # waited `acute.max_wait_hours` for a bed, then went to another hospital


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
    events: int  # SimPy events processed
    gate_open_days: dict[str, int | None]  # day each gate opened (None: never)


def _at_midnight(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timeout that fires before every ordinary event due at the same instant, so a day's
    capacity is in force before anyone arriving, leaving or becoming fit at midnight."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, simpy.events.URGENT, delay)
    return event


@dataclass(frozen=True)
class _Resolved:
    """Attributes the plan gave each candidate as it arrived."""

    acute_los_days: list[float]
    service: list[int]
    step_up_suitable: list[bool]


def simulate(
    cand: Candidates,
    levers: Levers,
    gates: list[Gate],
    when_full: str,
    horizon_days: int,
    max_wait_days: float | None = None,
) -> tuple[Records, _Resolved]:
    """Run the discrete-event simulation of one replication up to ``horizon_days``.

    ``levers`` is updated in place as gates open, so afterwards it holds the plan as it happened.
    """
    env = simpy.Environment()
    timeout = env.timeout
    n = len(cand)
    nan = float("nan")

    arrival = cand.time_days.tolist()
    arrival_day = cand.day.tolist()
    elective = cand.is_elective.tolist()
    slot = cand.elective_slot.tolist()
    group = cand.group.tolist()
    u_accept = cand.u_accept.tolist()
    base_los = cand.base_los_days.tolist()
    u_step_up = cand.u_step_up.tolist()
    step_up_los = cand.step_up_los_days.tolist()
    u_pathway = cand.u_pathway.tolist()
    service_los = cand.service_los_days
    assessment = cand.assessment_days
    has_assessment = [bool(row.any()) for row in assessment]

    outcome = [WAITING] * n
    admit = [nan] * n
    fit = [nan] * n
    ready = [nan] * n  # ready to transfer to the community service (after assessment)
    leave = [nan] * n
    s_start = [nan] * n
    s_end = [nan] * n
    used_service = [-1] * n
    acute_los = [nan] * n
    service = [-1] * n
    suitable = [False] * n

    accept = levers.accept_probability
    assess_mult = levers.assessment_multiplier
    elective_slots = levers.elective_slots
    los_mult = levers.los_multiplier
    step_up_share = levers.step_up_share
    path_cum = levers.pathway_cumulative
    path_service = levers.pathway_service

    names = cand.service_names
    n_services = len(names)
    step_up = names.index(STEP_UP) if STEP_UP in names else -1
    s_occ = [0] * n_services
    s_cap = [levers.service_places[s][0] for s in range(n_services)]
    s_queue: list[deque] = [deque() for _ in names]
    acute_queue: deque = deque()
    queue_when_full = when_full == "queue"
    occ = 0
    cap = levers.total_beds(0)
    # Running bed-day integrals for gate conditions on occupancy and delays.
    occ_area = 0.0
    occ_since = 0.0
    delayed = 0
    delayed_area = 0.0
    delayed_since = 0.0

    def admit_patient(pid: int) -> None:
        nonlocal occ, occ_area, occ_since
        now = env.now
        occ_area += occ * (now - occ_since)
        occ_since = now
        occ += 1
        outcome[pid] = ADMITTED
        admit[pid] = now
        timeout(acute_los[pid], pid).callbacks.append(on_fit)

    def free_bed(pid: int, now: float) -> None:
        nonlocal occ, occ_area, occ_since
        occ_area += occ * (now - occ_since)
        occ_since = now
        occ -= 1
        leave[pid] = now
        while acute_queue and occ < cap:
            admit_patient(acute_queue.popleft())

    def start_service(s: int, pid: int, now: float, los: float) -> None:
        s_occ[s] += 1
        used_service[pid] = s
        s_start[pid] = now
        timeout(los, pid).callbacks.append(on_service_end)

    def count_delayed(change: int, now: float) -> None:
        """Add ``change`` to the delayed-transfer count, keeping its time integral."""
        nonlocal delayed, delayed_area, delayed_since
        delayed_area += delayed * (now - delayed_since)
        delayed_since = now
        delayed += change

    def transfer_waiting(s: int, now: float) -> None:
        q = s_queue[s]
        while q and s_occ[s] < s_cap[s]:
            pid = q.popleft()
            count_delayed(-1, now)
            start_service(s, pid, now, float(service_los[s, pid]))
            free_bed(pid, now)

    def on_fit(ev: simpy.Event) -> None:
        pid = ev._value
        now = env.now
        fit[pid] = now
        s = service[pid]
        if s < 0:
            free_bed(pid, now)
        elif has_assessment[s]:
            # Assessment / arranging care: the patient keeps the bed and is a delayed transfer.
            count_delayed(1, now)
            delay = float(assessment[s, pid]) * assess_mult[s][arrival_day[pid]]
            timeout(delay, pid).callbacks.append(on_ready)
        else:
            ready_for_transfer(pid, s, now, False)

    def on_ready(ev: simpy.Event) -> None:
        pid = ev._value
        ready_for_transfer(pid, service[pid], env.now, True)

    def ready_for_transfer(pid: int, s: int, now: float, counted_delayed: bool) -> None:
        ready[pid] = now
        if s_occ[s] < s_cap[s] and not s_queue[s]:
            if counted_delayed:
                count_delayed(-1, now)
            start_service(s, pid, now, float(service_los[s, pid]))
            free_bed(pid, now)
        else:
            # Delayed transfer of care: the patient keeps the acute bed until a place frees.
            if not counted_delayed:
                count_delayed(1, now)
            s_queue[s].append(pid)

    def on_wait_limit(ev: simpy.Event) -> None:
        pid = ev._value
        if outcome[pid] == WAITING:  # not admitted yet: leaves the queue for another hospital
            acute_queue.remove(pid)
            outcome[pid] = TRANSFERRED

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
            t = arrival[pid]
            # now + (t - now) can miss t by a rounding step; a tie with the previous arrival can
            # even give a negative delay. Wait the rounded delay, then set the clock to t exactly,
            # so no recorded time is ever before its patient's arrival.
            yield timeout(max(0.0, t - env.now))
            env._now = t
            d = arrival_day[pid]
            g = group[pid]
            if elective[pid]:
                if slot[pid] >= elective_slots[d]:
                    outcome[pid] = NOT_ARRIVED
                    continue
            elif u_accept[pid] >= accept[d]:
                outcome[pid] = NOT_ARRIVED
                continue
            acute_los[pid] = base_los[pid] * los_mult[g][d]
            service[pid] = path_service[g][bisect_right(path_cum[g][d], u_pathway[pid])]
            if elective[pid]:
                if occ < cap and not acute_queue:
                    admit_patient(pid)
                else:
                    outcome[pid] = CANCELLED
                continue
            if u_step_up[pid] < step_up_share[g][d]:
                suitable[pid] = True
                if s_occ[step_up] < s_cap[step_up]:
                    outcome[pid] = AVOIDED
                    start_service(step_up, pid, env.now, step_up_los[pid])
                    continue
            if occ < cap and not acute_queue:
                admit_patient(pid)
            elif queue_when_full:
                acute_queue.append(pid)
                if max_wait_days is not None:
                    timeout(max_wait_days, pid).callbacks.append(on_wait_limit)
            else:
                outcome[pid] = REFUSED

    occupied_by_day = [0.0] * horizon_days
    delayed_by_day = [0.0] * horizon_days
    gate_open: dict[str, int | None] = {g.path: None for g in gates}
    shut = list(gates)

    def midnight():
        """Close the day's integrals, check gates, and set the day's capacities."""
        nonlocal cap, occ_area, occ_since, delayed_area, delayed_since
        for day in range(horizon_days):
            yield _at_midnight(env, day - env.now)
            now = env.now
            if day > 0:
                occupied_by_day[day - 1] = occ_area + occ * (now - occ_since)
                delayed_by_day[day - 1] = delayed_area + delayed * (now - delayed_since)
                occ_area = delayed_area = 0.0
                occ_since = delayed_since = now
            for gate in list(shut):
                if gate.holds(day, levers, occupied_by_day, delayed_by_day):
                    gate.apply(levers, day)
                    gate_open[gate.path] = day
                    shut.remove(gate)
            cap = levers.total_beds(day)
            while acute_queue and occ < cap:
                admit_patient(acute_queue.popleft())
            for s in range(n_services):
                s_cap[s] = levers.service_places[s][day]
                if s != step_up:
                    transfer_waiting(s, now)

    env.process(midnight())
    env.process(arrivals())
    env.run(until=horizon_days)

    fit_a = np.array(fit)
    s_end_a = np.array(s_end)
    ready_a = np.array(ready)
    assessed = int(np.count_nonzero(ready_a > fit_a))  # an assessment timeout fired
    events = (
        n
        + horizon_days
        + int(np.count_nonzero(~np.isnan(fit_a)))
        + int(np.count_nonzero(~np.isnan(s_end_a)))
        + assessed
    )
    records = Records(
        outcome=np.array(outcome, dtype=np.int8),
        admit_days=np.array(admit),
        fit_days=fit_a,
        ready_days=ready_a,
        bed_leave_days=np.array(leave),
        service=np.array(used_service, dtype=np.int64),
        service_start_days=np.array(s_start),
        service_end_days=s_end_a,
        events=events,
        gate_open_days=gate_open,
    )
    return records, _Resolved(acute_los_days=acute_los, service=service, step_up_suitable=suitable)


@dataclass(frozen=True)
class Replication:
    """Inputs and raw outputs of one replication (metrics are computed from these)."""

    cohort: Cohort
    capacity: Capacity
    records: Records


def run_model(cfg: Config, replication_seed: int) -> Replication:
    """Draw the patients, set up the plan and simulate one replication."""
    return simulate_candidates(cfg, build_candidates(cfg, Streams(replication_seed)))


def simulate_candidates(cfg: Config, cand: Candidates) -> Replication:
    """Simulate given candidates under the config's plan.

    The returned cohort and records hold only the patients who arrived (candidates that the plan
    removed are dropped), with the attributes the plan gave them; the capacity is the plan as it
    happened (gates included).
    """
    levers, gates = build_levers(cfg)
    max_wait = cfg.acute.max_wait_hours / 24.0 if cfg.acute.max_wait_hours is not None else None
    records, resolved = simulate(cand, levers, gates, cfg.acute.when_full, cfg.horizon_days, max_wait)

    keep = records.outcome != NOT_ARRIVED
    service = np.array(resolved.service, dtype=np.int64)[keep]
    los_matrix = cand.service_los_days[:, keep]
    rows = np.maximum(service, 0)
    service_los = (
        np.where(service >= 0, los_matrix[rows, np.arange(service.size)], 0.0)
        if los_matrix.size
        else np.zeros(service.size)
    )
    cohort = Cohort(
        arrival_days=cand.time_days[keep],
        is_elective=cand.is_elective[keep],
        group=cand.group[keep],
        step_up_suitable=np.array(resolved.step_up_suitable, dtype=bool)[keep],
        step_up_los_days=cand.step_up_los_days[keep],
        acute_los_days=np.array(resolved.acute_los_days)[keep],
        service=service,
        service_los_days=service_los,
        group_names=cand.group_names,
        service_names=cand.service_names,
    )
    kept = Records(
        outcome=records.outcome[keep],
        admit_days=records.admit_days[keep],
        fit_days=records.fit_days[keep],
        ready_days=records.ready_days[keep],
        bed_leave_days=records.bed_leave_days[keep],
        service=records.service[keep],
        service_start_days=records.service_start_days[keep],
        service_end_days=records.service_end_days[keep],
        events=records.events,
        gate_open_days=records.gate_open_days,
    )
    n = cfg.horizon_days
    core = np.array(levers.core_beds, dtype=np.int64)
    capacity = Capacity(
        core_beds=core,
        total_beds=core + np.array(levers.escalation_beds, dtype=np.int64),
        service_places=np.array(levers.service_places, dtype=np.int64).reshape(len(cfg.services), n),
    )
    return Replication(cohort=cohort, capacity=capacity, records=kept)
