"""``fan``: acute occupancy over calendar dates, median and 50% / 90% bands across replications,
beds open as a step line with 85% and 92% of it, bed cuts and gate openings marked. A cell whose
community services send patients on to others gets a panel below its own: medically fit patients
delayed in acute beds against patients blocked in community services, to show blocking passed
back along the chain."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...model import kpi_registry
from ...runs.results import Cell, Results
from ..labels import labels_of
from ..pathway import any_sends_on, pathway_order, place_words
from ..selection import select_cells
from .common import (
    OKABE_ITO,
    SMOOTH_DAYS,
    FigureSpec,
    band,
    cell_names,
    cell_style,
    date_axis,
    dates,
    figure_title,
    new_figure,
    pivot,
    quantile_bands,
    shade_unmeasured,
    smoothed_median,
    smoothing_words,
    styled,
    suptitle,
    title_suffix,
    unmeasured_handle,
)

BLUE = OKABE_ITO["blue"]
PURPLE = OKABE_ITO["purple"]
GREEN = OKABE_ITO["green"]
VERMILLION = OKABE_ITO["vermillion"]  # patients blocked in community services (as in ``services``)


@dataclass(frozen=True)
class PlanEvent:
    """A change of core acute beds, in one replication (or in all: ``replication`` None)."""

    first_day: int
    last_day: int
    before: int
    after: int
    replication: int | None


@dataclass
class _Marked:
    """Which kinds of plan event a figure marked (each gets a legend entry)."""

    kinds: dict[str, bool] = field(default_factory=lambda: {"cut": False, "varied": False, "gate": False})


def _events_of(days: np.ndarray, s: np.ndarray) -> list[tuple[int, int, int, int]]:
    """One replication's changes as (first day, last day, before, after); changes less than a
    month apart are one event (a ramp)."""
    change = np.flatnonzero(np.diff(s) != 0) + 1
    events: list[list[int]] = []
    for i in change:
        if events and days[i] - events[-1][1] <= 31:
            events[-1][1] = int(days[i])
            events[-1][3] = int(s[i])
        else:
            events.append([int(days[i]), int(days[i]), int(s[i - 1]), int(s[i])])
    return [(a, b, c, d) for a, b, c, d in events]


def bed_events(core: pd.DataFrame) -> list[PlanEvent]:
    """Changes of core beds (beds open minus winter escalation), grouped into events: changes
    less than a month apart (a ramp) are one event. ``core`` is day x replication."""
    days = core.index.to_numpy()
    per_rep = {int(rep): _events_of(days, core[rep].to_numpy()) for rep in core.columns}
    lists = list(per_rep.values())
    if lists and all(lst == lists[0] for lst in lists):
        return [PlanEvent(*e, replication=None) for e in lists[0]]
    return [PlanEvent(*e, replication=r) for r, lst in per_rep.items() for e in lst]


def gate_columns(kpis: pd.DataFrame) -> list[str]:
    """KPI columns holding the day each gate opened."""
    return [c for c in kpis.columns if c.startswith("gate_") and c.endswith("_open_day")]


def gate_label(column: str) -> str:
    """``gate_acute_beds_open_day`` -> ``acute beds`` (the gate the KPI registry reads in the name)."""
    subject = kpi_registry.get(column).subject or column
    return subject.replace("_", " ")


def _capacity(ax: Axes, x: np.ndarray, cap_t: pd.DataFrame, i: int) -> pd.Series:
    """Beds open (the median over replications, with their range if they differ), 85% and 92%."""
    if not bool((cap_t.nunique(axis=1) <= 1).all()):
        lo, hi = cap_t.min(axis=1), cap_t.max(axis=1)
        ax.fill_between(x, lo, hi, step="post", color="0.6", alpha=0.25, lw=0, gid=f"fan-{i}-caprange")
    cap = cap_t.median(axis=1)
    ax.step(x, cap, where="post", color="black", lw=1.4, gid=f"fan-{i}-capacity")
    ax.step(x, 0.92 * cap, where="post", color=OKABE_ITO["vermillion"], lw=1.0, ls="--", gid=f"fan-{i}-cap92")
    ax.step(x, 0.85 * cap, where="post", color=OKABE_ITO["orange"], lw=1.0, ls=":", gid=f"fan-{i}-cap85")
    return cap


def _mark_bed_events(ax: Axes, cell: Cell, core: pd.DataFrame, marked: _Marked) -> None:
    """Bed cuts (or additions) of the plan: a line and a note when every replication has them,
    a marker per replication when they differ."""
    for ev in bed_events(core):
        x0 = dates(cell, [ev.first_day])[0]
        if ev.replication is not None:
            marked.kinds["varied"] = True
            ax.plot([x0], [ev.after], marker="v", ms=7, color=PURPLE, ls="none", zorder=5)
            continue
        marked.kinds["cut"] = True
        if ev.last_day > ev.first_day:
            ax.axvspan(x0, dates(cell, [ev.last_day])[0], color=PURPLE, alpha=0.12, lw=0)
        ax.axvline(x0, color=PURPLE, lw=1.2, ls="-.")
        verb = "cut" if ev.after < ev.before else "added"
        ax.annotate(
            f"beds {verb}: {ev.before:,} \u2192 {ev.after:,}",
            (x0, 0.97),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            va="top",
            fontsize=9,
            color=PURPLE,
        )


def _mark_gates(ax: Axes, res: Results, cell: Cell, marked: _Marked) -> None:
    """Gate openings: one marker per replication at the day the gate opened."""
    kc = res.kpis_of(cell)
    for col in gate_columns(kc):
        opened = kc[col].dropna().to_numpy(dtype=float)
        if opened.size == 0:
            continue
        marked.kinds["gate"] = True
        gx = dates(cell, opened.astype(int))
        trans = ax.get_xaxis_transform()
        ax.plot(gx, np.full(gx.size, 0.03), transform=trans, marker="^", ms=8, color=GREEN, ls="none", zorder=5)
        ax.annotate(
            f"gate on {gate_label(col)} opened in {opened.size} of {len(kc)} replications",
            (gx.min(), 0.08),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=9,
            color=GREEN,
        )


@dataclass(frozen=True)
class _Panel:
    """One panel of the fan chart: its cell, position, title and the median's smoothing."""

    cell: Cell
    i: int
    title: str
    smooth_days: int


