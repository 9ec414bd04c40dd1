"""``robustness`` (sweeps): the share of replications in which the plan holds over the swept
parameters, one panel per scenario, in the units of the question (months late, % of plan), the
cells where it holds in at least 90% of replications outlined along their edges, and a marker on
each cell where the averages (one stock-and-flow run of the cell) say it holds."""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...analysis.verdicts import HOLDS
from ...runs.errors import ResultsError
from ...runs.results import Results
from ..errors import OptionError
from ..labels import Labels, param_axis, param_scale, percent
from ..tables import flow_verdicts_of
from .common import (
    ALL_CRITERIA,
    MAP_CMAP,
    OKABE_ITO,
    FigureSpec,
    names,
    new_figure,
    styled,
    suptitle,
)

# The line on the map: the edge of the cells where the plan holds in at least HOLDS of
# replications (the report's "holds"), drawn along cell edges so it never crosses a cell's label;
# vermillion reads on both ends of the cividis map.
BOUNDARY_COLOUR = OKABE_ITO["vermillion"]
BOUNDARY_STYLE: dict[str, Any] = {
    "colors": BOUNDARY_COLOUR,
    "linewidths": 3.0,
    "capstyle": "projecting",
    "clip_on": False,  # whole on the map's border too
}


def param_columns(verdicts: pd.DataFrame) -> list[str]:
    """The ``param_<name>`` columns of a verdict table (the swept parameters)."""
    return [c for c in verdicts.columns if c.startswith("param_")]


def unavailable(res: Results) -> str | None:
    """Why a folder has no robustness map (None if it has one)."""
    v = res.verdicts
    if v is None or v.empty or not param_columns(v):
        return f"{res.path} has no verdicts over swept parameters to map"
    return None


def _verdicts(res: Results, criterion: str) -> pd.DataFrame:
    """The verdict rows of ``criterion`` at the swept points; a folder or criterion with none is an error."""
    v = res.verdicts
    if v is None or v.empty:
        raise ResultsError(f"{res.path}: the experiment states no criteria, so there is nothing to map")
    known = list(dict.fromkeys(v["criterion"]))
    if criterion not in known:
        raise OptionError(f"--criterion {criterion}: not in {res.path / 'verdicts.csv'} (criteria: {'; '.join(known)})")
    if not param_columns(v):
        raise ResultsError(f"{res.path}: nothing is swept, so there is no robustness map")
    return v[(v["criterion"] == criterion) & (v["point"] >= 0)]


def robustness_data(res: Results, criterion: str = ALL_CRITERIA) -> dict[str, pd.DataFrame]:
    """Per swept scenario, the share of replications in which ``criterion`` holds, as a table
    (rows: second parameter, columns: first parameter; one column if one parameter is swept).
    With more than two parameters, shares are averaged over the others."""
    v = _verdicts(res, criterion)
    params = param_columns(v)
    out = {}
    for scen, g in v.groupby("scenario", sort=False):
        if len(params) == 1:
            out[str(scen)] = g.groupby(params[0])["share_holds"].mean().to_frame().T
        else:
            out[str(scen)] = g.pivot_table(index=params[1], columns=params[0], values="share_holds", aggfunc="mean")
    return out


# The marker on cells where the averages say the plan (or criterion) holds: a small black diamond
# edged in white, read on both ends of the cividis map, in the cell's top-right corner.
AVERAGES_MARKER: dict[str, Any] = {"marker": "D", "color": "black", "edgecolors": "white", "linewidths": 1.0}


def averages_hold(res: Results, criterion: str = ALL_CRITERIA) -> pd.DataFrame | None:
    """The swept cells where what averages promise is that ``criterion`` holds (their scenario,
    point and ``param_*`` values); None when the sweep ran no flow model."""
    fv = flow_verdicts_of(res)
    if fv is None:
        return None
    return fv[(fv["criterion"] == criterion) & (fv["point"] >= 0) & fv["flow_holds"].astype(bool)]


