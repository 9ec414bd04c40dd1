"""The patients of one replication, drawn in bulk before the simulation starts.

Every attribute (group, LOS, step-up suitability, discharge pathway, community LOS) comes from its
own named stream, indexed by the patient's place in the arrival stream, and depends only on the
arrival day, never on the state of the system. Scenarios compared under the same replication
seed therefore see the same patients (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import HOME, STEP_UP, Config
from .demand import elective_times, emergency_arrivals
from .distributions import ppf
from .streams import Streams

NO_SERVICE = -1


@dataclass(frozen=True)
class Cohort:
    """Patients sorted by arrival time; arrays are aligned by patient index."""

    arrival_days: np.ndarray  # float, sorted
    is_elective: np.ndarray  # bool
    group: np.ndarray  # index into group_names; electives get len(group_names)
    step_up_suitable: np.ndarray  # bool: may be diverted to step-up if a place is free
    step_up_los_days: np.ndarray
    acute_los_days: np.ndarray  # time from admission to medically fit for discharge
    service: np.ndarray  # index into service_names, or NO_SERVICE for home
    service_los_days: np.ndarray
    group_names: tuple[str, ...]
    service_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.arrival_days.size)


def _pick(u: np.ndarray, probs: list[float]) -> np.ndarray:
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return np.searchsorted(cum, u, side="right")


def build_cohort(cfg: Config, streams: Streams) -> Cohort:
    """Draw all patients of one replication."""
    n_days = cfg.horizon_days
    group_names = tuple(cfg.groups)
    service_names = tuple(cfg.services)
    service_index = {name: i for i, name in enumerate(service_names)}

    # Emergencies: candidate k keeps attributes drawn for k whether or not it is accepted.
    em = emergency_arrivals(cfg.demand.emergency, cfg.start_date, n_days, streams["emergency_arrivals"])
    k = em.time_days.size
    day = em.time_days.astype(np.int64)
    group = _pick(streams["group"].random(k), [g.share for g in cfg.groups.values()])
    u_los = streams["acute_los"].random(k)
    u_step_up = streams["step_up"].random(k)
    u_step_up_los = streams["step_up_los"].random(k)
    u_pathway = streams["pathway"].random(k)
    u_service_los = streams["service_los"].random(k)

    acute_los = np.empty(k)
    suitable = np.zeros(k, dtype=bool)
    service = np.full(k, NO_SERVICE, dtype=np.int64)
    for gi, g in enumerate(cfg.groups.values()):
        m = group == gi
        acute_los[m] = ppf(g.los, u_los[m]) * g.los_multiplier.daily(n_days)[day[m]]
        suitable[m] = u_step_up[m] < g.step_up_share.daily(n_days)[day[m]]
        names = list(g.pathways)
        chosen = _pick(u_pathway[m], list(g.pathways.values()))
        lookup = np.array([NO_SERVICE if n == HOME else service_index[n] for n in names])
        service[m] = lookup[chosen]
    step_up_los = (
        ppf(cfg.services[STEP_UP].los, u_step_up_los) if STEP_UP in cfg.services else np.zeros(k)
    )

    # Electives: a booked list, each patient with its own LOS and pathway.
    el = cfg.demand.elective
    if el is not None:
        e_time = elective_times(el, cfg.start_date, n_days)
        n_el = e_time.size
        e_los = ppf(el.los, streams["elective_los"].random(n_el))
        names = list(el.pathways)
        lookup = np.array([NO_SERVICE if n == HOME else service_index[n] for n in names])
        e_service = lookup[_pick(streams["elective_pathway"].random(n_el), list(el.pathways.values()))]
        u_e_service_los = streams["elective_service_los"].random(n_el)
    else:
        e_time = np.empty(0)
        n_el = 0
        e_los = np.empty(0)
        e_service = np.empty(0, dtype=np.int64)
        u_e_service_los = np.empty(0)

    keep = em.accepted
    arrival = np.concatenate([em.time_days[keep], e_time])
    is_elective = np.concatenate([np.zeros(int(keep.sum()), dtype=bool), np.ones(n_el, dtype=bool)])
    order = np.argsort(arrival, kind="stable")

    svc = np.concatenate([service[keep], e_service])
    u_svc = np.concatenate([u_service_los[keep], u_e_service_los])
    service_los = np.zeros(svc.size)
    for si, s in enumerate(cfg.services.values()):
        m = svc == si
        if m.any():
            service_los[m] = ppf(s.los, u_svc[m])

    return Cohort(
        arrival_days=arrival[order],
        is_elective=is_elective[order],
        group=np.concatenate([group[keep], np.full(n_el, len(group_names))])[order],
        step_up_suitable=np.concatenate([suitable[keep], np.zeros(n_el, dtype=bool)])[order],
        step_up_los_days=np.concatenate([step_up_los[keep], np.zeros(n_el)])[order],
        acute_los_days=np.concatenate([acute_los[keep], e_los])[order],
        service=svc[order],
        service_los_days=service_los[order],
        group_names=group_names,
        service_names=service_names,
    )
