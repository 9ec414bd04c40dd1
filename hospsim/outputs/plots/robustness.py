"""``robustness`` (sweeps): the share of replications in which the plan holds over the swept
parameters, one panel per scenario, with the 50% and 90% contours."""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib.artist
import matplotlib.patheffects as patheffects
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...runs.errors import ResultsError
from ...runs.results import Results
from ..errors import OptionError
from ..tables import fmt_number
from .common import (
    ALL_CRITERIA,
    MAP_CMAP,
    OKABE_ITO,
    FigureSpec,
    new_figure,
    param_label,
    styled,
    suptitle,
)

CONTOUR_COLOURS = (OKABE_ITO["vermillion"], "black")  # 50%, 90%
CONTOUR_STYLE: dict[str, Any] = {
    "levels": [0.5, 0.9],
    "colors": CONTOUR_COLOURS,
    "linewidths": 2,
    "linestyles": ["--", "-"],
}
HALO: list[patheffects.AbstractPathEffect] = [
    patheffects.withStroke(linewidth=4.5, foreground="white")
]  # visible on dark and light cells


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


def _halo(contours: Any) -> None:
    """A white halo around contour lines (a ContourSet is one artist from matplotlib 3.8)."""
    if isinstance(contours, matplotlib.artist.Artist):
        contours.set_path_effects(HALO)
    else:  # matplotlib 3.7: one collection per level
        for c in contours.collections:
            c.set_path_effects(HALO)


def _grid_labels(ax: Axes, z: np.ndarray, xs: list, ys: list, rows: pd.DataFrame, params: list[str]) -> None:
    """Each cell's share, with its CI when two parameters span a small grid."""
    for yi, yv in enumerate(ys):
        for xi, xv in enumerate(xs):
            val = z[yi, xi]
            if np.isnan(val):
                continue
            label = f"{val:.0%}"
            if len(params) == 2 and len(xs) * len(ys) <= 36:
                r = rows[(rows[params[0]] == xv) & (rows[params[1]] == yv)]
                if len(r) == 1:
                    label += f"\n({r['ci_low'].iloc[0]:.0%}\u2013{r['ci_high'].iloc[0]:.0%})"
            ax.text(xi, yi, label, ha="center", va="center", fontsize=9, color="white" if val < 0.55 else "black")


def _grid_panel(ax: Axes, scen: str, table: pd.DataFrame, rows: pd.DataFrame, params: list[str]) -> Any:
    """A grid sweep (or one parameter): a coloured mesh with labels and contours."""
    xs, ys = list(table.columns), list(table.index)
    z = table.to_numpy(dtype=float)
    xe, ye = np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5
    mesh = ax.pcolormesh(
        xe, ye, z, cmap=MAP_CMAP, vmin=0, vmax=1, gid=f"robust-{scen}", edgecolors="white", linewidth=0.5
    )
    _grid_labels(ax, z, xs, ys, rows, params)
    if min(z.shape) >= 2 and np.isfinite(z).all() and np.nanmin(z) < np.nanmax(z):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _halo(ax.contour(np.arange(len(xs)), np.arange(len(ys)), z, **CONTOUR_STYLE))
    ax.set_xticks(range(len(xs)), [fmt_number(float(x)) for x in xs])
    if len(params) > 1:
        ax.set_yticks(range(len(ys)), [fmt_number(float(y)) for y in ys])
    else:
        ax.set_yticks([])
    ax.grid(False)
    return mesh


def _scatter_panel(ax: Axes, scen: str, rows: pd.DataFrame, params: list[str]) -> Any:
    """A sampled sweep: one dot per point, contours by triangulation."""
    x, y, s = (rows[params[0]].to_numpy(float), rows[params[1]].to_numpy(float), rows["share_holds"].to_numpy(float))
    mesh = ax.scatter(x, y, c=s, cmap=MAP_CMAP, vmin=0, vmax=1, s=90, edgecolors="0.3", gid=f"robust-{scen}", zorder=3)
    if len(x) <= 40:
        for xi, yi, si in zip(x, y, s):
            ax.annotate(
                f"{si:.0%}", (xi, yi), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8, color="0.2"
            )
    if len(x) >= 4 and np.ptp(s) > 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _halo(ax.tricontour(x, y, s, **CONTOUR_STYLE))
        except (ValueError, RuntimeError):
            pass  # points on a line or too few distinct ones: no contour
    for lim, vals in ((ax.set_xlim, x), (ax.set_ylim, y)):
        pad = 0.08 * (np.ptp(vals) or 1.0)
        lim(vals.min() - pad, vals.max() + pad)
    return mesh


def _legend_and_titles(
    fig: Figure, res: Results, axes: list[Axes], mesh: Any, criterion: str, params: list[str]
) -> None:
    if mesh is not None:
        cb = fig.colorbar(mesh, ax=list(axes), shrink=0.9)
        cb.set_label("share of replications in which the plan holds")
        cb.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    fig.legend(
        handles=[
            Line2D([], [], color=CONTOUR_COLOURS[0], lw=2, ls="--", label="50% contour", path_effects=HALO),
            Line2D([], [], color=CONTOUR_COLOURS[1], lw=2, label="90% contour", path_effects=HALO),
        ],
        loc="outside lower center",
        ncol=2,
        frameon=False,
    )
    what = "the plan holds (all criteria)" if criterion == ALL_CRITERIA else f"'{criterion}' holds"
    extra = f"; averaged over {', '.join(p[6:] for p in params[2:])}" if len(params) > 2 else ""
    suptitle(fig, f"{res.name}: share of replications in which {what}, n = {res.replications} per cell{extra}")


@styled
def robustness_map(res: Results, criterion: str = ALL_CRITERIA) -> Figure:
    """Share of replications in which the plan holds over the two swept parameters, one panel
    per scenario, with the 50% and 90% contours. Artists: ``robust-<scenario>`` (the mesh, its
    array in the table's row order)."""
    data = robustness_data(res, criterion)
    v = _verdicts(res, criterion)
    params = param_columns(v)
    grid = ((res.experiment.get("sweep") or {}).get("method") or "grid") == "grid" or len(params) == 1
    fig = new_figure(max(8.0, 1.2 + 4.6 * len(data)), 5.2)
    axes = list(fig.subplots(1, len(data), squeeze=False)[0])
    mesh = None
    for ax, (scen, table) in zip(axes, data.items()):
        rows = v[v["scenario"] == scen]
        mesh = _grid_panel(ax, scen, table, rows, params) if grid else _scatter_panel(ax, scen, rows, params)
        ax.set_xlabel(param_label(res, params[0][len("param_") :]))
        if len(params) > 1:
            ax.set_ylabel(param_label(res, params[1][len("param_") :]))
        ax.set_title(scen, loc="left")
    _legend_and_titles(fig, res, axes, mesh, criterion, params)
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: robustness_map(res, choice.criterion),
    title="Where the plan holds: robustness map",
    caption="Share of replications in which every criterion of the plan holds, for each combination "
    "of the swept parameters (95% Wilson interval in brackets). Dashed contour: 50%; "
    "solid white contour: 90%.",
    sweep_only=True,
    unavailable=unavailable,
)
