"""KPI tables of the report, as data: means with 95% CIs per cell, paired differences from the
baseline, and every verdict of a sweep."""

from __future__ import annotations

from typing import Any

from ...model import kpi_registry
from ...runs.results import Cell, Results
from ..selection import cell_label
from .plain import param_columns
from .text import cell_name, ci, num, pct

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


def kpi_order(res: Results) -> list[str]:
    """The KPIs shown first: the criteria's, the key ones, then the services'."""
    crit = [c.get("kpi") for c in (res.experiment.get("criteria") or [])]
    known = set(res.summary["kpi"])
    svc = [k for k in dict.fromkeys(res.summary["kpi"]) if k.endswith(("_utilisation", "_mean_delay_days"))]
    return [k for k in dict.fromkeys([*crit, *KEY_KPIS, *svc]) if k in known]


def other_kpis(res: Results, shown: list[str]) -> list[str]:
    """The KPIs of the summary not in ``shown``."""
    return [k for k in dict.fromkeys(res.summary["kpi"]) if k not in shown]


def kpi_cell(name: str) -> dict[str, Any]:
    """A KPI as the registry describes it: its label, then its name as written in the results."""
    ref = kpi_registry.find(name)
    return {"lines": [ref.label, {"code": name}]} if ref else {"code": name}


def kpi_unit(name: str) -> str:
    """The KPI's unit from the registry ("" if this version does not know the KPI)."""
    ref = kpi_registry.find(name)
    return ref.unit if ref else ""


def kpi_table(res: Results, cells: list[Cell], kpis: list[str]) -> dict[str, Any]:
    """Mean and 95% CI of each KPI (rows) per cell (columns)."""
    s = res.summary
    rows = []
    for k in kpis:
        row: list[Any] = [kpi_cell(k), kpi_unit(k)]
        for c in cells:
            if res.is_sweep:
                found = s[(s["scenario"] == c.scenario) & (s["point"] == c.point) & (s["kpi"] == k)]
            else:
                found = s[s["kpi"] == k]
            if found.empty:
                row.append("n/a")
                continue
            r = found.iloc[0]
            row.append({"main": num(r["mean"]), "small": ci(r["ci_low"], r["ci_high"])})
        rows.append(row)
    header = ["KPI", "unit", *[cell_label(c) for c in cells]]
    return {"header": header, "rows": rows, "num": list(range(2, len(cells) + 2))}


def paired_table(res: Results, cells: list[Cell], kpis: list[str]) -> dict[str, Any] | None:
    """Differences from the baseline, paired by replication, per scenario cell and KPI."""
    p = res.paired
    if p is None or p.empty:
        return None
    rows = []
    for c in cells[1:]:
        g = p[(p["scenario"] == c.scenario) & (p["point"] == c.point)].set_index("kpi")
        for k in kpis:
            if k not in g.index:
                continue
            r = g.loc[k]
            rows.append(
                [
                    cell_label(c),
                    kpi_cell(k),
                    num(r["baseline_mean"]),
                    num(r["scenario_mean"]),
                    num(r["difference"]),
                    ci(r["ci_low"], r["ci_high"]),
                    pct(r["relative_change"], 1),
                ]
            )
    header = ["scenario", "KPI", "baseline", "scenario", "difference", "95% CI", "relative"]
    return {"header": header, "rows": rows, "num": [2, 3, 4, 5, 6]}


def verdict_table(res: Results) -> dict[str, Any] | None:
    """Every row of ``verdicts.csv``: share holding with its CI, mean value tested, first breach."""
    v = res.verdicts
    if v is None or v.empty:
        return None
    params = param_columns(v)
    rows = [
        [
            r["scenario"],
            cell_name(r, params),
            r["criterion"],
            pct(r["share_holds"]),
            ci(r["ci_low"], r["ci_high"], pct),
            num(r["value_mean"]),
            r["first_breach_month_median"],
        ]
        for _, r in v.iterrows()
    ]
    header = ["scenario", "sweep values", "criterion", "holds", "95% CI", "mean value tested"]
    return {"header": [*header, "first month breached (median)"], "rows": rows, "num": [3, 4, 5]}


def headline_run(res: Results) -> str:
    """A run's main KPIs in one sentence."""
    s = res.summary.set_index("kpi")

    def get(k: str) -> str:
        if k not in s.index:
            return "n/a"
        r = s.loc[k]
        return f"{num(r['mean'])} (95% CI {ci(r['ci_low'], r['ci_high'])})"

    return (
        f"Mean occupied beds {get('mean_occupied_beds')}; mean occupancy {get('mean_occupancy')}; "
        f"delayed-transfer patients {get('mean_delayed_patients')}; waits over 12 h per 1,000 "
        f"{get('waits_over_12h_per_1000')}."
    )
