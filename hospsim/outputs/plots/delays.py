"""``delays``: delayed-transfer patients (daily mean) and emergencies waiting over 4 h and 12 h
for a bed (per week of arrival), median and 50% band across replications, per cell."""

from __future__ import annotations

import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...runs.results import Cell, Results
from ..selection import cell_label, select_cells
from .common import (
    FigureSpec,
    band,
    cell_colour,
    cell_style,
    date_axis,
    dates,
    new_figure,
    pivot,
    quantile_bands,
    shade_unmeasured,
    styled,
    suptitle,
    title_suffix,
    unmeasured_handle,
    weekly_totals,
)

PER_WEEK = "patients per week\n(by week of arrival)"
# (tag in gids, daily column, summed per week, title, y label)
PANELS = (
    (
        "delayed",
        "delayed_patients_mean",
        False,
        "Delayed transfers of care: medically fit patients still in an acute bed",
        "patients (daily mean)",
    ),
    ("wait4", "waits_over_4h", True, "Emergencies waiting over 4 hours for a bed (ED boarding)", PER_WEEK),
    ("wait12", "waits_over_12h", True, "Emergencies waiting over 12 hours for a bed", PER_WEEK),
)


def _panel(ax: Axes, res: Results, cells: list[Cell], daily: pd.DataFrame, panel: tuple) -> None:
    tag, col, weekly, title, ylabel = panel
    horizon = 0
    for i, cell in enumerate(cells):
        t = pivot(daily, cell, col)
        horizon = max(horizon, int(t.index.max()) + 1)
        if weekly:
            t = weekly_totals(t)
        bands = quantile_bands(t)
        gid = f"delays-{tag}-{i}"
        x = dates(cell, t.index)
        band(ax, x, bands, cell_colour(i), gid, wide=False, label=cell_label(cell), ls=cell_style(i), alpha=0.15)
    shade_unmeasured(ax, res, cells[0], horizon)
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    date_axis(ax)


@styled
def delays_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """Delayed-transfer patients (daily mean) and emergencies waiting over 4 h and 12 h for a
    bed (per week, by arrival), per cell: median and 50% band across replications.
    Artists: ``delays-<panel>-<i>-median|band50`` with panel ``delayed``, ``wait4``, ``wait12``."""
    cells = cells or select_cells(res)
    daily = res.daily(cells, ["delayed_patients_mean", "waits_over_4h", "waits_over_12h"])
    fig = new_figure(11, 10)
    axes = fig.subplots(3, 1, sharex=True)
    for ax, panel in zip(axes, PANELS):
        _panel(ax, res, cells, daily, panel)
    handles: list[Artist] = [
        Line2D([], [], color=cell_colour(i), ls=cell_style(i), lw=1.5, label=cell_label(c)) for i, c in enumerate(cells)
    ]
    handles += [Patch(color="0.5", alpha=0.3, label="50% of replications (shaded)"), unmeasured_handle(res)]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    suptitle(fig, f"{res.name}: delayed transfers and ED waits, median of {title_suffix(res)}")
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: delays_chart(res, choice.cells),
    title="Delayed transfers and ED waits",
    caption="Delayed transfers of care (medically fit patients still in an acute bed) and emergencies "
    "waiting over 4 and 12 hours for a bed, per week of arrival: median across replications "
    "with the middle 50% shaded.",
)
