"""The arrays the flow kernel reads and writes: the plan (``Plan``), the kernel bank (``Bank``)
and the state with its outputs (``FlowState``). Days are ``H``, hours ``T = 24 H``, stages ``K``,
services ``S``, patient groups ``G`` (emergencies; electives are source ``G``), priorities ``P``,
list cohorts ``L + H`` (referral days from ``-L``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...config import Config
from ..demand import candidate_rate_per_day
from ..kpis import RTT_WEEKS
from ..plan import Levers
from .los import HOURS_PER_DAY, NEAR_STEPS, stop_loss_days
from .network import ASSESS, HOME, KernelBank, Slot, Stage


class Plan(NamedTuple):
    """Read-only inputs: sizes, the network and the plan's levers per day."""

    n_days: int
    n_stages: int
    n_services: int
    n_groups: int
    n_priorities: int
    st_slot: np.ndarray  # [K] the slot timing each stage
    st_kind: np.ndarray  # [K] ACUTE, SERVICE or ASSESS
    st_holder: np.ndarray  # [K] 0: acute bed, 1 + s: service s
    st_target: np.ndarray  # [K] assessments: the service whose queue they feed
    st_emergency: np.ndarray  # [K] an acute stay of an emergency group
    st_weight: np.ndarray  # [K, H] share of the source's inflow each day
    route_start: np.ndarray  # [K + 1] routes of stage k: route_start[k] .. route_start[k + 1]
    route_dest: np.ndarray  # HOME or a service
    route_share: np.ndarray
    src_start: np.ndarray  # [G + 2 + S] stages of source i: src_stage[src_start[i] .. src_start[i + 1]]
    src_stage: np.ndarray
    assess_of: np.ndarray  # [S, S + 1] assessment stage for (service, holder), -1: none
    takes_transfers: np.ndarray  # [S]
    places: np.ndarray  # [S, H] places (float; unlimited: huge)
    total_beds: np.ndarray  # [H] core + escalation
    core_beds: np.ndarray  # [H]
    arrivals_per_day: np.ndarray  # [H] expected emergency arrivals, plan included
    hour_share: np.ndarray  # [24] share of a day's arrivals in each hour
    group_share: np.ndarray  # [G]
    step_up: int  # the step-up service, -1: none
    step_up_share: np.ndarray  # [G, H]
    queue_when_full: bool
    max_wait_steps: int  # hours a boarder waits before a transfer elsewhere (0: no limit)
    max_wait_hours: float
    group_mean_los: np.ndarray  # [G, H] mean acute stay of an emergency arriving that day
    list_offset: int  # L
    referrals_per_day: np.ndarray  # [H] elective referrals kept
    priority_share: np.ndarray  # [P]
    slots: np.ndarray  # [H] theatre slots
    bookable_by: np.ndarray  # [L + H + 1] share of a day's referrals bookable n midnights later
    slot_hour_share: np.ndarray  # [24] share of a day's booked admissions in each hour
    rtt_days: np.ndarray  # [W] the RTT thresholds in days
    window_start: int
    window_end: int


class Bank(NamedTuple):
    """The kernel bank (:class:`.network.KernelBank`) as the kernel reads it."""

    near: np.ndarray
    rest: np.ndarray
    far_shape: np.ndarray
    part_a: np.ndarray
    part_b: np.ndarray
    exact_of: np.ndarray
    row_of: np.ndarray
    row_up: np.ndarray
    row_w: np.ndarray
    sparse_n: np.ndarray
    sparse_lag: np.ndarray
    sparse_share: np.ndarray
    u_a: np.ndarray
    v_a: np.ndarray
    u_b: np.ndarray
    v_b: np.ndarray


