"""From one replication's records to its daily table and its KPIs.

Everything is measured over a window of whole days, by default from the end of the warm-up to the
horizon: counts of events that happen in the window, and time-weighted quantities integrated
over it (a stay that straddles the warm-up counts only for its part after it). Patients still present at
the horizon count up to the horizon; waits still running at the horizon count as long as they
had lasted (right-censored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import Config
from ..config.service_kinds import ServiceKind
from . import compiled
from . import kpi_registry as registry
from .demand import calendar
from .engine import ADMITTED, AVOIDED, REFUSED, TRANSFERRED, WAITING, Records, Replication
from .kpi_registry import HOURS, WAIT_TOLERANCE_DAYS, gate_key, mean_or_nan, ratio
from .monitor import DailyLevel, daily_counts, daily_level, daily_midnight_level
from .records import (
    BOARDING,
    DELAYED,
    EMERGENCY_OCCUPIED,
    FROM_ARRIVAL,
    OCCUPIED,
    SERVICE_BLOCKED,
    SERVICE_OCCUPIED,
    SERVICE_QUEUE,
    service_level,
)

__all__ = [
    "HOURS", "LONG_STAY_DAYS", "WAIT_TOLERANCE_DAYS", "GateMeasures", "ListWaitQuantiles", "ServiceMeasures",
    "WindowMeasures", "daily_and_kpis", "daily_table", "kpi_names", "kpis", "list_waits",
]  # fmt: skip

LONG_STAY_DAYS = 21.0
RTT_WEEKS = (18, 52)  # waits the elective KPIs count (the 18-week standard, the 52-week breach)


def _kind(cfg: Config, name: str) -> ServiceKind:
    """What the service does (its kind decides how it is measured, never its name)."""
    return cfg.services[name].service_kind


@dataclass(frozen=True)
class ServiceLevels:
    """Daily time-weighted means of one community service."""

    occupied: np.ndarray  # places held: patients in their stay and patients blocked in it
    queue: np.ndarray  # patients ready to move in, waiting for a place (wherever they are)
    blocked: np.ndarray | None  # patients who finished their stay and still hold a place (None: no onward routes)


def _level(
    rec: Records,
    level: int,
    intervals: Callable[[], tuple[np.ndarray, np.ndarray]],
    n_days: int,
    threshold_by_day: np.ndarray | None = None,
    excess_cap_by_day: np.ndarray | None = None,
) -> DailyLevel:
    """The daily statistics of ``level``: as the engine swept them while it ran, when it did (its
    excess only OCCUPIED's over the core beds, capped at the escalation beds: what _Measures
    asks); else from the records' ``intervals()`` (starts, ends). The same numbers."""
    if rec.levels is not None:
        swept = rec.levels.daily(level)
        if (threshold_by_day is None) == (swept.mean_excess is None):
            return swept
    return daily_level(*intervals(), n_days, threshold_by_day, excess_cap_by_day)


