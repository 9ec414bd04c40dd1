"""``delays``: delayed-transfer patients (daily mean) and emergencies waiting over 4 h and 12 h
for a bed (per week of arrival), median and 50% band across replications, per cell; a panel
where nobody was delayed or waited, in any replication, says so."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...runs.results import Cell, Results
from ..selection import select_cells
from .common import (
    FigureSpec,
    all_zero,
    band,
    cell_colour,
    cell_names,
    cell_style,
    date_axis,
    dates,
    figure_title,
    new_figure,
    note_none,
    pivot,
    quantile_bands,
    say_none,
    shade_unmeasured,
    styled,
    suptitle,
    title_suffix,
    unmeasured_handle,
    weekly_totals,
)

PER_WEEK = "emergencies per week\n(by week of arrival)"


@dataclass(frozen=True)
class DelayPanel:
    """A panel: its tag in gids, daily column, whether summed per week, title, y label, and what
    "none" means when nobody in any replication counts."""

    tag: str
    column: str
    weekly: bool
    title: str
    ylabel: str
    nobody: str


PANELS = (
    DelayPanel(
        "delayed",
        "delayed_patients_mean",
        False,
        "Delayed transfers of care: medically fit patients still in an acute bed",
        "patients (daily mean)",
        "No medically fit patient waited in an acute bed for a community place",
    ),
    DelayPanel(
        "wait4",
        "waits_over_4h",
        True,
        "Emergencies waiting over 4 hours for a bed (ED boarding)",
        PER_WEEK,
        "No emergency waited over 4 hours for a bed",
    ),
    DelayPanel(
        "wait12",
        "waits_over_12h",
        True,
        "Emergencies waiting over 12 hours for a bed",
        PER_WEEK,
        "No emergency waited over 12 hours for a bed",
    ),
)


def _panel(ax: Axes, res: Results, cells: list[Cell], daily: pd.DataFrame, panel: DelayPanel) -> None:
    horizon = 0
    labels = cell_names(res, cells)
    tables = {}
    for i, cell in enumerate(cells):
        t = pivot(daily, cell, panel.column)
        horizon = max(horizon, int(t.index.max()) + 1)
        tables[i] = weekly_totals(t) if panel.weekly else t
    shade_unmeasured(ax, res, cells[0], horizon)
    ax.set_title(panel.title, loc="left")
    date_axis(ax)
    if all_zero(tables.values()):
        # An empty frame reads as missing data: say that nobody, in any replication, counts.
        say_none(ax, f"{panel.nobody}, on any day, in any scenario shown")
        return
    for i, cell in enumerate(cells):
        t = tables[i]
        x = dates(cell, t.index)
        gid = f"delays-{panel.tag}-{i}"
        band(ax, x, quantile_bands(t), cell_colour(i), gid, wide=False, label=labels[i], ls=cell_style(i), alpha=0.15)
    note_none(ax, [labels[i] for i, t in tables.items() if all_zero([t])])
    ax.set_ylabel(panel.ylabel)
    ax.set_ylim(bottom=0)


@styled
def delays_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """Delayed-transfer patients (daily mean) and emergencies waiting over 4 h and 12 h for a
    bed (per week, by arrival), per cell: median and 50% band across replications. A panel with
    none in any replication says "None in any replication" instead (gid ``none``).
    Artists: ``delays-<panel>-<i>-median|band50`` with panel ``delayed``, ``wait4``, ``wait12``."""
    cells = cells or select_cells(res)
    daily = res.daily(cells, [p.column for p in PANELS])
    fig = new_figure(11, 10)
    axes = fig.subplots(3, 1, sharex=True)
    for ax, panel in zip(axes, PANELS):
        _panel(ax, res, cells, daily, panel)
    handles: list[Artist] = [
        Line2D([], [], color=cell_colour(i), ls=cell_style(i), lw=1.5, label=f"{name} (median)")
        for i, name in enumerate(cell_names(res, cells))
    ]
    handles += [Patch(color="0.5", alpha=0.3, label="middle 50% of replications (shaded)"), unmeasured_handle(res)]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    title = figure_title(res, cells, "Delayed transfers and emergencies waiting for a bed", title_suffix(res))
    suptitle(fig, title)
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: delays_chart(res, choice.cells),
    title="Delayed transfers and ED waits",
    caption="Delayed transfers of care (medically fit patients still in an acute bed) and emergencies "
    "waiting over 4 and 12 hours for a bed, per week of arrival: median across replications "
    "with the middle 50% shaded. A panel where nobody counts in any replication says so.",
)
