"""The plan as the model sees it: per-day values of every lever, and the gates that change them.

Levers are plain Python lists indexed by day (fast to read on the per-patient path). A gate that
opens on day g rewrites its lever from day g on, with the schedule postponed as described in
:mod:`hospsim.schedules`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import HOME, Config, plan_schedules
from ..config.schedules import Condition, whole
from .cohort import NO_SERVICE
from .demand import calendar, demand_bound


@dataclass
class Levers:
    """Per-day values of everything a plan can change (mutated when gates open).

    Patient groups are indexed as in the config; electives are one more row at the end.
    """

    core_beds: list[int]
    escalation_beds: list[int]  # escalation beds open (calendar months), not a plan lever
    service_places: list[list[int]]  # [service][day]
    assessment_multiplier: list[list[float]]  # [service][day], applied on the arrival day
    accept_probability: list[float]  # emergency demand multiplier / dominating bound
    elective_slots: list[int]  # electives booked per day
    los_multiplier: list[list[float]]  # [group][day]
    step_up_share: list[list[float]]  # [group][day]
    pathway_cumulative: list[list[tuple[float, ...]]]  # [group][day] -> cumulative mix
    pathway_service: list[tuple[int, ...]]  # [group] -> service index of each mix position

    def total_beds(self, day: int) -> int:
        return self.core_beds[day] + self.escalation_beds[day]


@dataclass(frozen=True)
class Gate:
    """A gated schedule: its path, its conditions and how it rewrites the levers when it opens."""

    path: str
    checks: tuple[Callable[[int, Levers, list, list], bool], ...]  # all must hold
    apply: Callable[[Levers, int], None]

    def holds(self, day: int, levers: Levers, occupied_area: list, delayed_area: list) -> bool:
        return all(check(day, levers, occupied_area, delayed_area) for check in self.checks)


def _cumulative_mix(names: list[str], base: dict[str, float], to: dict[str, float], frac: float) -> tuple[float, ...]:
    probs = [(1 - frac) * base.get(n, 0.0) + frac * to.get(n, 0.0) for n in names]
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return tuple(cum.tolist())


def build_levers(cfg: Config) -> tuple[Levers, list[Gate]]:
    """Per-day lever values with every gate shut, and the gates."""
    n = cfg.horizon_days
    service_index = {name: i for i, name in enumerate(cfg.services)}
    weekday, _, month = calendar(cfg.start_date, n)
    schedules = dict(plan_schedules(cfg))  # as delivered (plan_delivery applied)
    gates: list[Gate] = []

    def lever(path: str, write: Callable[[Levers, int, np.ndarray], None]) -> np.ndarray:
        """The lever's per-day values while its gate (if any) is shut; registers the gate."""
        s = schedules[path]
        if not s.gate:
            return s.daily(n)

        def apply(lv: Levers, day: int) -> None:
            write(lv, day, s.daily_opened(n, day))

        checks = tuple(compile_condition(c, service_index) for c in s.gate)
        gates.append(Gate(path=path, checks=checks, apply=apply))
        return s.daily_held(n)

    def as_int(values: np.ndarray) -> list[int]:
        return whole(values).tolist()

    # Acute beds and escalation.
    esc = cfg.acute.escalation
    escalation = np.where(np.isin(month, esc.months), esc.beds, 0) if esc else np.zeros(n, dtype=np.int64)

    def write_beds(lv: Levers, day: int, v: np.ndarray) -> None:
        lv.core_beds[day:] = as_int(v[day:])

    core = as_int(lever("acute.beds", write_beds))

    # Community services.
    places, assess = [], []
    for name in cfg.services:
        i = service_index[name]

        def write_places(lv: Levers, day: int, v: np.ndarray, i=i) -> None:
            lv.service_places[i][day:] = as_int(v[day:])

        def write_assess(lv: Levers, day: int, v: np.ndarray, i=i) -> None:
            lv.assessment_multiplier[i][day:] = v[day:].tolist()

        places.append(as_int(lever(f"services.{name}.capacity", write_places)))
        assess.append(lever(f"services.{name}.assessment_multiplier", write_assess).tolist())

    # Emergency demand.
    bound = demand_bound(cfg.demand.emergency)

    def write_accept(lv: Levers, day: int, v: np.ndarray) -> None:
        lv.accept_probability[day:] = (v[day:] / bound).tolist()

    accept = (lever("demand.emergency.multiplier", write_accept) / bound).tolist()

    # Electives.
    el = cfg.demand.elective
    if el is not None:

        def write_slots(lv: Levers, day: int, v: np.ndarray) -> None:
            lv.elective_slots[day:] = np.where(weekday < 5, whole(v), 0)[day:].tolist()

        slots = np.where(weekday < 5, whole(lever("demand.elective.per_weekday", write_slots)), 0).tolist()
    else:
        slots = [0] * n

    # Patient groups: LOS multiplier, step-up share, pathway mix.
    los_mult, step_up, path_cum, path_service = [], [], [], []
    for gi, (gname, g) in enumerate(cfg.groups.items()):

        def write_los(lv: Levers, day: int, v: np.ndarray, gi=gi) -> None:
            lv.los_multiplier[gi][day:] = v[day:].tolist()

        def write_step_up(lv: Levers, day: int, v: np.ndarray, gi=gi) -> None:
            lv.step_up_share[gi][day:] = v[day:].tolist()

        los_mult.append(lever(f"groups.{gname}.los_multiplier", write_los).tolist())
        step_up.append(lever(f"groups.{gname}.step_up_share", write_step_up).tolist())

        change = g.pathways_change
        names = list(g.pathways) + [p for p in (change.to if change else {}) if p not in g.pathways]
        path_service.append(tuple(NO_SERVICE if p == HOME else service_index[p] for p in names))
        if change is None:
            path_cum.append([_cumulative_mix(names, g.pathways, {}, 0.0)] * n)
            continue

        def mixes(frac: np.ndarray, names=names, base=g.pathways, to=change.to) -> list[tuple[float, ...]]:
            cache: dict[float, tuple[float, ...]] = {}
            return [cache.setdefault(f, _cumulative_mix(names, base, to, f)) for f in frac.tolist()]

        def write_mix(lv: Levers, day: int, v: np.ndarray, gi=gi, mixes=mixes) -> None:
            lv.pathway_cumulative[gi][day:] = mixes(v)[day:]

        path_cum.append(mixes(lever(f"groups.{gname}.pathways_change", write_mix)))

    # Electives: one more "group" with no plan levers.
    los_mult.append([1.0] * n)
    step_up.append([0.0] * n)
    if el is not None:
        names = list(el.pathways)
        path_service.append(tuple(NO_SERVICE if p == HOME else service_index[p] for p in names))
        path_cum.append([_cumulative_mix(names, el.pathways, {}, 0.0)] * n)
    else:
        path_service.append((NO_SERVICE,))
        path_cum.append([(1.0,)] * n)

    levers = Levers(
        core_beds=core,
        escalation_beds=escalation.astype(np.int64).tolist(),
        service_places=places,
        assessment_multiplier=assess,
        accept_probability=accept,
        elective_slots=slots,
        los_multiplier=los_mult,
        step_up_share=step_up,
        pathway_cumulative=path_cum,
        pathway_service=path_service,
    )
    return levers, gates