class FlowState(NamedTuple):
    """Stocks (expected patients), the schedules of exits, and the outputs per day."""

    stock: np.ndarray  # [K] patients in each stage
    hour_in: np.ndarray  # [K, 24] today's inflow per hour (for the later days' exits)
    day_in: np.ndarray  # [K, H]
    due: np.ndarray  # [K, T + lags] exits per hour in the 48 hours after entry (point masses: all)
    far_a: np.ndarray  # [K, H + 3, 24] exits of entry hour j's first windows on day d, hours j..23
    far_b: np.ndarray  # [K, H + 3, 24] ... on day d, hours 0..j-1
    far_day: np.ndarray  # [K, H + 3] later exits spread evenly over day d
    far_hour: np.ndarray  # [K, 24] today's later exits per hour
    exits_done: np.ndarray  # [1] the last hour whose exits have been taken
    beds: np.ndarray  # [4] occupied, of them emergencies, delayed, of them emergencies
    discharged: np.ndarray  # [H] home from an acute bed
    left_services: np.ndarray  # [H] home from a community place
    occ: np.ndarray  # [S] places held (in a stay or blocked)
    blocked: np.ndarray  # [S] finished here, holding the place
    avoided_in: np.ndarray  # [S] of the places held, those held by step-up patients (diverted on arrival)
    rq: np.ndarray  # [S, S + 1] ready for service s, by holder
    rq_old: np.ndarray  # [S] of them, waiting since an earlier hour
    moves: np.ndarray  # [S, H] transfers into each service
    waited_moves: np.ndarray  # [S, H] of them, after waiting an hour or more
    transfers_from_beds: np.ndarray  # [H]
    board: np.ndarray  # [G, T] boarders by arrival hour
    board_total: np.ndarray  # [T]
    board_sum: np.ndarray  # [1]
    board_head: np.ndarray  # [1] the oldest hour with boarders
    waits4: np.ndarray  # [H] boarders still waiting 4 hours after arriving, by arrival day
    waits12: np.ndarray  # [H]
    transferred: np.ndarray  # [H] transferred elsewhere (wait limit)
    displaced: np.ndarray  # [H] acute bed days the patients turned away would have needed
    wait_hours_sum: np.ndarray  # [1] hours waited by the window's boarders
    em_admissions: np.ndarray  # [H]
    el_admissions: np.ndarray  # [H]
    em_arrivals: np.ndarray  # [H]
    need: np.ndarray  # [G] scratch
    suit: np.ndarray  # [G] scratch
    pending: np.ndarray  # [G] this hour's arrivals with no bed (when_full: refuse), until its end
    suitable: np.ndarray  # [H] emergencies suitable for step-up
    avoided: np.ndarray  # [H]
    refused: np.ndarray  # [H]
    boarded: np.ndarray  # [H] emergencies who found no free bed and boarded, by arrival day
    el_referrals: np.ndarray  # [H]
    on_list: np.ndarray  # [P, L + H] on the list, by referral day
    listed: np.ndarray  # [P, L + H] referred
    booked: np.ndarray  # [P, L + H] booked from the bookable (not rebookings)
    cancelled: np.ndarray  # [P, L + H] cancelled, waiting to be booked again (top of the list)
    booked_today: np.ndarray  # [P, L + H]
    rebooked_today: np.ndarray  # [P, L + H]
    booked_amount: np.ndarray  # [1]
    el_due: np.ndarray  # [24] today's booked admissions per hour
    el_admitted_today: np.ndarray  # [1]
    el_cancellations: np.ndarray  # [H]
    waiting_over: np.ndarray  # [W, H] on the list at midnight, waiting over each RTT threshold
    waiting_list: np.ndarray  # [H] on the list at the midnight ending each day
    wait_hist: np.ndarray  # [L + H + 1] window midnights: list patients by whole days waited
    occ_area: np.ndarray  # [H] bed days occupied (time-weighted mean beds)
    em_area: np.ndarray  # [H] ... by emergencies
    delayed_area: np.ndarray  # [H]
    board_area: np.ndarray  # [H]
    escalation_area: np.ndarray  # [H]
    occ_max: np.ndarray  # [H]
    prev: np.ndarray  # [4] last hour's end: beds, emergency beds, delayed, boarding
    svc_area: np.ndarray  # [4, S, H] occupied, waiting for a place, blocked, being assessed for
    svc_prev: np.ndarray  # [4, S]
    assess_prev: np.ndarray  # [K]
    occ_midnight: np.ndarray  # [H]
    delayed_midnight: np.ndarray  # [H]
    board_midnight: np.ndarray  # [H]