class _Measures:
    """Per-replication intermediate arrays shared by the daily table and the KPIs."""

    # Declared for the registry's compute functions (read through WindowMeasures.m).
    emergency: np.ndarray
    elective: np.ndarray
    occupied: DailyLevel
    boarding: DailyLevel
    long_stay: np.ndarray
    escalation_in_use: np.ndarray
    displaced_by_day: np.ndarray  # acute bed days of the patients turned away each day
    waiting_list: np.ndarray  # electives on the waiting list at the midnight ending each day
    waiting_over: dict[int, np.ndarray]  # ... of whom waiting over N weeks, per N in RTT_WEEKS
    cancellations: np.ndarray  # booked elective admissions cancelled each day
    services: list[tuple[int, str, ServiceLevels]]  # (index, name, daily levels)

    def __init__(self, cfg: Config, rep: Replication, window: tuple[int, int] | None = None) -> None:
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
        self.occupied = _level(
            rec,
            OCCUPIED,
            lambda: (np.where(admitted, rec.admit_days, np.nan), rec.bed_leave_days),
            H,
            capacity.core_beds,
            capacity.total_beds - capacity.core_beds,
        )
        if self.occupied.mean_excess is None:
            raise AssertionError("daily_level gives the excess when asked with a threshold")
        self.escalation_in_use = self.occupied.mean_excess
        self.emergency_occupied = _level(
            rec,
            EMERGENCY_OCCUPIED,
            lambda: (np.where(admitted & self.emergency, rec.admit_days, np.nan), rec.bed_leave_days),
            H,
        ).mean
        self.delayed = _level(rec, DELAYED, lambda: (rec.fit_days, rec.bed_leave_days), H)
        long_start = rec.admit_days + LONG_STAY_DAYS
        still_in = np.isnan(rec.bed_leave_days) | (rec.bed_leave_days > long_start)
        # Only the stays past 21 days: the others' intervals would be left out (NaN starts) anyway.
        long = np.flatnonzero(admitted & still_in)
        self.long_stay = daily_level(long_start.take(long), rec.bed_leave_days.take(long), H).mean

        # Emergencies that needed a bed: everyone not diverted to step-up.
        self.needing = self.emergency & (rec.outcome != AVOIDED)
        max_wait = cfg.acute.max_wait_hours / HOURS if cfg.acute.max_wait_hours is not None else np.nan
        self.transfer_days, self.wait_days = _waits(
            self.arrival, rec.admit_days, rec.outcome, self.emergency, max_wait, H
        )
        self.boarding = _level(rec, BOARDING, lambda: _boarding_intervals(self), H)
        self.displaced_by_day = self._displaced_bed_days(co.acute_los_days)
        self._waiting_list()

        # In the engine's order: the daily levels do not depend on it (_service_waits puts the
        # visits it adds up in patient order).
        self.visits = rec.visits
        self.services = [(si, name, self._service_levels(si, name)) for si, name in enumerate(co.service_names)]

    def _waiting_list(self) -> None:
        """Electives on the list from referral to admission (the RTT clock: it runs through a
        cancellation), counted at each midnight."""
        H, rec = self.n_days, self.rec
        kernels = compiled.array_kernels()
        if kernels is not None and H >= 1:  # the three levels in one pass, the same counts
            shifts_days = np.array([0.0, *(7.0 * weeks for weeks in RTT_WEEKS)])
            levels = kernels.shifted_midnight_levels(
                np.ascontiguousarray(self.arrival, dtype=float),
                np.ascontiguousarray(self.elective, dtype=np.bool_),
                np.ascontiguousarray(rec.admit_days, dtype=float),
                shifts_days,
                H,
            )
            self.waiting_list = levels[0]
            self.waiting_over = {weeks: levels[1 + i] for i, weeks in enumerate(RTT_WEEKS)}
        else:
            referred = np.where(self.elective, self.arrival, np.nan)
            self.waiting_list = daily_midnight_level(referred, rec.admit_days, H).astype(np.int64)
            self.waiting_over = {
                weeks: daily_midnight_level(referred + 7.0 * weeks, rec.admit_days, H).astype(np.int64)
                for weeks in RTT_WEEKS
            }
        self.cancellations = daily_counts(rec.cancellation_days, H)

    @cached_property
    def list_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per elective referred before the window's end: the first window midnight it is on the
        list at, for how many midnights, and its referral time."""
        referred = self.elective & (self.arrival < self.end)
        ref = self.arrival[referred]
        admit = np.nan_to_num(self.rec.admit_days[referred], nan=float(self.end))
        # On the list at midnight t when referral < t <= admission (as daily_level counts it).
        first = np.maximum(self.start + 1, np.floor(ref).astype(np.int64) + 1)
        last = np.minimum(self.end, np.floor(admit).astype(np.int64))
        return first, np.maximum(last - first + 1, 0), ref

    def list_waits_days(self) -> np.ndarray:
        """Time waited so far by each elective on the list at each midnight that ends a window
        day (pooled over the midnights): what the RTT standard measures, every day."""
        return list_waits(*self.list_spans)

    @cached_property
    def list_wait_quantiles(self) -> ListWaitQuantiles:
        """Quantiles of :meth:`list_waits_days`."""
        return ListWaitQuantiles(*self.list_spans)

    def _displaced_bed_days(self, acute_los_days: np.ndarray) -> np.ndarray:
        """Per day: the acute bed days that the patients turned away that day (transferred
        elsewhere, refused) would have needed - each one's own drawn time to medically fit, not
        any delayed transfer their pathway would have met. A cancelled elective is not turned
        away: it goes back on the waiting list."""
        out, H = self.outcome, self.n_days
        when = np.select([out == TRANSFERRED, out == REFUSED], [self.transfer_days, self.arrival], np.nan)
        away = ~np.isnan(when)
        day = np.clip(when[away].astype(np.int64), 0, H - 1)
        # float even when nobody was turned away (bincount of nothing gives integers)
        return np.bincount(day, weights=acute_los_days[away], minlength=H)[:H].astype(float)

    def _service_levels(self, si: int, name: str) -> ServiceLevels:
        """Daily means of service ``si``: places held (in a stay or blocked), its waiting list and
        its blocked patients."""
        v, H, rec = self.visits, self.n_days, self.rec

        def here(days: np.ndarray, ends: np.ndarray) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
            return lambda: (np.where(v.service == si, days, np.nan), ends)

        occ = _level(rec, service_level(si, SERVICE_OCCUPIED), here(v.start_days, v.leave_days), H).mean
        # Blocked: finished the stay here, still holding the place (assessment for the next
        # service, or waiting for a place there); only a service with onward routes has any.
        svc = self.cfg.services[name]
        blocked = (
            _level(rec, service_level(si, SERVICE_BLOCKED), here(v.stay_end_days, v.leave_days), H).mean
            if svc.routes_onward
            else None
        )
        if not _kind(self.cfg, name).takes_transfers:
            return ServiceLevels(occ, np.zeros(H), blocked)  # nobody waits for a place in it
        # Waiting list for a place: ready to transfer (assessed) but no place yet, wherever they are.
        queue = _level(rec, service_level(si, SERVICE_QUEUE), here(v.ready_days, v.start_days), H).mean
        return ServiceLevels(occ, queue, blocked)

    def in_window(self, times: np.ndarray) -> npt.NDArray[np.bool_]:
        """Which of ``times`` fall in the window (NaN: never)."""
        inside: npt.NDArray[np.bool_] = (times >= self.start) & (times < self.end)  # false for NaN
        return inside

    # Asked for by several KPIs: each made once a replication.
    @cached_property
    def arrived_in_window(self) -> npt.NDArray[np.bool_]:
        """Patients who arrived (emergencies) or were referred (electives) in the window."""
        return self.in_window(self.arrival)

    @cached_property
    def admitted_in_window(self) -> npt.NDArray[np.bool_]:
        """Patients admitted to a bed in the window."""
        admitted: npt.NDArray[np.bool_] = self.admitted & self.in_window(self.rec.admit_days)
        return admitted

    @cached_property
    def transfers_in_window(self) -> np.ndarray:
        """The community visits referred in the window from a bed or another service (not step-up
        on arrival), in patient order (then referral order: the means of each service's waits
        add up in the order they always have; a stable sort keeps that order in every subset)."""
        v = self.visits
        referred = np.flatnonzero((v.origin != FROM_ARRIVAL) & self.in_window(v.referred_days))
        return referred[np.argsort(v.patient[referred], kind="stable")]

    @cached_property
    def electives_admitted_in_window(self) -> float:
        """How many electives were admitted in the window."""
        return float((self.elective & self.admitted_in_window).sum())


def _waited(outcome: np.ndarray, needing: np.ndarray) -> np.ndarray:
    """Emergencies needing a bed who waited for one (admitted, still waiting, transferred)."""
    # (rather than np.isin, which sorts: several times slower here)
    waited: np.ndarray = needing & ((outcome == ADMITTED) | (outcome == WAITING) | (outcome == TRANSFERRED))
    return waited


def _boarding_intervals(m: _Measures) -> tuple[np.ndarray, np.ndarray]:
    """Each wait for a bed, from arrival to admission or the transfer elsewhere (NaN: still
    waiting at the horizon)."""
    end = np.where(m.outcome == TRANSFERRED, m.transfer_days, m.rec.admit_days)
    return np.where(_waited(m.outcome, m.needing), m.arrival, np.nan), end


def _waits(
    arrival: np.ndarray,
    admit: np.ndarray,
    outcome: np.ndarray,
    emergency: np.ndarray,
    max_wait_days: float,
    horizon_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's transfer elsewhere (NaN: none; ``max_wait_days`` after arrival) and wait
    for a bed (days; 0 for those who did not wait): a wait ends at admission, at the transfer, or
    (censored) at the horizon. Compiled: one pass (the same numbers)."""
    kernels = compiled.array_kernels()
    codes = np.array([ADMITTED, WAITING, TRANSFERRED, AVOIDED], dtype=np.int64)
    if kernels is not None:
        transfer_days, wait_days = kernels.waits_for_a_bed(
            np.ascontiguousarray(arrival, dtype=float),
            np.ascontiguousarray(admit, dtype=float),
            np.ascontiguousarray(outcome, dtype=np.int8),
            np.ascontiguousarray(emergency, dtype=np.bool_),
            codes,
            float(max_wait_days),
            float(horizon_days),
        )
        return transfer_days, wait_days
    transferred = outcome == TRANSFERRED
    waited = _waited(outcome, emergency & (outcome != AVOIDED))
    transfer_days = np.where(transferred, arrival + max_wait_days, np.nan)
    end = np.where(transferred, transfer_days, admit)
    end = np.where(np.isnan(end), float(horizon_days), end)
    wait_days = np.where(waited, end - arrival, 0.0)
    wait_days[transferred] = max_wait_days  # exactly, not up to rounding
    return transfer_days, wait_days


