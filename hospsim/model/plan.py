"""The plan as the model sees it: per-day values of every lever, and the gates that change them.

Levers are plain Python lists indexed by day (fast to read on the per-patient path). A gate that
opens on day g rewrites its lever from day g on, with the schedule postponed as described in
:mod:`hospsim.config.schedules`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ..config import EMERGENCY_MULTIPLIER, HOME, Config, plan_schedules
from ..config.schedules import Condition, whole
from ..config.schema import PathwayChange
from .cohort import NO_SERVICE
from .demand import accept_per_multiplier, calendar

# The places of a service with capacity: unlimited (never reached: it is never full).
UNLIMITED_PLACES = 2**62


@dataclass
class Levers:
    """Per-day values of everything a plan can change (mutated when gates open).

    Patient groups are indexed as in the config; electives are one more row at the end.
    """

    core_beds: list[int]
    escalation_beds: list[int]  # escalation beds open (calendar months), not a plan lever
    service_places: list[list[int]]  # [service][day]
    assessment_multiplier: list[list[float]]  # [service][day], applied on the arrival day
    accept_probability: list[float]  # emergencies: growth x demand multiplier / headroom
    elective_slots: list[int]  # theatre slots per day (electives booked from the waiting list)
    referral_accept: list[float]  # share of the day's elective referrals kept (demand management)
    los_multiplier: list[list[float]]  # [group][day]
    step_up_share: list[list[float]]  # [group][day]
    pathway_cumulative: list[list[tuple[float, ...]]]  # [group][day] -> cumulative mix
    pathway_service: list[tuple[int, ...]]  # [group] -> service index of each mix position
    # Onward routes out of each community service, as for groups: [service][day], [service].
    onward_cumulative: list[list[tuple[float, ...]]]
    onward_service: list[tuple[int, ...]]

    def total_beds(self, day: int) -> int:
        """Beds open on ``day``: core and escalation."""
        return self.core_beds[day] + self.escalation_beds[day]


# A compiled condition: (day, levers, occupied_area, delayed_area) -> bool, where
# occupied_area[d] / delayed_area[d] are the bed-days occupied / delayed on day d (known for d < day).
Check = Callable[[int, Levers, list[float], list[float]], bool]
# Turns a schedule's per-day values into a lever's (whole places, probabilities, mixes...).
Convert = Callable[[np.ndarray], list[Any]]


@dataclass(frozen=True)
class Gate:
    """A gated schedule: its path, its conditions and how it rewrites the levers when it opens."""

    path: str
    checks: tuple[Check, ...]  # all must hold
    apply: Callable[[Levers, int], None]

    def holds(self, day: int, levers: Levers, occupied_area: list[float], delayed_area: list[float]) -> bool:
        """Do all the gate's conditions hold at the midnight that starts ``day``?"""
        return all(check(day, levers, occupied_area, delayed_area) for check in self.checks)


def _cumulative_mix(names: list[str], base: dict[str, float], to: dict[str, float], frac: float) -> tuple[float, ...]:
    probs = [(1 - frac) * base.get(n, 0.0) + frac * to.get(n, 0.0) for n in names]
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return tuple(cum.tolist())


# --- conversions from schedule values to lever values (element by element) --------------------


def _floats(v: np.ndarray) -> list[float]:
    return list(v.tolist())


def _whole(v: np.ndarray) -> list[int]:
    return list(whole(v).tolist())


def _scaled(per_day: np.ndarray, v: np.ndarray) -> list[float]:
    return list((v * per_day).tolist())


def _weekday_slots(weekday: np.ndarray, v: np.ndarray) -> list[int]:
    return list(np.where(weekday < 5, whole(v), 0).tolist())