def _routes(stages: list[Stage]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start, dest, share = [0], [], []
    for st in stages:
        for d, sh in st.routes:
            dest.append(d)
            share.append(sh)
        start.append(len(dest))
    return np.array(start, dtype=np.int64), np.array(dest, dtype=np.int64), np.array(share, dtype=float)


def _sources(stages: list[Stage], n_sources: int) -> tuple[np.ndarray, np.ndarray]:
    members: list[list[int]] = [[] for _ in range(n_sources)]
    for i, st in enumerate(stages):
        if st.source >= 0:
            members[st.source].append(i)
    start = np.cumsum([0] + [len(m) for m in members]).astype(np.int64)
    return start, np.array([i for m in members for i in m], dtype=np.int64)


def _weights(stages: list[Stage], n_days: int) -> np.ndarray:
    return np.array([np.ones(n_days) if st.weight_by_day is None else st.weight_by_day for st in stages]).reshape(
        len(stages), n_days
    )


def plan_arrays(
    cfg: Config, lv: Levers, slots: list[Slot], stages: list[Stage], bank: KernelBank, window: tuple[int, int]
) -> Plan:
    """The plan (levers as they are now) and the network as kernel inputs."""
    H, S, G = cfg.horizon_days, len(cfg.services), len(cfg.groups)
    assess_of = np.full((S, S + 1), -1, dtype=np.int64)
    for i, st in enumerate(stages):
        if st.kind == ASSESS:
            assess_of[st.target, st.holder] = i
    route_start, route_dest, route_share = _routes(stages)
    src_start, src_stage = _sources(stages, G + 1 + S)
    names = list(cfg.services)
    step_up = names.index(cfg.step_up_service) if cfg.step_up_service is not None else -1
    em = cfg.demand.emergency
    hourly = np.asarray(em.hourly_factors, dtype=float)
    max_wait = cfg.acute.max_wait_hours
    acute_slot = {st.source: st.slot for st in stages if st.kind == 0}
    group_mean = np.array([_mean_stay(bank, acute_slot[g]) for g in range(G)]).reshape(G, H)
    elective = _elective_arrays(cfg, lv)
    return Plan(
        n_days=H,
        n_stages=len(stages),
        n_services=S,
        n_groups=G,
        n_priorities=elective["n_priorities"],
        st_slot=np.array([st.slot for st in stages], dtype=np.int64),
        st_kind=np.array([st.kind for st in stages], dtype=np.int64),
        st_holder=np.array([st.holder for st in stages], dtype=np.int64),
        st_target=np.array([st.target for st in stages], dtype=np.int64),
        st_emergency=np.array([st.emergency for st in stages], dtype=np.bool_),
        st_weight=_weights(stages, H),
        route_start=route_start,
        route_dest=route_dest,
        route_share=route_share,
        src_start=src_start,
        src_stage=src_stage,
        assess_of=assess_of,
        takes_transfers=np.array([svc.service_kind.takes_transfers for svc in cfg.services.values()], dtype=np.bool_),
        places=np.array(lv.service_places, dtype=float).reshape(S, H),
        total_beds=np.array(lv.core_beds, dtype=float) + np.array(lv.escalation_beds, dtype=float),
        core_beds=np.array(lv.core_beds, dtype=float),
        arrivals_per_day=candidate_rate_per_day(em, cfg.start_date, H) * np.array(lv.accept_probability, dtype=float),
        hour_share=hourly / hourly.sum(),
        group_share=np.array([g.share for g in cfg.groups.values()], dtype=float),
        step_up=step_up,
        step_up_share=np.array(lv.step_up_share[:G], dtype=float).reshape(G, H),
        queue_when_full=cfg.acute.when_full == "queue",
        max_wait_steps=0 if max_wait is None else max(int(np.floor(max_wait + 0.5)), 1),
        max_wait_hours=0.0 if max_wait is None else float(max_wait),
        group_mean_los=group_mean,
        list_offset=elective["offset"],
        referrals_per_day=elective["referrals"],
        priority_share=elective["priority_share"],
        slots=np.array(lv.elective_slots, dtype=float),
        bookable_by=elective["bookable_by"],
        slot_hour_share=elective["slot_hour_share"],
        rtt_days=np.array([7.0 * w for w in RTT_WEEKS]),
        window_start=window[0],
        window_end=window[1],
    )


def _mean_stay(bank: KernelBank, slot: int) -> np.ndarray:
    """A slot's mean stay on each day (a ramp's day: its two grid rows blended)."""
    w = bank.row_w[slot]
    return np.asarray(bank.mean_days[bank.row_of[slot]] * (1.0 - w) + bank.mean_days[bank.row_up[slot]] * w)


def list_offset(cfg: Config) -> int:
    """Days before day 0 that the starting list's referrals go back."""
    el = cfg.demand.elective
    if el is None:
        return 0
    listed = cfg.initial_state.waiting_list if cfg.initial_state is not None else []
    oldest = max([w.elapsed_days for w in listed], default=0.0)
    if el.initial_list is not None:
        oldest = max(oldest, el.initial_list.max_wait_weeks * 7.0)
    return int(np.ceil(oldest)) + 1


def _elective_arrays(cfg: Config, lv: Levers) -> dict[str, Any]:
    H = cfg.horizon_days
    el = cfg.demand.elective
    L = list_offset(cfg)
    if el is None:
        return {
            "n_priorities": 1, "offset": L, "referrals": np.zeros(H), "priority_share": np.ones(1),
            "bookable_by": np.zeros(L + H + 1), "slot_hour_share": np.zeros(HOURS_PER_DAY),
        }  # fmt: skip
    days = np.arange(H)
    rate = el.referrals_per_week / 7.0 * (1.0 + el.referral_growth_per_year) ** (days / 365.25)
    shares = np.array(list(el.priorities.values()), dtype=float)
    # A referral at an even time over its day, bookable after its wait: the share bookable by
    # the n-th midnight after the referral day's start, P(U + B <= n) = int_0^1 F(n - u) du.
    n = np.arange(L + H + 1, dtype=float)
    if el.bookable_after is None:
        bookable = np.clip(n, 0.0, 1.0)
    else:
        # int_0^1 F(n - u) du = 1 - int_{n-1}^n P(B > y) dy = 1 - (pi(n - 1) - pi(n))
        bookable = 1.0 - (stop_loss_days(el.bookable_after, n - 1.0) - stop_loss_days(el.bookable_after, n))
    return {
        "n_priorities": shares.size,
        "offset": L,
        "referrals": rate * np.array(lv.referral_accept, dtype=float),
        "priority_share": shares / shares.sum(),
        "bookable_by": np.clip(bookable, 0.0, 1.0),
        "slot_hour_share": _slot_hours(el.admit_hour, el.spread_hours),
    }


def _slot_hours(admit_hour: float, spread_hours: float) -> np.ndarray:
    """Share of a day's booked admissions in each hour: spread evenly from ``admit_hour`` over
    ``spread_hours`` (all in the admit hour when the spread is 0)."""
    share = np.zeros(HOURS_PER_DAY)
    if spread_hours <= 0:
        share[int(admit_hour)] = 1.0
        return share
    edges = np.arange(HOURS_PER_DAY + 1, dtype=float)
    lo, hi = admit_hour, admit_hour + spread_hours
    overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
    # past midnight: the rest falls in the first hours of the day (wrapped)
    if hi > HOURS_PER_DAY:
        overlap += np.clip(np.minimum(edges[1:], hi - HOURS_PER_DAY) - edges[:-1], 0.0, None)
    return np.asarray(overlap / spread_hours)


def bank_arrays(bank: KernelBank) -> Bank:
    """The kernel bank as the kernel reads it."""
    return Bank(
        bank.near, bank.rest, bank.far_shape, bank.part_a, bank.part_b, bank.exact_of, bank.row_of,
        bank.row_up, bank.row_w,
        bank.sparse_n, bank.sparse_lag, bank.sparse_share,
        bank.u_a, bank.v_a, bank.u_b, bank.v_b,
    )  # fmt: skip


def new_state(cfg: Config, n_stages: int, n_priorities: int, longest_lag: int = NEAR_STEPS) -> FlowState:
    """An empty system (the starting waiting list is added by the driver); ``longest_lag``: the
    latest hour after entry that exits are scheduled hour by hour."""
    H, S, G = cfg.horizon_days, len(cfg.services), len(cfg.groups)
    T = H * HOURS_PER_DAY
    L = list_offset(cfg)
    K, P, W = n_stages, n_priorities, len(RTT_WEEKS)
    z = np.zeros
    return FlowState(
        stock=z(K), hour_in=z((K, HOURS_PER_DAY)), day_in=z((K, H)), due=z((K, T + longest_lag + 1)),
        far_a=z((K, H + 3, HOURS_PER_DAY)), far_b=z((K, H + 3, HOURS_PER_DAY)), far_day=z((K, H + 3)), far_hour=z((K, HOURS_PER_DAY)), exits_done=np.full(1, -1, dtype=np.int64),
        beds=z(4), discharged=z(H), left_services=z(H), occ=z(S), blocked=z(S), avoided_in=z(S), rq=z((S, S + 1)), rq_old=z(S),
        moves=z((S, H)), waited_moves=z((S, H)), transfers_from_beds=z(H),
        board=z((G, T)), board_total=z(T), board_sum=z(1), board_head=np.zeros(1, dtype=np.int64),
        waits4=z(H), waits12=z(H), transferred=z(H), displaced=z(H), wait_hours_sum=z(1),
        em_admissions=z(H), el_admissions=z(H), em_arrivals=z(H), need=z(G), suit=z(G), pending=z(G), suitable=z(H),
        avoided=z(H), refused=z(H), boarded=z(H), el_referrals=z(H),
        on_list=z((P, L + H)), listed=z((P, L + H)), booked=z((P, L + H)), cancelled=z((P, L + H)),
        booked_today=z((P, L + H)), rebooked_today=z((P, L + H)), booked_amount=z(1), el_due=z(HOURS_PER_DAY),
        el_admitted_today=z(1), el_cancellations=z(H), waiting_over=z((W, H)), waiting_list=z(H),
        wait_hist=z(L + H + 1), occ_area=z(H), em_area=z(H), delayed_area=z(H), board_area=z(H),
        escalation_area=z(H), occ_max=z(H), prev=z(4), svc_area=z((4, S, H)), svc_prev=z((4, S)),
        assess_prev=z(K), occ_midnight=z(H), delayed_midnight=z(H), board_midnight=z(H),
    )  # fmt: skip


__all__ = ["HOME", "Bank", "FlowState", "Plan", "bank_arrays", "new_state", "plan_arrays"]
