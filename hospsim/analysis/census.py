"""A census from a replication: who was where at a moment, in the config's ``initial_state`` form.

Used to start a run from a simulated system's state (the steady-state check: a census taken after a
long warm-up, then run with no warm-up, gives the same KPIs as the long run) and, for a backtest,
to start from the state at a date.
"""

from __future__ import annotations

import datetime as dt
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


def census_from_extract(cfg: Config, episodes: Any, at_days: float) -> tuple[dict[str, Any], list[str]]:
    """The census an extract shows at ``at_days`` (float days since the extract's start): the
    spells in an acute bed then (fit ones waiting for their pathway's service) and in a community
    service (from its start and end times), in ``cfg``'s terms; and one line per kind of row that
    ``cfg`` cannot hold (a group or service it lacks; a fit patient waiting to go home, kept as
    not yet fit), for the command to say. ``episodes``: :attr:`Extract.episodes`."""
    t = at_days
    admit = episodes["admission_days"].to_numpy(float)
    discharge = episodes["discharge_days"].to_numpy(float)
    fit = (
        episodes["medically_fit_days"].to_numpy(float)
        if "medically_fit_days" in episodes
        else np.full(admit.size, np.nan)
    )
    elective = (episodes["admission_method"] == "elective").to_numpy()
    group = episodes["group"].astype(object).to_numpy() if "group" in episodes else np.full(admit.size, None)
    pathway = episodes["discharge_pathway"].astype(object).to_numpy()
    notes: dict[str, int] = {}
    acute = []
    in_bed = (admit < t) & ~(discharge <= t)
    for i in np.flatnonzero(in_bed).tolist():
        g = ELECTIVE_GROUP if elective[i] else str(group[i] if isinstance(group[i], str) else "all")
        if g not in cfg.groups and g != ELECTIVE_GROUP:
            notes[f"group {g!r} is not in the fitted config: its patients are left out"] = 1
            continue
        row: dict[str, Any] = {"group": g, "elapsed_days": t - float(admit[i])}
        where = pathway[i] if isinstance(pathway[i], str) else "home"
        if fit[i] <= t and where != "home" and where in cfg.services:
            row["fit_elapsed_days"] = t - float(fit[i])
            row["waiting_for"] = where
        elif fit[i] <= t:
            notes[
                "medically fit patients waiting to go home are started as not yet fit (the model has no such wait)"
            ] = 1
        acute.append(row)
    services = []
    if "service_start_days" in episodes:
        start = episodes["service_start_days"].to_numpy(float)
        end = episodes["service_end_days"].to_numpy(float)
        there = (start <= t) & ~(end <= t)
        for i in np.flatnonzero(there).tolist():
            name = pathway[i] if isinstance(pathway[i], str) else ""
            if name not in cfg.services:
                notes[f"service {name!r} is not in the fitted config: its patients are left out"] = 1
                continue
            services.append({"service": name, "elapsed_days": t - float(start[i])})
    return {"acute": acute, "services": services}, list(notes)


def started_from_census(
    fitted: dict[str, Any], cfg: Config, day0: dt.date, horizon_days: int, census: dict[str, Any] | str
) -> dict[str, Any]:
    """A fitted config (``fitted`` as data, ``cfg`` validated) moved to start at ``day0`` from
    ``census`` (data, or a census file's name): no warm-up, ``horizon_days`` long, and the
    emergency rate grown to ``day0`` (a fit gives it at the extract's start)."""
    data = {**fitted, "start_date": day0.isoformat(), "horizon_days": horizon_days, "warmup_days": 0}
    years = (day0 - cfg.start_date).days / 365.25
    emergency = dict(data["demand"]["emergency"])
    emergency["per_day"] = float(emergency["per_day"]) * (1.0 + cfg.demand.emergency.growth_per_year) ** years
    data["demand"] = {**data["demand"], "emergency": emergency}
    data["initial_state"] = census
    return data
