"""``exceedance``: the share of measured days above each level of occupancy, per cell (the
baseline against the plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ...runs.results import Cell, Results
from ..selection import select_cells
from .common import (
    OKABE_ITO,
    FigureSpec,
    cell_colour,
    cell_names,
    cell_style,
    dates,
    figure_title,
    new_figure,
    styled,
    suptitle,
    title_suffix,
)

EXCEEDANCE_LEVELS = np.arange(300, 1301) / 1000  # 30% .. 130%, 0.1% steps (0.85 and 0.92 exact)


def exceedance(res: Results, cell: Cell, daily: pd.DataFrame, levels: np.ndarray) -> np.ndarray:
    """Share of measured days with occupancy above each level, pooled over replications (the
    mean of each replication's share, as ``share_days_over_85pct`` is averaged)."""
    d = daily[(daily["scenario"] == cell.scenario) & (daily["point"] == cell.point)]
    d = d[(d["day"] >= res.window[0]) & (d["day"] < res.window[1])]
    cap = d["beds_capacity"].to_numpy(dtype=float)
    occ = d["occupied_beds_mean"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        occupancy = np.where(cap > 0, occ / np.where(cap > 0, cap, 1.0), np.where(occ > 0, np.inf, 0.0))
    reps = d["replication"].to_numpy()
    shares = [(occupancy[reps == r][:, None] > levels[None, :]).mean(axis=0) for r in np.unique(reps)]
    return np.mean(shares, axis=0)


def _curves(ax: Axes, res: Results, cells: list[Cell], daily: pd.DataFrame) -> tuple[float, float]:
    """One curve per cell; returns the occupancy range worth showing (lowest, top)."""
    top, lowest = 1.0, 1.0
    for i, (cell, name) in enumerate(zip(cells, cell_names(res, cells))):
        share = exceedance(res, cell, daily, EXCEEDANCE_LEVELS)
        ax.plot(
            EXCEEDANCE_LEVELS * 100,
            share * 100,
            color=cell_colour(i),
            lw=1.8,
            ls=cell_style(i),
            gid=f"exceed-{i}",
            label=name,
        )
        above = EXCEEDANCE_LEVELS[share > 0]
        if above.size:
            top = max(top, float(above.max()) + 0.02)
        below = EXCEEDANCE_LEVELS[share < 1]
        if below.size:
            lowest = min(lowest, float(below.min()) - 0.05)
    return lowest, top


def _thresholds(ax: Axes) -> None:
    for level, colour, ls in ((85, OKABE_ITO["orange"], ":"), (92, OKABE_ITO["vermillion"], "--")):
        ax.axvline(level, color=colour, ls=ls, lw=1)
        ax.annotate(
            f"{level}%",
            (level, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            color=colour,
            fontsize=9,
        )


@styled
def exceedance_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """Share of measured days whose occupancy (time-weighted, of beds open) is above each level,
    per cell. Artists: ``exceed-<i>`` (x in %, y in % of days)."""
    cells = cells or select_cells(res)
    daily = res.daily(cells, ["occupied_beds_mean", "beds_capacity"])
    fig = new_figure(9, 5.6)
    ax = fig.subplots()
    lowest, top = _curves(ax, res, cells, daily)
    _thresholds(ax)
    ax.set_xlim(max(30.0, 100 * lowest), min(130.0, 100 * top))
    ax.set_ylim(0, 102)
    ax.set_xlabel("bed occupancy (% of beds open, daily time-weighted mean)")
    ax.set_ylabel("days above that occupancy (% of days)")
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    start, end = res.window
    c0 = cells[0]
    period = f"{_day(dates(c0, [start])[0])} to {_day(dates(c0, [end - 1])[0])}"
    subtitle = f"Measured days, {period}, pooled over {title_suffix(res)}"
    ax.set_title(subtitle, loc="left", fontsize=10, fontweight="normal")
    ax.legend(loc="lower left", frameon=False)
    suptitle(fig, figure_title(res, cells, "Days above each level of bed occupancy"))
    return fig


def _day(day: np.datetime64) -> str:
    """A date as a person writes it: ``22 Mar 2018``."""
    return pd.Timestamp(day).strftime("%-d %b %Y")


FIGURE = FigureSpec(
    draw=lambda res, choice: exceedance_chart(res, choice.cells),
    title="Days at high occupancy",
    caption="For each occupancy level on the x-axis, the share of measured days whose occupancy "
    "(of beds open) was above it, pooled over replications. A curve further right means "
    "more days at high occupancy; read off the share of days above 85% and 92%.",
)