def _same_day_leaves(chosen: np.ndarray, admit: np.ndarray, leave: np.ndarray) -> np.ndarray:
    """Per chosen patient who left its bed: left on the day of admission? (compiled: one pass)"""
    kernels = compiled.array_kernels()
    if kernels is not None:
        out: np.ndarray = kernels.same_day_leaves(
            np.ascontiguousarray(chosen, dtype=np.bool_),
            np.ascontiguousarray(admit, dtype=float),
            np.ascontiguousarray(leave, dtype=float),
        )
        return out
    left = np.flatnonzero(chosen & ~np.isnan(leave))  # take: faster than a mask
    same: np.ndarray = np.floor(leave.take(left)) == np.floor(admit.take(left))
    return same


def daily_table(cfg: Config, rep: Replication) -> pd.DataFrame:
    """One row per simulated day (warm-up days included and flagged)."""
    return _daily(_Measures(cfg, rep))


def _daily(m: _Measures) -> pd.DataFrame:
    H = m.n_days
    cap = m.capacity
    dates = np.datetime64(m.cfg.start_date, "D") + np.arange(H)
    counts = _patient_day_counts(m)
    elective_admissions = counts["elective_admissions"]
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
        "escalation_beds_in_use": m.escalation_in_use,
        "delayed_patients_mean": m.delayed.mean,
        "delayed_patients_midnight": m.delayed.midnight.astype(np.int64),
        "boarding_queue_mean": m.boarding.mean,
        "boarding_queue_midnight": m.boarding.midnight.astype(np.int64),
        "long_stay_beds_mean": m.long_stay,
        "emergency_arrivals": counts["emergency_arrivals"],
        "emergency_admissions": counts["emergency_admissions"],
        "admissions_avoided": counts["admissions_avoided"],
        "refused_admissions": counts["refused_admissions"],
        "transferred_out": counts["transferred_out"],
        "elective_referrals": counts["elective_referrals"],
        "elective_admissions": elective_admissions,
        "elective_cancellations": m.cancellations,
        "elective_booked": elective_admissions + m.cancellations,
        "elective_waiting_list": m.waiting_list,
        **{f"elective_waiting_over_{w}_weeks": m.waiting_over[w] for w in RTT_WEEKS},
        "waits_over_4h": counts["waits_over_4h"],
        "waits_over_12h": counts["waits_over_12h"],
        "displaced_bed_days": m.displaced_by_day,
    }
    for si, name, levels in m.services:
        cols[f"{name}_occupied_mean"] = levels.occupied
        if not m.cfg.services[name].unlimited:
            cols[f"{name}_capacity"] = cap.service_places[si]
        cols[f"{name}_queue_mean"] = levels.queue
        if levels.blocked is not None:
            cols[f"{name}_blocked_mean"] = levels.blocked
    return pd.DataFrame(cols)


