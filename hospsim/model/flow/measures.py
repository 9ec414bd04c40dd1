"""The flow engine's daily table, KPIs and final states, with the DES's names and meanings
(expected numbers of patients instead of counts)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ...config import Config, gated_schedules
from .. import kpi_registry as registry
from ..demand import calendar
from ..kpi_registry import HOURS, ratio
from ..kpis import LONG_STAY_DAYS, RTT_WEEKS
from . import FlowRun
from .kernel import long_stay_levels
from .los import HOURS_PER_DAY
from .network import ACUTE, KernelBank, Stage
from .state import FlowState, Plan

# KPIs whose value comes from variability (waits, full days, turned away, cancellations): the
# flow engine reports what the averages give - usually 0 - and names them.
VARIABILITY_KPIS = frozenset(
    {
        "refused_admissions", "p_refused", "transferred_out", "p_transferred_out", "transferred_out_per_1000",
        "elective_cancellations", "elective_cancellations_per_1000_booked", "share_days_full", "share_days_no_bed",
        "p_wait_for_bed", "mean_wait_hours", "p_wait_over_4h", "waits_over_12h_per_1000", "mean_boarding_patients",
    }
)  # fmt: skip
VARIABILITY_SERVICE_KPIS = ("{service}_p_wait", "{service}_mean_wait_days")


def variability_kpi_names(cfg: Config) -> frozenset[str]:
    """The KPIs of ``cfg`` whose value comes from variability: the flow engine reports what the
    averages give (usually 0) and names them."""
    names = set(registry.names(cfg))
    marked = set(VARIABILITY_KPIS)
    for service in cfg.services:
        marked |= {f.format(service=service) for f in VARIABILITY_SERVICE_KPIS}
    return frozenset(names & marked)


def flow_outputs(
    cfg: Config, plan: Plan, bank: KernelBank, stages: list[Stage], s: FlowState, opened: dict[str, int | None]
) -> FlowRun:
    """The run's daily table, KPIs over the plan's window and final states."""
    long_stay = _long_stay(plan, bank, stages, s)
    daily = _daily(cfg, plan, s, long_stay)
    kpis = _Kpis(cfg, plan, bank, stages, s, daily, long_stay, opened).all()
    return FlowRun(
        daily=daily,
        kpis=kpis,
        variability_kpis=variability_kpi_names(cfg),
        final_states=final_states(plan, s),
        steps=plan.n_days * 24,
    )


def _long_stay(plan: Plan, bank: KernelBank, stages: list[Stage], s: FlowState) -> np.ndarray:
    """Per day: mean beds held by acute stays past day 21 (in their stay, not delayed after it)."""
    acute = np.array([i for i, st in enumerate(stages) if st.kind == ACUTE], dtype=np.int64)
    slots = plan.st_slot[acute]
    rows, rows_up, weights = (np.ascontiguousarray(a[slots]) for a in (bank.row_of, bank.row_up, bank.row_w))
    out = np.zeros(plan.n_days)
    long_stay_levels(
        np.ascontiguousarray(s.day_in[acute]), rows, rows_up, weights, bank.present_daily, int(LONG_STAY_DAYS), out
    )
    return out


def _daily(cfg: Config, plan: Plan, s: FlowState, long_stay: np.ndarray) -> pd.DataFrame:
    H = plan.n_days
    total = plan.total_beds.astype(np.int64)
    dates = np.datetime64(cfg.start_date, "D") + np.arange(H)
    cols: dict[str, np.ndarray] = {
        "day": np.arange(H),
        "date": dates.astype(str),
        "warmup": np.arange(H) < cfg.warmup_days,
        "beds_capacity": total,
        "escalation_beds_open": total - plan.core_beds.astype(np.int64),
        "occupied_beds_mean": s.occ_area.copy(),
        "occupied_beds_midnight": s.occ_midnight.copy(),
        "occupied_beds_max": s.occ_max.copy(),
        "occupancy": np.divide(s.occ_area, total, out=np.full(H, np.nan), where=total > 0),
        "escalation_beds_in_use": s.escalation_area.copy(),
        "delayed_patients_mean": s.delayed_area.copy(),
        "delayed_patients_midnight": s.delayed_midnight.copy(),
        "boarding_queue_mean": s.board_area.copy(),
        "boarding_queue_midnight": s.board_midnight.copy(),
        "long_stay_beds_mean": long_stay,
        "emergency_arrivals": s.em_arrivals.copy(),
        "emergency_admissions": s.em_admissions.copy(),
        "admissions_avoided": s.avoided.copy(),
        "refused_admissions": s.refused.copy(),
        "transferred_out": s.transferred.copy(),
        "elective_referrals": s.el_referrals.copy(),
        "elective_admissions": s.el_admissions.copy(),
        "elective_cancellations": s.el_cancellations.copy(),
        "elective_booked": s.el_admissions + s.el_cancellations,
        "elective_waiting_list": s.waiting_list.copy(),
        **{f"elective_waiting_over_{w}_weeks": s.waiting_over[i].copy() for i, w in enumerate(RTT_WEEKS)},
        "waits_over_4h": s.waits4.copy(),
        "waits_over_12h": s.waits12.copy(),
        "displaced_bed_days": s.displaced.copy(),
    }
    for si, (name, svc) in enumerate(cfg.services.items()):
        cols[f"{name}_occupied_mean"] = s.svc_area[0, si].copy()
        if not svc.unlimited:
            cols[f"{name}_capacity"] = plan.places[si].astype(np.int64)
        cols[f"{name}_queue_mean"] = s.svc_area[1, si].copy() if plan.takes_transfers[si] else np.zeros(H)
        if svc.routes_onward:
            cols[f"{name}_blocked_mean"] = s.svc_area[2, si].copy()
    return pd.DataFrame(cols)


def final_states(plan: Plan, s: FlowState) -> dict[str, float]:
    """Expected patients in each end state (the DES's ``records.final_states``), from the flows
    that ended in it. Step-up patients are "avoided" wherever they are, so the places they hold
    (tracked through onward moves, in proportion within a service) are not "in a community
    service", and the admitted who left beds and places are "discharged"."""
    admitted = float(s.em_admissions.sum() + s.el_admissions.sum())
    in_service = float(s.occ.sum() - s.avoided_in.sum())
    return {
        "waiting for a bed": float(s.board_sum[0]),
        "on the waiting list": float(s.on_list.sum()),
        "in an acute bed": float(s.beds[0]),
        "in a community service": in_service,
        "discharged": admitted - float(s.beds[0]) - in_service,
        "transferred elsewhere": float(s.transferred.sum()),
        "refused": float(s.refused.sum()),
        "avoided (step-up)": float(s.avoided.sum()),
    }


class _Kpis:
    """Each KPI of the registry, computed from the flow's daily levels and flows."""

    def __init__(
        self,
        cfg: Config,
        plan: Plan,
        bank: KernelBank,
        stages: list[Stage],
        s: FlowState,
        daily: pd.DataFrame,
        long_stay: np.ndarray,
        opened: dict[str, int | None],
    ) -> None:
        self.cfg, self.plan, self.bank, self.stages, self.s = cfg, plan, bank, stages, s
        self.w = w = slice(plan.window_start, plan.window_end)
        self.days = plan.window_end - plan.window_start
        self.cap = plan.total_beds[w]
        self.occ = s.occ_area[w]
        self.occ_daily = np.divide(self.occ, self.cap, out=np.where(self.occ > 0, np.inf, 0.0), where=self.cap > 0)
        self.bed_days = float(self.occ.sum())
        self.delayed_days = float(s.delayed_area[w].sum())
        self.long_stay = long_stay[w]
        self.month = calendar(cfg.start_date, plan.n_days)[2][w]
        self.need = float((s.em_arrivals[w] - s.avoided[w]).sum())
        self.opened = opened

    def all(self) -> dict[str, float]:
        """Every KPI of the config, in output order."""
        paths = [path for path, _ in gated_schedules(self.cfg)]  # in the order of the KPIs
        subjects = {"gate": [registry.gate_key(p) for p in paths], "service": list(self.cfg.services)}
        gate_days = [self.opened.get(p) for p in paths]
        out: dict[str, float] = {}
        for name, kpi, i in registry.layout(self.cfg, subjects["gate"], subjects["service"]):
            if kpi.scope == "gate":
                out[name] = _GATE[kpi.name](gate_days[i])
            elif kpi.scope == "service":
                out[name] = self.service(kpi.name, i)
            else:
                out[name] = _SYSTEM[kpi.name](self)
        return out

    def window_sum(self, column: np.ndarray) -> float:
        return float(column[self.w].sum())

    def list_quantile_weeks(self, q: float) -> float:
        """Quantile ``q`` of the weeks waited by the list at the window's midnights (pooled)."""
        hist = self.s.wait_hist
        total = hist.sum()
        if total <= 0:
            return float("nan")
        cum = np.cumsum(hist) / total
        day = int(np.searchsorted(cum, q, side="left"))
        # within the day of waits: linear in the cohort's spread over its referral day
        below = cum[day - 1] if day > 0 else 0.0
        frac = (q - below) / (cum[day] - below) if cum[day] > below else 0.0
        return float((day + frac) / 7.0)

    def share_over(self, weeks: int) -> float:
        on = self.s.waiting_list[self.w].sum()
        return float(self.s.waiting_over[RTT_WEEKS.index(weeks)][self.w].sum() / on) if on > 0 else 0.0

    def occupancy_in(self, months: tuple[int, ...]) -> float:
        sel = np.isin(self.month, months)
        return ratio(self.occ[sel].sum(), self.cap[sel].sum()) if sel.any() else float("nan")

    def same_day_share(self) -> float:
        """Emergencies sent home on the day of their admission, of those admitted (the kernel's
        same-day exit shares, admissions spread over the day like arrivals)."""
        b, p, s = self.bank, self.plan, self.s
        # per row: the share of a day's admissions (spread like arrivals) leaving the same day
        cum = np.cumsum(b.near[:, :HOURS_PER_DAY], axis=1)
        within = cum[:, HOURS_PER_DAY - 1 - np.arange(HOURS_PER_DAY)] @ p.hour_share
        same = 0.0
        for i, st in enumerate(self.stages):
            if st.kind != ACUTE or not st.emergency:
                continue
            home = sum(share for dest, share in st.routes if dest < 0)
            w = b.row_w[st.slot, self.w]
            per_day = within[b.row_of[st.slot, self.w]] * (1.0 - w) + within[b.row_up[st.slot, self.w]] * w
            same += float((s.day_in[i, self.w] * per_day).sum()) * home
        admitted = self.window_sum(s.em_admissions)
        return ratio(same, admitted)

    def service(self, kpi: str, si: int) -> float:
        s, w, name = self.s, self.w, list(self.cfg.services)[si]
        svc = self.cfg.services[name]
        occupied = s.svc_area[0, si, w]
        places = self.plan.places[si, w]
        moves = float(s.moves[si, w].sum())
        if kpi == "{service}_mean_occupied":
            return float(occupied.mean())
        if kpi == "{service}_utilisation":
            return ratio(occupied.sum(), places.sum())
        if kpi == "{service}_mean_blocked":
            return float(s.svc_area[2, si, w].mean())
        if kpi == "{service}_blocked_share":
            return ratio(s.svc_area[2, si, w].sum(), places.sum())
        if svc.service_kind.diverts_arrivals:
            if kpi == "{service}_p_wait":  # suitable emergencies admitted instead
                suitable = self.window_sum(s.suitable)
                return ratio(suitable - self.window_sum(s.avoided), suitable)
            if kpi in ("{service}_mean_wait_days", "{service}_mean_delay_days"):
                return 0.0
        if kpi == "{service}_p_wait":
            return ratio(float(s.waited_moves[si, w].sum()), moves)
        if kpi == "{service}_mean_wait_days":  # Little's law: mean queue / throughput
            return ratio(float(s.svc_area[1, si, w].sum()), moves)
        if kpi == "{service}_mean_delay_days":
            return ratio(float(s.svc_area[1, si, w].sum() + s.svc_area[3, si, w].sum()), moves)
        return self._cost(kpi, si)

    def _cost(self, kpi: str, si: int) -> float:
        if kpi != "{service}_capacity_cost_gbp":
            raise KeyError(f"the flow engine has no definition of KPI {kpi!r}")
        cost = self.cfg.services[list(self.cfg.services)[si]].place_day_cost_gbp
        assert cost is not None  # present only when configured
        return float(self.plan.places[si, self.w].sum() * cost)


def _wait_share(k: _Kpis, column: np.ndarray) -> float:
    return ratio(k.window_sum(column), k.need)


def _mean_wait_hours(k: _Kpis) -> float:
    s, p = k.s, k.plan
    waited = float(s.wait_hours_sum[0])
    # still boarding at the end: waited until the horizon
    end = p.n_days * 24
    hours = np.arange(end)
    in_window = (hours // 24 >= p.window_start) & (hours // 24 < p.window_end)
    waited += float((s.board_total * (end - hours) * in_window).sum())
    return waited / k.need if k.need > 0 else float("nan")


def _elective_booked(k: _Kpis) -> tuple[float, float]:
    cancelled = k.window_sum(k.s.el_cancellations)
    return cancelled, k.window_sum(k.s.el_admissions) + cancelled


Compute = Callable[[_Kpis], float]
_SYSTEM: dict[str, Compute] = {
    "emergency_arrivals": lambda k: k.window_sum(k.s.em_arrivals),
    "emergency_admissions": lambda k: k.window_sum(k.s.em_admissions),
    "admissions_avoided": lambda k: k.window_sum(k.s.avoided),
    "refused_admissions": lambda k: k.window_sum(k.s.refused),
    "p_refused": lambda k: _wait_share(k, k.s.refused),
    "transferred_out": lambda k: k.window_sum(k.s.transferred),
    "p_transferred_out": lambda k: _wait_share(k, k.s.transferred),
    "transferred_out_per_1000": lambda k: 1000 * _wait_share(k, k.s.transferred),
    "elective_referrals": lambda k: k.window_sum(k.s.el_referrals),
    "elective_admissions": lambda k: k.window_sum(k.s.el_admissions),
    "elective_cancellations": lambda k: _elective_booked(k)[0],
    "elective_cancellations_per_1000_booked": lambda k: 1000 * ratio(*_elective_booked(k)),
    "elective_waiting_list_mean": lambda k: float(k.s.waiting_list[k.w].mean()),
    "elective_waiting_list_end": lambda k: float(k.s.waiting_list[k.w][-1]),
    "elective_wait_weeks_median": lambda k: k.list_quantile_weeks(0.5),
    "elective_wait_weeks_p92": lambda k: k.list_quantile_weeks(0.92),
    "share_waiting_over_18_weeks": lambda k: k.share_over(18),
    "share_waiting_over_52_weeks": lambda k: k.share_over(52),
    "mean_occupied_beds": lambda k: k.bed_days / k.days,
    "mean_occupancy": lambda k: ratio(k.bed_days, k.cap.sum()),
    "share_days_over_85pct": lambda k: float(np.mean(k.occ_daily > 0.85)),
    "share_days_over_92pct": lambda k: float(np.mean(k.occ_daily > 0.92)),
    "share_days_full": lambda k: float(np.mean(k.s.occ_max[k.w] >= k.cap - 1e-9)),
    "share_days_no_bed": lambda k: float(np.mean((k.s.boarded[k.w] + k.s.refused[k.w]) > 1e-9)),
    "p_wait_for_bed": lambda k: _wait_share(k, k.s.boarded),
    "mean_wait_hours": _mean_wait_hours,
    "p_wait_over_4h": lambda k: _wait_share(k, k.s.waits4),
    "waits_over_12h_per_1000": lambda k: 1000 * _wait_share(k, k.s.waits12),
    "mean_boarding_patients": lambda k: float(k.s.board_area[k.w].mean()),
    "acute_bed_days": lambda k: k.bed_days,
    "displaced_bed_days": lambda k: k.window_sum(k.s.displaced),
    "bed_days_demanded": lambda k: k.bed_days + k.window_sum(k.s.displaced),
    "delayed_bed_days": lambda k: k.delayed_days,
    "community_delayed_bed_days": lambda k: float(k.s.svc_area[2][:, k.w].sum()),
    "delayed_share": lambda k: ratio(k.delayed_days, k.bed_days),
    "mean_delayed_patients": lambda k: k.delayed_days / k.days,
    "mean_escalation_beds_in_use": lambda k: float(k.s.escalation_area[k.w].mean()),
    "mean_emergency_los_days": lambda k: ratio(k.window_sum(k.s.em_area), k.window_sum(k.s.em_admissions)),
    "same_day_discharge_share": lambda k: k.same_day_share(),
    "long_stay_bed_share": lambda k: ratio(k.long_stay.sum(), k.bed_days),
    "emergency_bed_share": lambda k: ratio(k.window_sum(k.s.em_area), k.bed_days),
    "mean_occupancy_winter": lambda k: k.occupancy_in((12, 1, 2)),
    "mean_occupancy_summer": lambda k: k.occupancy_in((6, 7, 8)),
    "delayed_cost_gbp": lambda k: k.delayed_days * float(k.cfg.acute.delayed_day_cost_gbp or 0.0),
}
_GATE: dict[str, Callable[[int | None], float]] = {
    "gate_{gate}_opened": lambda day: float(day is not None),
    "gate_{gate}_open_day": lambda day: float("nan") if day is None else float(day),
}


__all__ = ["HOURS", "VARIABILITY_KPIS", "final_states", "flow_outputs"]
