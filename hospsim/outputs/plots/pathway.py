"""``pathway`` (configs with onward routes between services): the patient pathway as a network,
acute beds → community services → home, one diagram per cell. Each arrow carries its share of
the patients leaving its place (as configured, and after the plan's change of the mix); each
place its capacity and, from the results (mean over replications), its mean occupied places,
its mean blocked patients (finished their stay, waiting to move on) with their share of its
places, and the share of patients who waited for a place in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from ...config import HOME, Config
from ...runs.results import Cell, Results
from ..labels import Labels, kpi_value, percent
from ..pathway import (
    ACUTE,
    Route,
    acute_routes,
    any_sends_on,
    pathway_order,
    pathway_steps,
    route_share,
    service_routes,
)
from ..selection import select_cells
from .common import OKABE_ITO, FigureSpec, cell_names, figure_title, names, new_figure, styled, suptitle, title_suffix

BOX = {"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "0.35", "lw": 1.0}
BLOCKING_BOX = {**BOX, "edgecolor": OKABE_ITO["vermillion"], "lw": 1.6}  # a place where patients were blocked
END_BOX = {**BOX, "facecolor": "0.94", "edgecolor": "0.6"}
ASPECT = 0.5  # a row (y unit) is 0.5 of a column (x unit) on the page, whatever the figure's size
ARROW: dict[str, Any] = {
    "arrowstyle": "-|>",
    "color": "0.3",
    "lw": 1.1,
    "mutation_scale": 12,
    "shrinkA": 3,
    "shrinkB": 3,
}


def _unavailable(res: Results) -> str | None:
    if any(any_sends_on(c.config) for c in res.cells):
        return None
    return "only for a config whose community services send patients on to other services (services.S.pathways)"


@dataclass(frozen=True)
class _Cell:
    """What one diagram shows: the config, the KPI means, the capacities in the window."""

    cfg: Config
    kpis: Mapping[str, float]
    capacity: Mapping[str, str]  # place -> "16 places", "16–24 places" (over the measured window)


def _capacity_words(values: np.ndarray, unit: str) -> str:
    lo, hi = (round(float(v)) for v in (np.nanmin(values), np.nanmax(values)))
    return f"{lo:,} {unit}" if lo == hi else f"{lo:,}\u2013{hi:,} {unit}"


def place_capacity(res: Results, cell: Cell) -> dict[str, str]:
    """The capacity of acute beds and of each service with a limit over the measured days, in
    words: ``45 beds``, ``16–24 places`` (as delivered, over every replication)."""
    cfg = res.config_of(cell)
    limited = [s for s, svc in cfg.services.items() if not svc.unlimited]
    daily = res.daily([cell], ["beds_capacity", *(f"{s}_capacity" for s in limited)])
    start, end = res.window
    d = daily[(daily["day"] >= start) & (daily["day"] < end)]
    capacity = {ACUTE: _capacity_words(d["beds_capacity"].to_numpy(), "beds")}
    return capacity | {s: _capacity_words(d[f"{s}_capacity"].to_numpy(), "places") for s in limited}


def _cell_data(res: Results, cell: Cell) -> _Cell:
    means = res.kpis_of(cell).mean(numeric_only=True)
    return _Cell(res.config_of(cell), {str(k): float(v) for k, v in means.items()}, place_capacity(res, cell))


def _value(data: _Cell, kpi: str) -> str:
    return kpi_value(kpi, data.kpis[kpi]) if kpi in data.kpis else "n/a"


def node_lines(data: _Cell, place: str, labels: Labels) -> list[str]:
    """The text of one place of the diagram, short lines so that its box stays narrow: its
    name, capacity, mean occupied, mean blocked (its share of the places), share who waited."""
    if place == HOME:
        return ["Home"]
    if place == ACUTE:
        occupied = _value(data, "mean_occupied_beds")
        return [
            "Acute beds",
            data.capacity[ACUTE],
            f"{occupied} occupied",
            f"{_value(data, 'mean_delayed_patients')} delayed",
        ]
    svc = data.cfg.services[place]
    lines = [
        labels.service(place),
        "unlimited places" if svc.unlimited else data.capacity[place],
        f"{_value(data, f'{place}_mean_occupied')} occupied",
    ]
    if svc.routes_onward:
        share = "" if svc.unlimited else f" ({percent(data.kpis.get(f'{place}_blocked_share'))})"
        lines.append(f"{_value(data, f'{place}_mean_blocked')} blocked{share}")
    if svc.service_kind.diverts_arrivals:
        lines.append("takes emergencies\non arrival")
    elif svc.unlimited:
        lines.append("nobody waits")
    else:
        lines.append(f"{percent(data.kpis.get(f'{place}_p_wait'))} waited")
    return lines


def _blocking(data: _Cell, place: str) -> bool:
    if place in (ACUTE, HOME):
        return place == ACUTE and data.kpis.get("mean_delayed_patients", 0.0) > 0
    return data.cfg.services[place].routes_onward and data.kpis.get(f"{place}_mean_blocked", 0.0) > 0


def layout(cfg: Config) -> dict[str, tuple[float, float]]:
    """Where each place sits: acute on the left, then each service in the column of its fewest
    transfers from acute, home on the right; places of a column spread top to bottom."""
    steps = {ACUTE: 0, **pathway_steps(cfg)}
    steps[HOME] = max(steps.values()) + 1
    columns: dict[int, list[str]] = {}
    for place in [ACUTE, *pathway_order(cfg), HOME]:
        columns.setdefault(steps[place], []).append(place)
    return {p: (float(col), (len(ps) - 1) / 2 - k) for col, ps in columns.items() for k, p in enumerate(ps)}


def _routes(cfg: Config) -> list[Route]:
    return [*acute_routes(cfg), *(r for s in pathway_order(cfg) for r in service_routes(cfg, s))]


@dataclass(frozen=True)
class _Curve:
    """How a route is drawn: arc3's bend (a share of the arrow's length on the page) and where
    its share is written."""

    rad: float
    label: tuple[float, float]


def _curve(r: Route, at: dict[str, tuple[float, float]]) -> _Curve:
    """A route to the next column is straight, its share written short of halfway (routes that
    cross between two columns keep their shares apart). A route that skips columns bends
    below every place, one that goes back bends above them, one within a column bends to the
    right, its share at the bend's apex (a quadratic Bézier reaches half its control point's
    offset). On the page a y unit is ASPECT x units, and arc3 bends by a share of the page length."""
    (x0, y0), (x1, y1) = at[r.source], at[r.target]
    ys = [y for _, y in at.values()]
    length = float(np.hypot(x1 - x0, ASPECT * (y1 - y0)))
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    if x1 - x0 == 1:
        return _Curve(0.0, (x0 + 0.42, y0 + 0.42 * (y1 - y0)))
    if x1 == x0:
        sideways = 0.4  # clear the column's boxes
        return _Curve(2 * sideways / length * np.sign(y0 - y1), (x0 + sideways, my))
    if x1 > x0:  # below the lowest place; longer routes, and routes from lower places, lower,
        # so that routes to one place nest and their shares stay apart
        dip = my - min(ys) + 0.55 + 0.2 * (x1 - x0 - 2) + 0.35 * (max(ys) - y0) / (max(ys) - min(ys) or 1)
        return _Curve(2 * dip * ASPECT / length, (mx, my - dip))
    rise = max(ys) - my + 0.55  # back along the chain: above the highest place
    return _Curve(2 * rise * ASPECT / length, (mx, my + rise))


def _extent(cfg: Config) -> tuple[float, float, float]:
    """The diagram's width, lowest and highest point in its units (columns, rows), curved
    routes' shares included."""
    at = layout(cfg)
    xs = [x for x, _ in at.values()]
    ys = [y for _, y in at.values()] + [_curve(r, at).label[1] for r in _routes(cfg)]
    return max(xs) - min(xs) + 1.1, min(ys) - 0.45, max(ys) + 0.45


