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
def level_intervals(
    starts: np.ndarray, ends: np.ndarray, n_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool, bool]:
    """The intervals of ``monitor.daily_level`` as it prepares them: NaN starts dropped, a NaN
    end open to ``n_days``, both clipped to ``[0, n_days]`` and an end never before its start.

    Returns the starts and the ends of the intervals of positive length, and the times of those
    of zero length (most of some measures: the wait of a patient admitted at once, the delay of
    one not delayed). At equal times ends go before starts, so an interval of zero length never
    changes the level of a segment of positive length; it only cuts the segment it falls in in
    two, which changes the sums' rounding: :func:`level_sweep` cuts there too, with one event
    instead of two. Each array has one more element, +inf, a sentinel for :func:`level_sweep`;
    and whether each came already sorted (then it needs no sort)."""
    hi = float(n_days)
    s = np.empty(starts.size + 1)
    e = np.empty(starts.size + 1)
    z = np.empty(starts.size + 1)
    n = m = 0
    s_sorted = e_sorted = z_sorted = True
    for k in range(starts.size):
        x, y = starts[k], ends[k]
        if np.isnan(x):
            continue
        x = min(max(x, 0.0), hi)
        y = hi if np.isnan(y) else min(max(y, 0.0), hi)
        if y > x:
            s_sorted &= n == 0 or s[n - 1] <= x
            e_sorted &= n == 0 or e[n - 1] <= y
            s[n] = x
            e[n] = y
            n += 1
        else:
            z_sorted &= m == 0 or z[m - 1] <= x
            z[m] = x
            m += 1
    s[n] = e[n] = z[m] = np.inf
    return s[: n + 1], e[: n + 1], z[: m + 1], s_sorted, e_sorted, z_sorted