def _averages_marks(ax: Axes, scen: str, table: pd.DataFrame, held: pd.DataFrame, params: list[str], grid: bool) -> int:
    """Mark the panel's cells (grid) or points (sampled) where the averages say it holds
    (gid ``robust-<scenario>-averages``); returns how many were marked."""
    rows = held[held["scenario"] == scen]
    if rows.empty or len(params) > 2:  # more than two parameters: the map averages over the others
        return 0
    if grid:
        x = [_position(table.columns, v) + 0.32 for v in rows[params[0]]]
        y = [_position(table.index, v) + 0.32 for v in rows[params[1]]] if len(params) == 2 else [0.32] * len(x)
        ax.scatter(x, y, s=28, zorder=6, gid=f"robust-{scen}-averages", clip_on=False, **AVERAGES_MARKER)
    else:
        xs, ys = rows[params[0]].to_numpy(float), rows[params[1]].to_numpy(float)
        ax.scatter(xs, ys, s=220, zorder=2, gid=f"robust-{scen}-averages", facecolors="none", edgecolors="black")
    return len(rows)


def _position(values: pd.Index, value: float) -> int:
    """The place of a swept value among the map's (as read back from CSV or Parquet)."""
    return int(np.argmin(np.abs(values.to_numpy(dtype=float) - float(value))))


def _grid_labels(ax: Axes, z: np.ndarray, xs: list, ys: list, rows: pd.DataFrame, params: list[str]) -> None:
    """Each cell's share at its centre, with its 95% CI below it when two parameters span a
    small grid."""
    for yi, yv in enumerate(ys):
        for xi, xv in enumerate(xs):
            val = z[yi, xi]
            if np.isnan(val):
                continue
            colour = "white" if val < 0.55 else "black"  # contrast on the cividis map
            ci = ""
            if len(params) == 2 and len(xs) * len(ys) <= 36:
                r = rows[(rows[params[0]] == xv) & (rows[params[1]] == yv)]
                if len(r) == 1:
                    ci = f"{100 * r['ci_low'].iloc[0]:.0f}\u2013{percent(r['ci_high'].iloc[0], 0)}"
            y_share = yi + (0.1 if ci else 0)
            ax.text(xi, y_share, percent(val, 0), ha="center", va="center", fontsize=10, weight="bold", color=colour)
            if ci:
                ax.text(xi, yi - 0.2, ci, ha="center", va="center", fontsize=7.5, color=colour)


