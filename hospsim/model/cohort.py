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

from dataclasses import dataclass, fields, replace
from typing import Any

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
    u_accept: np.ndarray  # emergencies: thinning uniform (kept if < growth x multiplier / headroom)
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

    def select(self, keep: np.ndarray) -> Candidates:
        """The candidates where ``keep`` is true (per-service rows keep their services)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        arrays: dict[str, Any] = {k: v[..., keep] for k, v in values.items() if isinstance(v, np.ndarray)}
        return replace(self, **arrays)


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


@dataclass(frozen=True)
class _Arrivals:
    """One source of candidates (emergencies or electives), in its own order, before merging."""

    time_days: np.ndarray
    elective_slot: np.ndarray
    group: np.ndarray
    u_accept: np.ndarray
    base_los_days: np.ndarray
    u_step_up: np.ndarray
    step_up_los_days: np.ndarray
    u_pathway: np.ndarray
    u_service_los: np.ndarray


def _emergencies(cfg: Config, streams: Streams) -> _Arrivals:
    em = emergency_arrivals(cfg.demand.emergency, cfg.start_date, cfg.horizon_days, streams["emergency_arrivals"])
    k = em.time_days.size
    shares = _cumulative([g.share for g in cfg.groups.values()])
    group = np.searchsorted(shares, streams["group"].random(k), side="right")
    u_los = streams["acute_los"].random(k)
    base_los = np.empty(k)
    for gi, g in enumerate(cfg.groups.values()):
        m = group == gi
        base_los[m] = ppf(g.los, u_los[m])
    u_step_up_los = streams["step_up_los"].random(k)
    step_up = cfg.step_up_service
    return _Arrivals(
        time_days=em.time_days,
        elective_slot=np.full(k, -1, dtype=np.int64),
        group=group,
        u_accept=em.u_accept,
        base_los_days=base_los,
        u_step_up=streams["step_up"].random(k),
        step_up_los_days=ppf(cfg.services[step_up].los, u_step_up_los) if step_up is not None else np.zeros(k),
        u_pathway=streams["pathway"].random(k),
        u_service_los=streams["service_los"].random(k),
    )


def _electives(cfg: Config, streams: Streams, group_index: int, group_dtype: np.dtype) -> _Arrivals:
    el = cfg.demand.elective
    slots = elective_slot_bound(cfg)
    time = elective_times(el, slots) if el is not None else np.empty(0)
    n = time.size
    return _Arrivals(
        time_days=time,
        elective_slot=np.arange(n) - np.repeat(np.cumsum(slots) - slots, slots) if n else np.empty(0, dtype=np.int64),
        group=np.full(n, group_index, dtype=group_dtype),
        u_accept=np.zeros(n),
        base_los_days=ppf(el.los, streams["elective_los"].random(n)) if el is not None else np.empty(0),
        u_step_up=np.ones(n),  # never suitable for step-up
        step_up_los_days=np.zeros(n),
        u_pathway=streams["elective_pathway"].random(n) if el is not None else np.empty(0),
        u_service_los=streams["elective_service_los"].random(n) if el is not None else np.empty(0),
    )


def build_candidates(cfg: Config, streams: Streams) -> Candidates:
    """Draw every possible patient of one replication."""
    em = _emergencies(cfg, streams)
    el = _electives(cfg, streams, len(cfg.groups), em.group.dtype)
    time = np.concatenate([em.time_days, el.time_days])
    order = np.argsort(time, kind="stable")

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(em, name), getattr(el, name)])[order]

    u_svc = cat("u_service_los")
    u_assess = streams["assessment"].random(time.size)[order]
    service_los = np.zeros((len(cfg.services), time.size))
    assessment = np.zeros((len(cfg.services), time.size))
    for i, s in enumerate(cfg.services.values()):
        service_los[i] = ppf(s.los, u_svc)
        if s.assessment is not None:
            assessment[i] = ppf(s.assessment, u_assess)
    return Candidates(
        time_days=time[order],
        day=time[order].astype(np.int64),
        is_elective=np.concatenate([np.zeros(em.time_days.size, dtype=bool), np.ones(el.time_days.size, dtype=bool)])[
            order
        ],
        elective_slot=cat("elective_slot"),
        group=cat("group"),
        u_accept=cat("u_accept"),
        base_los_days=cat("base_los_days"),
        u_step_up=cat("u_step_up"),
        step_up_los_days=cat("step_up_los_days"),
        u_pathway=cat("u_pathway"),
        service_los_days=service_los,
        assessment_days=assessment,
        group_names=tuple(cfg.groups),
        service_names=tuple(cfg.services),
    )


def _cumulative(probs: list[float]) -> np.ndarray:
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return cum
