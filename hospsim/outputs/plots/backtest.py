"""The backtest figure: what the extract shows after the training date, over the band of the
simulation started from the census then (``hospsim backtest``)."""

from __future__ import annotations

import datetime as dt

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...runs.backtest import BAND, SERIES, Backtest
from .common import new_figure, styled, suptitle


@styled
def backtest_figure(bt: Backtest) -> Figure:
    """One panel per series: the observed days as a line over the simulated median and 5-95%
    band, with the coverage in the panel's title."""
    fig = new_figure(10, 8.5)
    axes = fig.subplots(len(SERIES), 1, sharex=True)
    x = pd.to_datetime(bt.daily["date"]).to_numpy()
    low, high = (round(q * 100) for q in BAND)
    for ax, (name, (_column, label)) in zip(np.atleast_1d(axes), SERIES.items(), strict=True):
        d = bt.daily
        ax.fill_between(
            x, d[f"{name}_sim_p5"], d[f"{name}_sim_p95"], step="post", color="0.8", label=f"simulated {low}-{high}%"
        )
        ax.step(x, d[f"{name}_sim_median"], where="post", color="0.45", lw=1.2, label="simulated median")
        ax.step(x, d[name], where="post", color="#0072B2", lw=1.4, label="observed (extract)")
        ax.set_title(f"{label}: observed inside the band on {bt.coverage[name]:.0%} of days", loc="left")
        ax.set_ylabel("per day")
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
    np.atleast_1d(axes)[0].legend(loc="upper left", ncols=3, frameon=False)
    reps = bt.config.replications
    suptitle(
        fig,
        f"Backtest: fitted on the extract before {bt.train_until}, started from its census then\n"
        f"{reps} replications to {bt.end_date - dt.timedelta(days=1):%d %b %Y}",
    )
    return fig