def holding_edges(z: np.ndarray, level: float = HOLDS) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The outline of the cells whose share is at least ``level``, as segments along cell edges
    (cell (row, col) spans col ± 0.5, row ± 0.5): every edge between a holding cell and a cell
    that does not hold or the border of the grid."""
    holds = np.nan_to_num(z, nan=-1.0) >= level
    padded = np.pad(holds, 1, constant_values=False)
    segments = []
    for r, c in zip(*np.nonzero(holds)):
        pr, pc = r + 1, c + 1
        if not padded[pr, pc - 1]:
            segments.append(((c - 0.5, r - 0.5), (c - 0.5, r + 0.5)))
        if not padded[pr, pc + 1]:
            segments.append(((c + 0.5, r - 0.5), (c + 0.5, r + 0.5)))
        if not padded[pr - 1, pc]:
            segments.append(((c - 0.5, r - 0.5), (c + 0.5, r - 0.5)))
        if not padded[pr + 1, pc]:
            segments.append(((c - 0.5, r + 0.5), (c + 0.5, r + 0.5)))
    return [((float(a), float(b)), (float(c), float(d))) for (a, b), (c, d) in segments]


def _grid_panel(ax: Axes, scen: str, table: pd.DataFrame, rows: pd.DataFrame, params: list[str]) -> Any:
    """A grid sweep (or one parameter): a coloured mesh with each cell's share at its centre and
    the outline of the cells that hold (gid ``robust-<scenario>-holds``) along cell edges."""
    xs, ys = list(table.columns), list(table.index)
    z = table.to_numpy(dtype=float)
    xe, ye = np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5
    mesh = ax.pcolormesh(
        xe, ye, z, cmap=MAP_CMAP, vmin=0, vmax=1, gid=f"robust-{scen}", edgecolors="white", linewidth=0.5
    )
    _grid_labels(ax, z, xs, ys, rows, params)
    edges = holding_edges(z)
    if edges:
        ax.add_collection(LineCollection(edges, gid=f"robust-{scen}-holds", zorder=5, **BOUNDARY_STYLE))
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    if len(params) == 1:
        ax.set_yticks([])
    ax.grid(False)
    return mesh


def _scatter_panel(ax: Axes, scen: str, rows: pd.DataFrame, params: list[str]) -> Any:
    """A sampled sweep: one dot per point, its share beside it, and the HOLDS contour by
    triangulation (gid ``robust-<scenario>-holds``)."""
    x, y, s = (rows[params[0]].to_numpy(float), rows[params[1]].to_numpy(float), rows["share_holds"].to_numpy(float))
    mesh = ax.scatter(x, y, c=s, cmap=MAP_CMAP, vmin=0, vmax=1, s=90, edgecolors="0.3", gid=f"robust-{scen}", zorder=3)
    if len(x) <= 40:
        for xi, yi, si in zip(x, y, s):
            ax.annotate(
                percent(si, 0),
                (xi, yi),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color="0.2",
            )
    if len(x) >= 4 and np.ptp(s) > 0 and s.max() >= HOLDS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = ax.tricontour(x, y, s, levels=[HOLDS], colors=BOUNDARY_COLOUR, linewidths=3.0)
            c.set_gid(f"robust-{scen}-holds")
        except (ValueError, RuntimeError):
            pass  # points on a line or too few distinct ones: no contour
    for lim, vals in ((ax.set_xlim, x), (ax.set_ylim, y)):
        pad = 0.08 * (np.ptp(vals) or 1.0)
        lim(vals.min() - pad, vals.max() + pad)
    return mesh


def _axes_in_words(ax: Axes, labels: Labels, params: list[str], grid: bool, table: pd.DataFrame | None) -> None:
    """Axis labels and ticks in the units a reader knows (months late, % of plan)."""
    for i, axis in enumerate((ax.xaxis, ax.yaxis)[: min(2, len(params))]):
        label, fmt = param_axis(labels, params[i][len("param_") :])
        axis.set_label_text(label)
        if grid and table is not None:
            values = table.columns if i == 0 else table.index
            axis.set_ticks(range(len(values)), [fmt(float(v)) for v in values])
        else:
            # Sampled values: ticks at round values of the display unit (whole months, 10%s).
            scale = param_scale(labels, params[i][len("param_") :])
            lo, hi = ax.get_xlim() if i == 0 else ax.get_ylim()
            locator = matplotlib.ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 3, 5, 6, 10], integer=True)
            ticks = [float(t) / scale for t in locator.tick_values(lo * scale, hi * scale)]
            inside = [t for t in ticks if lo <= t <= hi]
            axis.set_ticks(inside, [fmt(t) for t in inside])


def _legend_and_titles(
    fig: Figure,
    res: Results,
    axes: list[Axes],
    mesh: Any,
    criterion: str,
    params: list[str],
    grid: bool,
    marked: bool = False,
) -> None:
    subject = "the plan" if criterion == ALL_CRITERIA else "the criterion"
    if mesh is not None:
        cb = fig.colorbar(mesh, ax=list(axes), shrink=0.9)
        cb.set_label(f"replications in which {subject} holds")
        cb.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    line = "outline of the cells where" if grid else "contour where"
    words = f"{line} {subject} holds in at least {percent(HOLDS)} of replications"
    outline = Line2D([], [], color=BOUNDARY_COLOUR, lw=3.0, label=words)
    handles = [outline]
    if marked:  # only where some cell is marked: the legend never names a marker not drawn
        where = "cells" if grid else "points"
        label = f"{where} where the averages (the stock-and-flow model) say {subject} holds"
        if grid:
            handles.append(
                Line2D([], [], ls="", ms=6, markeredgecolor="white", markerfacecolor="black", marker="D", label=label)
            )
        else:
            handles.append(
                Line2D([], [], ls="", ms=12, markeredgecolor="black", markerfacecolor="none", marker="o", label=label)
            )
    fig.legend(handles=handles, loc="outside lower center", frameon=False, ncols=len(handles))
    labels = names(res)
    extra = f"; averaged over {', '.join(labels.parameter(p[6:]) for p in params[2:])}" if len(params) > 2 else ""
    per = "cell" if grid else "point"
    ci = "; under each share, its 95% confidence interval" if grid and len(params) == 2 else ""
    if criterion == ALL_CRITERIA:
        title = "Where the plan holds: share of replications in which all its criteria hold"
        detail = f"{res.replications:,} replications per {per}{extra}{ci}"
    else:
        title = f"Where one criterion holds: \u2018{criterion}\u2019"
        detail = f"Share of replications in which it holds, {res.replications:,} per {per}{extra}{ci}"
    suptitle(fig, f"{title}\n{detail}")


def _count_holding(ax: Axes, shares: np.ndarray, grid: bool) -> None:
    """How many of the panel's cells (or sampled points) hold, at the panel's top right."""
    n, held = int(np.isfinite(shares).sum()), int((np.nan_to_num(shares, nan=-1.0) >= HOLDS).sum())
    what = "cells" if grid else "points"
    text = f"{held} of {n} {what} hold (\u2265 {percent(HOLDS)})"
    ax.set_title(text, loc="right", fontsize=9, fontweight="normal", color="0.3")


@styled
def robustness_map(res: Results, criterion: str = ALL_CRITERIA) -> Figure:
    """Share of replications in which the plan holds over the two swept parameters, one panel
    per scenario, in the units a reader knows, the cells where it holds in at least 90% of
    replications outlined along their edges. Artists: ``robust-<scenario>`` (the mesh, its array
    in the table's row order), ``robust-<scenario>-holds`` (the outline, if any cell holds) and
    ``robust-<scenario>-averages`` (the markers of the cells where the averages say it holds)."""
    data = robustness_data(res, criterion)
    v = _verdicts(res, criterion)
    params = param_columns(v)
    grid = ((res.experiment.get("sweep") or {}).get("method") or "grid") == "grid" or len(params) == 1
    fig = new_figure(max(8.0, 1.4 + 4.8 * len(data)), 5.6)
    axes = list(fig.subplots(1, len(data), squeeze=False)[0])
    mesh = None
    labels = names(res)
    held = averages_hold(res, criterion)
    marked = 0
    for ax, (scen, table) in zip(axes, data.items()):
        rows = v[v["scenario"] == scen]
        mesh = _grid_panel(ax, scen, table, rows, params) if grid else _scatter_panel(ax, scen, rows, params)
        marked += _averages_marks(ax, scen, table, held, params, grid) if held is not None else 0
        _axes_in_words(ax, labels, params, grid, table)
        # The name a line above the count (which is at the right): a long name never runs into it.
        ax.set_title(f"{labels.scenario(scen)}\n", loc="left")
        _count_holding(ax, table.to_numpy(dtype=float) if grid else rows["share_holds"].to_numpy(dtype=float), grid)
    _legend_and_titles(fig, res, axes, mesh, criterion, params, grid, marked > 0)
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: robustness_map(res, choice.criterion),
    title="Where the plan holds: robustness map",
    caption="Share of replications in which every criterion of the plan holds, for each combination "
    "of the swept parameters, with its 95% Wilson interval below it. The thick vermillion (orange-red) "
    "line outlines the cells where the plan holds in at least 90% of replications; where the sweep ran the "
    "stock-and-flow model, a black diamond marks the cells where the averages (its one run of the cell) say the "
    "plan holds.",
    sweep_only=True,
    unavailable=unavailable,
)
