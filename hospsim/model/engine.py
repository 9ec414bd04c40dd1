"""One replication of the whole system: a discrete-event simulation in days.

The engine only dispatches events; the state lives in small parts: the acute :class:`BedPool`,
the :class:`BoardingQueue`, one :class:`ServicePool` per community service (its *kind* says how
patients reach it), the :class:`GateBook` of plan gates, the :class:`PatientLog`, and the
:class:`EventQueue` that orders events as SimPy would. The model reads no files, prints nothing
and keeps no global state: it takes a validated config and a replication seed and returns arrays.

Plan levers (LOS multiplier, step-up share, pathway mix, demand) are read on the arrival day;
capacities change at midnight; gates are checked at every midnight before that day's capacity is
set.

Patient flow:
  emergency arrival -> step-up place free and patient suitable? -> avoided (community stay)
                    -> else acute bed free (and nobody waiting)? -> admitted
                    -> else queue (ED boarding, FIFO) or refused, per ``acute.when_full``;
                       a queue wait past ``acute.max_wait_hours`` ends in a transfer elsewhere
  elective referral -> waiting list; bookable after `bookable_after`; each weekday midnight the
                       day's theatre slots are filled in order of priority, then referral time
  booked elective   -> bed free and nobody waiting? admitted, else cancelled: back to the top of
                       the list, booked again
  medically fit     -> home: bed freed
                    -> community pathway: (assessment, in the bed) then place free and nobody
                       waiting? transfer, bed freed; else wait in the acute bed (delayed transfer
                       of care), FIFO per service
  end of a community stay -> home: place freed
                    -> onward pathway to another service: as from an acute bed, the patient
                       keeping its community place meanwhile (blocking after service)
  a place freed     -> taken by the receiving service's longest-waiting ready patient, wherever
                       that patient is; the place it leaves is offered on in turn (a cascade)

Each community visit is a row of the visit log (``Records.visits``): the route and, from the
second visit on, the stay and the assessment come from per-visit streams (:class:`OnwardDraws`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from functools import partial
from heapq import heappop, heappush

import numpy as np

from ..config import Config
from ..config.distributions import mean_days
from .census import place_census
from .cohort import Candidates, Cohort, OnwardDraws, build_candidates, row_entries
from .levels import BedPool, Level
from .plan import (
    Gate,
    GateBook,
    Levers,
    build_levers,
    may_step_up,
    may_use_a_service,
    most_accept_probability,
    most_referral_accept,
)
from .records import (
    ADMITTED,
    AVOIDED,
    FROM_ACUTE,
    FROM_ARRIVAL,
    NOT_ARRIVED,
    ON_LIST,
    REFUSED,
    TRANSFERRED,
    WAITING,
    Capacity,
    PatientLog,
    Records,
    Replication,
    Visits,
)
from .scheduler import EventQueue
from .services import BoardingQueue, ServicePool
from .streams import Streams

__all__ = [
    "ADMITTED", "AVOIDED", "NOT_ARRIVED", "ON_LIST", "REFUSED", "TRANSFERRED", "WAITING",
    "Capacity", "Engine", "Records", "Replication", "run_model", "simulate_candidates",
]  # fmt: skip


def assessment_flags(cfg: Config) -> list[bool]:
    """Per service: has it an assessment that is not always 0? (A later visit's draw may be
    positive when every first visit's was 0: an empirical distribution with zeros.)"""
    return [s.assessment is not None and mean_days(s.assessment) > 0 for s in cfg.services.values()]


class ElectiveList:
    """The elective waiting list: who may be booked next, in order of clinical priority, then
    referral time; a patient cancelled for want of a bed goes back to the top (before every
    priority), first cancelled first rebooked."""

    def __init__(self, cand: Candidates, cfg: Config) -> None:
        el = cfg.demand.elective
        self.first_hour_days = el.admit_hour / 24.0 if el is not None else 0.0
        self.spread_days = el.spread_hours / 24.0 if el is not None else 0.0
        # Only the electives' attributes (candidates first..), indexed by k = pid - first: lists of
        # every candidate would cost ~20 MB each for the default footprint.
        self.first = first = cand.n_emergencies
        electives = slice(first, first + cand.n_electives)
        bookable = cand.bookable_days[electives]
        # Electives in the order they become bookable; ``next`` is the first not yet on the heap.
        self.order = np.argsort(bookable, kind="stable").tolist()
        self.bookable_days = bookable.tolist()
        self.priority = cand.priority[electives].tolist()
        self.referral_days = cand.time_days[electives].tolist()
        self.referral_day = cand.day[electives].tolist()
        self.u_accept = cand.u_accept[electives].tolist()
        self.kept = [True] * len(self.u_accept)
        self.next_referral = 0  # the first referral whose day has not started yet
        self.next = 0
        self.heap: list[tuple[int, float, float, int]] = []  # (tier, key, key, pid); tier 0: rebooking
        self.cancelled = 0  # cancellations so far: orders those at the same instant

    def refer(self, day: int, accept: float) -> list[int]:
        """At the midnight that starts ``day``: the day's referrals (as patient ids) that the
        plan's referral multiplier (``accept``) removes."""
        dropped, k, n, u = [], self.next_referral, len(self.kept), self.u_accept
        while k < n and self.referral_day[k] <= day:
            if not u[k] < accept:
                self.kept[k] = False
                dropped.append(self.first + k)
            k += 1
        self.next_referral = k
        return dropped

    def book(self, day: int, slots: int) -> list[int]:
        """At the midnight that starts ``day``: the patients booked into its ``slots``."""
        order, heap, bookable, kept, first = self.order, self.heap, self.bookable_days, self.kept, self.first
        i = self.next
        while i < len(order) and bookable[order[i]] <= day:
            k = order[i]
            if kept[k]:
                heappush(heap, (1, self.priority[k], self.referral_days[k], first + k))
            i += 1
        self.next = i
        return [heappop(heap)[3] for _ in range(min(slots, len(heap)))]

    def rebook(self, pid: int, now: float) -> None:
        """A cancelled patient goes back to the top of the list."""
        self.cancelled += 1
        heappush(self.heap, (0, now, float(self.cancelled), pid))

    def slot_offset_days(self, k: int, slots: int) -> float:
        """Time from midnight to the ``k``-th of ``slots`` admissions: spread evenly from
        ``admit_hour`` over ``spread_hours``."""
        return self.first_hour_days + self.spread_days * k / slots


class Engine:
    """The event handlers of one replication, over its candidates, levers and gates."""

    def __init__(self, cfg: Config, cand: Candidates, levers: Levers, gates: list[Gate]) -> None:
        self.cfg = cfg
        self.clock = EventQueue()
        self.horizon_days = cfg.horizon_days
        self.levers = levers
        self.gates = GateBook(gates, cfg.horizon_days)
        self.log = PatientLog(len(cand))
        self.beds = BedPool(levers.total_beds(0))
        self.delayed = Level()  # patients medically fit but still in an acute bed
        max_wait = cfg.acute.max_wait_hours / 24.0 if cfg.acute.max_wait_hours is not None else None
        self.boarding = BoardingQueue(max_wait)
        self.queue_when_full = cfg.acute.when_full == "queue"
        self.pools = [
            ServicePool(i, svc.service_kind, levers.service_places[i][0], svc.routes_onward)
            for i, svc in enumerate(cfg.services.values())
        ]
        step_up = cfg.step_up_service
        self.step_up = self.pools[list(cfg.services).index(step_up)] if step_up is not None else None
        # Per patient with a community visit: its latest visit (being assessed for, waited for or
        # under way) and the visit whose place it holds (while in a community place).
        self.visit: dict[int, int] = {}
        self.holding: dict[int, int] = {}
        self.onward = OnwardDraws(cfg, cand)
        self._take_patients(cand)
        self.electives = ElectiveList(cand, cfg)

    def _take_patients(self, cand: Candidates) -> None:
        """The candidates' attributes as lists (fast to index on the per-event path)."""
        self.n = len(cand)
        self.n_emergencies = cand.n_emergencies
        self.n_census = cand.n_census
        self.census = cand.census
        self.cand = cand  # as arrays, to sort each day's candidates at once (_sort_day)
        self.day_end = np.searchsorted(cand.day[: cand.n_emergencies], np.arange(1, self.horizon_days + 1)).tolist()
        self.sorted_day = -1  # the day whose kept candidates kept_today lists
        self.kept_today: Iterator[int] = iter(())
        self.arrival = cand.time_days.tolist()
        self.arrival_day = cand.day.tolist()
        self.group = cand.group.tolist()
        self.u_accept = cand.u_accept.tolist()
        self.base_los = cand.base_los_days.tolist()
        self.u_step_up = cand.u_step_up.tolist()
        self.step_up_los = cand.step_up_los_days.tolist()
        self.u_pathway = cand.u_pathway.tolist()
        # Rows of numpy arrays, not lists: only referred patients read them, and lists of every
        # candidate's LOS for every service would cost ~130 MB for the default footprint.
        self.service_los = list(cand.service_los_days)
        self.assessment = list(cand.assessment_days)
        self.has_assessment = assessment_flags(self.cfg)

    def start(self) -> None:
        """Everything before the first event: the first midnight and arrival scheduled, the
        electives on the list, the census (if any) in its places."""
        clock = self.clock
        clock.urgent_after(0.0, self._on_midnight, 0)
        if self.n_emergencies:
            clock.at(self.arrival[0], self._on_arrival, 0)
        for pid in range(self.n_emergencies, self.n - self.n_census):
            self.log.outcome[pid] = ON_LIST  # until admitted
            self._resolve(pid)  # electives have no plan levers: their LOS and pathway are known
        if self.census is not None:
            place_census(self, self.cfg, self.census, self.n - self.n_census)

    def run(self) -> Records:
        """Simulate up to the horizon; ``levers`` then hold the plan as it happened (gates)."""
        self.start()
        self.clock.run(until=self.horizon_days)
        return self.log.records(self.clock.processed, self.gates.opened)

    # --- arrivals ----------------------------------------------------------------------------

    def _on_arrival(self, pid: int) -> None:
        t = self.clock.now
        if self._arrives(pid):
            self._resolve(pid)
            self._emergency(pid, t)
        else:
            self.log.outcome[pid] = NOT_ARRIVED
        # The next candidate that may arrive: a later one today that the plan keeps, else the first
        # of a later day (checked when it comes, after its midnight's gates).
        day = self.arrival_day[pid]
        if day != self.sorted_day:
            self._sort_day(pid, day)
        nxt = next(self.kept_today, self.day_end[day])
        if nxt < self.n_emergencies:
            # At its time exactly, not now + difference: the event's time then does not depend on
            # which candidate came before it (rejected ones have no event).
            self.clock.at(self.arrival[nxt], self._on_arrival, nxt)

    def _sort_day(self, pid: int, day: int) -> None:
        """At the day's first event, reject every later candidate of the day that ``_arrives``
        would reject, with no event of its own (emergencies that a gate, had it opened, would
        have kept): the day's levers are final by then, as a gate
        rewrites them only from the midnight it opens at."""
        lv, cand, later = self.levers, self.cand, slice(pid + 1, self.day_end[day])
        keep = cand.u_accept[later] < lv.accept_probability[day]
        outcome = self.log.outcome
        for i in (np.flatnonzero(~keep) + pid + 1).tolist():
            outcome[i] = NOT_ARRIVED
        self.kept_today = iter((np.flatnonzero(keep) + pid + 1).tolist())
        self.sorted_day = day

    def _arrives(self, pid: int) -> bool:
        """Does the plan's demand multiplier on the arrival day keep this emergency candidate?"""
        return not self.u_accept[pid] >= self.levers.accept_probability[self.arrival_day[pid]]

    def _resolve(self, pid: int) -> None:
        """Give the patient the LOS and discharge pathway of the plan on the arrival day."""
        d, g, lv = self.arrival_day[pid], self.group[pid], self.levers
        self.log.acute_los[pid] = self.base_los[pid] * lv.los_multiplier[g][d]
        self.log.service[pid] = lv.pathway_service[g][bisect_right(lv.pathway_cumulative[g][d], self.u_pathway[pid])]

    # --- electives --------------------------------------------------------------------------

    def _book_electives(self, day: int) -> None:
        """Take the day's referrals that the plan keeps, then fill the day's theatre slots from
        the top of the waiting list."""
        for pid in self.electives.refer(day, self.levers.referral_accept[day]):
            self.log.outcome[pid] = NOT_ARRIVED
        slots = self.levers.elective_slots[day]
        booked = self.electives.book(day, slots)
        for k, pid in enumerate(booked):
            self.clock.after(self.electives.slot_offset_days(k, slots), self._on_elective_admission, pid)

    def _on_elective_admission(self, pid: int) -> None:
        if self.beds.has_free_bed() and not self.boarding.waiting:
            self._admit(pid)
        else:
            now = self.clock.now
            self.log.cancel(pid, now)
            self.electives.rebook(pid, now)

    def _emergency(self, pid: int, now: float) -> None:
        step_up = self.step_up
        if (
            step_up is not None
            and self.u_step_up[pid] < self.levers.step_up_share[self.group[pid]][self.arrival_day[pid]]
        ):
            self.log.suitable[pid] = True
            if step_up.has_place():
                self.log.outcome[pid] = AVOIDED
                v = self.visit[pid] = self.log.refer(pid, step_up.index, FROM_ARRIVAL, 0, now)
                self.log.v_ready[v] = now
                self._start_service(step_up, pid, now, v)
                return
        if self.beds.has_free_bed() and not self.boarding.waiting:
            self._admit(pid)
        elif self.queue_when_full:
            self.boarding.join(pid)
            if self.boarding.max_wait_days is not None:
                self.clock.after(self.boarding.max_wait_days, self._on_wait_limit, pid)
        else:
            self.log.outcome[pid] = REFUSED

    def _on_wait_limit(self, pid: int) -> None:
        if self.log.outcome[pid] == WAITING:  # not admitted yet: leaves the queue for another hospital
            self.boarding.leave(pid)
            self.log.outcome[pid] = TRANSFERRED

    # --- beds ----------------------------------------------------------------------------------

    def _admit(self, pid: int) -> None:
        now = self.clock.now
        self.beds.change(1, now)
        log = self.log
        log.outcome[pid] = ADMITTED
        log.admit[pid] = now
        self.clock.after(log.acute_los[pid], self._on_fit, pid)

    def _free_bed(self, pid: int, now: float) -> None:
        self.beds.change(-1, now)
        self.log.leave[pid] = now
        self._admit_boarders()

    def _admit_boarders(self) -> None:
        waiting, beds = self.boarding.waiting, self.beds
        while waiting and beds.has_free_bed():
            self._admit(waiting.popleft())

    # --- leaving a place: home, or on to a community service ---------------------------------

    def _on_fit(self, pid: int) -> None:
        now = self.clock.now
        self.log.fit[pid] = now
        s = self.log.service[pid]
        if s < 0:
            self._free_bed(pid, now)
        else:
            self._refer(pid, s, FROM_ACUTE, 0, now)

    def _refer(self, pid: int, s: int, origin: int, depth: int, now: float) -> None:
        """The patient has finished its stay where it is and goes on to service ``s``: the
        service's assessment (spent in the patient's place), then ready to move."""
        self.visit[pid] = self.log.refer(pid, s, origin, depth, now)
        if self.has_assessment[s]:
            # Assessment / arranging care: the patient keeps its place, a delayed transfer.
            if origin == FROM_ACUTE:
                self.delayed.change(1, now)
            days = self.assessment[s][pid] if depth == 0 else self.onward.assessment_days(depth, s)[pid]
            self.clock.after(
                float(days) * self.levers.assessment_multiplier[s][self.arrival_day[pid]], self._on_ready, pid
            )
        else:
            self._ready_for_transfer(pid, self.pools[s], now, False)

    def _on_ready(self, pid: int) -> None:
        self._ready_for_transfer(pid, self.pools[self.log.v_service[self.visit[pid]]], self.clock.now, True)

    def _ready_for_transfer(self, pid: int, pool: ServicePool, now: float, counted_delayed: bool) -> None:
        v = self.visit[pid]
        self.log.v_ready[v] = now
        from_acute = self.log.v_origin[v] == FROM_ACUTE
        if from_acute:
            self.log.ready[pid] = now
        if pool.can_take_now():
            self._move(pid, pool, now, counted_delayed)
        else:
            # Blocked: the patient keeps its place (acute bed or community place) until one frees.
            if from_acute and not counted_delayed:
                self.delayed.change(1, now)
            pool.waiting.append(pid)

    def _move(self, pid: int, pool: ServicePool, now: float, counted_delayed: bool) -> None:
        """Into ``pool``'s free place; the place the patient held is then offered on."""
        v = self.visit[pid]
        origin = self.log.v_origin[v]
        if origin == FROM_ACUTE:
            if counted_delayed:
                self.delayed.change(-1, now)
            self._start_service(pool, pid, now, v)
            self._free_bed(pid, now)
        else:
            held = self.holding[pid]
            self._start_service(pool, pid, now, v)
            self._leave_place(self.pools[origin], pid, held, now)

    # --- community services --------------------------------------------------------------------

    def _start_service(self, pool: ServicePool, pid: int, now: float, v: int) -> None:
        pool.occupied += 1
        log = self.log
        depth = log.v_depth[v]
        log.v_start[v] = now
        self.holding[pid] = v
        if depth == 0:
            log.used_service[pid] = pool.index
            log.s_start[pid] = now
            if log.v_origin[v] == FROM_ARRIVAL:
                los = self.step_up_los[pid]
            else:
                los = float(self.service_los[pool.index][pid])
        else:
            los = float(self.onward.los_days(depth, pool.index)[pid])
        self.clock.after(los, self._on_stay_end, pid)

    def _on_stay_end(self, pid: int) -> None:
        now = self.clock.now
        log = self.log
        v = self.visit[pid]
        log.v_stay_end[v] = now
        s = log.v_service[v]
        pool = self.pools[s]
        dest = self._onward_destination(pid, s, log.v_depth[v]) if pool.routes_onward else -1
        if dest < 0:
            self._leave_place(pool, pid, v, now)
        else:
            self._refer(pid, dest, s, log.v_depth[v] + 1, now)

    def _onward_destination(self, pid: int, s: int, depth: int) -> int:
        """Where the patient goes after its ``depth``-th visit, in service ``s`` (-1: home), by
        the service's onward mix on the patient's arrival day."""
        lv = self.levers
        u = self.onward.route(depth)[pid]
        return lv.onward_service[s][bisect_right(lv.onward_cumulative[s][self.arrival_day[pid]], u)]

    def _leave_place(self, pool: ServicePool, pid: int, v: int, now: float) -> None:
        """The patient leaves its place in ``pool`` (home or moved on): the place goes to the
        longest-waiting ready patient, wherever that patient is."""
        pool.occupied -= 1
        log = self.log
        log.v_leave[v] = now
        if log.v_depth[v] == 0:
            log.s_end[pid] = now
        if pool.takes_transfers:
            self._transfer_waiting(pool, now)

    def _transfer_waiting(self, pool: ServicePool, now: float) -> None:
        """Move ready patients, first come first, into the pool's free places; each move frees
        the place the patient held, which its own waiting patients take in turn (a cascade that
        ends: routes are validated to have no cycle of services that can be full)."""
        waiting = pool.waiting
        while waiting and pool.has_place():
            self._move(waiting.popleft(), pool, now, True)

    # --- midnight ------------------------------------------------------------------------------

    def _on_midnight(self, day: int) -> None:
        """Close the day's integrals, open the gates that are due, set the day's capacities."""
        now = self.clock.now
        if day > 0:
            self.gates.record_day(day - 1, self.beds.close_day(now), self.delayed.close_day(now))
        lv = self.levers
        self.gates.open_due(day, lv)
        self.beds.capacity = lv.total_beds(day)
        self._admit_boarders()
        for pool in self.pools:
            pool.places = lv.service_places[pool.index][day]
        # Every capacity first: a move into one service frees a place in another (a cascade),
        # which must be offered with that service's capacity of today.
        for pool in self.pools:
            if pool.takes_transfers:
                self._transfer_waiting(pool, now)
        self._book_electives(day)
        if day + 1 < self.horizon_days:
            self.clock.urgent_after(day + 1 - now, self._on_midnight, day + 1)


def run_model(cfg: Config, replication_seed: int) -> Replication:
    """Draw the patients, set up the plan and simulate one replication."""
    return simulate_candidates(cfg, draw_for_run(cfg, replication_seed))


def simulate_candidates(cfg: Config, cand: Candidates) -> Replication:
    """Simulate given candidates under the config's plan.

    The returned cohort and records hold only the patients who arrived (candidates that the plan
    removed are dropped), with the attributes the plan gave them; the capacity is the plan as it
    happened (gates included).
    """
    levers, gates = build_levers(cfg)
    cand = engine_candidates(cfg, cand)
    engine = Engine(cfg, cand, levers, gates)
    records = engine.run()
    resolved = engine.log.resolved()
    del engine  # its per-patient lists (about 100 MB for the default footprint) are done with
    return replication_from(cfg, cand, levers, records, resolved)


def engine_candidates(cfg: Config, cand: Candidates) -> Candidates:
    """The candidates an engine simulates: not those that no opening of the plan's gates can
    accept (about a third of the emergencies with the default headroom; the referrals a
    referral multiplier below one always drops), which would cost lists, log entries and
    records, and copies to leave them out after the run. Leaving them out changes nobody's
    fate: a dropped referral is never on the list, and the list orders by priority, referral
    time, then candidate number, which keeps its order when candidates are left out."""
    keep = cand.is_elective | (cand.u_accept < most_accept_probability(cfg)[cand.day])
    referrals = slice(cand.n_emergencies, cand.n_emergencies + cand.n_electives)  # not a census
    # The starting list's u_accept is -1: always kept.
    keep[referrals] = cand.u_accept[referrals] < most_referral_accept(cfg)[cand.day[referrals]]
    # Drawn for this run alone (draw_for_run): nothing left to select. A draw shared by a sweep's
    # runs is read-only and copied, so each engine owns (and may write) its candidates' arrays.
    if keep.all() and cand.time_days.flags.writeable:
        return cand
    return cand.select(keep)


def draw_for_run(cfg: Config, replication_seed: int) -> Candidates:
    """The candidates of one replication of ``cfg`` alone, as :func:`engine_candidates` selects
    them from the whole draw (the same numbers), the others left out as they are drawn; the
    community stays drawn only for the candidates the plan may send there (about one in ten for
    the default footprint; NaN for the others, never read)."""
    return build_candidates(
        cfg,
        Streams(replication_seed),
        accept_below=most_accept_probability(cfg),
        service_stays_for=partial(may_use_a_service, cfg),
        step_up_stays_for=partial(may_step_up, cfg),
        referrals_kept_below=most_referral_accept(cfg),
    )


def replication_from(
    cfg: Config,
    cand: Candidates,
    levers: Levers,
    records: Records,
    resolved: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Replication:
    """An engine's run as a replication: the patients who arrived, with the attributes the plan
    gave them (``resolved``: acute LOS, discharge service, step-up suitable of every candidate),
    and the capacity as it happened."""
    if cand.stays_left_out:
        _check_stays_drawn(cand, records.visits)
    keep = records.outcome != NOT_ARRIVED
    return Replication(
        cohort=_cohort(cand, resolved, keep),
        capacity=_capacity(cfg, levers),
        records=records.select(keep),
    )


def _check_stays_drawn(cand: Candidates, visits: Visits) -> None:
    """Every first community visit had its stay and assessment drawn (a run drawn for itself
    draws them only for the candidates its plan may send there): a NaN read would have been a
    wrong run, so it is refused, never returned."""
    first = np.flatnonzero(visits.depth == 0)
    patient, service = visits.patient.take(first), visits.service.take(first)
    diverted = visits.origin.take(first) == FROM_ARRIVAL
    missing = np.isnan(cand.step_up_los_days.take(patient[diverted])).any()
    transferred = np.flatnonzero(~diverted)
    patient, service = patient.take(transferred), service.take(transferred)
    for rows in (cand.service_los_days, cand.assessment_days):
        missing |= rows.size > 0 and np.isnan(row_entries(rows, service, patient)).any()
    if missing:
        raise RuntimeError("a community stay was needed that the draw left out (hospsim.model.plan.may_use_a_service)")


def _cohort(cand: Candidates, resolved: tuple[np.ndarray, np.ndarray, np.ndarray], keep: np.ndarray) -> Cohort:
    """The patients who arrived, with the attributes the plan gave them (``resolved``: acute LOS,
    discharge service and step-up suitability of every candidate)."""
    acute_los, service_all, suitable = resolved
    index = np.flatnonzero(keep)  # taking by index: several times faster than masks
    every = index.size == keep.size  # then no copies: the cohort shares the candidates' arrays

    def kept(values: np.ndarray) -> np.ndarray:
        return values if every else values.take(index)

    service = kept(service_all)
    if cand.service_los_days.size:
        service_los = row_entries(cand.service_los_days, service, index)  # each one's stay in its own service
    else:
        service_los = np.zeros(service.size)
    return Cohort(
        arrival_days=kept(cand.time_days),
        is_elective=kept(cand.is_elective),
        priority=kept(cand.priority),
        group=kept(cand.group),
        step_up_suitable=kept(suitable),
        # Only the suitable have one: a run drawn for itself draws no other (and a shared draw
        # must give the same cohort).
        step_up_los_days=np.where(kept(suitable), kept(cand.step_up_los_days), np.nan),
        acute_los_days=kept(acute_los),
        service=service,
        service_los_days=service_los,
        group_names=cand.group_names,
        service_names=cand.service_names,
        priority_names=cand.priority_names,
    )


def _capacity(cfg: Config, levers: Levers) -> Capacity:
    """The capacity in force each day, as it happened (gates included)."""
    core = np.array(levers.core_beds, dtype=np.int64)
    return Capacity(
        core_beds=core,
        total_beds=core + np.array(levers.escalation_beds, dtype=np.int64),
        service_places=np.array(levers.service_places, dtype=np.int64).reshape(len(cfg.services), cfg.horizon_days),
    )