def _draw_route(ax: Axes, r: Route, nodes: dict[str, Text], at: dict[str, tuple[float, float]], gid: str) -> None:
    """One route: an arrow between the frames of its places, and its share."""
    curve = _curve(r, at)
    arrow = FancyArrowPatch(
        at[r.source], at[r.target], connectionstyle=f"arc3,rad={curve.rad:.4f}",
        patchA=nodes[r.source].get_bbox_patch(), patchB=nodes[r.target].get_bbox_patch(),
        ls="--" if r.on_arrival else "-", zorder=6, **ARROW,
    )  # fmt: skip
    ax.add_patch(arrow)  # drawn after the boxes (zorder), whose frames, placed when drawn, clip it
    ax.text(*curve.label, route_share(r), ha="center", va="center", fontsize=8.5, color="0.15", gid=gid, zorder=7,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})  # fmt: skip


def _diagram(ax: Axes, data: _Cell, labels: Labels, i: int, title: str) -> None:
    at = layout(data.cfg)
    nodes: dict[str, Text] = {}
    for place, (x, y) in at.items():
        box = END_BOX if place == HOME else BLOCKING_BOX if _blocking(data, place) else BOX
        nodes[place] = ax.text(
            x, y, "\n".join(node_lines(data, place, labels)), ha="center", va="center", fontsize=8.5,
            bbox=box, gid=f"pathway-{i}-node-{place}", zorder=5, linespacing=1.4,
        )  # fmt: skip
    for r in _routes(data.cfg):
        _draw_route(ax, r, nodes, at, f"pathway-{i}-route-{r.source}-{r.target}")
    xs = [x for x, _ in at.values()]
    _, low, high = _extent(data.cfg)
    ax.set_xlim(min(xs) - 0.55, max(xs) + 0.55)
    ax.set_ylim(low, high)
    ax.set_aspect(ASPECT, adjustable="box")  # the curves' bends are computed for it
    ax.set_axis_off()
    ax.set_title(title, loc="left")


