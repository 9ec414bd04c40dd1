"""The patients of one replication.

:class:`Candidates` are drawn in bulk before the simulation starts, from named streams, indexed by
the patient's place in a dominating arrival stream that does not depend on the plan: arrival time,
group, and one uniform number per attribute (acceptance, LOS quantile, step-up suitability,
pathway, community LOS quantile). The plan in force on the arrival day (possibly changed by a gate
that opened) turns those numbers into attributes as the patient arrives. Scenarios compared under
the same replication seed therefore see the same patients (common random numbers), and no
attribute depends on the state of the system.

:class:`Cohort` is what the patients turned out to be: those who arrived, with their resolved
attributes, after the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..config.distributions import ppf
from .demand import calendar, elective_counts, elective_times, emergency_arrivals
from .streams import Streams

NO_SERVICE = -1


@dataclass(frozen=True)
class Candidates:
    """Possible arrivals sorted by time; arrays aligned by candidate index."""

    time_days: np.ndarray  # float, sorted
    day: np.ndarray  # int, day of arrival
    is_elective: np.ndarray  # bool
    elective_slot: np.ndarray  # int: position in the day's booked list (-1 for emergencies)
    group: np.ndarray  # index into group_names; electives get len(group_names)
    u_accept: np.ndarray  # emergencies: thinning uniform (kept if < multiplier / bound)
    base_los_days: np.ndarray  # LOS before any plan multiplier
    u_step_up: np.ndarray
    step_up_los_days: np.ndarray
    u_pathway: np.ndarray
    service_los_days: np.ndarray  # shape (n_services, n): LOS if the patient went to service s
    assessment_days: np.ndarray  # shape (n_services, n): fit-to-ready time if referred to s
    group_names: tuple[str, ...]
    service_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.time_days.size)


@dataclass(frozen=True)
class Cohort:
    """The patients who arrived, with the attributes the plan in force gave them."""

    arrival_days: np.ndarray  # float, sorted
    is_elective: np.ndarray  # bool
    group: np.ndarray  # index into group_names; electives get len(group_names)
    step_up_suitable: np.ndarray  # bool: may be diverted to step-up if a place is free
    step_up_los_days: np.ndarray
    acute_los_days: np.ndarray  # time from admission to medically fit for discharge
    service: np.ndarray  # discharge service index, or NO_SERVICE for home
    service_los_days: np.ndarray  # LOS in that service (0 for home)
    group_names: tuple[str, ...]
    service_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.arrival_days.size)


def elective_slot_bound(cfg: Config) -> np.ndarray:
    """Most electives that any version of the plan books on each day (0 at weekends)."""
    el = cfg.demand.elective
    n = cfg.horizon_days
    if el is None:
        return np.zeros(n, dtype=np.int64)
    if not el.per_weekday.gate:
        return elective_counts(el, cfg.start_date, n)
    weekday, _, _ = calendar(cfg.start_date, n)
    most = int(np.floor(max(el.per_weekday.values()) + 0.5))
    return np.where(weekday < 5, most, 0)


def build_candidates(cfg: Config, streams: Streams) -> Candidates:
    """Draw every possible patient of one replication."""
    n_days = cfg.horizon_days
    group_names = tuple(cfg.groups)
    service_names = tuple(cfg.services)

    em = emergency_arrivals(cfg.demand.emergency, cfg.start_date, n_days, streams["emergency_arrivals"])
    k = em.time_days.size
    group = np.searchsorted(
        _cumulative([g.share for g in cfg.groups.values()]), streams["group"].random(k), side="right"
    )
    u_los = streams["acute_los"].random(k)
    u_step_up = streams["step_up"].random(k)
    u_step_up_los = streams["step_up_los"].random(k)
    u_pathway = streams["pathway"].random(k)
    u_service_los = streams["service_los"].random(k)
    base_los = np.empty(k)
    for gi, g in enumerate(cfg.groups.values()):
        m = group == gi
        base_los[m] = ppf(g.los, u_los[m])
    step_up = cfg.step_up_service
    step_up_los = ppf(cfg.services[step_up].los, u_step_up_los) if step_up is not None else np.zeros(k)

    el = cfg.demand.elective
    if el is not None:
        slots = elective_slot_bound(cfg)
        e_time = elective_times(el, slots)
        n_el = e_time.size
        e_slot = np.arange(n_el) - np.repeat(np.cumsum(slots) - slots, slots)
        e_los = ppf(el.los, streams["elective_los"].random(n_el))
        e_u_pathway = streams["elective_pathway"].random(n_el)
        e_u_service_los = streams["elective_service_los"].random(n_el)
    else:
        e_time = np.empty(0)
        n_el = 0
        e_slot = np.empty(0, dtype=np.int64)
        e_los = e_u_pathway = e_u_service_los = np.empty(0)

    time = np.concatenate([em.time_days, e_time])
    order = np.argsort(time, kind="stable")
    u_svc = np.concatenate([u_service_los, e_u_service_los])[order]
    u_assess = streams["assessment"].random(time.size)[order]
    service_los = np.zeros((len(service_names), time.size))
    assessment = np.zeros((len(service_names), time.size))
    for i, s in enumerate(cfg.services.values()):
        service_los[i] = ppf(s.los, u_svc)
        if s.assessment is not None:
            assessment[i] = ppf(s.assessment, u_assess)

    def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a, b])[order]

    return Candidates(
        time_days=time[order],
        day=time[order].astype(np.int64),
        is_elective=cat(np.zeros(k, dtype=bool), np.ones(n_el, dtype=bool)),
        elective_slot=cat(np.full(k, -1, dtype=np.int64), e_slot),
        group=cat(group, np.full(n_el, len(group_names), dtype=group.dtype)),
        u_accept=cat(em.u_accept, np.zeros(n_el)),
        base_los_days=cat(base_los, e_los),
        u_step_up=cat(u_step_up, np.ones(n_el)),
        step_up_los_days=cat(step_up_los, np.zeros(n_el)),
        u_pathway=cat(u_pathway, e_u_pathway),
        service_los_days=service_los,
        assessment_days=assessment,
        group_names=group_names,
        service_names=service_names,
    )


def _cumulative(probs: list[float]) -> np.ndarray:
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return cum