# A compiled condition: (day, levers, occupied_area, delayed_area) -> bool, where
# occupied_area[d] / delayed_area[d] are the bed-days occupied / delayed on day d (known for d < day).
Check = Callable[[int, Levers, list, list], bool]


def compile_condition(cond: Condition, service_index: dict[str, int]) -> Check:
    """Turn a structured condition into a check made at the midnight that starts ``day``."""
    if cond.service_capacity_at_least is not None:
        c = cond.service_capacity_at_least
        i = service_index[c.service]
        return lambda day, lv, occ, dly: lv.service_places[i][day] >= c.places
    if cond.occupancy_at_most is not None:
        c = cond.occupancy_at_most

        def occupancy_ok(day: int, lv: Levers, occ: list, dly: list) -> bool:
            if day < c.days:
                return False
            beds = sum(lv.total_beds(d) for d in range(day - c.days, day))
            return beds > 0 and sum(occ[day - c.days : day]) / beds <= c.occupancy

        return occupancy_ok
    c = cond.delayed_patients_at_most
    assert c is not None
    return lambda day, lv, occ, dly: day >= c.days and sum(dly[day - c.days : day]) / c.days <= c.patients


class GateBook:
    """The gates still shut, the bed-day integrals they are checked on, and when each opened."""

    def __init__(self, gates: list[Gate], horizon_days: int) -> None:
        self.shut = list(gates)
        self.opened: dict[str, int | None] = {g.path: None for g in gates}
        # Bed-days occupied / delayed on each day, known for every day before today.
        self.occupied_bed_days = [0.0] * horizon_days
        self.delayed_bed_days = [0.0] * horizon_days

    def record_day(self, day: int, occupied_bed_days: float, delayed_bed_days: float) -> None:
        """Store a finished day's integrals."""
        self.occupied_bed_days[day] = occupied_bed_days
        self.delayed_bed_days[day] = delayed_bed_days

    def open_due(self, day: int, levers: Levers) -> None:
        """At the midnight that starts ``day``, open every gate whose conditions hold (in the
        order the gates were registered) and rewrite its lever from ``day`` on."""
        for gate in list(self.shut):
            if gate.holds(day, levers, self.occupied_bed_days, self.delayed_bed_days):
                gate.apply(levers, day)
                self.opened[gate.path] = day
                self.shut.remove(gate)
