"""``forest`` (sweeps): the paired change from the baseline in the criteria's KPIs and a few key
ones, per scenario at the chosen sweep point, with 95% CIs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...model import kpi_registry
from ...runs.errors import ResultsError
from ...runs.results import Cell, Results
from ..selection import cell_label, params_text, select_cells
from ..tables import fmt_number
from .common import OKABE_ITO, FigureSpec, cell_colour, new_figure, styled, suptitle


def _label(kpi: str) -> str:
    """The KPI's label from the registry (its name, for a KPI this version does not know)."""
    ref = kpi_registry.find(kpi)
    return ref.label if ref else kpi


# KPIs shown in the forest plot after the criteria's KPIs (each must be in the KPI registry).
FOREST_KPIS = (
    "acute_bed_days",
    "bed_days_demanded",
    "mean_occupancy",
    "share_days_over_92pct",
    "mean_delayed_patients",
    "p_wait_over_4h",
    "waits_over_12h_per_1000",
    "mean_wait_hours",
    "transferred_out",
    "elective_waiting_list_end",
    "elective_cancellations",
)
MARKERS = ("o", "s", "D", "^", "v", "P", "X")
LIMIT_COLOUR = OKABE_ITO["vermillion"]


def _row(cell: Cell, kpi: str, r: pd.Series) -> dict[str, Any]:
    """One KPI of one cell, with its change relative to the baseline mean (NaN if that is 0)."""
    b = float(r["baseline_mean"])
    ok = math.isfinite(b) and b != 0
    lo, hi = (float(r["ci_low"]) / abs(b), float(r["ci_high"]) / abs(b)) if ok else (math.nan, math.nan)
    return {
        "cell": cell.key,
        "label": cell_label(cell),
        "scenario": cell.scenario,
        "point": cell.point,
        "kpi": kpi,
        "baseline_mean": b,
        "scenario_mean": float(r["scenario_mean"]),
        "difference": float(r["difference"]),
        "ci_low": float(r["ci_low"]),
        "ci_high": float(r["ci_high"]),
        "n": int(r["n"]),
        "rel": float(r["difference"]) / abs(b) if ok else math.nan,
        "rel_low": lo,
        "rel_high": hi,
    }


def forest_data(res: Results, point: int | None = None, scenario: Iterable[str] | None = None) -> pd.DataFrame:
    """Paired differences at the chosen sweep point for the criteria's KPIs and a few key ones,
    as relative change from the baseline with its 95% CI (``rel``, ``rel_low``, ``rel_high``);
    rows whose baseline mean is 0 or undefined have NaN there."""
    p = res.paired
    if p is None or p.empty:
        raise ResultsError(f"{res.path}: no paired differences (paired_differences.csv is empty)")
    cells = select_cells(res, scenario, point)[1:]
    crit = [c["kpi"] for c in res.experiment.get("criteria") or []]
    kpis = [k for k in dict.fromkeys([*crit, *FOREST_KPIS]) if k in set(p["kpi"])]
    rows = []
    for cell in cells:
        g = p[(p["scenario"] == cell.scenario) & (p["point"] == cell.point)].set_index("kpi")
        rows += [_row(cell, k, g.loc[k]) for k in kpis if k in g.index]
    return pd.DataFrame(rows)


def _criterion_limit(c: dict, baseline_mean: float) -> float | None:
    """A criterion's bound as a relative change from the baseline mean (for drawing only)."""
    bound = c.get("at_most", c.get("at_least"))
    if bound is None or not math.isfinite(baseline_mean) or baseline_mean == 0:
        return None
    compare = c.get("compare", "absolute")
    if compare == "relative_to_baseline":
        return float(bound)
    if compare == "difference_from_baseline":
        return float(bound) / abs(baseline_mean)
    return (float(bound) - baseline_mean) / abs(baseline_mean)