# The daily table's counts of patients' events (_patient_day_counts), and the waits it counts.
_WAITS_OVER_HOURS = (4, 12)
_PATIENT_COUNTS = (
    "emergency_arrivals", "emergency_admissions", "admissions_avoided", "refused_admissions", "transferred_out",
    "elective_referrals", "elective_admissions", *(f"waits_over_{h}h" for h in _WAITS_OVER_HOURS),
)  # fmt: skip


def _patient_day_counts(m: _Measures) -> dict[str, np.ndarray]:
    """Per day: the emergencies that arrived and were admitted, avoided, refused or transferred
    out, the elective referrals and admissions, and the arrivals that waited over 4 and 12
    hours. Compiled: one pass over the patients (the same counts)."""
    H, arrival, out, admit = m.n_days, m.arrival, m.outcome, m.rec.admit_days
    waits_over_days = np.array([h / HOURS for h in _WAITS_OVER_HOURS])
    kernels = compiled.array_kernels()
    if kernels is not None and H >= 1:
        floats = [np.ascontiguousarray(a, dtype=float) for a in (arrival, admit, m.transfer_days)]
        counts, exact = kernels.patient_day_counts(
            *floats,
            np.ascontiguousarray(out, dtype=np.int8),
            np.ascontiguousarray(m.elective, dtype=np.bool_),
            np.ascontiguousarray(m.wait_days, dtype=float),
            np.array([ADMITTED, AVOIDED, REFUSED], dtype=np.int64),
            waits_over_days,
            H,
        )
        if exact:
            return dict(zip(_PATIENT_COUNTS, counts, strict=True))
    admitted = out == ADMITTED
    return dict(
        zip(
            _PATIENT_COUNTS,
            [
                daily_counts(arrival, H, m.emergency),
                daily_counts(admit, H, m.emergency & admitted),
                daily_counts(arrival, H, out == AVOIDED),
                daily_counts(arrival, H, out == REFUSED),
                daily_counts(m.transfer_days, H),
                daily_counts(arrival, H, m.elective & (arrival >= 0)),
                daily_counts(admit, H, m.elective & admitted),
                *(daily_counts(arrival, H, m.wait_days > w) for w in waits_over_days),
            ],
            strict=True,
        )
    )


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
    gates = [(gate_key(path), GateMeasures(day)) for path, day in m.rec.gate_open_days.items()]
    services = [(name, ServiceMeasures(m, si, name, levels)) for si, name, levels in m.services]
    return registry.evaluate(m.cfg, WindowMeasures(m), gates, services)


