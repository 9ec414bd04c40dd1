"""``forest`` (sweeps): the paired change from the baseline in the criteria's KPIs (first) and a
few key ones, per scenario at the chosen sweep point, with 95% CIs.

A relative change reads well only where the baseline is not near zero: a KPI whose 95% CI spans
more than ±100% of its baseline mean in any scenario (or whose baseline is 0) would set the
x-range and squash the rest, so it is not drawn but listed in a table below the plot, as a change
in its own unit (percentage points, hours, patients)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from ...runs.errors import ResultsError
from ...runs.results import Cell, Results
from ..labels import Labels, kpi_change, kpi_value
from ..selection import select_cells
from .common import (
    NONE_TEXT,
    FigureSpec,
    cell_colour,
    cell_names,
    figure_title,
    names,
    new_figure,
    styled,
    suptitle,
    title_suffix,
)

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
# A KPI is drawn as a relative change only if, in every scenario, its 95% CI spans at most this
# much of its baseline mean either side (1.0: ±100%); otherwise it goes to the table below.
MAX_RELATIVE_HALF_WIDTH = 1.0
MARKERS = ("o", "s", "D", "^", "v", "P", "X")
LIMIT_COLOUR = "0.15"  # near-black: no scenario colour (scenarios start at blue)
GROUP_COLOUR = "0.35"


def _row(cell: Cell, name: str, kpi: str, r: pd.Series, criterion: bool) -> dict[str, Any]:
    """One KPI of one cell, with its change relative to the baseline mean (NaN if that is 0)."""
    b = float(r["baseline_mean"])
    ok = math.isfinite(b) and b != 0
    lo, hi = (float(r["ci_low"]) / abs(b), float(r["ci_high"]) / abs(b)) if ok else (math.nan, math.nan)
    return {
        "cell": cell.key,
        "label": name,
        "scenario": cell.scenario,
        "point": cell.point,
        "kpi": kpi,
        "criterion": criterion,
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
    """Paired differences at the chosen sweep point for the criteria's KPIs (first, flagged in
    ``criterion``) and a few key ones, as relative change from the baseline with its 95% CI
    (``rel``, ``rel_low``, ``rel_high``; NaN where the baseline mean is 0 or undefined).
    ``relative`` says whether the KPI is drawn as a relative change (its baseline is not 0 and
    its CI spans at most ±100% of it in every scenario) or listed in absolute terms."""
    p = res.paired
    if p is None or p.empty:
        raise ResultsError(f"{res.path}: no paired differences (paired_differences.csv is empty)")
    all_cells = select_cells(res, scenario, point)
    cells, labels = all_cells[1:], cell_names(res, all_cells)[1:]
    crit = list(dict.fromkeys(c["kpi"] for c in res.experiment.get("criteria") or []))
    kpis = [k for k in dict.fromkeys([*crit, *FOREST_KPIS]) if k in set(p["kpi"])]
    rows = []
    for cell, name in zip(cells, labels):
        g = p[(p["scenario"] == cell.scenario) & (p["point"] == cell.point)].set_index("kpi")
        rows += [_row(cell, name, k, g.loc[k], k in crit) for k in kpis if k in g.index]
    data = pd.DataFrame(rows)
    if not data.empty:
        half = (data["rel_high"] - data["rel_low"]) / 2
        fine = np.isfinite(data["rel"]) & (half <= MAX_RELATIVE_HALF_WIDTH)
        data["relative"] = fine.groupby(data["kpi"]).transform("all")
    return data


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
    offsets = np.linspace(0.22, -0.22, len(cells)) if len(cells) > 1 else [0.0]
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
        # A change of several times the baseline (with a narrow CI): keep -100..+100% linear.
        ax.set_xscale("symlog", linthresh=100)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:+.0f}%" if round(v) else "0%"))
    ax.set_xlabel("change from the baseline (% of the baseline mean; paired by replication, 95% CI)")
    ax.grid(axis="y", visible=False)


def _kpi_axis(ax: Axes, labels: Labels, kpis: list[str], crit: set[str], base: pd.Series) -> None:
    """KPI names with their baseline as tick labels, the criteria first and in bold, and the
    two groups named."""
    n = len(kpis)
    ticks = [f"{labels.kpi(k)}\n(baseline {kpi_value(k, base[k], with_unit=True)})" for k in kpis]
    ax.set_yticks([n - 1 - j for j in range(n)], ticks)
    for tick, k in zip(ax.get_yticklabels(), kpis):
        tick.set_fontweight("bold" if k in crit else "normal")
    ax.set_ylim(-0.6, max(n, 1) - 0.4)
    n_crit = sum(k in crit for k in kpis)
    if 0 < n_crit < n:
        ax.axhline(n - n_crit - 0.5, color="0.6", lw=0.8, ls=(0, (4, 3)))
        for y, text in ((n - 0.5, "The plan's criteria"), (n - n_crit - 0.5, "Other measures")):
            where = ax.get_yaxis_transform()
            ax.text(1.0, y, text, transform=where, ha="right", va="top", fontsize=9, color=GROUP_COLOUR, style="italic")


def _change_text(kpi: str, r: pd.Series) -> str:
    """A change with its 95% CI in the KPI's unit, the unit written once; "None in any
    replication" where neither the baseline nor the scenario has any."""
    if not any(float(r[c]) for c in ("baseline_mean", "scenario_mean", "ci_low", "ci_high")):
        return f"{NONE_TEXT},\nbaseline or scenario"
    mid, lo, hi = (kpi_change(kpi, r[c], with_unit=True) for c in ("difference", "ci_low", "ci_high"))
    unit = mid.split(" ", 1)[1] if " " in mid else ""
    if unit:
        lo, hi = (t.removesuffix(" " + unit) for t in (lo, hi))
    return f"{mid}\n95% CI {lo} to {hi}"