@styled
def pathway_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """The patient pathway of each cell as a network (acute → services → home): each route's
    share (text gid ``pathway-<i>-route-<from>-<to>``), each place's capacity and results (text
    gid ``pathway-<i>-node-<place>``); a place where patients were blocked has a vermillion frame."""
    cells = cells or select_cells(res)
    data = [_cell_data(res, c) for c in cells]
    labels = names(res)
    extents = [_extent(d.cfg) if d.cfg.has_onward_routes else (1.0, 0.0, 0.3) for d in data]
    columns = max(w for w, _, _ in extents)
    width = max(11.0, 2.4 * columns)
    # Each diagram's rows at ASPECT of a column's width on the page, and its title.
    heights = [(high - low) * ASPECT * (width - 0.4) / columns + 0.35 for _, low, high in extents]
    fig = new_figure(width, 0.8 + sum(heights))
    axes = fig.subplots(len(cells), 1, squeeze=False, height_ratios=heights)[:, 0]
    for i, (ax, d, title) in enumerate(zip(axes, data, cell_names(res, cells), strict=True)):
        if d.cfg.has_onward_routes:
            _diagram(ax, d, labels, i, title)
        else:
            ax.set_axis_off()
            ax.set_title(f"{title}: no onward routes between services", loc="left")
    suptitle(fig, figure_title(res, cells, "Patient pathway", title_suffix(res) + "; means over replications"))
    return fig


FIGURE = FigureSpec(
    draw=lambda res, choice: pathway_chart(res, choice.cells),
    title="Patient pathway",
    caption="Where patients go: from an acute bed to community services and on, each arrow with its share "
    "of the patients leaving its place (as configured; \u2192 the share after the plan's change). Each place: "
    "its capacity over the measured days; its mean occupied places; its mean blocked patients (finished their "
    "stay, waiting for the next service's assessment or a place there), in brackets their share of its places; "
    "and the share of patients who waited for a place in it. For acute beds: the mean delayed transfers "
    "(medically fit, waiting). Means over replications. A vermillion frame: patients were blocked there.",
    unavailable=_unavailable,
)
