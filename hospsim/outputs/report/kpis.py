"""KPI tables of the report, as data: means with 95% CIs per cell, paired differences from the
baseline, and every verdict of a sweep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ...model import kpi_registry
from ...runs.results import Cell, Results
from ..labels import Labels, criterion_words, kpi_change, kpi_unit, kpi_value, month_words, relative_change
from .answer import point_words, worded_verdicts
from .plain import param_columns
from .text import ci, pct

# The KPIs every report shows first (each must be in the KPI registry: tests/test_report.py).
KEY_KPIS = (
    "mean_occupied_beds",
    "mean_occupancy",
    "share_days_over_85pct",
    "share_days_over_92pct",
    "acute_bed_days",
    "displaced_bed_days",
    "bed_days_demanded",
    "delayed_bed_days",
    "mean_delayed_patients",
    "community_delayed_bed_days",  # only with onward routes between services
    "p_wait_over_4h",
    "waits_over_12h_per_1000",
    "mean_wait_hours",
    "p_transferred_out",
    "share_waiting_over_18_weeks",
    "elective_wait_weeks_p92",
    "elective_waiting_list_end",
    "elective_cancellations_per_1000_booked",
    "admissions_avoided",
)


# The KPIs of the main body after the criteria's: what a board asks of a bed plan.
BOARD_KPIS = (
    "bed_days_demanded",
    "acute_bed_days",
    "mean_occupied_beds",
    "mean_occupancy",
    "share_days_over_92pct",
    "displaced_bed_days",
    "delayed_bed_days",
    "community_delayed_bed_days",  # only with onward routes between services
    "waits_over_12h_per_1000",
    "p_transferred_out",
    "share_waiting_over_18_weeks",
)


# Each service's KPIs shown with the key ones; those of blocking (services that send patients on)
# in the main body too.
SERVICE_KPIS = ("_utilisation", "_mean_delay_days")
BLOCKING_KPIS = ("_mean_blocked", "_blocked_share")


def kpi_order(res: Results) -> list[str]:
    """The KPIs shown first: the criteria's, the key ones, then the services'."""
    crit = [c.get("kpi") for c in (res.experiment.get("criteria") or [])]
    known = set(res.summary["kpi"])
    svc = [k for k in dict.fromkeys(res.summary["kpi"]) if k.endswith((*SERVICE_KPIS, *BLOCKING_KPIS))]
    return [k for k in dict.fromkeys([*crit, *KEY_KPIS, *svc]) if k in known]


def other_kpis(res: Results, shown: list[str]) -> list[str]:
    """The KPIs of the summary not in ``shown``."""
    return [k for k in dict.fromkeys(res.summary["kpi"]) if k not in shown]


def board_kpis(res: Results) -> list[str]:
    """The KPIs the main body shows: the criteria's, then :data:`BOARD_KPIS`, then the services'
    blocking (only configs with onward routes have them)."""
    crit = [c.get("kpi") for c in (res.experiment.get("criteria") or [])]
    known = set(res.summary["kpi"])
    blocking = [k for k in dict.fromkeys(res.summary["kpi"]) if k.endswith(BLOCKING_KPIS)]
    return [k for k in dict.fromkeys([*crit, *BOARD_KPIS, *blocking]) if k in known]


def kpi_cell(name: str, labels: Labels | None = None, code: bool = True) -> Any:
    """A KPI by its display name, then (``code``) its name as written in the results; a KPI this
    version does not know by its name as written."""
    text = (labels or Labels()).kpi(name)
    if text == name:
        return {"code": name} if code else name
    return {"lines": [text, {"code": name}]} if code else text


def _summary_row(res: Results, cell: Cell, kpi: str) -> pd.Series | None:
    s = res.summary
    found = (
        s[(s["scenario"] == cell.scenario) & (s["point"] == cell.point) & (s["kpi"] == kpi)]
        if res.is_sweep
        else s[s["kpi"] == kpi]
    )
    return None if found.empty else found.iloc[0]


def kpi_table(
    res: Results, cells: list[Cell], kpis: list[str], labels: Labels | None = None, code: bool = True
) -> dict[str, Any]:
    """Mean and 95% CI of each KPI (rows) per cell (columns), as a person reads the values; the
    columns are named by scenario (the cells shown are at one sweep point)."""
    labels = labels or Labels()
    rows = []
    for k in kpis:
        row: list[Any] = [kpi_cell(k, labels, code), kpi_unit(k)]
        for c in cells:
            r = _summary_row(res, c, k)
            if r is None:
                row.append("n/a")
                continue
            row.append({"main": kpi_value(k, r["mean"]), "small": kpi_ci(k, r["ci_low"], r["ci_high"])})
        rows.append(row)
    columns = [labels.scenario(c.scenario) for c in cells] if res.is_sweep else ["mean (95% CI)"]
    return {"header": ["KPI", "unit", *columns], "rows": rows, "num": list(range(2, len(cells) + 2))}


def kpi_ci(kpi: str, low: Any, high: Any) -> str:
    """A KPI's confidence interval as a person reads it, cut to the values the KPI can take
    (every KPI is at least 0, a share of days at most 100%; occupancy can pass 100% with
    escalation beds): a t-interval of a rare event's share over a few replications reaches below
    0, which no reader should see."""
    low, high = (float(v) if v is not None else float("nan") for v in (low, high))
    top = 1.0 if kpi_unit(kpi) == "% of days" else float("inf")
    return ci(min(max(low, 0.0), top), min(max(high, 0.0), top), lambda v: kpi_value(kpi, v))


def _change_fmt(kpi: str) -> Callable[[Any], str]:
    """A formatter of changes of the KPI from the baseline."""
    return lambda v: kpi_change(kpi, v)


def change_table(res: Results, cells: list[Cell], kpis: list[str], labels: Labels) -> dict[str, Any] | None:
    """Change from the baseline per KPI (rows) and scenario (columns), paired by replication:
    the difference with its 95% CI and the relative change (the main body's compact form)."""
    p = res.paired
    if p is None or p.empty or len(cells) < 2:
        return None
    rows = []
    for k in kpis:
        row: list[Any] = [kpi_cell(k, labels, code=False)]
        for c in cells[1:]:
            found = p[(p["scenario"] == c.scenario) & (p["point"] == c.point) & (p["kpi"] == k)]
            if found.empty:
                row.append("n/a")
                continue
            r = found.iloc[0]
            rel = relative_change(r["relative_change"])
            main = kpi_change(k, r["difference"]) + ("" if rel == "n/a" else f" ({rel})")
            row.append({"main": main, "small": ci(r["ci_low"], r["ci_high"], _change_fmt(k))})
        rows.append(row)
    header = ["KPI", *[labels.scenario(c.scenario) for c in cells[1:]]]
    return {"header": header, "rows": rows, "num": list(range(1, len(cells)))}


def paired_table(
    res: Results, cells: list[Cell], kpis: list[str], labels: Labels | None = None
) -> dict[str, Any] | None:
    """Differences from the baseline, paired by replication, per scenario cell and KPI (long form)."""
    p = res.paired
    if p is None or p.empty:
        return None
    labels = labels or Labels()
    rows = []
    for c in cells[1:]:
        g = p[(p["scenario"] == c.scenario) & (p["point"] == c.point)].set_index("kpi")
        for k in kpis:
            if k not in g.index:
                continue
            r = g.loc[k]
            rows.append(
                [
                    labels.scenario(c.scenario),
                    kpi_cell(k, labels),
                    kpi_value(k, r["baseline_mean"]),
                    kpi_value(k, r["scenario_mean"]),
                    kpi_change(k, r["difference"]),
                    ci(r["ci_low"], r["ci_high"], _change_fmt(k)),
                    relative_change(r["relative_change"]),
                ]
            )
    header = ["scenario", "KPI", "baseline", "scenario", "difference", "95% CI", "relative"]
    return {"header": header, "rows": rows, "num": [2, 3, 4, 5, 6]}


def _tested_value(crit: dict[str, Any], kpi: str, value: Any) -> str:
    """The mean value a criterion tests, in its terms (the KPI, its change or its difference)."""
    if pd.isna(value):
        return ""
    compare = crit.get("compare", "absolute")
    if compare == "relative_to_baseline":
        return relative_change(value)
    return kpi_change(kpi, value) if compare == "difference_from_baseline" else kpi_value(kpi, value)


def verdict_table(res: Results, labels: Labels | None = None) -> dict[str, Any] | None:
    """Every row of ``verdicts.csv``: share holding with its CI, mean value tested, first breach."""
    labels = labels or Labels()
    v = worded_verdicts(res, labels)
    if v.empty:
        return None
    params = param_columns(v)
    by_words = {criterion_words(labels, c): c for c in res.experiment.get("criteria") or []}
    rows = [
        [
            labels.scenario(r["scenario"]),
            point_words(labels, r, params),
            r["criterion"],
            pct(r["share_holds"]),
            ci(r["ci_low"], r["ci_high"], pct),
            _tested_value(by_words.get(r["criterion"], {}), str(r["kpi"]), r["value_mean"]),
            month_words(r["first_breach_month_median"]),
        ]
        for _, r in v.iterrows()
    ]
    header = ["scenario", "future (sweep values)", "criterion", "holds", "95% CI", "mean value tested"]
    return {"header": [*header, "first month breached (median)"], "rows": rows, "num": [3, 4, 5]}


def kpi_dictionary(kpis: list[str], labels: Labels) -> dict[str, Any]:
    """The KPIs shown: display name, unit, what it measures, and the name in the results files."""
    rows = []
    for k in dict.fromkeys(kpis):
        ref = kpi_registry.find(k)
        what = ref.description.replace("`", "") if ref else "not known to this version of hospsim"
        rows.append([labels.kpi(k), kpi_unit(k), what, {"code": k}])
    return {"header": ["KPI", "unit", "what it measures", "as written in the results"], "rows": rows, "num": []}


def headline_run(res: Results) -> str:
    """A run's main KPIs in one sentence."""
    s = res.summary.set_index("kpi")

    def get(k: str) -> str:
        if k not in s.index:
            return "n/a"
        r = s.loc[k]
        return f"{kpi_value(k, r['mean'])} (95% CI {kpi_ci(k, r['ci_low'], r['ci_high'])})"

    community = (
        f"; place days blocked in community services {get('community_delayed_bed_days')}"
        if "community_delayed_bed_days" in s.index
        else ""
    )
    return (
        f"Mean occupied beds {get('mean_occupied_beds')}; mean occupancy {get('mean_occupancy')}; "
        f"delayed-transfer patients {get('mean_delayed_patients')}{community}; waits over 12 h per 1,000 "
        f"{get('waits_over_12h_per_1000')}."
    )