def _absolute_table(ax: Axes, res: Results, rows: pd.DataFrame, cells: list[str], crit: set[str]) -> None:
    """The KPIs not drawn as relative changes: their baseline and each scenario's change in their
    own unit, with its 95% CI."""
    labels = names(res)
    kpis = list(dict.fromkeys(rows["kpi"]))
    cell_label = rows.drop_duplicates("cell").set_index("cell")["label"]
    # Long scenario names wrap: a table cell clips its text at the figure's edge.
    header = ["Measure", "Baseline", *[textwrap.fill(f"{cell_label[c]}: change", 26) for c in cells]]
    body = []
    for k in kpis:
        g = rows[rows["kpi"] == k].set_index("cell")
        base = kpi_value(k, g["baseline_mean"].iloc[0], with_unit=True)
        body.append([labels.kpi(k), base, *[_change_text(k, g.loc[c]) if c in g.index else "" for c in cells]])
    ax.axis("off")
    widths = [0.3, 0.18, *[0.52 / len(cells)] * len(cells)]
    table = ax.table(
        cellText=body,
        colLabels=header,
        colWidths=widths,
        cellLoc="left",
        colLoc="left",
        bbox=Bbox.from_bounds(0, 0, 1, 1),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (r, _c), cell in table.get_celld().items():
        cell.set_edgecolor("0.85")
        if r == 0 or (r > 0 and _c == 0 and kpis[r - 1] in crit):
            cell.get_text().set_fontweight("bold")
    table.set_gid("forest-absolute")
    ax.set_title(
        f"Near zero or rare at the baseline (95% CI wider than \u00b1{MAX_RELATIVE_HALF_WIDTH:.0%} of it): "
        "change in their own units",
        loc="left",
        fontsize=10,
    )


@styled
def forest_plot(res: Results, point: int | None = None, scenario: Iterable[str] | None = None) -> Figure:
    """Change from the baseline, paired by replication, of the criteria's KPIs (first, in bold)
    and key KPIs, per scenario at the chosen sweep point: relative change (%) with the 95% CI;
    KPIs near zero at the baseline in a table below, in their own units. Artists: ``forest-<i>``
    (one errorbar line per scenario; x = relative change in %) and ``forest-absolute`` (the table)."""
    data = forest_data(res, point, scenario)
    all_cells = select_cells(res, scenario, point)
    shown = data[data["relative"]] if not data.empty else data
    rest = data[~data["relative"]] if not data.empty else data
    kpis = list(dict.fromkeys(shown["kpi"])) if not shown.empty else []
    cells = list(dict.fromkeys(data["cell"])) if not data.empty else []
    crit = set(data.loc[data["criterion"], "kpi"]) if not data.empty else set()
    n_rest = rest["kpi"].nunique() if not rest.empty else 0
    main_h = 0.3 + (0.5 + 0.12 * len(cells)) * max(1, len(kpis))
    table_h = (0.5 + 0.5 * n_rest) if n_rest else 0.0
    fig = new_figure(11, 1.9 + main_h + table_h)
    if n_rest:
        # Two subfigures: the table takes the whole width, not the plot's (its KPI names at the
        # left would push the table's right columns off the figure).
        top, bottom = np.asarray(fig.subfigures(2, 1, height_ratios=[main_h, table_h])).ravel()
        ax, ax_table = top.subplots(), bottom.subplots()
    else:
        ax, ax_table = fig.subplots(), None
    ypos = {k: len(kpis) - 1 - j for j, k in enumerate(kpis)}
    _draw_cells(ax, shown, cells, ypos)
    ax.axvline(0, color="0.3", lw=1)
    base_by_kpi = data.groupby("kpi")["baseline_mean"].first() if not data.empty else pd.Series(dtype=float)
    drew_limit = _draw_limits(ax, res, base_by_kpi, ypos)
    _kpi_axis(ax, names(res), kpis, crit, base_by_kpi)
    _x_axis(ax)
    handles, _labels = ax.get_legend_handles_labels()
    if drew_limit:
        handles.append(Line2D([], [], color=LIMIT_COLOUR, lw=2.5, label="criterion's limit (at the baseline mean)"))
    # Above the plot, not under the table below it.
    long_names = sum(len(h.get_label()) for h in handles) > 80  # one row would run off the figure
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2 if long_names else 3, frameon=False)
    if ax_table is not None:
        _absolute_table(ax_table, res, rest, cells, crit)
    detail = f"paired by replication, {title_suffix(res)}"
    suptitle(fig, figure_title(res, all_cells, "What the plan changes: change from the baseline", detail))
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: forest_plot(res, choice.point, choice.scenario),
    title="What the plan changes",
    caption="Change from the baseline, replication by replication (same patients), as a share of the "
    "baseline mean, with 95% confidence intervals; the plan's criteria first, in bold. Thick dark bars: "
    "where a criterion's limit falls, at the baseline mean. Measures near zero at the baseline (95% CI "
    "wider than \u00b1100% of it) are in the table below, as changes in their own units.",
    sweep_only=True,
)
