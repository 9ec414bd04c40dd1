"""numba kernels that give, bit for bit, what the numpy code of :mod:`.monitor`, :mod:`.kpis`
and :mod:`.demand` gives, in one pass and without the big temporaries.

Import this module only through :func:`hospsim.model.compiled.array_kernels` (it needs numba).
Every floating-point sum here adds the same terms in the same order as the numpy code it
replaces (``np.bincount`` with weights adds in element order), and no kernel uses fastmath, so
the results are the same bits; ``tests/test_metrics_speed_paths.py`` checks each against numpy.
"""

from __future__ import annotations

import numba
import numpy as np

# Times at or above this are not turned into day numbers here (numpy's float -> int64 cast of
# them is platform-defined); the caller then uses the numpy path.
_MAX_EXACT_DAY = 2.0**62


@numba.njit(cache=True)
def level_intervals(starts: np.ndarray, ends: np.ndarray, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """The intervals of ``monitor.daily_level`` as it prepares them: NaN starts dropped, a NaN
    end open to ``n_days``, both clipped to ``[0, n_days]`` and an end never before its start.
    Each array has one more element, +inf, a sentinel for :func:`level_sweep`."""
    hi = float(n_days)
    n = 0
    for k in range(starts.size):
        if not np.isnan(starts[k]):
            n += 1
    s = np.empty(n + 1)
    e = np.empty(n + 1)
    s[n] = e[n] = np.inf
    n = 0
    for k in range(starts.size):
        x = starts[k]
        if np.isnan(x):
            continue
        x = min(max(x, 0.0), hi)
        y = ends[k]
        y = hi if np.isnan(y) else min(max(y, 0.0), hi)
        s[n] = x
        e[n] = y if y >= x else x
        n += 1
    return s, e


@numba.njit(cache=True)
def level_sweep(
    s: np.ndarray, e: np.ndarray, n_days: int, threshold: np.ndarray, cap: np.ndarray, mode: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily mean, max, midnight level and mean excess of the step path of the intervals with
    sorted starts ``s`` and sorted ends ``e`` (each ending with a +inf sentinel; ``mode``: 0 no
    excess, 1 over ``threshold``, 2 over ``threshold`` capped at ``cap``).

    Walks the events in the order ``np.lexsort((delta, times))`` puts them (at equal times: ends,
    then the midnight, then starts) and adds each segment's level x duration to its day in that
    order, as ``np.bincount`` does (the days come in order, so each day's sum is kept in a
    register until the next day starts).
    """
    mean = np.zeros(n_days)
    peak = np.full(n_days, -np.inf)
    midnight = np.zeros(n_days)
    excess = np.zeros(n_days)
    i = j = b = 0
    level = t_prev = acc = acc_over = 0.0
    day, top, thr, cp = 0, -np.inf, 0.0, 0.0
    if mode > 0:
        thr = threshold[0]
        cp = cap[0] if mode == 2 else 0.0
    for k in range(s.size + e.size + n_days - 1):
        ts, te = s[i], e[j]
        tb = float(b) if b <= n_days else np.inf
        if tb < te and tb <= ts:  # the midnight b (rare: branch on it)
            t, delta = tb, 0.0
            if b >= 1:  # the level just before it: ends at this very time came first
                before = level
                back = j - 1
                while back >= 0 and e[back] == tb:
                    before += 1.0
                    back -= 1
                midnight[b - 1] = before
            b += 1
        else:
            end_first = te <= ts
            t = te if end_first else ts
            delta = -1.0 if end_first else 1.0
            j += end_first
            i += not end_first
        if k > 0:
            d = min(int(t_prev), n_days - 1)
            if d != day:
                mean[day], peak[day], excess[day] = acc, top, acc_over
                day, acc, top, acc_over = d, 0.0, -np.inf, 0.0
                if mode > 0:
                    thr = threshold[d]
                    cp = cap[d] if mode == 2 else 0.0
            dur = t - t_prev
            acc += level * dur
            if dur > 0 and level > top:
                top = level
            if mode > 0:
                over = level - thr
                if over < 0.0:
                    over = 0.0
                if mode == 2 and not np.isnan(over) and (np.isnan(cp) or cp < over):
                    over = cp
                acc_over += over * dur
        level += delta
        t_prev = t
    mean[day], peak[day], excess[day] = acc, top, acc_over
    return mean, peak, midnight, excess


@numba.njit(cache=True)
def day_counts(times: np.ndarray, n_days: int) -> tuple[np.ndarray, bool]:
    """``monitor.daily_counts``: events per day (NaN and negative times ignored, later ones on
    the last day), and whether every time could be handled here (else use numpy)."""
    counts = np.zeros(n_days, dtype=np.int64)
    for t in times:
        if np.isnan(t) or t < 0:
            continue
        if t >= _MAX_EXACT_DAY:
            return counts, False
        counts[min(int(t), n_days - 1)] += 1
    return counts, True