@numba.njit(cache=True)
def level_sweep(
    s: np.ndarray, e: np.ndarray, z: np.ndarray, n_days: int, threshold: np.ndarray, cap: np.ndarray, mode: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily mean, max, midnight level and mean excess of the step path of the intervals with
    sorted starts ``s`` and sorted ends ``e``, cut at the sorted times ``z`` of the intervals of
    zero length (each ending with a +inf sentinel; ``mode``: 0 no excess, 1 over ``threshold``,
    2 over ``threshold`` capped at ``cap``; both finite).

    Walks the events in the order ``np.lexsort((delta, times))`` puts them (at equal times, ends
    before starts) and adds each segment's level x duration to its day in that order, as
    ``np.bincount`` does. Where the lexsort also puts midnights, and at ties, it makes segments of
    zero length: their terms are +-0 (finite threshold and cap), which leave a sum started at +0
    unchanged, so they are left out here. An interval of zero length is, in that order, an end
    then a start at its time (with only segments of zero length between them): here one cut.
    """
    mean = np.empty(n_days)
    peak = np.empty(n_days)
    midnight = np.empty(n_days)
    excess = np.zeros(n_days)
    i = j = q = 0
    level = t_prev = 0.0
    for d in range(n_days):
        bound = float(d + 1)
        acc = acc_over = 0.0
        top = -np.inf
        thr = threshold[d] if mode > 0 else 0.0
        cp = cap[d] if mode == 2 else np.inf
        while True:
            ts, te, tz = s[i], e[j], z[q]
            end_first = te <= ts
            t = te if end_first else ts
            cut = tz < t
            if cut:
                t = tz
            if t >= bound:
                t = bound  # the day's last segment ends at its midnight
            dur = t - t_prev
            acc += level * dur
            if dur > 0.0 and level > top:
                top = level
            if mode > 0:
                acc_over += min(max(level - thr, 0.0), cp) * dur
            if t == bound:
                break
            if cut:
                q += 1
            else:
                level += -1.0 if end_first else 1.0
                j += end_first
                i += not end_first
            t_prev = t
        mean[d], peak[d], midnight[d], excess[d] = acc, top, level, acc_over
        t_prev = bound
    return mean, peak, midnight, excess


@numba.njit(cache=True)
def day_counts(times: np.ndarray, where: np.ndarray, n_days: int) -> tuple[np.ndarray, bool]:
    """``monitor.daily_counts``: events per day (NaN and negative times ignored, later ones on
    the last day) of the times where ``where`` is true (every time when ``where`` is empty: no
    masked copy either way), and whether every time could be handled here (else use numpy)."""
    counts = np.zeros(n_days, dtype=np.int64)
    every = where.size == 0
    for k in range(times.size):
        t = times[k]
        if not (every or where[k]) or np.isnan(t) or t < 0:
            continue
        if t >= _MAX_EXACT_DAY:
            return counts, False
        counts[min(int(t), n_days - 1)] += 1
    return counts, True


@numba.njit(cache=True)
def patient_day_counts(
    arrival: np.ndarray,
    admit: np.ndarray,
    transfer: np.ndarray,
    outcome: np.ndarray,
    elective: np.ndarray,
    wait_days: np.ndarray,
    codes: np.ndarray,
    waits_over_days: np.ndarray,
    n_days: int,
) -> tuple[np.ndarray, bool]:
    """``kpis._patient_day_counts`` in one pass over the patients instead of one
    :func:`day_counts` each (with a mask made for it): per day, as ``day_counts`` counts (NaN and
    negative times ignored, later ones on the last day), the rows emergency arrivals, emergency
    admissions, admissions avoided, refused, transferred out, elective referrals, elective
    admissions, then arrivals that waited over each of ``waits_over_days``. ``codes``: the
    outcomes ADMITTED, AVOIDED, REFUSED. False: a time too large to count here (use numpy)."""
    admitted, avoided, refused = codes[0], codes[1], codes[2]
    n_waits = waits_over_days.size
    counts = np.zeros((7 + n_waits) * n_days, dtype=np.int64)  # flat: row * n_days + day (cheaper)
    last = n_days - 1
    for k in range(arrival.size):
        out, is_elective = outcome[k], elective[k]
        a = arrival[k]
        if a >= 0.0:  # neither NaN nor before day 0
            if a >= _MAX_EXACT_DAY:
                return counts.reshape((7 + n_waits, n_days)), False
            d = min(int(a), last)
            counts[(5 if is_elective else 0) * n_days + d] += 1
            if out == avoided:
                counts[2 * n_days + d] += 1
            elif out == refused:
                counts[3 * n_days + d] += 1
            w = wait_days[k]
            for j in range(n_waits):
                if w > waits_over_days[j]:
                    counts[(7 + j) * n_days + d] += 1
        if out == admitted:
            t = admit[k]
            if t >= 0.0:
                if t >= _MAX_EXACT_DAY:
                    return counts.reshape((7 + n_waits, n_days)), False
                counts[(6 if is_elective else 1) * n_days + min(int(t), last)] += 1
        t = transfer[k]
        if t >= 0.0:
            if t >= _MAX_EXACT_DAY:
                return counts.reshape((7 + n_waits, n_days)), False
            counts[4 * n_days + min(int(t), last)] += 1
    return counts.reshape((7 + n_waits, n_days)), True


@numba.njit(cache=True)
def row_entries(rows: np.ndarray, row: np.ndarray, column: np.ndarray) -> np.ndarray:
    """``rows[row[i], column[i]]`` for each i, 0.0 where ``row[i]`` is negative (no row): each
    patient's stay in its own service's row, read in one pass."""
    out = np.empty(row.size)
    for i in range(row.size):
        r = row[i]
        out[i] = rows[r, column[i]] if r >= 0 else 0.0
    return out


@numba.njit(cache=True)
def waits_for_a_bed(
    arrival: np.ndarray,
    admit: np.ndarray,
    outcome: np.ndarray,
    emergency: np.ndarray,
    codes: np.ndarray,
    max_wait_days: float,
    horizon_days: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``kpis._waits`` in one pass: each patient's transfer time (NaN: not transferred) and wait
    for a bed (0: did not wait), with numpy's arithmetic. ``codes``: the outcomes ADMITTED,
    WAITING, TRANSFERRED, AVOIDED."""
    admitted, waiting, transferred, avoided = codes[0], codes[1], codes[2], codes[3]
    n = arrival.size
    transfer, wait = np.empty(n), np.empty(n)
    for k in range(n):
        out = outcome[k]
        if out == transferred:
            end = arrival[k] + max_wait_days
            transfer[k] = end
        else:
            end = admit[k]
            transfer[k] = np.nan
        if np.isnan(end):
            end = horizon_days
        if out == transferred:
            wait[k] = max_wait_days  # exactly, not up to rounding
        elif emergency[k] and out != avoided and out in (admitted, waiting):  # waited
            wait[k] = end - arrival[k]
        else:
            wait[k] = 0.0
    return transfer, wait


@numba.njit(cache=True)
def same_day_leaves(chosen: np.ndarray, admit: np.ndarray, leave: np.ndarray) -> np.ndarray:
    """For each chosen patient who left its bed (in patient order): did it leave on the day of
    its admission (``floor(leave) == floor(admit)``)?"""
    out = np.empty(chosen.size, dtype=np.bool_)
    n = 0
    for k in range(chosen.size):
        if chosen[k] and not np.isnan(leave[k]):
            out[n] = np.floor(leave[k]) == np.floor(admit[k])
            n += 1
    return out[:n]


@numba.njit(cache=True)
def list_wait_histogram(first: np.ndarray, count: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """How many of the waits ``float(m) - ref[p]`` (``m`` from ``first[p]`` for ``count[p]``
    midnights, as ``kpis.list_waits_days`` makes them) fall in each whole day ``[b, b + 1)``."""
    top = 0
    for p in range(first.size):
        if count[p] > 0:  # a patient's longest wait is at its last midnight
            top = max(top, int(float(first[p] + count[p] - 1) - ref[p]))
    hist = np.zeros(top + 1, dtype=np.int64)
    starts = np.zeros(top + 2, dtype=np.int64)  # runs of whole days, one wait in each: where each begins and ends
    for p in range(first.size):
        n = count[p]
        if n <= 0:
            continue
        lo, hi = int(float(first[p]) - ref[p]), int(float(first[p] + n - 1) - ref[p])
        # The waits are the days lo, lo + 1, ..., hi unless rounding put one into the next day:
        # rounding up moves a wait near a day's end into the next, and once it does for one wait
        # it does for every later one (same distance to the day's end, no smaller ulp), so the
        # run ends one day late. A run of the right length has no such wait.
        if hi - lo == n - 1:
            starts[lo] += 1
            starts[hi + 1] -= 1
        else:
            for m in range(first[p], first[p] + n):
                hist[int(float(m) - ref[p])] += 1
    running = 0
    for b in range(top + 1):
        running += starts[b]
        hist[b] += running
    return hist


@numba.njit(cache=True)
def list_waits_in_bin(first: np.ndarray, count: np.ndarray, ref: np.ndarray, b: int) -> np.ndarray:
    """The waits (as in :func:`list_wait_histogram`) in ``[b, b + 1)``, unsorted."""
    out = np.empty(first.size * 4)
    n = 0
    for p in range(first.size):
        # m - ref is within rounding of the exact difference: only m near b + ref can qualify
        lo = max(first[p], int(np.floor(b + ref[p])) - 1)
        hi = min(first[p] + count[p] - 1, int(np.floor(b + ref[p])) + 2)
        for m in range(lo, hi + 1):
            w = float(m) - ref[p]
            if int(w) == b:
                out[n] = w
                n += 1
    return out[:n]


_TABLE_BINS = 4096  # the unit interval cut in this many (a power of 2: x * 4096 is exact)


@numba.njit(cache=True)
def _unit_table(edges: np.ndarray) -> np.ndarray:
    """For sorted ``edges``: how many are <= b / 4096, for b = 0 .. 4096."""
    table = np.empty(_TABLE_BINS + 1, dtype=np.int64)
    c = 0
    for b in range(_TABLE_BINS + 1):
        while c < edges.size and edges[c] <= b / _TABLE_BINS:
            c += 1
        table[b] = c
    return table


@numba.njit(cache=True)
def count_at_or_below(edges: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each ``u``, how many ``edges`` are <= it: ``np.searchsorted(edges, u, "right")`` when
    ``edges`` is sorted (which the caller checks; NaN after everything): from a table for
    uniforms, then the few edges left to pass. (Written out, not a helper function: a call that
    takes an array costs more than the work here.)"""
    table = _unit_table(edges)
    out = np.empty(u.size, dtype=np.int64)
    for k in range(u.size):
        x = u[k]
        c = table[int(x * _TABLE_BINS)] if 0.0 <= x < 1.0 else 0
        while c < edges.size and edges[c] <= x:
            c += 1
        out[k] = edges.size if np.isnan(x) else c
    return out


@numba.njit(cache=True)
def times_of_day(counts: np.ndarray, u: np.ndarray, cum: np.ndarray, below_one: float) -> np.ndarray:
    """``demand.emergency_arrivals``'s times: ``counts[d]`` arrivals on day d, each at the time of
    day of its uniform ``u`` by inverse transform of the cumulative hourly profile ``cum`` (25
    sorted edges), the fraction of the hour kept below ``below_one``; same arithmetic as numpy.
    The hour as :func:`count_at_or_below` finds it, written out."""
    table = _unit_table(cum)
    out = np.empty(u.size)
    k = 0
    for day in range(counts.size):
        for _ in range(counts[day]):
            x = u[k]
            c = table[int(x * _TABLE_BINS)] if 0.0 <= x < 1.0 else 0
            while c < cum.size and cum[c] <= x:
                c += 1
            c = cum.size if np.isnan(x) else c
            hour = min(max(c - 1, 0), 23)
            width = cum[hour + 1] - cum[hour]
            frac = (x - cum[hour]) / width if width > 0 else 0.0
            out[k] = float(day) + (float(hour) + min(max(frac, 0.0), below_one)) / 24.0
            k += 1
    return out


@numba.njit(cache=True)
def shifted_midnight_levels(
    starts: np.ndarray, where: np.ndarray, ends: np.ndarray, shifts_days: np.ndarray, n_days: int
) -> np.ndarray:
    """Row j: :func:`midnight_levels` of the intervals ``[starts + shifts_days[j], ends)`` where
    ``where`` is true (the others left out), as integers: the waiting list and its waits over N
    weeks in one pass."""
    hi = float(n_days)
    n_shifts = shifts_days.size
    change = np.zeros((n_shifts, n_days + 1), dtype=np.int64)
    for k in range(starts.size):
        if not where[k] or np.isnan(starts[k]):
            continue
        y = ends[k]
        y = hi if np.isnan(y) else min(max(y, 0.0), hi)
        for j in range(n_shifts):
            x = starts[k] + shifts_days[j]
            if np.isnan(x):
                continue
            x = min(max(x, 0.0), hi)
            change[j, int(x)] += 1
            change[j, int(max(x, y))] -= 1
    out = np.empty((n_shifts, n_days), dtype=np.int64)
    for j in range(n_shifts):
        level = 0
        for d in range(n_days):
            level += change[j, d]
            out[j, d] = level
    return out


@numba.njit(cache=True)
def midnight_levels(starts: np.ndarray, ends: np.ndarray, n_days: int) -> np.ndarray:
    """``monitor.daily_level(starts, ends, n_days).midnight`` without sorting: the level just
    before midnight d + 1 counts the (prepared) intervals with start < d + 1 minus those with
    end < d + 1, that is floor(start) <= d and floor(end) <= d."""
    hi = float(n_days)
    change = np.zeros(n_days + 1, dtype=np.int64)
    for k in range(starts.size):
        x = starts[k]
        if np.isnan(x):
            continue
        x = min(max(x, 0.0), hi)
        y = ends[k]
        y = hi if np.isnan(y) else min(max(y, 0.0), hi)
        change[int(x)] += 1
        change[int(max(x, y))] -= 1
    out = np.empty(n_days)
    level = 0
    for d in range(n_days):
        level += change[d]
        out[d] = level
    return out


# Bucket sorts: one bucket per BUCKET_SIZE values on average; a bucket holding more than
# _INSERTION_MAX values (values bunched together) is sorted by numba's sort instead.
_BUCKET_SIZE = 2
_INSERTION_MAX = 64


@numba.njit(cache=True)
def _bucket_plan(a: np.ndarray) -> tuple[bool, float, float, int]:
    """For a bucket sort of ``a`` (not empty): whether every value is finite, the smallest
    value, the buckets per unit of value and the number of buckets. The scale keeps
    ``(v - lo) * scale`` finite and in ``[0, n_buckets]`` for every value; it is 0 when no such
    scale exists (one value, a range that overflows, or one so narrow that the scale would: then
    ``0 * inf`` would be NaN, and a NaN bucket an index out of bounds)."""
    lo = hi = a[0]
    for v in a:
        if not np.isfinite(v):
            return False, lo, 0.0, 0
        lo = min(lo, v)
        hi = max(hi, v)
    n_buckets = max(a.size // _BUCKET_SIZE, 1)
    width = hi - lo
    if not (width > 0.0 and np.isfinite(width)):
        return True, lo, 0.0, n_buckets
    scale = n_buckets / width
    return True, lo, (scale if np.isfinite(scale) else 0.0), n_buckets


@numba.njit(cache=True)
def _bucket_of(v: float, lo: float, scale: float, n_buckets: int) -> int:
    """The bucket of value ``v``: monotone in v."""
    return min(int((v - lo) * scale), n_buckets - 1)


@numba.njit(cache=True)
def _bucket_starts(a: np.ndarray, lo: float, scale: float, n_buckets: int) -> np.ndarray:
    """Where each bucket begins (and, last, ends) once the values are placed bucket by bucket."""
    start = np.zeros(n_buckets + 1, dtype=np.int64)
    for v in a:
        start[_bucket_of(v, lo, scale, n_buckets) + 1] += 1
    for b in range(n_buckets):
        start[b + 1] += start[b]
    return start


@numba.njit(cache=True)
def sort_in_place(a: np.ndarray) -> bool:
    """Sort ``a`` in place, as ``a.sort()`` does, when every value is finite (else leave it and
    return False). A bucket sort: linear in time for values spread over their range, where
    numpy's comparison sort costs more than twice as much for the daily levels' half a million
    times. Values are values: any correct sort gives the same array."""
    n = a.size
    if n < 2:
        return True
    finite, lo, scale, n_buckets = _bucket_plan(a)
    if not finite:
        return False
    if scale <= 0.0:  # one value, or a range too wide or too narrow to cut into buckets
        a.sort()
        return True
    start = _bucket_starts(a, lo, scale, n_buckets)
    fill = start[:-1].copy()
    out = np.empty(n)
    for v in a:
        b = _bucket_of(v, lo, scale, n_buckets)
        out[fill[b]] = v
        fill[b] += 1
    for b in range(n_buckets):
        i0, i1 = start[b], start[b + 1]
        if i1 - i0 > _INSERTION_MAX:
            out[i0:i1].sort()
            continue
        for i in range(i0 + 1, i1):
            v = out[i]
            j = i - 1
            while j >= i0 and out[j] > v:
                out[j + 1] = out[j]
                j -= 1
            out[j + 1] = v
    a[:] = out
    return True


@numba.njit(cache=True)
def stable_argsort(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """``np.argsort(a, kind="stable")`` when every value is finite (else an empty order and
    False): the same bucket sort as :func:`sort_in_place`, on indices. Indices enter each
    bucket in index order and a bucket is sorted stably (insertion sort, or numba's merge sort
    for a crowded one), so ties keep their index order, as the stable sort's do."""
    n = a.size
    order = np.empty(n, dtype=np.int64)
    if n == 0:
        return order, True
    finite, lo, scale, n_buckets = _bucket_plan(a)
    if not finite:
        return order[:0], False
    if scale <= 0.0:  # one value, or a range too wide or too narrow to cut into buckets
        return np.argsort(a, kind="mergesort"), True
    start = _bucket_starts(a, lo, scale, n_buckets)
    fill = start[:-1].copy()
    for k in range(n):
        b = _bucket_of(a[k], lo, scale, n_buckets)
        order[fill[b]] = k
        fill[b] += 1
    for b in range(n_buckets):
        i0, i1 = start[b], start[b + 1]
        if i1 - i0 > _INSERTION_MAX:
            members = order[i0:i1].copy()
            order[i0:i1] = members[np.argsort(a[members], kind="mergesort")]
            continue
        for i in range(i0 + 1, i1):
            k = order[i]
            v = a[k]
            j = i - 1
            while j >= i0 and a[order[j]] > v:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = k
    return order, True


@numba.njit(cache=True)
def stable_argsort_by_day(t: np.ndarray, per_day: np.ndarray) -> tuple[np.ndarray, bool]:
    """``np.argsort(t, kind="stable")`` for times drawn day by day: ``per_day[d]`` values, each
    in ``[d, d + 1]`` (the emergencies' times). Then the stable order is each day's own, one day
    after another (a time of day d that rounded up to d + 1 is still at or below every time of
    day d + 1), and a day is bucket-sorted on its own, in cache: bucket ``(t - d) * count``,
    monotone in t (``t - d`` is exact), so equal times share a bucket and keep their index
    order. An empty order and False when a time is not in its day or the counts do not add up."""
    n = t.size
    order = np.empty(n, dtype=np.int64)
    widest = 0
    for count in per_day:
        widest = max(widest, count)
    start = np.empty(widest + 1, dtype=np.int64)
    fill = np.empty(widest, dtype=np.int64)
    i0 = 0
    for day in range(per_day.size):
        m = per_day[day]
        if i0 + m > n:
            return order[:0], False
        start[: m + 1] = 0
        for k in range(i0, i0 + m):
            x = t[k] - day
            if not (0.0 <= x <= 1.0):  # NaN too
                return order[:0], False
            start[min(int(x * m), m - 1) + 1] += 1
        for b in range(m):
            start[b + 1] += start[b]
            fill[b] = start[b]
        for k in range(i0, i0 + m):
            b = min(int((t[k] - day) * m), m - 1)
            order[i0 + fill[b]] = k
            fill[b] += 1
        for b in range(m):  # a stable insertion sort within each bucket (about one value each)
            for i in range(i0 + start[b] + 1, i0 + start[b + 1]):
                k = order[i]
                v = t[k]
                j = i - 1
                while j >= i0 + start[b] and t[order[j]] > v:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = k
        i0 += m
    if i0 != n:
        return order[:0], False
    return order, True


def warm_up() -> None:
    """Run every kernel once on tiny inputs of the types the callers pass, so that a numba that
    imports but cannot compile (or load its cache) shows up here, not in the middle of a run."""
    t, ints = np.array([0.5, 1.5]), np.array([1, 1], dtype=np.int64)
    s, e, z, _, _, _ = level_intervals(t, t + 0.25, 2)
    level_sweep(s, e, z, 2, t, t, 2)
    day_counts(t, t > 1.0, 2)
    day_counts(t, np.zeros(0, dtype=np.bool_), 2)
    row_entries(np.ones((2, 2)), ints - 2, ints)
    same_day_leaves(t > 1.0, t, t)
    waits_for_a_bed(t, t, np.zeros(2, dtype=np.int8), t > 1.0, ints, 0.5, 2.0)
    patient_day_counts(t, t, t, np.zeros(2, dtype=np.int8), t > 1.0, t, ints, t, 2)
    midnight_levels(t, t + 0.25, 2)
    shifted_midnight_levels(t, t > 1.0, t + 0.25, t, 2)
    list_waits_in_bin(ints, ints, t - 1.0, 0)
    list_wait_histogram(ints, ints, t - 1.0)
    count_at_or_below(t, t)
    times_of_day(ints, t / 2, np.linspace(0.0, 1.0, 25), 0.5)
    sort_in_place(t[::-1].copy())
    stable_argsort(t)
    stable_argsort_by_day(t, ints)