def _mixes(names: list[str], base: dict[str, float], to: dict[str, float], frac: np.ndarray) -> list[tuple[float, ...]]:
    """Every day's cumulative mix at once: the arithmetic of :func:`_cumulative_mix`, row by row."""
    f = np.asarray(frac, dtype=float)[:, None]
    start = np.array([base.get(n, 0.0) for n in names])
    end = np.array([to.get(n, 0.0) for n in names])
    cum = np.cumsum((1 - f) * start + f * end, axis=1)
    cum[:, -1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return [tuple(row) for row in cum.tolist()]


def _opener(
    values_if_opened: Callable[[int], np.ndarray], attr: str, index: int | None, convert: Convert
) -> Callable[[Levers, int], None]:
    """How a gate rewrites its lever (``levers.attr`` or ``levers.attr[index]``) from its day on."""

    def apply(lv: Levers, day: int) -> None:
        target = getattr(lv, attr) if index is None else getattr(lv, attr)[index]
        target[day:] = convert(values_if_opened(day))[day:]

    return apply


class _LeverBuilder:
    """Builds each lever's per-day values (gates shut) and registers the gates, in a fixed order
    (gates are checked in the order they were registered)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.n = cfg.horizon_days
        self.service_index = {name: i for i, name in enumerate(cfg.services)}
        self.weekday, _, self.month = calendar(cfg.start_date, self.n)
        self.schedules = dict(plan_schedules(cfg))  # as delivered (plan_delivery applied)
        self.gates: list[Gate] = []

    def lever(self, path: str, attr: str, index: int | None, convert: Convert) -> list[Any]:
        """The lever's per-day values while its gate (if any) is shut; registers the gate."""
        s, n = self.schedules[path], self.n
        if not s.gate:
            return convert(s.daily(n))
        checks = tuple(compile_condition(c, self.service_index) for c in s.gate)
        opened = partial(s.daily_opened, n)
        self.gates.append(Gate(path=path, checks=checks, apply=_opener(opened, attr, index, convert)))
        return convert(s.daily_held(n))

    def escalation(self) -> list[int]:
        esc = self.cfg.acute.escalation
        if esc is None:
            return [0] * self.n
        return list(np.where(np.isin(self.month, esc.months), esc.beds, 0).astype(np.int64).tolist())

    def services(self) -> tuple[list[list[int]], list[list[float]]]:
        places, assess = [], []
        for name, i in self.service_index.items():
            if self.cfg.services[name].unlimited:
                places.append([UNLIMITED_PLACES] * self.n)
            else:
                places.append(self.lever(f"services.{name}.capacity", "service_places", i, _whole))
            assess.append(self.lever(f"services.{name}.assessment_multiplier", "assessment_multiplier", i, _floats))
        return places, assess

    def onward(self) -> tuple[list[tuple[int, ...]], list[list[tuple[float, ...]]]]:
        """Each service's onward destinations and its cumulative onward mix on each day."""
        services, mixes = [], []
        for name, i in self.service_index.items():
            svc = self.cfg.services[name]
            dest, mix = self.pathway_mix(f"services.{name}", svc.pathways, svc.pathways_change, "onward_cumulative", i)
            services.append(dest)
            mixes.append(mix)
        return services, mixes

    def elective_slots(self) -> list[int]:
        if self.cfg.demand.elective is None:
            return [0] * self.n
        return self.lever("demand.elective.per_weekday", "elective_slots", None, partial(_weekday_slots, self.weekday))

    def referral_accept(self) -> list[float]:
        if self.cfg.demand.elective is None:
            return [1.0] * self.n
        return self.lever(REFERRAL_MULTIPLIER, "referral_accept", None, _floats)

    def pathway_mix(
        self, owner: str, pathways: dict[str, float], change: PathwayChange | None, attr: str, index: int
    ) -> tuple[tuple[int, ...], list[tuple[float, ...]]]:
        """The destinations (service indices) and the cumulative pathway mix on each day of a
        group or a service (``owner``: its dotted path; ``levers.attr[index]`` its lever)."""
        names = list(pathways) + [p for p in (change.to if change else {}) if p not in pathways]
        services = self.pathway_services(names)
        if change is None:
            return services, [_cumulative_mix(names, pathways, {}, 0.0)] * self.n
        mixes = partial(_mixes, names, pathways, change.to)
        return services, self.lever(f"{owner}.pathways_change", attr, index, mixes)

    def pathway_services(self, names: list[str]) -> tuple[int, ...]:
        return tuple(NO_SERVICE if p == HOME else self.service_index[p] for p in names)

    def build(self) -> Levers:
        n, cfg = self.n, self.cfg
        core = self.lever("acute.beds", "core_beds", None, _whole)
        places, assess = self.services()
        # Scaled day by day, so a gate that opens late rescales the postponed multiplier too.
        per_unit = accept_per_multiplier(cfg.demand.emergency, n)
        accept = self.lever("demand.emergency.multiplier", "accept_probability", None, partial(_scaled, per_unit))
        slots = self.elective_slots()
        referrals = self.referral_accept()
        los_mult, step_up, path_cum, path_service = [], [], [], []
        for gi, (gname, g) in enumerate(cfg.groups.items()):
            los_mult.append(self.lever(f"groups.{gname}.los_multiplier", "los_multiplier", gi, _floats))
            step_up.append(self.lever(f"groups.{gname}.step_up_share", "step_up_share", gi, _floats))
            services, mix = self.pathway_mix(f"groups.{gname}", g.pathways, g.pathways_change, "pathway_cumulative", gi)
            path_service.append(services)
            path_cum.append(mix)
        # Electives: one more "group" with no plan levers.
        el = cfg.demand.elective
        los_mult.append([1.0] * n)
        step_up.append([0.0] * n)
        names = list(el.pathways) if el is not None else [HOME]
        path_service.append(self.pathway_services(names))
        path_cum.append([_cumulative_mix(names, el.pathways, {}, 0.0) if el is not None else (1.0,)] * n)
        # After every other lever: gates are checked in the order they were registered.
        onward_service, onward_cum = self.onward()
        return Levers(
            core_beds=core, escalation_beds=self.escalation(), service_places=places, assessment_multiplier=assess,
            accept_probability=accept, elective_slots=slots, referral_accept=referrals, los_multiplier=los_mult, step_up_share=step_up,
            pathway_cumulative=path_cum, pathway_service=path_service,
            onward_cumulative=onward_cum, onward_service=onward_service,
        )  # fmt: skip


REFERRAL_MULTIPLIER = "demand.elective.referral_multiplier"


def most_accept_probability(cfg: Config) -> np.ndarray:
    """The highest acceptance probability of an emergency candidate on each day, whenever the
    demand multiplier's gate (if any) opens."""
    multiplier = dict(plan_schedules(cfg))[EMERGENCY_MULTIPLIER]  # as delivered
    n = cfg.horizon_days
    return np.asarray(multiplier.daily_most(n) * accept_per_multiplier(cfg.demand.emergency, n), dtype=float)


def most_referral_accept(cfg: Config) -> np.ndarray:
    """The highest share of each day's elective referrals that the plan keeps (its referral
    multiplier), whenever the multiplier's gate (if any) opens; ones without electives."""
    n = cfg.horizon_days
    if cfg.demand.elective is None:
        return np.ones(n)
    return np.asarray(dict(plan_schedules(cfg))[REFERRAL_MULTIPLIER].daily_most(n), dtype=float)


# How far the plan's mixes and shares may round away from their extremes (a ramp's sums at a
# fraction between two others, a share ``from + (to - from) * frac``): far less than this.
_ROUNDING_MARGIN = 1e-9


def may_use_a_service(cfg: Config, group: np.ndarray, u_pathway: np.ndarray) -> np.ndarray:
    """Per candidate (its group index: electives ``len(cfg.groups)``, a census's service
    patients beyond): whether its pathway uniform can send it to a community service on some day,
    whenever the plan's gates open - false only where every mix the plan can give its group sends
    it home. A superset, like :func:`most_accept_probability`: a pathway change moves each edge of
    the mix linearly with its fraction, so the edges' extremes are at the fraction's extremes."""
    # Per group index, then one more for a census's service patients: nothing surely home.
    low, high = np.array([*_surely_home(cfg), (1.0, 0.0)]).T
    at = np.minimum(group, low.size - 1)
    may: np.ndarray = (u_pathway < low[at]) | (u_pathway >= high[at])
    return may


def _surely_home(cfg: Config) -> list[tuple[float, float]]:
    """Per group (electives last): the uniforms ``[low, high)`` that every possible mix sends
    home (``low >= high``: none)."""
    schedules = dict(plan_schedules(cfg))  # as delivered
    out = []
    for name, g in cfg.groups.items():
        change = g.pathways_change
        fractions = schedules[f"groups.{name}.pathways_change"].values() if change is not None else [0.0]
        out.append(_home_interval(g.pathways, change.to if change is not None else {}, fractions))
    el = cfg.demand.elective
    out.append(_home_interval(el.pathways, {}, [0.0]) if el is not None else (0.0, 1.0))
    return out


def _home_interval(base: dict[str, float], to: dict[str, float], fractions: list[float]) -> tuple[float, float]:
    names = list(base) + [p for p in to if p not in base]  # as _LeverBuilder.pathway_mix orders them
    if HOME not in names:
        return 1.0, 0.0
    k = names.index(HOME)
    mixes = np.array(_mixes(names, base, to, np.array([min(fractions), max(fractions)])))
    # The mix's own ends are exact (0, and a last edge set to 1): no margin there.
    low = float(mixes[:, k - 1].max()) + _ROUNDING_MARGIN if k > 0 else 0.0
    high = float(mixes[:, k].min()) - _ROUNDING_MARGIN if k < len(names) - 1 else 1.0
    return low, high


def may_step_up(cfg: Config, group: np.ndarray, u_step_up: np.ndarray) -> np.ndarray:
    """Per candidate: whether it can be suitable for step-up on some day (its uniform below the
    highest share its group's plan can give), whenever the gates open. Electives and a census
    never are."""
    if cfg.step_up_service is None:
        return np.zeros(u_step_up.size, dtype=bool)
    schedules = dict(plan_schedules(cfg))
    # Per group index, then 0 for electives and a census.
    top = [max(schedules[f"groups.{name}.step_up_share"].values()) + _ROUNDING_MARGIN for name in cfg.groups]
    highest = np.array([*top, 0.0])
    may: np.ndarray = u_step_up < highest[np.minimum(group, highest.size - 1)]
    return may


def build_levers(cfg: Config) -> tuple[Levers, list[Gate]]:
    """Per-day lever values with every gate shut, and the gates."""
    builder = _LeverBuilder(cfg)
    levers = builder.build()
    return levers, builder.gates


def compile_condition(cond: Condition, service_index: dict[str, int]) -> Check:
    """Turn a structured condition into a check made at the midnight that starts ``day``."""
    if cond.service_capacity_at_least is not None:
        c = cond.service_capacity_at_least
        i = service_index[c.service]
        return lambda day, lv, occ, dly: lv.service_places[i][day] >= c.places
    if cond.occupancy_at_most is not None:
        occ_c = cond.occupancy_at_most

        def occupancy_ok(day: int, lv: Levers, occ: list[float], dly: list[float]) -> bool:
            if day < occ_c.days:
                return False
            beds = sum(lv.total_beds(d) for d in range(day - occ_c.days, day))
            return beds > 0 and sum(occ[day - occ_c.days : day]) / beds <= occ_c.occupancy

        return occupancy_ok
    dly_c = cond.delayed_patients_at_most
    assert dly_c is not None
    return lambda day, lv, occ, dly: (
        day >= dly_c.days and sum(dly[day - dly_c.days : day]) / dly_c.days <= dly_c.patients
    )


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
        """At the midnight that starts ``day``, open every gate whose conditions hold and rewrite
        its lever from ``day`` on. Repeated until no more open: a gate that waits on a lever
        another gate rewrites (beds waiting on a gated service capacity) opens the same midnight,
        whatever order the gates were registered in."""
        opened = True
        while opened:
            opened = False
            for gate in list(self.shut):
                if gate.holds(day, levers, self.occupied_bed_days, self.delayed_bed_days):
                    gate.apply(levers, day)
                    self.opened[gate.path] = day
                    self.shut.remove(gate)
                    opened = True
