"""From one replication's records to its daily table and its KPIs.

Everything is measured over a window of whole days, by default from the end of the warm-up to the
horizon: counts of events that happen in the window, and time-weighted quantities integrated
over it (a stay that straddles the warm-up counts only for its part after it). Patients still present at
the horizon count up to the horizon; waits still running at the horizon count as long as they
had lasted (right-censored).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import STEP_UP, Config
from .demand import calendar
from .engine import ADMITTED, AVOIDED, CANCELLED, REFUSED, TRANSFERRED, WAITING, Replication
from .monitor import daily_counts, daily_level

LONG_STAY_DAYS = 21.0
WAIT_TOLERANCE_DAYS = 1e-9  # a wait shorter than this is float noise, not a wait
HOURS = 24.0


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


class _Measures:
    """Per-replication intermediate arrays shared by the daily table and the KPIs."""

    def __init__(self, cfg: Config, rep: Replication, window: tuple[int, int] | None = None):
        self.cfg = cfg
        self.start, self.end = window if window is not None else (cfg.warmup_days, cfg.horizon_days)
        if not 0 <= self.start < self.end <= cfg.horizon_days:
            raise ValueError(f"measurement window {self.start}..{self.end} is not inside 0..{cfg.horizon_days}")
        co, rec, capacity = rep.cohort, rep.records, rep.capacity
        H = self.n_days = cfg.horizon_days
        self.warmup = cfg.warmup_days
        self.arrival = co.arrival_days
        self.emergency = ~co.is_elective
        self.elective = co.is_elective
        self.outcome = rec.outcome
        self.rec = rec
        self.cohort = co
        self.capacity = capacity

        admitted = rec.outcome == ADMITTED
        self.admitted = admitted
        # Escalation beds in use: occupied beds above the core, at most the escalation beds open
        # (after a cut below occupancy, the excess over capacity is not escalation).
        self.occupied = daily_level(
            np.where(admitted, rec.admit_days, np.nan),
            rec.bed_leave_days,
            H,
            capacity.core_beds,
            capacity.total_beds - capacity.core_beds,
        )
        self.emergency_occupied = daily_level(
            np.where(admitted & self.emergency, rec.admit_days, np.nan), rec.bed_leave_days, H
        ).mean
        self.delayed = daily_level(rec.fit_days, rec.bed_leave_days, H)
        long_start = rec.admit_days + LONG_STAY_DAYS
        still_in = np.isnan(rec.bed_leave_days) | (rec.bed_leave_days > long_start)
        self.long_stay = daily_level(np.where(admitted & still_in, long_start, np.nan), rec.bed_leave_days, H).mean

        # Emergencies that needed a bed: everyone not diverted to step-up.
        self.needing = self.emergency & (rec.outcome != AVOIDED)
        waited = self.needing & np.isin(rec.outcome, (ADMITTED, WAITING, TRANSFERRED))
        # A wait ends at admission, at the transfer elsewhere, or (censored) at the horizon.
        max_wait = cfg.acute.max_wait_hours / HOURS if cfg.acute.max_wait_hours is not None else np.nan
        self.transfer_days = np.where(rec.outcome == TRANSFERRED, self.arrival + max_wait, np.nan)
        end = np.where(rec.outcome == TRANSFERRED, self.transfer_days, rec.admit_days)
        self.boarding = daily_level(np.where(waited, self.arrival, np.nan), end, H)
        end = np.where(np.isnan(end), float(H), end)
        self.wait_days = np.where(waited, end - self.arrival, 0.0)
        self.wait_days[rec.outcome == TRANSFERRED] = max_wait  # exactly, not up to rounding

        self.services = []
        for si, name in enumerate(co.service_names):
            used = rec.service == si
            occ = daily_level(np.where(used, rec.service_start_days, np.nan), rec.service_end_days, H).mean
            if name == STEP_UP:
                queue = np.zeros(H)
            else:
                # Waiting list for a place: ready to transfer (assessed) but no place yet.
                referred = (co.service == si) & ~np.isnan(rec.ready_days) & (rec.outcome == ADMITTED)
                queue = daily_level(np.where(referred, rec.ready_days, np.nan), rec.service_start_days, H).mean
            self.services.append((si, name, occ, queue))

    def in_window(self, times: np.ndarray) -> np.ndarray:
        return ~np.isnan(times) & (times >= self.start) & (times < self.end)


def daily_table(cfg: Config, rep: Replication) -> pd.DataFrame:
    """One row per simulated day (warm-up days included and flagged)."""
    return _daily(_Measures(cfg, rep))


def _daily(m: _Measures) -> pd.DataFrame:
    H = m.n_days
    cap = m.capacity
    arrival = m.arrival
    out = m.outcome
    admit = m.rec.admit_days
    dates = np.datetime64(m.cfg.start_date, "D") + np.arange(H)
    cols: dict[str, np.ndarray] = {
        "day": np.arange(H),
        "date": dates.astype(str),
        "warmup": np.arange(H) < m.warmup,
        "beds_capacity": cap.total_beds,
        "escalation_beds_open": cap.total_beds - cap.core_beds,
        "occupied_beds_mean": m.occupied.mean,
        "occupied_beds_midnight": m.occupied.midnight.astype(np.int64),
        "occupied_beds_max": m.occupied.max.astype(np.int64),
        "occupancy": np.divide(m.occupied.mean, cap.total_beds, out=np.full(H, np.nan), where=cap.total_beds > 0),
        "escalation_beds_in_use": m.occupied.mean_excess,
        "delayed_patients_mean": m.delayed.mean,
        "delayed_patients_midnight": m.delayed.midnight.astype(np.int64),
        "boarding_queue_mean": m.boarding.mean,
        "boarding_queue_midnight": m.boarding.midnight.astype(np.int64),
        "long_stay_beds_mean": m.long_stay,
        "emergency_arrivals": daily_counts(np.where(m.emergency, arrival, np.nan), H),
        "emergency_admissions": daily_counts(np.where(m.emergency & (out == ADMITTED), admit, np.nan), H),
        "admissions_avoided": daily_counts(np.where(out == AVOIDED, arrival, np.nan), H),
        "refused_admissions": daily_counts(np.where(out == REFUSED, arrival, np.nan), H),
        "transferred_out": daily_counts(m.transfer_days, H),
        "elective_admissions": daily_counts(np.where(m.elective & (out == ADMITTED), admit, np.nan), H),
        "elective_cancellations": daily_counts(np.where(out == CANCELLED, arrival, np.nan), H),
        "waits_over_4h": daily_counts(np.where(m.wait_days > 4 / HOURS, arrival, np.nan), H),
        "waits_over_12h": daily_counts(np.where(m.wait_days > 12 / HOURS, arrival, np.nan), H),
    }
    for si, name, occ, queue in m.services:
        cols[f"{name}_occupied_mean"] = occ
        cols[f"{name}_capacity"] = cap.service_places[si]
        cols[f"{name}_queue_mean"] = queue
    return pd.DataFrame(cols)


def kpis(cfg: Config, rep: Replication, window: tuple[int, int] | None = None) -> dict[str, float]:
    """The KPIs of one replication (see the README's KPI dictionary), measured over days
    ``window = (first, end)`` (default: from the end of the warm-up to the horizon)."""
    return _kpis(_Measures(cfg, rep, window))


def daily_and_kpis(
    cfg: Config, rep: Replication, window: tuple[int, int] | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Both outputs from one pass over the records."""
    m = _Measures(cfg, rep, window)
    return _daily(m), _kpis(m)


def _kpis(m: _Measures) -> dict[str, float]:
    cfg, rec, co = m.cfg, m.rec, m.cohort
    W, E, H = m.start, m.end, m.n_days
    w = slice(W, E)
    n_days = E - W
    out = m.outcome
    arrived = (m.arrival >= W) & (m.arrival < E)
    cap = m.capacity.total_beds[w].astype(float)
    occ_mean = m.occupied.mean[w]
    occupancy_daily = np.divide(occ_mean, cap, out=np.where(occ_mean > 0, np.inf, 0.0), where=cap > 0)

    needing = m.needing & arrived
    n_need = int(needing.sum())
    waits = m.wait_days[needing]
    refused = int((needing & (out == REFUSED)).sum())
    no_bed = needing & ((m.wait_days > WAIT_TOLERANCE_DAYS) | (out == REFUSED))
    no_bed_days = np.unique(m.arrival[no_bed].astype(np.int64))

    bed_days = float(occ_mean.sum())
    delayed_days = float(m.delayed.mean[w].sum())
    em_admitted = m.emergency & (out == ADMITTED) & m.in_window(rec.admit_days)
    em_bed_days = float(m.emergency_occupied[w].sum())
    discharged = em_admitted & ~np.isnan(rec.bed_leave_days)
    same_day = np.floor(rec.bed_leave_days[discharged]) == np.floor(rec.admit_days[discharged])

    _, _, month = calendar(cfg.start_date, H)
    month = month[w]

    def occupancy_in(months: tuple[int, ...]) -> float:
        sel = np.isin(month, months)
        return _ratio(occ_mean[sel].sum(), cap[sel].sum()) if sel.any() else float("nan")

    k: dict[str, float] = {
        "emergency_arrivals": float((m.emergency & arrived).sum()),
        "emergency_admissions": float(em_admitted.sum()),
        "admissions_avoided": float((arrived & (out == AVOIDED)).sum()),
        "refused_admissions": float(refused),
        "p_refused": _ratio(refused, n_need),
        "transferred_out": float((needing & (out == TRANSFERRED)).sum()),
        "p_transferred_out": _ratio((needing & (out == TRANSFERRED)).sum(), n_need),
        "elective_admissions": float((m.elective & (out == ADMITTED) & m.in_window(rec.admit_days)).sum()),
        "elective_cancellations": float((m.elective & arrived & (out == CANCELLED)).sum()),
        "mean_occupied_beds": bed_days / n_days,
        "mean_occupancy": _ratio(bed_days, cap.sum()),
        "share_days_over_85pct": float(np.mean(occupancy_daily > 0.85)),
        "share_days_over_92pct": float(np.mean(occupancy_daily > 0.92)),
        "share_days_full": float(np.mean(m.occupied.max[w] >= cap)),
        "share_days_no_bed": no_bed_days.size / n_days,
        "p_wait_for_bed": float(np.mean(waits > WAIT_TOLERANCE_DAYS)) if n_need else float("nan"),
        "mean_wait_hours": float(waits.mean() * HOURS) if n_need else float("nan"),
        "p_wait_over_4h": float(np.mean(waits > 4 / HOURS)) if n_need else float("nan"),
        "waits_over_12h_per_1000": 1000 * _ratio((waits > 12 / HOURS).sum(), n_need),
        "mean_boarding_patients": float(m.boarding.mean[w].mean()),
        "acute_bed_days": bed_days,
        "delayed_bed_days": delayed_days,
        "delayed_share": _ratio(delayed_days, bed_days),
        "mean_delayed_patients": delayed_days / n_days,
        "mean_escalation_beds_in_use": float(m.occupied.mean_excess[w].mean()),
        "mean_emergency_los_days": _ratio(em_bed_days, em_admitted.sum()),
        "same_day_discharge_share": float(same_day.mean()) if same_day.size else float("nan"),
        "long_stay_bed_share": _ratio(m.long_stay[w].sum(), bed_days),
        "emergency_bed_share": _ratio(em_bed_days, bed_days),
        "mean_occupancy_winter": occupancy_in((12, 1, 2)),
        "mean_occupancy_summer": occupancy_in((6, 7, 8)),
    }
    for path, day in rec.gate_open_days.items():
        key = "gate_" + path.replace(".", "_")
        k[f"{key}_opened"] = float(day is not None)
        k[f"{key}_open_day"] = float("nan") if day is None else float(day)
    if cfg.acute.delayed_day_cost_gbp is not None:
        k["delayed_cost_gbp"] = delayed_days * cfg.acute.delayed_day_cost_gbp

    for si, name, occ, _queue in m.services:
        places = m.capacity.service_places[si][w].astype(float)
        occupied = occ[w]
        if name == STEP_UP:
            # Step-up has no queue: a suitable patient who finds it full is admitted instead.
            offered = m.emergency & arrived & co.step_up_suitable
            p_wait = _ratio((offered & (out != AVOIDED)).sum(), offered.sum())
            mean_wait = mean_delay = 0.0
        else:
            referred = (co.service == si) & (out == ADMITTED) & m.in_window(rec.fit_days)
            start = np.where(np.isnan(rec.service_start_days), float(H), rec.service_start_days)
            ready = np.where(np.isnan(rec.ready_days), start, rec.ready_days)  # still assessing at the end
            wait = (start - ready)[referred]
            delay = (start - rec.fit_days)[referred]
            p_wait = float(np.mean(wait > WAIT_TOLERANCE_DAYS)) if wait.size else float("nan")
            mean_wait = float(wait.mean()) if wait.size else float("nan")
            mean_delay = float(delay.mean()) if delay.size else float("nan")
        k[f"{name}_mean_occupied"] = float(occupied.mean())
        k[f"{name}_utilisation"] = _ratio(occupied.sum(), places.sum())
        k[f"{name}_p_wait"] = p_wait
        k[f"{name}_mean_wait_days"] = mean_wait
        k[f"{name}_mean_delay_days"] = mean_delay
        cost = cfg.services[name].place_day_cost_gbp
        if cost is not None:
            k[f"{name}_capacity_cost_gbp"] = float(places.sum() * cost)
    return k


SYSTEM_KPIS = (
    "emergency_arrivals",
    "emergency_admissions",
    "admissions_avoided",
    "refused_admissions",
    "p_refused",
    "transferred_out",
    "p_transferred_out",
    "elective_admissions",
    "elective_cancellations",
    "mean_occupied_beds",
    "mean_occupancy",
    "share_days_over_85pct",
    "share_days_over_92pct",
    "share_days_full",
    "share_days_no_bed",
    "p_wait_for_bed",
    "mean_wait_hours",
    "p_wait_over_4h",
    "waits_over_12h_per_1000",
    "mean_boarding_patients",
    "acute_bed_days",
    "delayed_bed_days",
    "delayed_share",
    "mean_delayed_patients",
    "mean_escalation_beds_in_use",
    "mean_emergency_los_days",
    "same_day_discharge_share",
    "long_stay_bed_share",
    "emergency_bed_share",
    "mean_occupancy_winter",
    "mean_occupancy_summer",
)
SERVICE_KPI_SUFFIXES = ("mean_occupied", "utilisation", "p_wait", "mean_wait_days", "mean_delay_days")


def kpi_names(cfg: Config) -> list[str]:
    """The KPI names a config produces, in output order (without running it)."""
    from ..config import gated_schedules

    names = list(SYSTEM_KPIS)
    for path, _ in gated_schedules(cfg):
        key = "gate_" + path.replace(".", "_")
        names += [f"{key}_opened", f"{key}_open_day"]
    if cfg.acute.delayed_day_cost_gbp is not None:
        names.append("delayed_cost_gbp")
    for name, svc in cfg.services.items():
        names += [f"{name}_{s}" for s in SERVICE_KPI_SUFFIXES]
        if svc.place_day_cost_gbp is not None:
            names.append(f"{name}_capacity_cost_gbp")
    return names
