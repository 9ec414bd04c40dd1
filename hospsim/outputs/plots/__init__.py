"""Figures from a results folder of ``hospsim run`` or ``hospsim sweep``.

Every figure function takes a :class:`~hospsim.runs.results.Results` (see
:func:`~hospsim.runs.results.load_results`) and returns a matplotlib
:class:`~matplotlib.figure.Figure` drawn with the Agg backend, without pyplot (no global figure
state). The data drawn is exactly what the results tables hold, so tests check figures by their
content: the median and quantile bands recomputed from ``daily.parquet``, the capacity line
against ``beds_capacity``, the robustness map against ``verdicts.csv``.

Figures (names as in ``hospsim plot --what``), one module each:

``fan``         acute occupancy over calendar dates: median (a 7-day rolling mean of it by
                default) and 50% / 90% bands across replications, beds open as a step line,
                85% and 92% of it, plan events marked
``delays``      delayed-transfer patients and ED waits over 4 h and 12 h per week
``waiting_list`` the elective waiting list (median and 50% / 90% bands), the share waiting over
                18 weeks per month against the 92% standard, cancellations per 1,000 booked
``services``    each community service: occupied places against capacity, and its waiting list
                (with a chain of services: in pathway order, blocked patients hatched)
``pathway``     (configs with onward routes between services) the network acute → services →
                home: each route's share, each place's capacity, occupancy, blocking, P(wait)
``exceedance``  share of days above each level of occupancy, baseline against the plan
``robustness``  (sweeps) share of replications in which the plan holds over the swept parameters
``forest``      (sweeps) paired change from the baseline in key KPIs, with 95% CIs

Every figure reads in display names (:mod:`hospsim.outputs.labels`: the experiment's
``labels``, else the KPI registry's and the swept parameters' words), dates carry their year on
every tick, and a panel with nothing to draw (nobody waited, in any replication) says so.

To add a figure, write a module with its function and a :class:`FigureSpec` (``FIGURE``), and add
one entry to :data:`REGISTRY`.

Output files are deterministic: fixed fonts (DejaVu Sans, bundled with matplotlib), no dates or
software versions in the metadata, and a fixed SVG hash salt.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from ...runs.results import Cell, Results, load_results, on_time_point, points, scenarios
from ...runs.store import atomic_write
from ..errors import OptionError
from ..selection import cell_label, params_text, select_cells
from . import delays, exceedance, fan, forest, pathway, robustness, services, waiting_list
from .common import (
    ALL_CRITERIA,
    MAP_CMAP,
    METADATA,
    NONE_TEXT,
    SMOOTH_DAYS,
    STYLE,
    Choice,
    FigureSpec,
    find,
    pivot,
    quantile_bands,
    weekly_totals,
)
from .delays import delays_chart
from .exceedance import exceedance_chart
from .fan import PlanEvent, bed_events, fan_chart, gate_columns, gate_label
from .forest import forest_data, forest_plot
from .pathway import pathway_chart
from .robustness import robustness_data, robustness_map
from .services import services_chart
from .waiting_list import monthly_ratio, waiting_list_chart

# The figures, in the order ``--what all`` draws them: name -> how to draw it.
REGISTRY: dict[str, FigureSpec] = {
    "fan": fan.FIGURE,
    "delays": delays.FIGURE,
    "waiting_list": waiting_list.FIGURE,
    "services": services.FIGURE,
    "pathway": pathway.FIGURE,
    "exceedance": exceedance.FIGURE,
    "robustness": robustness.FIGURE,
    "forest": forest.FIGURE,
}
FIGURES = tuple(REGISTRY)
SWEEP_ONLY = frozenset(name for name, spec in REGISTRY.items() if spec.sweep_only)
FORMATS = ("png", "svg", "pdf")

__all__ = [
    "ALL_CRITERIA",
    "FIGURES",
    "FORMATS",
    "MAP_CMAP",
    "NONE_TEXT",
    "REGISTRY",
    "SMOOTH_DAYS",
    "SWEEP_ONLY",
    "Cell",
    "Choice",
    "FigureSpec",
    "PlanEvent",
    "Results",
    "available",
    "bed_events",
    "cell_label",
    "delays_chart",
    "exceedance_chart",
    "fan_chart",
    "find",
    "forest_data",
    "forest_plot",
    "gate_columns",
    "gate_label",
    "load_results",
    "make_figure",
    "monthly_ratio",
    "on_time_point",
    "params_text",
    "parse_what",
    "pathway_chart",
    "pivot",
    "png_bytes",
    "points",
    "quantile_bands",
    "robustness_data",
    "robustness_map",
    "save",
    "scenarios",
    "select_cells",
    "services_chart",
    "waiting_list_chart",
    "weekly_totals",
    "write_plots",
]


def _reason_missing(res: Results, name: str) -> str | None:
    """Why this folder cannot give figure ``name`` (None if it can)."""
    spec = REGISTRY[name]
    if spec.sweep_only and not res.is_sweep:
        return f"only for results of `hospsim sweep` ({res.path} is a run)"
    return spec.unavailable(res)


def available(res: Results) -> list[str]:
    """The figures this results folder can give."""
    return [name for name in FIGURES if _reason_missing(res, name) is None]


def make_figure(
    res: Results,
    what: str,
    cells: list[Cell],
    point: int | None = None,
    scenario: Iterable[str] | None = None,
    criterion: str = ALL_CRITERIA,
    smooth_days: int = SMOOTH_DAYS,
) -> Figure:
    """Draw figure ``what`` of the registry for ``cells`` (time series), sweep point ``point``,
    ``scenario`` (forest plot), ``criterion`` (robustness map) and ``smooth_days`` (the fan
    chart's rolling mean of the median; 0: the daily median)."""
    if what not in REGISTRY:
        raise OptionError(f"--what {what}: unknown figure (choose from {', '.join(FIGURES)})")
    choice = Choice(cells, point, tuple(scenario) if scenario is not None else None, criterion, smooth_days)
    return REGISTRY[what].draw(res, choice)


def save(fig: Figure, path: Path, fmt: str = "png", dpi: int = 100) -> Path:
    """Write ``fig`` deterministically (no dates or versions in the file), atomically."""

    def write(tmp: Path) -> None:
        with matplotlib.rc_context(STYLE):
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=METADATA[fmt])

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise OptionError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def png_bytes(fig: Figure, dpi: int = 96) -> bytes:
    """``fig`` as PNG bytes, deterministically."""
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi, metadata=METADATA["png"])
    return buf.getvalue()


