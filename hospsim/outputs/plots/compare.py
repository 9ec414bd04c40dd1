"""``compare_engines.png``: the flow engine's trajectory drawn over the DES fan chart of the same
config. Top panel: occupied acute beds, the DES median with its 50% and 90% bands across
replications (as the ``fan`` figure draws them: the median as its 7-day rolling mean, the bands
daily), the flow value as a line (the same rolling mean), beds open as a step line; then delayed
patients; then each community service with a capacity limit that either engine uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...runs.compare import QUANTILE_COLUMNS, EngineComparison
from .common import (
    BAND_COLUMNS,
    OKABE_ITO,
    SMOOTH_DAYS,
    UNMEASURED,
    band,
    date_axis,
    new_figure,
    smoothed_median,
    smoothing_words,
    styled,
    suptitle,
)

BLUE = OKABE_ITO["blue"]
FLOW_COLOUR = OKABE_ITO["vermillion"]

_TITLES = {"occupied_beds_mean": "acute beds occupied", "delayed_patients_mean": "delayed transfers in acute beds"}


def panel_series(cmp: EngineComparison) -> list[str]:
    """The series drawn, one panel each: beds, delayed patients, services with a capacity limit."""
    d = cmp.daily
    limited = [f"{n}_occupied_mean" for n, s in cmp.config.services.items() if not s.unlimited]
    # A service nobody uses in either engine (no places, e.g. a step-up service not yet built) gets no panel.
    used = [
        s for s in limited if (d.loc[d["series"] == s, ["flow", "des_q95", "capacity"]].fillna(0) != 0).any(axis=None)
    ]
    return ["occupied_beds_mean", "delayed_patients_mean", *used]


def _panel(ax: Axes, cmp: EngineComparison, series: str, i: int) -> None:
    d = cmp.daily[cmp.daily["series"] == series].sort_values("day")
    x = np.datetime64(cmp.config.start_date, "D") + d["day"].to_numpy().astype("timedelta64[D]")
    start, _end = cmp.window
    if start > 0:
        ax.axvspan(x[0], x[0] + np.timedelta64(start, "D"), **UNMEASURED)
    # As the fan chart: the median through the weekly cycle (its rolling mean), the bands daily.
    bands = smoothed_median(d[list(QUANTILE_COLUMNS)].set_axis(list(BAND_COLUMNS), axis=1), SMOOTH_DAYS)
    band(ax, x, bands, BLUE, f"compare-{i}")
    # Smoothed the same way, so the two lines compare trend with trend through the weekly cycle.
    flow = d["flow"].rolling(SMOOTH_DAYS, center=True, min_periods=1).mean()
    ax.plot(x, flow, color=FLOW_COLOUR, lw=1.6, gid=f"compare-{i}-flow", zorder=5)
    if d["capacity"].notna().any():
        ax.step(x, d["capacity"], where="post", color="black", lw=1.2, gid=f"compare-{i}-capacity")
    name = _TITLES.get(series, f"{series.removesuffix('_occupied_mean').replace('_', ' ')}: places occupied")
    ax.set_title(name[0].upper() + name[1:], loc="left")
    ax.set_ylabel("daily mean")
    ax.set_ylim(bottom=0)
    date_axis(ax)


def _handles(cmp: EngineComparison) -> list[Artist]:
    return [
        Line2D([], [], color=BLUE, lw=1.5, label=f"DES ({cmp.des_engine}): {smoothing_words(SMOOTH_DAYS)}"),
        Patch(color=BLUE, alpha=0.3, label="DES: middle 50% of replications"),
        Patch(color=BLUE, alpha=0.15, label="DES: middle 90% of replications"),
        Line2D(
            [], [], color=FLOW_COLOUR, lw=1.6, label=f"flow engine (expected numbers), {SMOOTH_DAYS}-day rolling mean"
        ),
        Line2D([], [], color="black", lw=1.2, label="capacity (beds or places open)"),
        Patch(**UNMEASURED, label="warm-up (not measured)"),
    ]


@styled
def compare_figure(cmp: EngineComparison) -> Figure:
    """The flow trajectory over the DES fan, one panel per series (see the module's docstring).
    Artists: ``compare-<i>-median|band50|band90|flow|capacity``."""
    series = panel_series(cmp)
    ratios = [3.0, *([1.8] * (len(series) - 1))]
    fig = new_figure(11, 1.8 + sum(ratios))
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False, height_ratios=ratios)[:, 0]
    for i, (ax, s) in enumerate(zip(axes, series, strict=True)):
        _panel(ax, cmp, s, i)
    fig.legend(handles=_handles(cmp), loc="outside lower center", ncol=3, frameon=False)
    reps = cmp.replications
    suptitle(
        fig,
        f"{cmp.config.name}: the planner's view (flow) beside {reps:,} replication{'s' if reps != 1 else ''} "
        f"of the DES\n{cmp.parting.line()}",
    )
    return fig


def flow_values(cmp: EngineComparison, series: str) -> pd.Series:
    """The flow values of ``series`` by day (for tests and notes)."""
    d = cmp.daily[cmp.daily["series"] == series]
    return d.set_index("day")["flow"]