class WindowMeasures:
    """What the system KPIs are computed from: one replication's measures over its window."""

    m: _Measures
    cfg: Config
    rec: Records
    w: slice  # the window's days
    days: int  # number of days in the window
    out: np.ndarray  # outcome code per patient
    arrived: np.ndarray  # arrived in the window
    cap: np.ndarray  # beds available per day
    occ_mean: np.ndarray  # time-weighted mean occupied beds per day
    occupancy_daily: np.ndarray  # occ_mean / cap (inf when occupied with no beds)
    needing: np.ndarray  # emergencies arrived in the window needing a bed (not diverted to step-up)
    n_need: int
    waits: np.ndarray  # wait for a bed (days) of each emergency needing one
    refused: int
    no_bed_days: np.ndarray  # days on which an emergency found no free bed
    bed_days: float
    delayed_days: float
    displaced_days: float  # acute bed days the patients turned away in the window would have needed
    em_admitted: np.ndarray  # emergencies admitted in the window
    em_bed_days: float
    same_day: np.ndarray  # per discharged emergency admission: left on the day of admission
    month: np.ndarray  # calendar month of each day

    def __init__(self, m: _Measures) -> None:
        self.m, self.cfg, self.rec = m, m.cfg, m.rec
        W, E = m.start, m.end
        self.w = w = slice(W, E)
        self.days = E - W
        self.out = out = m.outcome
        self.arrived = arrived = m.arrived_in_window
        self.cap = cap = m.capacity.total_beds[w].astype(float)
        self.occ_mean = occ_mean = m.occupied.mean[w]
        self.occupancy_daily = np.divide(occ_mean, cap, out=np.where(occ_mean > 0, np.inf, 0.0), where=cap > 0)

        self.needing = needing = m.needing & arrived
        self.n_need = int(needing.sum())
        self.waits = m.wait_days[needing]
        self.refused = int((needing & (out == REFUSED)).sum())
        no_bed = needing & ((m.wait_days > WAIT_TOLERANCE_DAYS) | (out == REFUSED))
        self.no_bed_days = np.unique(m.arrival[no_bed].astype(np.int64))

        self.bed_days = float(occ_mean.sum())
        self.delayed_days = float(m.delayed.mean[w].sum())
        self.displaced_days = float(m.displaced_by_day[w].sum())
        self.em_admitted = em_admitted = m.emergency & m.admitted_in_window
        self.em_bed_days = float(m.emergency_occupied[w].sum())
        self.same_day = _same_day_leaves(em_admitted, m.rec.admit_days, m.rec.bed_leave_days)
        self.month = calendar(m.cfg.start_date, m.n_days)[2][w]

    @cached_property
    def community_delayed_days(self) -> float:
        """Place days of patients blocked in community services, over the window."""
        return float(sum(lv.blocked[self.w].sum() for _, _, lv in self.m.services if lv.blocked is not None))

    def list_wait_quantile_weeks(self, q: float) -> float:
        """Quantile ``q`` (inverted CDF: one of the waits) of the weeks waited so far by the
        electives on the list at each of the window's midnights (NaN when nobody was on it)."""
        return float(np.float64(self.m.list_wait_quantiles.days(q)) / 7.0)

    @cached_property
    def elective_booked(self) -> tuple[float, float]:
        """Booked elective admissions in the window: (cancelled, booked = admitted + cancelled)."""
        m = self.m
        admitted = m.electives_admitted_in_window
        cancelled = float(m.cancellations[self.w].sum())
        return cancelled, admitted + cancelled

    def share_waiting_over(self, weeks: int) -> float:
        """Share of the list (pooled over the window's midnights) waiting over ``weeks`` weeks;
        0 when nobody was on the list."""
        on_list = self.m.waiting_list[self.w].sum()
        return float(self.m.waiting_over[weeks][self.w].sum() / on_list) if on_list > 0 else 0.0

    def occupancy_in(self, months: tuple[int, ...]) -> float:
        """Mean occupancy over the window's days in these calendar months (NaN if none)."""
        sel = np.isin(self.month, months)
        return ratio(self.occ_mean[sel].sum(), self.cap[sel].sum()) if sel.any() else float("nan")


