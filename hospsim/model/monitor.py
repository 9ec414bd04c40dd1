"""Time-weighted daily statistics of a count that moves up and down (beds, queues, places).

The count is described by intervals ``[start, end)`` (one per patient present). Its exact step
path is rebuilt with numpy after the run, so monitoring adds nothing to the simulation's event
path and the statistics are exact, not sampled. When numba is available the same numbers come
from compiled kernels (:mod:`.array_kernels`: sorts of the starts and of the ends merged in one
pass, instead of one lexsort of both); the numpy functions ``_*_numpy`` are the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import compiled


@dataclass(frozen=True)
class DailyLevel:
    """Per-day statistics of a step path over days ``0 .. n_days-1``."""

    mean: np.ndarray  # time-weighted mean level over the day
    max: np.ndarray  # highest level held for a positive time during the day
    midnight: np.ndarray  # level at the midnight that ends the day
    mean_excess: np.ndarray | None  # time-weighted mean of max(level - threshold, 0), if asked


def daily_level(
    starts: np.ndarray,
    ends: np.ndarray,
    n_days: int,
    threshold_by_day: np.ndarray | None = None,
    excess_cap_by_day: np.ndarray | None = None,
) -> DailyLevel:
    """Daily statistics of the number of intervals ``[start, end)`` open at each moment.

    Intervals with a NaN start are ignored; a NaN end means "still open at ``n_days``".
    At equal times, ends are applied before starts (a bed freed and re-filled at the same
    instant never counts twice). ``mean_excess`` is the time-weighted mean of
    ``clip(level - threshold, 0, excess_cap)`` per day.
    """
    kernels = compiled.array_kernels()
    starts = np.ascontiguousarray(starts, dtype=float)
    ends = np.ascontiguousarray(ends, dtype=float)
    levels = _excess_levels(n_days, threshold_by_day, excess_cap_by_day)
    if kernels is None or n_days < 1 or starts.ndim != 1 or ends.shape != starts.shape or levels is None:
        return _daily_level_numpy(starts, ends, n_days, threshold_by_day, excess_cap_by_day)
    s, e, z, *is_sorted = kernels.level_intervals(starts, ends, n_days)
    # Sorted (the last element is a sentinel): the lexsort's order of each, much faster
    for times, done in zip((s, e, z), is_sorted, strict=True):
        if not done:
            kernels.sort_in_place(times[:-1])  # finite: clipped to [0, n_days]
    mode, threshold, cap = levels
    mean, peak, midnight, excess = kernels.level_sweep(s, e, z, n_days, threshold, cap, mode)
    return DailyLevel(mean=mean, max=peak, midnight=midnight, mean_excess=excess if mode else None)


def _excess_levels(
    n_days: int, threshold_by_day: np.ndarray | None, excess_cap_by_day: np.ndarray | None
) -> tuple[int, np.ndarray, np.ndarray] | None:
    """What the compiled :func:`daily_level` measures the excess over: (0: none, 1: a threshold,
    2: a capped threshold; the threshold and the cap per day). None when they are not finite
    values for every day (the numpy path then gives its answer, or its error)."""
    if threshold_by_day is None:
        return 0, np.zeros(0), np.zeros(0)
    threshold = np.ascontiguousarray(threshold_by_day, dtype=float)
    cap = np.ascontiguousarray(excess_cap_by_day if excess_cap_by_day is not None else np.zeros(n_days), dtype=float)
    for a in (threshold, cap):
        if a.ndim != 1 or a.size < n_days or not np.isfinite(a[:n_days]).all():
            return None
    return (1 if excess_cap_by_day is None else 2), threshold, cap


def _daily_level_numpy(
    starts: np.ndarray,
    ends: np.ndarray,
    n_days: int,
    threshold_by_day: np.ndarray | None = None,
    excess_cap_by_day: np.ndarray | None = None,
) -> DailyLevel:
    """:func:`daily_level` in numpy: the reference for the compiled path."""
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    present = ~np.isnan(starts)
    s = np.clip(starts[present], 0.0, n_days)
    e = np.clip(np.where(np.isnan(ends[present]), n_days, ends[present]), 0.0, n_days)
    e = np.maximum(e, s)
    bounds = np.arange(n_days + 1, dtype=float)
    times = np.concatenate([s, e, bounds])
    delta = np.concatenate([np.ones(s.size), -np.ones(e.size), np.zeros(bounds.size)])
    order = np.lexsort((delta, times))
    t = times[order]
    level = np.cumsum(delta[order])
    dur = np.diff(t)
    seg_level = level[:-1]
    seg_day = np.minimum(t[:-1].astype(np.int64), n_days - 1)
    mean = np.bincount(seg_day, weights=seg_level * dur, minlength=n_days)[:n_days]

    positive = dur > 0
    peak = np.full(n_days, -np.inf)
    np.maximum.at(peak, seg_day[positive], seg_level[positive])
    # Level just before each midnight d+1: the last segment starting before it.
    last = np.searchsorted(t[:-1], bounds[1:], side="left") - 1
    midnight = seg_level[last]

    excess = None
    if threshold_by_day is not None:
        over = np.maximum(seg_level - np.asarray(threshold_by_day, dtype=float)[seg_day], 0.0)
        if excess_cap_by_day is not None:
            over = np.minimum(over, np.asarray(excess_cap_by_day, dtype=float)[seg_day])
        excess = np.bincount(seg_day, weights=over * dur, minlength=n_days)[:n_days]
    return DailyLevel(mean=mean, max=peak, midnight=midnight, mean_excess=excess)


def daily_midnight_level(starts: np.ndarray, ends: np.ndarray, n_days: int) -> np.ndarray:
    """``daily_level(starts, ends, n_days).midnight``: the level at the midnight that ends each
    day (by counting, without a sort, when numba is there)."""
    kernels = compiled.array_kernels()
    starts = np.ascontiguousarray(starts, dtype=float)
    ends = np.ascontiguousarray(ends, dtype=float)
    if kernels is None or n_days < 1 or starts.ndim != 1 or ends.shape != starts.shape:
        return _daily_level_numpy(starts, ends, n_days).midnight
    out: np.ndarray = kernels.midnight_levels(starts, ends, n_days)
    return out


def daily_counts(times: np.ndarray, n_days: int, where: np.ndarray | None = None) -> np.ndarray:
    """Number of events on each day (NaN times ignored, and times before day 0: a census's
    patients were admitted before the run); ``where``: only the times where it is true."""
    kernels = compiled.array_kernels()
    t = np.ascontiguousarray(times, dtype=float)
    mask = None if where is None else np.ascontiguousarray(where, dtype=np.bool_)
    if kernels is not None and n_days >= 1 and t.ndim == 1 and (mask is None or mask.shape == t.shape):
        counts, exact = kernels.day_counts(t, np.zeros(0, dtype=np.bool_) if mask is None else mask, n_days)
        if exact:
            out: np.ndarray = counts
            return out
    return _daily_counts_numpy(t if mask is None else np.where(mask, t, np.nan), n_days)


def _daily_counts_numpy(times: np.ndarray, n_days: int) -> np.ndarray:
    """:func:`daily_counts` in numpy: the reference for the compiled path."""
    t = np.asarray(times, dtype=float)
    t = t[~np.isnan(t) & (t >= 0)]
    day = np.clip(t.astype(np.int64), 0, n_days - 1)
    return np.bincount(day, minlength=n_days)[:n_days]
