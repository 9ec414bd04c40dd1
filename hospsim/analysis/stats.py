"""Summaries across replications: means with t-based confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and two-sided t confidence interval of independent replication values.

    NaN values (a KPI undefined in a replication) are left out; with fewer than two values the
    interval is NaN.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(_t_quantile(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


@lru_cache(maxsize=256)
def _t_quantile(q: float, df: int) -> np.float64:
    """Student's t quantile, once per (q, df): a sweep of a thousand cells asks for the same few
    more than a hundred thousand times, and scipy takes ~0.1 ms each time."""
    from scipy import stats  # lazily: about a second to import, and worker processes never need it

    value: np.float64 = stats.t.ppf(q, df)
    return value


def summarise(replications: pd.DataFrame, kpi_names: list[str], level: float = 0.95) -> pd.DataFrame:
    """One row per KPI: ``kpi, mean, ci_low, ci_high, n``."""
    rows = []
    for name in kpi_names:
        mean, low, high, n = t_interval(replications[name].to_numpy(), level)
        rows.append({"kpi": name, "mean": mean, "ci_low": low, "ci_high": high, "n": n})
    return pd.DataFrame(rows, columns=["kpi", "mean", "ci_low", "ci_high", "n"])


def summarise_groups(
    table: pd.DataFrame, groups: Iterable[np.ndarray], kpi_names: list[str], id_cols: list[str], level: float = 0.95
) -> pd.DataFrame:
    """:func:`summarise` of each group of rows (``groups``: row positions in ``table``), one after
    another, each group's rows led by ``id_cols`` as its first row has them; a KPI without a value
    in a group is left out of it. The numbers :func:`summarise` gives group by group, without a
    table per group (a thousand of them took seconds)."""
    floats = {k: np.asarray(table[k].to_numpy(), dtype=float) for k in kpi_names}  # as t_interval reads them
    out: dict[str, list[Any]] = {c: [] for c in (*id_cols, "kpi", "mean", "ci_low", "ci_high", "n")}
    for rows in groups:
        ident = [(c, table[c].iloc[rows[0]]) for c in id_cols]
        for name in kpi_names:
            x = floats[name][rows]
            if np.isnan(x).all():
                continue
            for col, value in (*ident, ("kpi", name), *zip(("mean", "ci_low", "ci_high", "n"), t_interval(x, level))):
                out[col].append(value)
    return pd.DataFrame(out)


def cell_rows(table: pd.DataFrame) -> dict[Any, np.ndarray]:
    """The row positions of each cell (``scenario``, ``point``) of a table of runs, cells in the
    order they first appear, rows in table order."""
    return {key: np.asarray(rows) for key, rows in table.groupby(["scenario", "point"], sort=False).indices.items()}