class ServiceMeasures:
    """What one community service's KPIs are computed from, over the window."""

    cfg: Config
    name: str
    places: np.ndarray  # places available per day (a huge number for an unlimited service)
    occupied: np.ndarray  # time-weighted mean occupied places per day (blocked patients included)
    blocked: np.ndarray  # time-weighted mean blocked patients per day (zeros without onward routes)
    p_wait: float
    mean_wait: float  # days
    mean_delay: float  # days

    def __init__(self, m: _Measures, si: int, name: str, levels: ServiceLevels) -> None:
        self.cfg, self.name = m.cfg, name
        self.places = m.capacity.service_places[si][m.start : m.end].astype(float)
        self.occupied = levels.occupied[m.start : m.end]
        self.blocked = levels.blocked[m.start : m.end] if levels.blocked is not None else np.zeros(m.end - m.start)
        self.p_wait, self.mean_wait, self.mean_delay = _service_waits(m, si, name)


def _service_waits(m: _Measures, si: int, name: str) -> tuple[float, float, float]:
    """Share of transfers in (from every sender, referred in the window) that waited for a
    place, their mean wait once ready and mean delay from referral (days)."""
    co, out, H = m.cohort, m.outcome, m.n_days
    if _kind(m.cfg, name).diverts_arrivals:
        # Step-up has no queue: a suitable patient who finds it full is admitted instead.
        offered = m.emergency & m.arrived_in_window & co.step_up_suitable
        return ratio((offered & (out != AVOIDED)).sum(), offered.sum()), 0.0, 0.0
    v = m.visits
    transfers = m.transfers_in_window
    referred = transfers[v.service.take(transfers) == si]
    start = v.start_days[referred]
    start = np.where(np.isnan(start), float(H), start)
    ready = v.ready_days[referred]
    ready = np.where(np.isnan(ready), start, ready)  # still assessing at the end
    wait = start - ready
    delay = start - v.referred_days[referred]
    return mean_or_nan(wait > WAIT_TOLERANCE_DAYS), mean_or_nan(wait), mean_or_nan(delay)