def parse_what(items: Iterable[str] | None, res: Results) -> list[str]:
    """``--what`` values (repeatable, comma-separated, or ``all``) -> figure names."""
    names: list[str] = []
    for item in items or ["all"]:
        for part in (p.strip() for p in str(item).split(",")):
            if not part:
                continue
            if part == "all":
                names += available(res)
                continue
            if part not in REGISTRY:
                raise OptionError(f"--what {part}: unknown figure (choose from all, {', '.join(FIGURES)})")
            reason = _reason_missing(res, part)
            if reason is not None:
                raise OptionError(f"--what {part}: {reason}")
            names.append(part)
    return list(dict.fromkeys(names))


def write_plots(
    res: Results,
    out_dir: Path,
    what: Iterable[str] | None = None,
    fmt: str = "png",
    scenario: Iterable[str] | None = None,
    point: int | None = None,
    criterion: str = ALL_CRITERIA,
    dpi: int = 100,
    smooth_days: int = SMOOTH_DAYS,
) -> list[Path]:
    """Draw the chosen figures into ``out_dir`` as ``<name>.<fmt>``; returns the files."""
    if fmt not in FORMATS:
        raise OptionError(f"--format {fmt}: choose from {', '.join(FORMATS)}")
    names = parse_what(what, res)
    cells = select_cells(res, scenario, point)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"{out_dir}: cannot create the folder ({exc.strerror or exc})") from None
    return [
        save(make_figure(res, n, cells, point, scenario, criterion, smooth_days), out_dir / f"{n}.{fmt}", fmt, dpi)
        for n in names
    ]
