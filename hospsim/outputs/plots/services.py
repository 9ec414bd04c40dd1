"""``services``: each community service's occupied places against its capacity as delivered,
and its waiting list (patients ready to transfer with no place yet); a waiting list that stays
empty in every replication says so."""

from __future__ import annotations

import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...config import STEP_UP
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
    names,
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

NO_QUEUE_NOTE = "Nobody waits for step-up: it takes a suitable emergency\nonly if a place is free; otherwise the patient is admitted."


def services_of(cell: Cell) -> list[str]:
    """The community services of a cell's config."""
    return list((cell.config.get("services") or {}).keys())


def _draw_occupancy(ax: Axes, svc: str, cells: list[Cell], daily: pd.DataFrame) -> None:
    """Occupied places with capacity of one service for every cell that has it."""
    for i, cell in enumerate(cells):
        if svc not in services_of(cell):
            continue
        colour, ls = cell_colour(i), cell_style(i)
        occ = pivot(daily, cell, f"{svc}_occupied_mean")
        x = dates(cell, occ.index)
        band(ax, x, quantile_bands(occ), colour, f"svc-{svc}-{i}", ls=ls, alpha=0.2)
        cap = pivot(daily, cell, f"{svc}_capacity").median(axis=1)
        ax.step(x, cap, where="post", color=colour, lw=2.2, alpha=0.6, ls=ls, gid=f"svc-{svc}-{i}-capacity")
    ax.set_ylabel("places")
    ax.set_ylim(bottom=0)


def _draw_queue(ax: Axes, svc: str, cells: list[Cell], daily: pd.DataFrame, labels: list[str]) -> None:
    """The waiting list of one service for every cell that has it; "None in any replication"
    if it stays empty in all of them, and the cells where it does named."""
    queues = {i: pivot(daily, c, f"{svc}_queue_mean") for i, c in enumerate(cells) if svc in services_of(c)}
    if all_zero(queues.values()):
        say_none(ax, "Nobody waited for a place, on any day, in any scenario shown")
        return
    for i, q in queues.items():
        x = dates(cells[i], q.index)
        band(ax, x, quantile_bands(q), cell_colour(i), f"queue-{svc}-{i}", wide=False, ls=cell_style(i), alpha=0.15)
    note_none(ax, [labels[i] for i, q in queues.items() if all_zero([q])])
    ax.set_ylabel("patients ready to transfer,\nno place yet (daily mean)")
    ax.set_ylim(bottom=0)


def _draw_service(axes: tuple[Axes, Axes], res: Results, svc: str, cells: list[Cell], daily: pd.DataFrame) -> None:
    """One row of the figure: a service's places and capacity, and its waiting list."""
    ax_occ, ax_q = axes
    name = names(res).service(svc)
    _draw_occupancy(ax_occ, svc, cells, daily)
    ax_occ.set_title(f"{name}: occupied places and capacity", loc="left")
    if svc == STEP_UP:
        # Step-up has no waiting list: say why rather than draw an empty panel.
        ax_q.set_title(f"{name}: no waiting list", loc="left")
        ax_q.text(0.5, 0.5, NO_QUEUE_NOTE, transform=ax_q.transAxes, ha="center", va="center", fontsize=9, color="0.3")
        ax_q.set_yticks([])
    else:
        ax_q.set_title(f"{name}: waiting list", loc="left")
        _draw_queue(ax_q, svc, cells, daily, cell_names(res, cells))


def _legend(res: Results, cells: list[Cell]) -> list[Artist]:
    handles: list[Artist] = [
        Line2D([], [], color=cell_colour(i), ls=cell_style(i), lw=1.5, label=name)
        for i, name in enumerate(cell_names(res, cells))
    ]
    return [
        *handles,
        Line2D([], [], color="0.3", lw=2.2, alpha=0.6, label="capacity (places as delivered; thick line)"),
        Patch(color="0.5", alpha=0.3, label="50% / 90% of replications (shaded)"),
        unmeasured_handle(res),
    ]


@styled
def services_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """For each community service: occupied places (median, 90% band) against its capacity
    (step line, as delivered), and its waiting list (patients ready to transfer with no place).
    Artists: ``svc-<service>-<i>-median|band50|band90|capacity`` and ``queue-<service>-<i>-...``."""
    cells = cells or select_cells(res)
    names = list(dict.fromkeys(s for c in cells for s in services_of(c)))
    if not names:
        fig = new_figure(8, 2)
        fig.text(0.5, 0.5, "No community services in this config", ha="center", va="center")
        return fig
    cols = [f"{s}_{k}" for s in names for k in ("occupied_mean", "capacity", "queue_mean")]
    daily = res.daily(cells, cols)
    fig = new_figure(12, 1.2 + 2.9 * len(names))
    axes = fig.subplots(len(names), 2, sharex=True, squeeze=False)
    horizon = int(daily["day"].max()) + 1
    for row, svc in enumerate(names):
        pair = (axes[row][0], axes[row][1])
        for ax in pair:
            shade_unmeasured(ax, res, cells[0], horizon)
            date_axis(ax)
        _draw_service(pair, res, svc, cells, daily)
    fig.legend(handles=_legend(res, cells), loc="outside lower center", ncol=2, frameon=False)
    suptitle(fig, figure_title(res, cells, "Community services", title_suffix(res)))
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: services_chart(res, choice.cells),
    title="Community services",
    caption="Each community service: occupied places against its capacity as delivered (thick line), "
    "and its waiting list (patients ready to transfer with no place yet); a waiting list that stays "
    "empty in every replication says so.",
)
