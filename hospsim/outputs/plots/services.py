"""``services``: each community service's occupied places against its capacity as delivered,
and its waiting list (patients ready to transfer with no place yet); a waiting list that stays
empty in every replication says so. With onward routes between services (a chain), the services
are in the order patients reach them, each titled with where its patients go next, and the
patients blocked in it (finished their stay, waiting to move on) are a hatched band of their own;
a service of ``capacity: unlimited`` has no capacity line and no waiting list."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...config import STEP_UP
from ...config.schema import UNLIMITED
from ...runs.results import Cell, Results
from ..pathway import any_sends_on, onward_words, pathway_order, sends_on
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
UNLIMITED_NOTE = "Capacity unlimited: nobody waits for a place.\nIts assessment before moving in is spent\nin the place the patient is in."
HATCH = "\\\\\\\\"  # patients blocked in a service, in the cell's colour (unlike the warm-up's //)


def services_of(cell: Cell) -> list[str]:
    """The community services of a cell's config."""
    return list((cell.config.get("services") or {}).keys())


@dataclass(frozen=True)
class _Service:
    """What the figure needs of a service, read from the config as written (no validation)."""

    unlimited: bool
    routes_onward: bool


def _service(cell: Cell, svc: str) -> _Service:
    written = (cell.config.get("services") or {}).get(svc) or {}
    return _Service(written.get("capacity") == UNLIMITED, sends_on(written))


def service_order(res: Results, cells: list[Cell]) -> list[str]:
    """The services of the cells in the order patients reach them (acute's destinations first,
    then theirs); the config's order when no service sends patients on."""
    return list(
        dict.fromkeys(
            s for c in cells for s in (pathway_order(res.config_of(c)) if any_sends_on(c.config) else services_of(c))
        )
    )


def _columns(res: Results, cells: list[Cell], names: list[str]) -> list[str]:
    """The daily columns drawn: capacity only for a service with a limit (an unlimited one has
    none), blocked patients only for a service with onward routes."""
    cols = []
    for s in names:
        svcs = [_service(c, s) for c in cells if s in services_of(c)]
        cols.append(f"{s}_occupied_mean")
        if any(not x.unlimited for x in svcs):
            cols.append(f"{s}_capacity")
        cols.append(f"{s}_queue_mean")
        if any(x.routes_onward for x in svcs):
            cols.append(f"{s}_blocked_mean")
    return cols


def _draw_blocked(ax: Axes, x: np.ndarray, blocked: pd.DataFrame, gid: str, colour: str, ls: str) -> None:
    """Patients blocked in a service: the median as a hatched area from 0 (part of the places
    held) and its thin line, in the cell's colour; gids ``<gid>-blocked-median`` (the line) and
    ``<gid>-blocked-area``."""
    med = quantile_bands(blocked)["q50"]
    ax.fill_between(x, 0, med, facecolor="none", edgecolor=colour, hatch=HATCH, lw=0, gid=f"{gid}-blocked-area")
    ax.plot(x, med, color=colour, lw=0.9, ls=ls, gid=f"{gid}-blocked-median", zorder=5)


def _draw_occupancy(ax: Axes, res: Results, svc: str, cells: list[Cell], daily: pd.DataFrame) -> None:
    """Occupied places with capacity (and blocked patients) of one service for every cell that has it."""
    for i, cell in enumerate(cells):
        if svc not in services_of(cell):
            continue
        colour, ls = cell_colour(i), cell_style(i)
        occ = pivot(daily, cell, f"{svc}_occupied_mean")
        x = dates(cell, occ.index)
        band(ax, x, quantile_bands(occ), colour, f"svc-{svc}-{i}", ls=ls, alpha=0.2)
        service = _service(cell, svc)
        if service.routes_onward:
            _draw_blocked(ax, x, pivot(daily, cell, f"{svc}_blocked_mean"), f"svc-{svc}-{i}", colour, ls)
        if service.unlimited:
            continue  # no limit: no capacity line
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


def _no_queue(ax: Axes, title: str, note: str) -> None:
    """A service nobody waits for: say why rather than draw an empty panel."""
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.3")
    ax.set_yticks([])


