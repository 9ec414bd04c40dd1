"""``waiting_list``: the elective waiting list over calendar dates (median and 50% / 90% bands
across replications), the share of the list waiting over 18 weeks per calendar month against
the 18-week standard, and cancelled elective admissions per 1,000 booked per month, per cell."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ...model import kpi_registry
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
)
from .fan import bed_events

LIST = "elective_waiting_list"
SHARE_KPI = "share_waiting_over_18_weeks"  # its monthly form: the ratio of sums drawn
CANCEL_KPI = "elective_cancellations_per_1000_booked"
# The 18-week RTT standard: 92% of the list within 18 weeks, so at most 8% over.
STANDARD = 0.08
STANDARD_LABEL = "18-week standard: 92% within 18 weeks"
STANDARD_COLOUR = "0.3"  # grey: no cell's colour
NO_ELECTIVES = "no elective demand (demand.elective), so no waiting list to draw"
# What "none" means on a monthly panel where nobody counts in any replication.
NOBODY = {
    SHARE_KPI: "Nobody on the list waited over 18 weeks, in any month or scenario shown",
    CANCEL_KPI: "No booked elective admission was cancelled, in any month or scenario shown",
}


@dataclass(frozen=True)
class _Drawn:
    """A cell drawn: its position among the cells asked for (its colour) and display name."""

    i: int
    cell: Cell
    name: str


def has_electives(cell: Cell) -> bool:
    """Whether a cell's config has elective demand (and so a waiting list)."""
    return bool((cell.config.get("demand") or {}).get("elective"))


def unavailable(res: Results) -> str | None:
    """Why a folder has no waiting-list figure: none of its configs has elective demand."""
    if any(has_electives(c) for c in res.cells):
        return None
    return f"{res.path}: {NO_ELECTIVES}"


