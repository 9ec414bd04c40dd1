"""What every figure shares: the style and palette, a figure without pyplot, display names,
calendar axes with the year on every tick, quantile bands across replications, the stated "none
in any replication" of an empty panel, and the description of a figure for the registry."""

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
from ..labels import Labels, experiment_title, labels_of

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
    "figure.titlesize": 12,
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
UNMEASURED: dict[str, Any] = {"facecolor": "0.97", "edgecolor": "0.8", "hatch": "//", "lw": 0, "zorder": 0}
# The weekly cycle of admissions makes a daily median a zig-zag as thick as a band: the fan
# chart draws a 7-day rolling mean of it by default (``hospsim plot --smooth-days``; 0: daily).
SMOOTH_DAYS = 7
# What an empty panel says instead of an empty frame (tests and the report look for it).
NONE_TEXT = "None in any replication"
# Date ticks with the year on every one ("Jul 2017"), whatever the span: a board pack is read
# page by page, not from the first tick of the axis.
DATE_FORMATS = ["%Y", "%b %Y", "%-d %b %Y", "%H:%M", "%H:%M", "%S.%f"]
DATE_ZERO_FORMATS = ["%Y", "%Y", "%b %Y", "%-d %b %Y", "%H:%M", "%H:%M"]


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
    smooth_days: int = SMOOTH_DAYS


def _always(res: Results) -> str | None:
    return None


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the registry: how to draw it from a results folder and a :class:`Choice`,
    its title and caption (the report shows them; ``more_caption`` adds to it what only some
    results need, e.g. the hatched blocked patients of a chain), whether only a sweep has it,
    and why a folder may not have it (``unavailable`` returns the reason, or None)."""

    draw: Callable[[Results, Choice], Figure]
    title: str
    caption: str
    sweep_only: bool = False
    unavailable: Callable[[Results], str | None] = _always
    more_caption: Callable[[Results], str] = lambda _res: ""  # added to the caption for these results


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
    """The figure's title, each line wrapped to the figure's width."""
    width = max(int(fig.get_figwidth() * 10), 40)  # ~10 characters an inch at 12 pt
    fig.suptitle("\n".join(textwrap.fill(line, width=width) for line in text.split("\n")))


def title_suffix(res: Results) -> str:
    """``n replications``."""
    n = res.replications
    return f"{n:,} replication{'s' if n != 1 else ''}"


# ---------------------------------------------------------------------------------------------
# Display names (see :mod:`hospsim.outputs.labels`)


def names(res: Results) -> Labels:
    """The display names of a results folder's experiment (the defaults for a run)."""
    return labels_of(res.experiment)


def shared_point(res: Results, cells: list[Cell]) -> str:
    """The sweep values every swept cell shown shares, in words ("" if none or they differ):
    a figure states them once in its title and names the cells by scenario only."""
    swept = [dict(c.params) for c in cells if c.params]
    if not swept or any(p != swept[0] for p in swept[1:]):
        return ""
    text = names(res).point(swept[0])
    return text[:1].upper() + text[1:]


def cell_names(res: Results, cells: list[Cell]) -> list[str]:
    """The cells' display names: scenario names when they share one sweep point (stated in the
    title by :func:`figure_title`), else scenario and sweep values in words."""
    labels = names(res)
    if shared_point(res, cells):
        return [labels.scenario(c.scenario) for c in cells]
    return [labels.cell(c.scenario, c.params) for c in cells]


def figure_title(res: Results, cells: list[Cell] | None, subject: str, detail: str = "") -> str:
    """A figure's title in words: its subject, the sweep point its cells share and ``detail``
    (e.g. the replications), prefixed by the experiment's display name if it has one."""
    title = experiment_title(res.experiment)
    first = f"{title}: {subject}" if title else subject
    rest = "; ".join(x for x in (shared_point(res, cells or []), detail) if x)
    return f"{first}\n{rest}" if rest else first


def cell_colour(i: int) -> str:
    """Colour of the ``i``-th cell (the baseline is black)."""
    return CELL_COLOURS[i % len(CELL_COLOURS)]


def cell_style(i: int) -> str:
    """Line style per cell, so that cells that coincide stay visible."""
    return LINE_STYLES[i % len(LINE_STYLES)]


def find(fig: Figure, gid: str) -> Any:
    """The artist with this gid (tests and callers use it to read what was drawn)."""
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.collections, *ax.images, *ax.tables, *ax.texts]:
            if artist.get_gid() == gid:
                return artist
    raise KeyError(gid)


# ---------------------------------------------------------------------------------------------
# Calendar axes


def dates(cell: Cell, days: Iterable[int]) -> np.ndarray:
    """Calendar dates of simulation days of ``cell``."""
    return cell.start_date + np.asarray(list(days), dtype="timedelta64[D]")


def date_axis(ax: Axes) -> None:
    """Calendar dates on the x-axis, the year on every tick ("2018", "Jul 2018", "1 Jul 2018")."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(
        locator, formats=DATE_FORMATS, zero_formats=DATE_ZERO_FORMATS, show_offset=False
    )
    ax.xaxis.set_major_formatter(formatter)


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


def smoothed_median(bands: pd.DataFrame, days: int) -> pd.DataFrame:
    """``bands`` with the median (``q50``) replaced by its centred ``days``-day rolling mean
    (partial windows at the ends); unchanged if ``days`` is 0 or 1. The 50% / 90% bands stay
    daily: they show the spread on each day."""
    if days <= 1:
        return bands
    out = bands.copy()
    out["q50"] = bands["q50"].rolling(days, center=True, min_periods=1).mean()
    return out


def smoothing_words(days: int) -> str:
    """How a smoothed median is described on a figure ("" when not smoothed)."""
    return f"{days}-day rolling mean of the daily median" if days > 1 else ""


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


# ---------------------------------------------------------------------------------------------
# Panels with nothing to draw


def all_zero(tables: Iterable[pd.DataFrame | pd.Series | np.ndarray]) -> bool:
    """Whether every value of every table is 0 or missing (nobody in any replication)."""
    for t in tables:
        arr = np.asarray(t, dtype=float)
        if np.any(np.nan_to_num(arr, nan=0.0) != 0):
            return False
    return True


def say_none(ax: Axes, what: str) -> None:
    """In place of an empty frame: "None in any replication" and what there is none of (gid
    ``none``); the y-axis, meaningless here, is hidden."""
    ax.text(
        0.5,
        0.5,
        f"{NONE_TEXT}\n{what}",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=10,
        color="0.25",
        linespacing=1.6,
        gid="none",
        bbox={"boxstyle": "round,pad=0.6", "facecolor": "white", "edgecolor": "0.8"},
        zorder=6,
    )
    ax.set_yticks([])
    ax.set_ylim(0, 1)


def note_none(ax: Axes, cell_labels: list[str]) -> None:
    """Name, in the panel's corner, the cells drawn that have none in any replication (their
    line lies on the axis)."""
    if cell_labels:
        ax.text(
            0.995,
            0.96,
            f"{NONE_TEXT}: {', '.join(cell_labels)}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
            color="0.3",
            gid="none-note",
        )