def _panel(ax: Axes, res: Results, daily: pd.DataFrame, p: _Panel, marked: _Marked) -> None:
    cell, i = p.cell, p.i
    occ = pivot(daily, cell, "occupied_beds_mean")
    cap_t = pivot(daily, cell, "beds_capacity")
    core = cap_t - pivot(daily, cell, "escalation_beds_open")
    x = dates(cell, occ.index)
    shade_unmeasured(ax, res, cell, int(occ.index.max()) + 1)
    bands = quantile_bands(occ)
    band(ax, x, smoothed_median(bands, p.smooth_days), BLUE, f"fan-{i}")
    cap = _capacity(ax, x, cap_t, i)
    top = float(np.nanmax([np.nanmax(cap.to_numpy()), np.nanmax(bands["q95"].to_numpy())])) * 1.12
    ax.set_ylim(0, top if top > 0 else 1)
    _mark_bed_events(ax, cell, core, marked)
    _mark_gates(ax, res, cell, marked)
    ax.set_title(p.title, loc="left")
    ax.set_ylabel("acute beds occupied\n(daily time-weighted mean)")
    date_axis(ax)


def _legend(res: Results, cells: list[Cell], marked: _Marked, smooth_days: int) -> list[Artist]:
    escalation = any((c.config.get("acute") or {}).get("escalation") for c in cells)
    median = smoothing_words(smooth_days) or "median (daily)"
    handles: list[Artist] = [
        Line2D([], [], color=BLUE, lw=1.5, label=median),
        Patch(color=BLUE, alpha=0.45, label="50% of replications"),
        Patch(color=BLUE, alpha=0.15, label="90% of replications"),
        Line2D(
            [], [], color="black", lw=1.4, label="beds open" + (" (core + winter escalation)" if escalation else "")
        ),
        Line2D([], [], color=OKABE_ITO["vermillion"], lw=1, ls="--", label="92% of beds open"),
        Line2D([], [], color=OKABE_ITO["orange"], lw=1, ls=":", label="85% of beds open"),
        unmeasured_handle(res),
    ]
    if marked.kinds["cut"]:
        handles.append(Line2D([], [], color=PURPLE, ls="-.", label="bed cut (plan)"))
    if marked.kinds["varied"]:
        handles.append(Line2D([], [], color=PURPLE, marker="v", ls="none", label="bed cut, per replication"))
    if marked.kinds["gate"]:
        handles.append(Line2D([], [], color=GREEN, marker="^", ls="none", label="gate opened, per replication"))
    return handles


def blocking_columns(res: Results, cell: Cell) -> list[str]:
    """The daily columns of patients blocked in the cell's community services, in pathway order
    (none without onward routes)."""
    if not any_sends_on(cell.config):
        return []  # read as written: figures of configs without a chain need no validation
    cfg = res.config_of(cell)
    return [f"{s}_blocked_mean" for s in pathway_order(cfg) if cfg.services[s].routes_onward]


