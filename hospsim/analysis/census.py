"""A census from a replication: who was where at a moment, in the config's ``initial_state`` form.

Used to start a run from a simulated system's state (the steady-state check: a census taken after a
long warm-up, then run with no warm-up, gives the same KPIs as the long run) and, for a backtest,
to start from the state at a date.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import Config
from ..config.schema import ELECTIVE_GROUP
from ..model.engine import ADMITTED, TRANSFERRED, WAITING, Replication


def census_at(cfg: Config, rep: Replication, day: float) -> dict[str, Any]:
    """The ``initial_state`` of the system at time ``day`` of replication ``rep``: the patients in
    acute beds (fit ones with the service they wait for), in community services (blocked ones with
    the service they wait for), waiting for a bed and on the elective waiting list, each with the
    time already spent."""
    co, rec = rep.cohort, rep.records
    groups = [*co.group_names, ELECTIVE_GROUP]

    def during(start: np.ndarray, end: np.ndarray) -> np.ndarray:
        return (start <= day) & ~(end <= day)  # a NaN end: still going on at the horizon

    acute = []
    for p in np.flatnonzero((rec.outcome == ADMITTED) & during(rec.admit_days, rec.bed_leave_days)).tolist():
        row: dict[str, Any] = {"group": groups[co.group[p]], "elapsed_days": day - float(rec.admit_days[p])}
        if rec.fit_days[p] <= day:
            row["fit_elapsed_days"] = day - float(rec.fit_days[p])
            row["waiting_for"] = co.service_names[co.service[p]]
        acute.append(row)
    return {
        "acute": acute,
        "services": _services(co.service_names, rec.visits, day),
        "boarding": _boarding(cfg, rep, day, groups),
        **({"waiting_list": _waiting_list(rep, day)} if cfg.demand.elective is not None else {}),
    }


def _services(names: tuple[str, ...], v: Any, day: float) -> list[dict[str, Any]]:
    """Patients holding a community place at ``day``; blocked ones with where they wait to go."""
    holding = np.flatnonzero((v.start_days <= day) & ~(v.leave_days <= day))
    out = []
    for k in holding.tolist():
        row: dict[str, Any] = {"service": names[v.service[k]], "elapsed_days": day - float(v.start_days[k])}
        if v.stay_end_days[k] <= day:  # finished its stay: the next visit is its referral
            nxt = k + 1 + int(np.flatnonzero(v.patient[k + 1 :] == v.patient[k])[0])
            row["finished_elapsed_days"] = day - float(v.stay_end_days[k])
            row["waiting_for"] = names[v.service[nxt]]
        out.append(row)
    return out


def _boarding(cfg: Config, rep: Replication, day: float, groups: list[str]) -> list[dict[str, Any]]:
    """Emergencies that had arrived and were still waiting for a bed at ``day``."""
    co, rec = rep.cohort, rep.records
    max_wait = cfg.acute.max_wait_hours / 24.0 if cfg.acute.max_wait_hours is not None else np.inf
    end = np.select(
        [rec.outcome == ADMITTED, rec.outcome == TRANSFERRED, rec.outcome == WAITING],
        [rec.admit_days, co.arrival_days + max_wait, np.inf],
        -np.inf,  # avoided, refused: never waited
    )
    waiting = ~co.is_elective & (co.arrival_days <= day) & (end > day)
    return [
        {"group": groups[co.group[p]], "elapsed_days": day - float(co.arrival_days[p])}
        for p in np.flatnonzero(waiting).tolist()
    ]


def _waiting_list(rep: Replication, day: float) -> list[dict[str, Any]]:
    """Electives referred by ``day`` and not admitted by then."""
    co, rec = rep.cohort, rep.records
    listed = co.is_elective & (co.arrival_days <= day) & ~(rec.admit_days <= day)
    return [
        {"priority": co.priority_names[co.priority[p]], "elapsed_days": day - float(co.arrival_days[p])}
        for p in np.flatnonzero(listed).tolist()
    ]