@dataclass(frozen=True)
class GateMeasures:
    """What a gate's KPIs are computed from: the day it opened (None: never)."""

    day: int | None


def list_waits(first: np.ndarray, count: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The waits (days) ``m - ref[p]`` of each patient p at the ``count[p]`` midnights ``m``
    from ``first[p]`` on, patient by patient."""
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    waits: np.ndarray = np.repeat(first, count) + offset - np.repeat(ref, count)
    return waits


class ListWaitQuantiles:
    """``np.quantile(list_waits(first, count, ref), q, method="inverted_cdf")`` for any ``q``
    (NaN when there is no wait). With numba, from a histogram of the waits by whole days and a
    sort of the one day holding the wanted wait: the same order statistic, without making and
    partly sorting millions of waits."""

    def __init__(self, first: np.ndarray, count: np.ndarray, ref: np.ndarray) -> None:
        self.spans = (np.ascontiguousarray(first, np.int64), np.ascontiguousarray(count, np.int64), ref)
        # The histogram needs every wait positive (it is: a patient counts from the first
        # midnight after its referral); otherwise numpy.
        positive = bool(np.all((count <= 0) | (first > ref)))
        self._kernels = compiled.array_kernels() if positive else None
        self._below: np.ndarray | None = None  # waits below the end of each whole day
        self._waits: np.ndarray | None = None  # numpy path: every wait

    def days(self, q: float) -> float:
        """Quantile ``q`` of the waits (days)."""
        if self._kernels is None or not 0 <= q <= 1:  # numpy: its answer, or its error
            if self._waits is None:
                self._waits = list_waits(*self.spans)
            return float(np.quantile(self._waits, q, method="inverted_cdf")) if self._waits.size else float("nan")
        if self._below is None:
            self._below = np.cumsum(self._kernels.list_wait_histogram(*self.spans))
        below = self._below
        if below.size == 0 or below[-1] == 0:
            return float("nan")
        k = _inverted_cdf_index(int(below[-1]), q)
        b = int(np.searchsorted(below, k, side="right"))  # the whole day holding the k-th wait
        in_day = self._kernels.list_waits_in_bin(*self.spans, b)
        at = k - (below[b - 1] if b > 0 else 0)
        return float(np.partition(in_day, at)[at])  # the value a sort would put there, without sorting


def _inverted_cdf_index(n: int, q: float) -> int:
    """The index in the sorted values that ``np.quantile(values, q, method="inverted_cdf")``
    returns for ``n`` values (numpy's own arithmetic: ``n q - 1``, rounded up unless whole)."""
    index = np.float64(n) * np.float64(q) - 1
    previous = np.floor(index)
    return max(int(previous if index - previous == 0 else previous + 1), 0)


def kpi_names(cfg: Config) -> list[str]:
    """The KPI names a config produces, in output order (without running it)."""
    return registry.names(cfg)