def _draw_cells(ax: Axes, shown: pd.DataFrame, cells: list[str], ypos: dict[str, int]) -> None:
    """One errorbar line per cell (``forest-<i>``), the cells side by side around each KPI's row."""
    offsets = np.linspace(-0.25, 0.25, len(cells)) if len(cells) > 1 else [0.0]
    for i, (ck, off) in enumerate(zip(cells, offsets)):
        g = shown[shown["cell"] == ck]
        if g.empty:
            continue
        y = np.array([ypos[k] for k in g["kpi"]]) + off
        x = g["rel"].to_numpy() * 100
        err = np.vstack([x - g["rel_low"].to_numpy() * 100, g["rel_high"].to_numpy() * 100 - x])
        ax.errorbar(
            x,
            y,
            xerr=err,
            fmt=MARKERS[i % len(MARKERS)],
            color=cell_colour(i + 1),
            ms=6,
            capsize=3,
            lw=1.4,
            label=g["label"].iloc[0],
            gid=f"forest-{i}",
        )


def _draw_limits(ax: Axes, res: Results, base_by_kpi: pd.Series, ypos: dict[str, int]) -> bool:
    """Criteria limits, converted to a change from the baseline mean (approximate: criteria are
    tested replication by replication); True if any was drawn."""
    drew = False
    for c in res.experiment.get("criteria") or []:
        k = c.get("kpi")
        if k not in ypos:
            continue
        lim = _criterion_limit(c, float(base_by_kpi[k]))
        if lim is None:
            continue
        ax.plot([lim * 100] * 2, [ypos[k] - 0.4, ypos[k] + 0.4], color=LIMIT_COLOUR, lw=2.5, solid_capstyle="butt")
        drew = True
    return drew


def _x_axis(ax: Axes) -> None:
    lo, hi = ax.get_xlim()
    if max(abs(lo), abs(hi)) > 500:
        # KPIs with a tiny baseline change by thousands of %: keep -100..+100% linear, compress the rest.
        ax.set_xscale("symlog", linthresh=100)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:+.0f}%" if round(v) else "0%"))
    ax.set_xlabel("change from baseline (% of the baseline mean; paired by replication, 95% CI)")
    ax.grid(axis="y", visible=False)


@styled
def forest_plot(res: Results, point: int | None = None, scenario: Iterable[str] | None = None) -> Figure:
    """Change from the baseline, paired by replication, of the criteria's KPIs and key KPIs, per
    scenario at the chosen sweep point: relative change (%) with the 95% CI. Artists:
    ``forest-<i>`` (one errorbar line per scenario; x = relative change in %)."""
    data = forest_data(res, point, scenario)
    shown = data[np.isfinite(data["rel"])] if not data.empty else data
    kpis = list(dict.fromkeys(shown["kpi"])) if not shown.empty else []
    left_out = sorted(set(data["kpi"]) - set(kpis)) if not data.empty else []
    cells = list(dict.fromkeys(data["cell"])) if not data.empty else []
    fig = new_figure(10, 1.8 + 0.55 * max(1, len(kpis)) + 0.25 * len(cells))
    ax = fig.subplots()
    ypos = {k: len(kpis) - 1 - j for j, k in enumerate(kpis)}
    _draw_cells(ax, shown, cells, ypos)
    ax.axvline(0, color="0.3", lw=1)
    base_by_kpi = shown.groupby("kpi")["baseline_mean"].first() if not shown.empty else pd.Series(dtype=float)
    drew_limit = _draw_limits(ax, res, base_by_kpi, ypos)
    ax.set_yticks(
        [ypos[k] for k in kpis], [f"{_label(k)}\n(baseline {fmt_number(float(base_by_kpi[k]))})" for k in kpis]
    )
    ax.set_ylim(-0.7, max(len(kpis), 1) - 0.3)
    _x_axis(ax)
    handles, _labels = ax.get_legend_handles_labels()
    if drew_limit:
        handles.append(Line2D([], [], color=LIMIT_COLOUR, lw=2.5, label="criterion limit (at the baseline mean)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    pt = select_cells(res, scenario, point)[-1]
    where = f" at {params_text(pt.params)}" if pt.params else ""
    suptitle(fig, f"{res.name}: change from baseline{where}, n = {res.replications}")
    if left_out:
        note = f"not shown (baseline 0): {', '.join(left_out)}"
        ax.set_title(note, loc="left", fontsize=9, fontweight="normal", color="0.35")
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: forest_plot(res, choice.point, choice.scenario),
    title="What the plan changes",
    caption="Change from the baseline, replication by replication (same patients), as a share of the "
    "baseline mean, with 95% confidence intervals. Thick red marks: where a criterion's limit "
    "falls, at the baseline mean.",
    sweep_only=True,
)
