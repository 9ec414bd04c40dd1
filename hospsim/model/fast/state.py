"""The compiled engine's state: every array the kernel reads or writes, built from a config, its
candidates and its levers - or taken over from the reference engine after it placed a census.

Everything is a numpy array (or a scalar) in one namedtuple, so the kernel can be stopped between
two events and resumed, and Python can grow a log or write new lever values in between.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...config import Config, plan_schedules
from ..cohort import Candidates
from ..engine import Engine, assessment_flags
from ..plan import Gate, Levers
from ..records import ACUTE_LEVELS, LEVELS_PER_SERVICE, DailyLevels, Records, Visits
from . import kernel as k


class State(NamedTuple):
    """Everything one replication's kernel reads and writes. Per-candidate arrays are indexed by
    patient id (the engine's candidates), per-day arrays by day, per-service ones by service index;
    "int" arrays are int64, "float" float64."""

    # candidates (read only): as in Candidates
    arrival: np.ndarray  # float: arrival (referral) time
    arrival_day: np.ndarray  # int
    group: np.ndarray  # int (electives: one past the groups)
    u_accept: np.ndarray  # float
    base_los: np.ndarray  # float: acute LOS before the plan's multiplier
    u_step_up: np.ndarray  # float
    step_up_los: np.ndarray  # float
    u_pathway: np.ndarray  # float
    service_los: np.ndarray  # float [service, patient]: a first visit's stay
    assessment: np.ndarray  # float [service, patient]: a first visit's assessment
    day_end: np.ndarray  # int [day]: the first emergency candidate of a later day
    n_emergencies: int
    horizon_days: int
    kept_today: np.ndarray  # int: the day's later candidates the plan keeps (scratch)
    # the elective waiting list (index k = patient - n_emergencies), as ElectiveList
    el_bookable: np.ndarray  # float: in the order electives become bookable
    el_referral_day: np.ndarray  # int
    el_u_accept: np.ndarray  # float
    el_kept: np.ndarray  # bool: not removed by the referral multiplier
    el_key: np.ndarray  # int: in bookable order, rank in (priority, referral, patient) << 32 | index
    el_heap: np.ndarray  # int: the list's heap of keys (rebookings come first: kernel._el_pop)
    el_booked: np.ndarray  # int: the day's booked patients (scratch)
    el_first_hour_days: float
    el_spread_days: float
    # levers, per day (rewritten by Python when a gate opens), as Levers
    core_beds: np.ndarray  # int [day]
    escalation_beds: np.ndarray  # int [day]
    service_places: np.ndarray  # int [service, day]
    assessment_multiplier: np.ndarray  # float [service, day]
    accept_probability: np.ndarray  # float [day]
    elective_slots: np.ndarray  # int [day]
    referral_accept: np.ndarray  # float [day]
    los_multiplier: np.ndarray  # float [group, day]
    step_up_share: np.ndarray  # float [group, day]
    pathway_cumulative: np.ndarray  # float [group, day, position], padded with +inf
    pathway_service: np.ndarray  # int [group, position]: -1 home (and padding)
    onward_cumulative: np.ndarray  # float [service, day, position], padded with +inf
    onward_service: np.ndarray  # int [service, position]
    # plan gates: gate g's conditions are rows cond_start[g] .. cond_start[g + 1] - 1
    gate_shut: np.ndarray  # bool [gate]
    cond_start: np.ndarray  # int
    cond_kind: np.ndarray  # int: CAPACITY_AT_LEAST, OCCUPANCY_AT_MOST or DELAYED_AT_MOST
    cond_int: np.ndarray  # int: the service, or the days averaged over
    cond_value: np.ndarray  # float: the places, occupancy or patients
    occupied_bed_days: np.ndarray  # float [day]: bed days occupied (known for finished days)
    delayed_bed_days: np.ndarray  # float [day]: bed days of delayed patients
    # community services and the patients waiting for them (one FIFO list per service)
    places: np.ndarray  # int [service]: today's places
    occupied: np.ndarray  # int [service]
    takes_transfers: np.ndarray  # bool [service]
    routes_onward: np.ndarray  # bool [service]
    has_assessment: np.ndarray  # bool [service]
    q_head: np.ndarray  # int [service]: first waiting patient (-1: none)
    q_tail: np.ndarray  # int [service]
    q_next: np.ndarray  # int [patient]: the next patient waiting for the same service
    cascade: np.ndarray  # int: the services whose freed places are being offered (scratch)
    step_up_service: int  # -1: none
    any_onward: bool
    # later visits' numbers (OnwardDraws), added as first needed
    route_u: np.ndarray  # float [depth, patient]: the route out of a depth-th visit
    row_of: np.ndarray  # int [depth, service]: row of later_los / later_assessment (-1: not drawn)
    later_los: np.ndarray  # float [row, patient]
    later_assessment: np.ndarray  # float [row, patient]
    # boarding (a doubly linked FIFO list: a wait limit takes a patient out anywhere)
    b_next: np.ndarray  # int [patient]
    b_prev: np.ndarray  # int [patient]
    queue_when_full: bool
    max_wait_days: float  # -1: no limit
    # the patient log, as PatientLog
    outcome: np.ndarray  # int8 [patient]
    admit: np.ndarray  # float
    fit: np.ndarray  # float
    ready: np.ndarray  # float
    leave: np.ndarray  # float
    s_start: np.ndarray  # float
    s_end: np.ndarray  # float
    used_service: np.ndarray  # int
    times_cancelled: np.ndarray  # int
    acute_los: np.ndarray  # float
    service: np.ndarray  # int
    suitable: np.ndarray  # bool
    visit: np.ndarray  # int [patient]: its latest visit (-1: none)
    holding: np.ndarray  # int [patient]: the visit whose place it holds
    # the visit and cancellation logs (grown by Python when full)
    v_patient: np.ndarray  # int [visit]
    v_service: np.ndarray  # int
    v_origin: np.ndarray  # int
    v_depth: np.ndarray  # int
    v_referred: np.ndarray  # float
    v_ready: np.ndarray  # float
    v_start: np.ndarray  # float
    v_stay_end: np.ndarray  # float
    v_leave: np.ndarray  # float
    cancel_days: np.ndarray  # float
    cancel_patient: np.ndarray  # int
    # the daily levels (records.DailyLevels), swept as they change: per level, now and per day
    lv_level: np.ndarray  # float [level]
    lv_since: np.ndarray  # float [level]: its last change
    lv_area: np.ndarray  # float [level]: today's integral so far
    lv_top: np.ndarray  # float [level]: today's highest level held for a positive time
    lv_mean: np.ndarray  # float [level, day]
    lv_peak: np.ndarray  # float [level, day]
    lv_midnight: np.ndarray  # float [level, day]
    lv_excess: np.ndarray  # float [day]: occupied beds over the core, at most the escalation beds
    # the event heap and the scalars (kernel.ORDER ... and kernel.NOW ...)
    ev_time: np.ndarray  # float
    ev_key: np.ndarray  # int: priority and order of scheduling
    ev_payload: np.ndarray  # int: patient (or day) and kind
    # later events: a list per bucket of the calendar (kernel.BUCKETS_PER_DAY), nodes reused
    far_head: np.ndarray  # int [bucket]: its first node (-1: none)
    fn_time: np.ndarray  # float [node]
    fn_key: np.ndarray  # int
    fn_payload: np.ndarray  # int
    fn_next: np.ndarray  # int: the next node of its bucket (or of the free list)
    si: np.ndarray  # int
    sf: np.ndarray  # float


_VISIT_INTS = ("v_patient", "v_service", "v_origin", "v_depth")
_VISIT_FLOATS = ("v_referred", "v_ready", "v_start", "v_stay_end", "v_leave")


def _ints(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _floats(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _mixes(cumulative: list[list[tuple[float, ...]]], horizon_days: int) -> np.ndarray:
    """Per owner (group or service), per day: the cumulative mix, padded with +inf (never <= u)."""
    width = max([len(days[0]) for days in cumulative if days] + [1])
    out = np.full((len(cumulative), horizon_days, width), np.inf)
    for i, days in enumerate(cumulative):
        if days:
            # One mix every day (the usual case) is set as one row: no list of tuples to convert.
            same = days.count(days[0]) == len(days)
            out[i, :, : len(days[0])] = days[0] if same else np.asarray(days, dtype=np.float64)
    return out


def _destinations(services: list[tuple[int, ...]], width: int) -> np.ndarray:
    out = np.full((len(services), width), -1, dtype=np.int64)
    for i, dest in enumerate(services):
        out[i, : len(dest)] = dest
    return out


def lever_arrays(levers: Levers, horizon_days: int, n_services: int) -> dict[str, Any]:
    """The levers as the kernel reads them."""
    path_cum = _mixes(levers.pathway_cumulative, horizon_days)
    onward_cum = _mixes(levers.onward_cumulative, horizon_days)
    return {
        "core_beds": _ints(levers.core_beds),
        "escalation_beds": _ints(levers.escalation_beds),
        "service_places": _ints(levers.service_places).reshape(n_services, horizon_days),
        "assessment_multiplier": _floats(levers.assessment_multiplier).reshape(n_services, horizon_days),
        "accept_probability": _floats(levers.accept_probability),
        "elective_slots": _ints(levers.elective_slots),
        "referral_accept": _floats(levers.referral_accept),
        "los_multiplier": _floats(levers.los_multiplier),
        "step_up_share": _floats(levers.step_up_share),
        "pathway_cumulative": path_cum,
        "pathway_service": _destinations(levers.pathway_service, path_cum.shape[2]),
        "onward_cumulative": onward_cum,
        "onward_service": _destinations(levers.onward_service, onward_cum.shape[2]),
    }


def write_levers(st: State, levers: Levers) -> None:
    """Write the levers (after a gate rewrote some) into the state's arrays, in place."""
    for name, values in lever_arrays(levers, st.horizon_days, st.places.size).items():
        getattr(st, name)[...] = values


def _gate_arrays(cfg: Config, gates: list[Gate]) -> dict[str, Any]:
    """Each gate's conditions as (kind, integer, value) rows; gate g's are rows cond_start[g]..."""
    schedules = dict(plan_schedules(cfg))
    services = {name: i for i, name in enumerate(cfg.services)}
    kind, ints, values, start = [], [], [], [0]
    for gate in gates:
        for c in schedules[gate.path].gate or []:
            if c.service_capacity_at_least is not None:
                row = (
                    k.CAPACITY_AT_LEAST,
                    services[c.service_capacity_at_least.service],
                    c.service_capacity_at_least.places,
                )
            elif c.occupancy_at_most is not None:
                row = (k.OCCUPANCY_AT_MOST, c.occupancy_at_most.days, c.occupancy_at_most.occupancy)
            else:
                assert c.delayed_patients_at_most is not None
                row = (k.DELAYED_AT_MOST, c.delayed_patients_at_most.days, c.delayed_patients_at_most.patients)
            kind.append(row[0])
            ints.append(row[1])
            values.append(float(row[2]))
        start.append(len(kind))
    return {
        "gate_shut": np.ones(len(gates), dtype=np.bool_),
        "cond_start": _ints(start),
        "cond_kind": _ints(kind),
        "cond_int": _ints(ints),
        "cond_value": _floats(values),
    }


def _electives(cfg: Config, cand: Candidates) -> dict[str, Any]:
    """The waiting list's arrays (the reference ElectiveList), indexed by k = pid - n_emergencies."""
    el = cfg.demand.elective
    first = cand.n_emergencies
    electives = slice(first, first + cand.n_electives)
    bookable = cand.bookable_days[electives]
    n = bookable.size
    assert n < 1 << 31  # an elective's index fits below a key's rank (kernel._el_pop)
    ordered = cand.electives_ordered()
    order = ordered.by_bookable
    return {
        "el_bookable": _floats(bookable)[order],
        "el_key": (ordered.ranks() << 32 | np.arange(n))[order],
        "el_referral_day": _ints(cand.day[electives]),
        "el_u_accept": _floats(cand.u_accept[electives]),
        "el_kept": np.ones(n, dtype=np.bool_),
        "el_heap": np.zeros(n, dtype=np.int64),
        "el_booked": np.zeros(n, dtype=np.int64),
        "el_first_hour_days": el.admit_hour / 24.0 if el is not None else 0.0,
        "el_spread_days": el.spread_hours / 24.0 if el is not None else 0.0,
    }


def _candidates(cfg: Config, cand: Candidates) -> dict[str, Any]:
    n_em, horizon = cand.n_emergencies, cfg.horizon_days
    day_end = np.searchsorted(cand.day[:n_em], np.arange(1, horizon + 1))
    per_day = np.diff(np.concatenate([[0], day_end]))
    return {
        "arrival": _floats(cand.time_days),
        "arrival_day": _ints(cand.day),
        "group": _ints(cand.group),
        "u_accept": _floats(cand.u_accept),
        "base_los": _floats(cand.base_los_days),
        "u_step_up": _floats(cand.u_step_up),
        "step_up_los": _floats(cand.step_up_los_days),
        "u_pathway": _floats(cand.u_pathway),
        "service_los": _floats(cand.service_los_days).reshape(len(cfg.services), len(cand)),
        "assessment": _floats(cand.assessment_days).reshape(len(cfg.services), len(cand)),
        "day_end": _ints(day_end),
        "n_emergencies": int(n_em),
        "horizon_days": int(horizon),
        "kept_today": np.zeros(int(per_day.max(initial=0)) + 1, dtype=np.int64),
    }


def _services(cfg: Config, levers: Levers, n: int) -> dict[str, Any]:
    svcs = list(cfg.services.values())
    s = len(svcs)
    step_up = cfg.step_up_service
    return {
        "places": _ints([levers.service_places[i][0] for i in range(s)]),
        "occupied": np.zeros(s, dtype=np.int64),
        "takes_transfers": np.array([v.service_kind.takes_transfers for v in svcs], dtype=np.bool_),
        "routes_onward": np.array([v.routes_onward for v in svcs], dtype=np.bool_),
        "has_assessment": np.array(assessment_flags(cfg), dtype=np.bool_),
        "q_head": np.full(s, -1, dtype=np.int64),
        "q_tail": np.full(s, -1, dtype=np.int64),
        "q_next": np.full(n, -1, dtype=np.int64),
        # A cascade passes each limited service at most once (no cycle of them); unlimited ones
        # have no queue, so this bounds the depth with room to spare.
        "cascade": np.zeros(4 * s + 8, dtype=np.int64),
        "step_up_service": list(cfg.services).index(step_up) if step_up is not None else -1,
        "any_onward": bool(cfg.has_onward_routes),
        "route_u": np.zeros((0, n)),
        "row_of": np.full((1, s), -1, dtype=np.int64),
        "later_los": np.zeros((0, n)),
        "later_assessment": np.zeros((0, n)),
    }


def _log(n: int, visits: int, cancellations: int) -> dict[str, Any]:
    # Rows of one block each, filled at once: a fill and six copies of 4 MB arrays cost more.
    nan = np.full((len(_LOG_FLOATS), n), np.nan)
    unset = np.full((len(_LOG_UNSET), n), -1, dtype=np.int64)
    return {
        "outcome": np.zeros(n, dtype=np.int8),
        **dict(zip(_LOG_FLOATS, nan, strict=True)),
        **dict(zip(_LOG_UNSET, unset, strict=True)),
        "times_cancelled": np.zeros(n, dtype=np.int64),
        "suitable": np.zeros(n, dtype=np.bool_),
        **{name: np.zeros(visits, dtype=np.int64) for name in _VISIT_INTS},
        **{name: np.full(visits, np.nan) for name in _VISIT_FLOATS},
        "cancel_days": np.zeros(cancellations),
        "cancel_patient": np.zeros(cancellations, dtype=np.int64),
    }


_LOG_FLOATS = ("admit", "fit", "ready", "leave", "s_start", "s_end", "acute_los")
_LOG_UNSET = ("used_service", "service", "visit", "holding")


def log_sizes(n_patients: int, n_electives: int) -> tuple[int, int]:
    """Room for visits and for cancellations at first (the kernel stops to have them grown)."""
    return max(1024, n_patients // 4), max(1024, n_electives // 8)


def new_state(cfg: Config, cand: Candidates, levers: Levers, gates: list[Gate]) -> State:
    """The state before the run starts: nothing scheduled, nobody anywhere."""
    n, horizon = len(cand), cfg.horizon_days
    # A fit event's payload: the patient and kind below, the discharge service above (kernel).
    assert n * k.KINDS <= k.PATIENT_KIND and len(cfg.services) + 1 < 1 << (63 - int(k.SERVICE_SHIFT))
    si = np.zeros(k.N_SI, dtype=np.int64)
    si[[k.B_HEAD, k.B_TAIL, k.SORTED_DAY, k.PENDING_MIDNIGHT, k.NEXT_ARRIVAL, k.FREE_NODE]] = -1
    si[k.BED_CAP] = levers.total_beds(0)
    max_wait = cfg.acute.max_wait_hours / 24.0 if cfg.acute.max_wait_hours is not None else -1.0
    # At most two events pending per patient (a stay's next event and a boarding wait limit),
    # plus the next midnight and the next arrival.
    events = 2 * n + 16
    visits, cancellations = log_sizes(n, cand.n_electives)
    return State(
        **_candidates(cfg, cand),
        **_electives(cfg, cand),
        **lever_arrays(levers, horizon, len(cfg.services)),
        **_gate_arrays(cfg, gates),
        occupied_bed_days=np.zeros(horizon),
        delayed_bed_days=np.zeros(horizon),
        **_services(cfg, levers, n),
        b_next=np.full(n, -1, dtype=np.int64),
        b_prev=np.full(n, -1, dtype=np.int64),
        queue_when_full=cfg.acute.when_full == "queue",
        max_wait_days=float(max_wait),
        **_log(n, visits, cancellations),
        **daily_level_arrays(len(cfg.services), horizon),
        # Not filled (the heap reads only its first N_EVENTS entries): a process that keeps freed
        # memory would otherwise write zeros over 24 MB for the default footprint.
        ev_time=np.empty(events),
        ev_key=np.empty(events, dtype=np.int64),
        ev_payload=np.empty(events, dtype=np.int64),
        far_head=np.full(int(horizon * k.BUCKETS_PER_DAY) + 1, -1, dtype=np.int64),
        fn_time=np.empty(events),
        fn_key=np.empty(events, dtype=np.int64),
        fn_payload=np.empty(events, dtype=np.int64),
        fn_next=np.empty(events, dtype=np.int64),
        si=si,
        sf=np.zeros(k.N_SF),
    )


def grow_log(st: State, names: tuple[str, ...]) -> State:
    """The state with the named log arrays twice as long (contents kept)."""
    grown: dict[str, Any] = {}
    for name in names:
        old = getattr(st, name)
        new = np.full(2 * old.size, np.nan) if old.dtype == np.float64 else np.zeros(2 * old.size, dtype=old.dtype)
        new[: old.size] = old
        grown[name] = new
    return st._replace(**grown)


def daily_level_arrays(n_services: int, horizon_days: int) -> dict[str, Any]:
    """The daily levels, every level at 0 from time 0 (the per-day rows are written as each day
    ends)."""
    n = ACUTE_LEVELS + LEVELS_PER_SERVICE * n_services
    return {
        "lv_level": np.zeros(n),
        "lv_since": np.zeros(n),
        "lv_area": np.zeros(n),
        "lv_top": np.full(n, -np.inf),
        **{name: np.zeros((n, horizon_days)) for name in ("lv_mean", "lv_peak", "lv_midnight")},
        "lv_excess": np.zeros(horizon_days),
    }


def grow_visits(st: State) -> State:
    """The state with the visit log twice as long."""
    return grow_log(st, VISIT_LOG)


def daily_levels(st: State) -> DailyLevels:
    """The daily levels the kernel swept."""
    return DailyLevels(mean=st.lv_mean, peak=st.lv_peak, midnight=st.lv_midnight, occupied_excess=st.lv_excess)


VISIT_LOG = _VISIT_INTS + _VISIT_FLOATS
CANCELLATION_LOG = ("cancel_days", "cancel_patient")


def records(
    st: State, gate_open_days: dict[str, int | None], levels: bool = True
) -> tuple[Records, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The run's records and the attributes the plan gave each candidate (acute LOS, discharge
    service, step-up suitable): what the reference PatientLog gives. With ``levels``, the records
    carry the daily levels the kernel swept (not after a census start: the intervals of the
    census's patients began before the kernel took over)."""
    nv, nc = int(st.si[k.N_VISITS]), int(st.si[k.N_CANCEL])
    visits = Visits(
        *(getattr(st, name)[:nv].copy() for name in _VISIT_INTS),
        *(getattr(st, name)[:nv].copy() for name in _VISIT_FLOATS),
    )
    rec = Records(
        outcome=st.outcome,
        admit_days=st.admit,
        fit_days=st.fit,
        ready_days=st.ready,
        bed_leave_days=st.leave,
        service=st.used_service,
        service_start_days=st.s_start,
        service_end_days=st.s_end,
        times_cancelled=st.times_cancelled,
        cancellation_days=st.cancel_days[:nc].copy(),
        cancelled_patient=st.cancel_patient[:nc].copy(),
        events=int(st.si[k.PROCESSED]),
        gate_open_days=gate_open_days,
        visits=visits,
        levels=daily_levels(st) if levels else None,
    )
    return rec, (st.acute_los, st.service, st.suitable)


# --- taking over from the reference engine (a census start) ---------------------------------------

_KIND_OF_HANDLER = {
    "_on_midnight": k.MIDNIGHT,
    "_on_arrival": k.ARRIVAL,
    "_on_elective_admission": k.ELECTIVE_ADMISSION,
    "_on_wait_limit": k.WAIT_LIMIT,
    "_on_fit": k.FIT,
    "_on_ready": k.READY,
    "_on_stay_end": k.STAY_END,
}


def take_over(st: State, engine: Engine) -> State:
    """The state of a reference engine that has placed its census (``Engine.start``), before its
    first event: the census is placed by the same code in both engines."""
    log, n = engine.log, engine.n
    for mine, theirs in (
        ("outcome", log.outcome), ("admit", log.admit), ("fit", log.fit), ("ready", log.ready),
        ("leave", log.leave), ("s_start", log.s_start), ("s_end", log.s_end),
        ("used_service", log.used_service), ("times_cancelled", log.times_cancelled),
        ("acute_los", log.acute_los), ("service", log.service), ("suitable", log.suitable),
    ):  # fmt: skip
        getattr(st, mine)[:] = theirs
    nv = len(log.v_patient)
    while st.v_patient.size <= nv + 1:
        st = grow_log(st, VISIT_LOG)
    for mine in VISIT_LOG:
        getattr(st, mine)[:nv] = getattr(log, mine)
    for pid, v in engine.visit.items():
        st.visit[pid] = v
    for pid, v in engine.holding.items():
        st.holding[pid] = v
    for pool in engine.pools:
        st.occupied[pool.index] = pool.occupied
        for pid in pool.waiting:
            _append(st.q_head, st.q_tail, st.q_next, pool.index, pid)
    _take_levels_and_boarding(st, engine)
    _take_events(st, engine)
    si = st.si
    si[k.N_VISITS] = nv
    assert n == st.outcome.size
    return st


def _append(head: np.ndarray, tail: np.ndarray, nxt: np.ndarray, s: int, pid: int) -> None:
    nxt[pid] = -1
    if tail[s] >= 0:
        nxt[tail[s]] = pid
    else:
        head[s] = pid
    tail[s] = pid


def _take_levels_and_boarding(st: State, engine: Engine) -> None:
    si, sf = st.si, st.sf
    si[k.BEDS], sf[k.BED_AREA], sf[k.BED_SINCE] = engine.beds.snapshot()
    si[k.DELAYED], sf[k.DEL_AREA], sf[k.DEL_SINCE] = engine.delayed.snapshot()
    si[k.BED_CAP] = engine.beds.capacity
    prev = -1
    for pid in engine.boarding.waiting:
        st.b_prev[pid] = prev
        if prev >= 0:
            st.b_next[prev] = pid
        else:
            si[k.B_HEAD] = pid
        prev = pid
        si[k.B_COUNT] += 1
    si[k.B_TAIL] = prev


def _payload(st: State, kind: int, arg: int) -> int:
    """As the kernel keys an event: a fit event carries its patient's discharge service."""
    if kind == k.FIT:
        # The kernel's own function, as Python (plain already when numba is disabled)
        return int(getattr(k.fit_payload, "py_func", k.fit_payload)(arg, int(st.service[arg])))
    return arg * k.KINDS + kind


def _take_events(st: State, engine: Engine) -> None:
    """The reference queue's pending events, into the heap or the calendar by their time; the
    next arrival waits beside them."""
    entries = []
    for t, p, o, name, arg in engine.clock.pending():
        if _KIND_OF_HANDLER[name] == k.ARRIVAL:
            st.si[k.NEXT_ARRIVAL], st.si[k.NEXT_ARRIVAL_KEY] = arg, p * k.PRIORITY_SHIFT + o
            st.sf[k.NEXT_ARRIVAL_TIME] = t
        else:
            entries.append((t, p, o, name, arg))
    k.place_events(
        st,
        np.array([t for t, *_ in entries], dtype=float),
        np.array([p * k.PRIORITY_SHIFT + o for _, p, o, *_ in entries], dtype=np.int64),
        np.array([_payload(st, _KIND_OF_HANDLER[name], arg) for *_, name, arg in entries], dtype=np.int64),
    )
    st.si[k.ORDER] = engine.clock.scheduled
