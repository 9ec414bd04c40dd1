"""What every figure shares: the style and palette, a figure without pyplot, calendar axes,
quantile bands across replications, and the description of a figure for the registry."""

from __future__ import annotations

import functools
import textwrap
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ...config.experiment import ALL_CRITERIA
from ...runs.results import Cell, Results

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BAND_COLUMNS = ("q05", "q25", "q50", "q75", "q95")

# Okabe-Ito, the colour-blind-safe palette (Okabe & Ito 2008); yellow left out (too pale on white).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
CELL_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
LINE_STYLES = ("-", "--", "-.", ":")
MAP_CMAP = "cividis"  # perceptually uniform and colour-blind safe

# Keys typed loosely: matplotlib's stubs want its own literal key type for rc_context.
STYLE: dict[Any, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.9",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": cycler(color=list(CELL_COLOURS)),
    "image.cmap": MAP_CMAP,
    "svg.hashsalt": "hospsim",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
}
# No software version or creation date in the files: same inputs, same bytes.
METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}
# Readable names and units of parameters commonly swept (by config path).
PARAM_LABELS = {
    "plan_delivery.ic_delay_days": "intermediate care: delay (days)",
    "plan_delivery.ic_growth_achieved": "intermediate care: share of planned growth achieved",
}
UNMEASURED: dict[str, Any] = {"facecolor": "0.97", "edgecolor": "0.8", "hatch": "//", "lw": 0, "zorder": 0}


# ---------------------------------------------------------------------------------------------
# The registry's view of a figure


@dataclass(frozen=True)
class Choice:
    """What to draw: the cells of the time series, and for the sweep figures the sweep point,
    the scenarios and the criterion asked for on the command line."""

    cells: list[Cell]
    point: int | None = None
    scenario: tuple[str, ...] | None = None
    criterion: str = ALL_CRITERIA


def _always(res: Results) -> str | None:
    return None


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the registry: how to draw it from a results folder and a :class:`Choice`,
    its title and caption (the report shows them), whether only a sweep has it, and why a
    folder may not have it (``unavailable`` returns the reason, or None)."""

    draw: Callable[[Results, Choice], Figure]
    title: str
    caption: str
    sweep_only: bool = False
    unavailable: Callable[[Results], str | None] = _always


# ---------------------------------------------------------------------------------------------
# Figures, titles and colours

P = ParamSpec("P")
R = TypeVar("R")


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a figure function under the package style (without touching global rcParams)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on the Agg canvas, whatever pyplot's backend is."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def suptitle(fig: Figure, text: str) -> None:
    """The figure's title, wrapped to the figure's width."""
    width = int(fig.get_figwidth() * 9)
    fig.suptitle(textwrap.fill(text, width=max(width, 40)))


def title_suffix(res: Results) -> str:
    """``n replications``."""
    n = res.replications
    return f"{n} replication{'s' if n != 1 else ''}"


def cell_colour(i: int) -> str:
    """Colour of the ``i``-th cell (the baseline is black)."""
    return CELL_COLOURS[i % len(CELL_COLOURS)]


def cell_style(i: int) -> str:
    """Line style per cell, so that cells that coincide stay visible."""
    return LINE_STYLES[i % len(LINE_STYLES)]


def param_label(res: Results, name: str) -> str:
    """Axis label of a swept parameter."""
    path = res.parameters.get(name, name)
    return PARAM_LABELS.get(path, f"{name} ({path})" if path != name else name)


def find(fig: Figure, gid: str) -> Any:
    """The artist with this gid (tests and callers use it to read what was drawn)."""
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.collections, *ax.images]:
            if artist.get_gid() == gid:
                return artist
    raise KeyError(gid)


# ---------------------------------------------------------------------------------------------
# Calendar axes


def dates(cell: Cell, days: Iterable[int]) -> np.ndarray:
    """Calendar dates of simulation days of ``cell``."""
    return cell.start_date + np.asarray(list(days), dtype="timedelta64[D]")


def date_axis(ax: Axes) -> None:
    """Concise calendar dates on the x-axis."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def shade_unmeasured(ax: Axes, res: Results, cell: Cell, horizon: int) -> None:
    """Hatch the days outside the measured window."""
    start, end = res.window
    if start > 0:
        ax.axvspan(dates(cell, [0])[0], dates(cell, [start])[0], **UNMEASURED)
    if end < horizon:
        ax.axvspan(dates(cell, [end])[0], dates(cell, [horizon])[0], **UNMEASURED)


def unmeasured_handle(res: Results) -> Patch:
    """Legend entry of the hatched, unmeasured days."""
    if res.is_sweep and res.experiment.get("window"):
        return Patch(**UNMEASURED, label="not measured (outside the verdict window)")
    return Patch(**UNMEASURED, label="warm-up (not measured)")


# ---------------------------------------------------------------------------------------------
# Series across replications


def pivot(daily: pd.DataFrame, cell: Cell, column: str) -> pd.DataFrame:
    """``column`` of one cell as a table: one row per day, one column per replication."""
    d = daily[(daily["scenario"] == cell.scenario) & (daily["point"] == cell.point)]
    return d.pivot(index="day", columns="replication", values=column).sort_index()


def quantile_bands(table: pd.DataFrame) -> pd.DataFrame:
    """Per row (day), the 5%, 25%, 50%, 75% and 95% quantiles across columns (replications)."""
    arr = table.to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        q = np.nanquantile(arr, QUANTILES, axis=1)
    return pd.DataFrame(q.T, index=table.index, columns=list(BAND_COLUMNS))


def weekly_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Sums over whole weeks counted from day 0 (a last partial week is dropped); the index is
    the first day of each week."""
    week = table.index.to_numpy() // 7
    sums = table.groupby(week).sum(min_count=1)
    counts = table.groupby(week).size()
    sums = sums[counts.to_numpy() == 7]
    sums.index = sums.index * 7
    return sums


def band(
    ax: Axes,
    x: Any,
    bands: pd.DataFrame,
    colour: str,
    gid: str,
    *,
    wide: bool = True,
    label: str | None = None,
    ls: str = "-",
    alpha: float = 0.3,
) -> None:
    """The median line with the 50% band (and the 90% band if ``wide``); gids ``<gid>-median``,
    ``<gid>-band50``, ``<gid>-band90``."""
    if wide:
        ax.fill_between(x, bands["q05"], bands["q95"], color=colour, alpha=alpha / 2, lw=0, gid=f"{gid}-band90")
    ax.fill_between(x, bands["q25"], bands["q75"], color=colour, alpha=alpha, lw=0, gid=f"{gid}-band50")
    ax.plot(x, bands["q50"], color=colour, lw=1.5, ls=ls, gid=f"{gid}-median", label=label, zorder=4)