def _occupancy_title(res: Results, cell: Cell, svc: str, name: str) -> str:
    """``Rehab: occupied places and capacity``; for a service that sends patients on, where
    they go (``Rehab → home 60%, care home 40%``) over what is drawn."""
    service = _service(cell, svc)
    drawn = "places in use (no capacity limit)" if service.unlimited else "occupied places and capacity"
    if not service.routes_onward:
        return f"{name}: {drawn}"
    blocked = "places in use and blocked (no capacity limit)" if service.unlimited else "occupied, blocked, capacity"
    return f"{name} \u2192 {onward_words(res.config_of(cell), svc, names(res))}\n{blocked}"


def _draw_service(axes: tuple[Axes, Axes], res: Results, svc: str, cells: list[Cell], daily: pd.DataFrame) -> None:
    """One row of the figure: a service's places and capacity, and its waiting list."""
    ax_occ, ax_q = axes
    name = names(res).service(svc)
    first = next(c for c in cells if svc in services_of(c))
    _draw_occupancy(ax_occ, res, svc, cells, daily)
    ax_occ.set_title(_occupancy_title(res, first, svc, name), loc="left")
    if svc == STEP_UP:
        # Step-up has no waiting list: say why rather than draw an empty panel.
        _no_queue(ax_q, f"{name}: no waiting list", NO_QUEUE_NOTE)
    elif _service(first, svc).unlimited:
        _no_queue(ax_q, f"{name}: no waiting list", UNLIMITED_NOTE)
    else:
        ax_q.set_title(f"{name}: waiting list", loc="left")
        _draw_queue(ax_q, svc, cells, daily, cell_names(res, cells))


def _legend(res: Results, cells: list[Cell], blocked: bool) -> list[Artist]:
    handles: list[Artist] = [
        Line2D([], [], color=cell_colour(i), ls=cell_style(i), lw=1.5, label=name)
        for i, name in enumerate(cell_names(res, cells))
    ]
    handles += [
        Line2D([], [], color="0.3", lw=2.2, alpha=0.6, label="capacity (places as delivered; thick line)"),
        Patch(color="0.5", alpha=0.3, label="50% / 90% of replications (shaded)"),
    ]
    if blocked:
        label = "of which blocked: finished their stay, waiting to move on (median, hatched)"
        handles.append(Patch(facecolor="none", edgecolor="0.3", hatch=HATCH, lw=0, label=label))
    return [*handles, unmeasured_handle(res)]


@styled
def services_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """For each community service, in the order patients reach them: occupied places (median,
    90% band) against its capacity (step line, as delivered; none if unlimited), the patients
    blocked in it if it sends patients on (median, hatched), and its waiting list (patients ready
    to transfer with no place). Artists: ``svc-<service>-<i>-median|band50|band90|capacity``,
    ``svc-<service>-<i>-blocked-median|blocked-area`` and ``queue-<service>-<i>-...``."""
    cells = cells or select_cells(res)
    names = service_order(res, cells)
    if not names:
        fig = new_figure(8, 2)
        fig.text(0.5, 0.5, "No community services in this config", ha="center", va="center")
        return fig
    cols = _columns(res, cells, names)
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
    blocked = any(c.endswith("_blocked_mean") for c in cols)
    fig.legend(handles=_legend(res, cells, blocked), loc="outside lower center", ncol=2, frameon=False)
    suptitle(fig, figure_title(res, cells, "Community services", title_suffix(res)))
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: services_chart(res, choice.cells),
    title="Community services",
    caption="Each community service: occupied places against its capacity as delivered (thick line), "
    "and its waiting list (patients ready to transfer with no place yet); a waiting list that stays "
    "empty in every replication says so.",
    more_caption=lambda res: (
        " Services are in the order patients reach them, each titled with where its patients go next; "
        "hatched: patients blocked in it (finished their stay, waiting for the next service's assessment or a "
        "place there). A service of unlimited capacity has no capacity line and no waiting list."
        if any(any_sends_on(c.config) for c in res.cells)
        else ""
    ),
)