def _blocking_panel(ax: Axes, res: Results, daily: pd.DataFrame, p: _Panel, columns: list[str]) -> None:
    """Delayed transfers in acute beds against patients blocked in community services (the sum
    over services, per replication and day): medians and 50% bands; gids
    ``fan-<i>-delayed-...`` and ``fan-<i>-blocked-...``."""
    cell, i = p.cell, p.i
    delayed = pivot(daily, cell, "delayed_patients_mean")
    blocked = sum((pivot(daily, cell, c) for c in columns[1:]), pivot(daily, cell, columns[0]))
    x = dates(cell, delayed.index)
    shade_unmeasured(ax, res, cell, int(delayed.index.max()) + 1)
    for table, colour, tag in ((delayed, BLUE, "delayed"), (blocked, VERMILLION, "blocked")):
        bands = smoothed_median(quantile_bands(table), p.smooth_days)
        band(ax, x, bands, colour, f"fan-{i}-{tag}", wide=False, ls=cell_style(0), alpha=0.2)
    labels = labels_of(res.experiment)
    names = ", ".join(place_words(c.removesuffix("_blocked_mean"), labels) for c in columns)
    ax.set_title(f"{p.title}: delayed in acute beds, and blocked in {names}", loc="left", fontsize=10)
    ax.set_ylabel("patients waiting\nto move on (daily mean)")
    ax.set_ylim(bottom=0)
    date_axis(ax)


def _blocking_handles() -> list[Artist]:
    return [
        Line2D([], [], color=BLUE, lw=1.5, label="lower panel: medically fit patients delayed in acute beds"),
        Line2D(
            [], [], color=VERMILLION, lw=1.5,
            label="lower panel: patients blocked in community services\n(finished their stay, waiting to move on)",
        ),
    ]  # fmt: skip


def _chain_chart(res: Results, cells: list[Cell], smooth_days: int, blocking: list[list[str]]) -> Figure:
    """The fan chart with, under each cell whose services send patients on, its blocking panel."""
    cols = ["occupied_beds_mean", "beds_capacity", "escalation_beds_open", "delayed_patients_mean"]
    daily = res.daily(cells, [*cols, *(c for b in blocking for c in b)])
    ratios = [r for b in blocking for r in ([3.1, 1.5] if b else [3.1])]
    fig = new_figure(11, 1.6 + sum(ratios))
    axes = list(fig.subplots(len(ratios), 1, sharex=True, squeeze=False, height_ratios=ratios)[:, 0])
    marked = _Marked()
    for i, (cell, title) in enumerate(zip(cells, cell_names(res, cells), strict=True)):
        p = _Panel(cell, i, title, smooth_days)
        _panel(axes.pop(0), res, daily, p, marked)
        if blocking[i]:
            _blocking_panel(axes.pop(0), res, daily, p, blocking[i])
    handles = [*_legend(res, cells, marked, smooth_days), *_blocking_handles()]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    suptitle(fig, figure_title(res, cells, "Acute beds occupied", title_suffix(res)))
    return fig


@styled
def fan_chart(res: Results, cells: list[Cell] | None = None, smooth_days: int = SMOOTH_DAYS) -> Figure:
    """Occupied acute beds over calendar dates, one panel per cell: the median across
    replications (its ``smooth_days``-day centred rolling mean; 0 or 1: daily) and the daily 50% /
    90% bands, beds open (step line) with 85% and 92% of it, bed cuts and gate openings marked.
    A cell with onward routes between services gets a panel below: delayed transfers in acute
    beds and patients blocked in community services (median and 50% band).
    Artists: ``fan-<i>-median|band50|band90|capacity|cap85|cap92``, ``fan-<i>-delayed-...`` and
    ``fan-<i>-blocked-median|band50``."""
    cells = cells or select_cells(res)
    blocking = [blocking_columns(res, c) for c in cells]
    if any(blocking):
        return _chain_chart(res, cells, smooth_days, blocking)
    daily = res.daily(cells, ["occupied_beds_mean", "beds_capacity", "escalation_beds_open"])
    fig = new_figure(11, 1.6 + 3.1 * len(cells))
    axes = fig.subplots(len(cells), 1, sharex=True, squeeze=False)[:, 0]
    marked = _Marked()
    for i, (ax, cell, title) in enumerate(zip(axes, cells, cell_names(res, cells))):
        _panel(ax, res, daily, _Panel(cell, i, title, smooth_days), marked)
    fig.legend(handles=_legend(res, cells, marked, smooth_days), loc="outside lower center", ncol=3, frameon=False)
    spread = title_suffix(res)
    suptitle(fig, figure_title(res, cells, "Acute beds occupied", spread))
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: fan_chart(res, choice.cells, choice.smooth_days),
    title="Acute bed occupancy over time",
    caption="Occupied acute beds per day (time-weighted daily mean): the line is the median across "
    f"replications ({SMOOTH_DAYS}-day rolling mean of the daily median unless stated otherwise), the shaded "
    "bands hold the middle 50% and 90% of replications on each day. The black step line "
    "is the beds open; dashed and dotted lines are 92% and 85% of it. Bed cuts in the plan and gate "
    "openings are marked. Hatched: days not counted in the KPIs.",
    more_caption=lambda res: (
        " Below each panel of a config whose community services send patients on: medically fit patients "
        "delayed in acute beds against patients blocked in community services (finished their stay, waiting "
        "to move on), median and middle 50% of replications."
        if any(any_sends_on(c.config) for c in res.cells)
        else ""
    ),
)
