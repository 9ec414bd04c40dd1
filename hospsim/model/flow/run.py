"""One run of the flow engine: build the network and the plan, step through the days (opening
gates at midnights as the DES does), then measure."""

from __future__ import annotations

import numpy as np

from ...config import Config, UserError, gated_schedules
from ...config.schedules import Condition
from ..demand import initial_list_times
from ..plan import GateBook, Levers, build_levers
from . import FlowRun
from .kernel import run_days
from .measures import flow_outputs
from .network import KernelBank, Stage, build_kernels, build_network
from .state import FlowState, Plan, bank_arrays, list_offset, new_state, plan_arrays


def run_flow(cfg: Config, window: tuple[int, int] | None = None) -> FlowRun:
    """The flow engine's run of ``cfg`` (see :func:`hospsim.model.flow.run_flow`)."""
    return flow_outputs(*simulate(cfg, window))


def simulate(
    cfg: Config, window: tuple[int, int] | None = None
) -> tuple[Config, Plan, KernelBank, list[Stage], FlowState, dict[str, int | None]]:
    """Run the flow model: the config, the plan and kernels as they ended (gates opened), the
    stages, the final state with its per-day outputs, and the day each gate opened."""
    H = cfg.horizon_days
    win = window if window is not None else (cfg.warmup_days, H)
    if not 0 <= win[0] < win[1] <= H:
        raise ValueError(f"measurement window {win[0]}..{win[1]} is not inside 0..{H}")
    if cfg.initial_state is not None and (
        cfg.initial_state.acute or cfg.initial_state.services or cfg.initial_state.boarding
    ):
        raise UserError(
            "initial_state: the flow engine starts from an empty hospital (and a waiting list); "
            "run census starts with engine simpy or fast"
        )
    lv, gates = build_levers(cfg)
    gated = frozenset(g.path for g in gates)
    slots, stages = build_network(cfg, lv, gated)
    bank = build_kernels(slots, H)
    plan = plan_arrays(cfg, lv, slots, stages, bank, win)
    state = new_state(cfg, len(stages), plan.n_priorities, bank.longest_lag)
    _starting_list(cfg, plan, state)
    book = GateBook(gates, H)
    if not gates:
        run_days(plan, bank_arrays(bank), state, 0, H)
    else:
        plan, bank, stages = _run_gated(cfg, lv, book, (plan, bank, stages), state, win)
    return cfg, plan, bank, stages, state, book.opened


def _run_gated(
    cfg: Config,
    lv: Levers,
    book: GateBook,
    built: tuple[Plan, KernelBank, list[Stage]],
    state: FlowState,
    win: tuple[int, int],
) -> tuple[Plan, KernelBank, list[Stage]]:
    """While a gate is shut, stop at each midnight it could open at: the gates see the past
    days' bed days (as in the DES), and an opened gate's lever is re-read from that day on.
    A gate that waits on a service's capacity cannot open before the day the levers give it."""
    H = cfg.horizon_days
    plan, bank, stages = built
    k = bank_arrays(bank)
    conditions = {path: schedule.gate or [] for path, schedule in gated_schedules(cfg)}
    services = list(cfg.services)
    d = 0
    while d < H:
        if not book.shut:
            run_days(plan, k, state, d, H)
            break
        for day in range(d):  # the days the gates have not seen yet (recording twice is harmless)
            book.record_day(day, float(state.occ_area[day]), float(state.delayed_area[day]))
        before = len(book.shut)
        book.open_due(d, lv)
        if len(book.shut) != before:
            # The same stages (gated levers built every route), re-read from the levers.
            slots, stages = build_network(cfg, lv, frozenset(book.opened))
            bank = build_kernels(slots, H)
            k = bank_arrays(bank)
            plan = plan_arrays(cfg, lv, slots, stages, bank, win)
        until = min([_earliest(conditions[g.path], d + 1, lv, services, H) for g in book.shut], default=H)
        run_days(plan, k, state, d, until)
        d = until
    return plan, bank, stages


def _earliest(conditions: list[Condition], day: int, lv: Levers, services: list[str], horizon: int) -> int:
    """The first midnight from ``day`` at which a gate with these conditions could hold: not before
    each service capacity it waits on is reached (conditions on beds occupied or delayed may hold
    any day)."""
    for cond in conditions:
        need = cond.service_capacity_at_least
        if need is None:
            continue
        places = lv.service_places[services.index(need.service)]
        day = next((t for t in range(day, horizon) if places[t] >= need.places), horizon)
    return day


def _starting_list(cfg: Config, plan: Plan, state: FlowState) -> None:
    """The electives on the list at day 0: by referral day (before day 0) and priority."""
    el = cfg.demand.elective
    if el is None:
        return
    L = list_offset(cfg)
    listed = cfg.initial_state.waiting_list if cfg.initial_state is not None else []
    if listed:
        names = list(el.priorities)
        for w in listed:
            c = L + int(np.floor(-max(w.elapsed_days, 1e-12)))
            pr = names.index(w.priority)
            state.on_list[pr, c] += 1.0
            state.listed[pr, c] += 1.0
        return
    times = initial_list_times(el)
    if times.size == 0:
        return
    cohorts = np.bincount((L + np.floor(times)).astype(np.int64), minlength=L)
    for pr in range(plan.n_priorities):
        state.on_list[pr, : cohorts.size] += cohorts * plan.priority_share[pr]
        state.listed[pr, : cohorts.size] += cohorts * plan.priority_share[pr]