def monthly_ratio(cell: Cell, daily: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """The monthly form of ``kpi`` (a ratio of sums over each calendar month's days) for one
    cell: one row per month (indexed by its first day), one column per replication; NaN where
    the denominator is 0."""
    form = kpi_registry.get(kpi).kpi.monthly
    assert form is not None and form.how == "ratio" and form.denominator is not None
    num = pivot(daily, cell, form.column)
    den = pivot(daily, cell, form.denominator)
    month = pd.DatetimeIndex(dates(cell, num.index).astype("datetime64[M]").astype("datetime64[s]"))
    out: pd.DataFrame = form.of_sums(num.groupby(month).sum(), den.groupby(month).sum())
    return out


def _month_steps(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """x (first day of each month, and the day after the last month) and the median across
    replications (the last value repeated), for a step line over whole months."""
    median = quantile_bands(table)["q50"].to_numpy()
    start = table.index.to_numpy().astype("datetime64[M]")
    x = np.append(start, start[-1] + 1).astype("datetime64[D]")
    return x, np.append(median, median[-1])


def _list_panel(ax: Axes, cells: list[_Drawn], daily: pd.DataFrame) -> None:
    for d in cells:
        t = pivot(daily, d.cell, LIST)
        x, colour, ls = dates(d.cell, t.index), cell_colour(d.i), cell_style(d.i)
        band(ax, x, quantile_bands(t), colour, f"wl-list-{d.i}", label=d.name, ls=ls, alpha=0.2)
    ax.set_title("Patients on the elective waiting list (at midnight)", loc="left")
    ax.set_ylabel("patients on the list")
    ax.set_ylim(bottom=0)


def _monthly_panel(ax: Axes, cells: list[_Drawn], daily: pd.DataFrame, kpi: str, tag: str) -> float | None:
    """Median across replications of a monthly ratio, as a step per month; returns its maximum,
    or None (and "None in any replication" drawn) if it is 0 in every month and replication."""
    tables = [monthly_ratio(d.cell, daily, kpi) for d in cells]
    if all_zero(tables):
        say_none(ax, NOBODY[kpi])
        return None
    top = 0.0
    for d, table in zip(cells, tables):
        x, y = _month_steps(table)
        gid = f"wl-{tag}-{d.i}-median"
        ax.plot(x, y, drawstyle="steps-post", color=cell_colour(d.i), ls=cell_style(d.i), lw=1.5, gid=gid)
        if np.isfinite(y).any():
            top = max(top, float(np.nanmax(y)))
    note_none(ax, [d.name for d, t in zip(cells, tables) if all_zero([t])])
    return top


def _share_panel(ax: Axes, cells: list[_Drawn], daily: pd.DataFrame) -> None:
    ax.set_title(f"{kpi_registry.get(SHARE_KPI).label.capitalize()}, per calendar month", loc="left")
    top = _monthly_panel(ax, cells, daily, SHARE_KPI, "share")
    if top is None:
        return
    ax.axhline(STANDARD, color=STANDARD_COLOUR, lw=1.4, ls=(0, (6, 2)), gid="wl-standard", zorder=3)
    ax.annotate(
        STANDARD_LABEL,
        (0.005, STANDARD),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        va="bottom",
        fontsize=9,
        color=STANDARD_COLOUR,
    )
    ax.set_ylabel("share waiting over 18 weeks")
    ax.set_ylim(0, max(top, 1.5 * STANDARD) * 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def _cancel_panel(ax: Axes, cells: list[_Drawn], daily: pd.DataFrame) -> None:
    ax.set_title(f"Elective {kpi_registry.get(CANCEL_KPI).label}, per calendar month", loc="left")
    top = _monthly_panel(ax, cells, daily, CANCEL_KPI, "cancel")
    if top is None:
        return
    ax.set_ylabel("cancellations\nper 1,000 booked")
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)


def _mark_bed_cuts(axes: list[Axes], cells: list[_Drawn], daily: pd.DataFrame) -> bool:
    """Bed cuts (or additions) of the plans that every replication has: a line in the cell's
    colour on every panel, noted once on the top panel. Returns whether any was marked."""
    noted: set[str] = set()
    for d in cells:
        i, cell = d.i, d.cell
        core = pivot(daily, cell, "beds_capacity") - pivot(daily, cell, "escalation_beds_open")
        for ev in bed_events(core):
            if ev.replication is not None:
                continue
            x0 = dates(cell, [ev.first_day])[0]
            for ax in axes:
                ax.axvline(x0, color=cell_colour(i), lw=1.0, ls=(0, (1, 3)), zorder=2)
            verb = "cut" if ev.after < ev.before else "added"
            note = f"beds {verb}: {ev.before:,} \u2192 {ev.after:,}"
            if note in noted:
                continue
            noted.add(note)
            axes[0].annotate(
                note,
                (x0, 0.97 - 0.08 * (len(noted) - 1)),
                xycoords=("data", "axes fraction"),
                xytext=(4, 0),
                textcoords="offset points",
                va="top",
                fontsize=9,
                color=cell_colour(i),
            )
    return bool(noted)


def _legend(res: Results, cells: list[_Drawn], cuts: bool) -> list[Artist]:
    handles: list[Artist] = [
        Line2D([], [], color=cell_colour(d.i), ls=cell_style(d.i), lw=1.5, label=f"{d.name} (median)") for d in cells
    ]
    handles += [
        Patch(color="0.5", alpha=0.35, label="50% of replications (list)"),
        Patch(color="0.5", alpha=0.15, label="90% of replications (list)"),
        Line2D([], [], color=STANDARD_COLOUR, lw=1.4, ls=(0, (6, 2)), label=STANDARD_LABEL + " (at most 8% over)"),
    ]
    if cuts:
        handles.append(Line2D([], [], color="0.3", lw=1.0, ls=(0, (1, 3)), label="bed cut (plan), cell's colour"))
    handles.append(unmeasured_handle(res))
    return handles


@styled
def waiting_list_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """The elective waiting list per cell: patients on the list (median, 50% / 90% bands across
    replications), the share waiting over 18 weeks per calendar month (median across replications
    of the monthly ratio of sums) against the 18-week standard (8% over), and cancellations per
    1,000 booked per month. Cells without electives are left out; with none, a figure that says so.
    Artists: ``wl-list-<i>-median|band50|band90``, ``wl-share-<i>-median``, ``wl-cancel-<i>-median``,
    ``wl-standard`` (``i``: the cell's position among ``cells``, as in the other figures)."""
    cells = cells or select_cells(res)
    drawn = [_Drawn(i, c, n) for i, (c, n) in enumerate(zip(cells, cell_names(res, cells))) if has_electives(c)]
    if not drawn:
        fig = new_figure(8, 2)
        fig.text(0.5, 0.5, NO_ELECTIVES[:1].upper() + NO_ELECTIVES[1:], ha="center", va="center", wrap=True)
        return fig
    share, cancel = kpi_registry.get(SHARE_KPI).kpi.monthly, kpi_registry.get(CANCEL_KPI).kpi.monthly
    assert share is not None and cancel is not None
    cols = [LIST, share.column, str(share.denominator), cancel.column, str(cancel.denominator)]
    daily = res.daily([d.cell for d in drawn], [*cols, "beds_capacity", "escalation_beds_open"])
    fig = new_figure(11, 10)
    axes = list(fig.subplots(3, 1, sharex=True, height_ratios=[3, 2, 1.4]))
    _list_panel(axes[0], drawn, daily)
    _share_panel(axes[1], drawn, daily)
    _cancel_panel(axes[2], drawn, daily)
    cuts = _mark_bed_cuts(axes, drawn, daily)
    horizon = int(daily["day"].max()) + 1
    for ax in axes:
        shade_unmeasured(ax, res, drawn[0].cell, horizon)
        date_axis(ax)
    fig.legend(handles=_legend(res, drawn, cuts), loc="outside lower center", ncol=2, frameon=False)
    title = figure_title(res, [d.cell for d in drawn], "Elective waiting list", title_suffix(res))
    suptitle(fig, title)
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: waiting_list_chart(res, choice.cells),
    title="Elective waiting list",
    caption="Patients on the elective waiting list at midnight: the line is the median across replications, "
    "the shaded bands hold the middle 50% and 90% of replications. Below, per calendar month (median across "
    "replications): the share of the list waiting over 18 weeks (patients over 18 weeks / patients on the "
    "list, summed over the month's midnights), with the 18-week standard (92% within 18 weeks, so at most "
    "8% over) dashed, and booked elective admissions cancelled per 1,000 booked. Dotted vertical lines: "
    "bed cuts of the plans. Hatched: days not counted in the KPIs. Not drawn without elective demand.",
    unavailable=unavailable,
)
