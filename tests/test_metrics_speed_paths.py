"""The compiled (numba) paths around the event loop give the same bits as their numpy references:
the daily levels and counts, the list-wait quantiles, the times of day, bins and stays drawn for
the patients, and a whole replication's candidates, daily table and KPIs. Also that without numba
everything falls back to numpy."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hospsim.model
from hospsim.config import load_config
from hospsim.config.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, ppf, ppf_grouped, ppf_rows
from hospsim.model import compiled, demand
from hospsim.model.cohort import ElectiveOrder, _gather_concat, _time_order, build_candidates, row_entries
from hospsim.model.engine import simulate_candidates
from hospsim.model.kpis import (
    _PATIENT_COUNTS,
    ListWaitQuantiles,
    _patient_day_counts,
    _same_day_leaves,
    _waits,
    daily_and_kpis,
    list_waits,
)
from hospsim.model.monitor import (
    _daily_counts_numpy,
    _daily_level_numpy,
    daily_counts,
    daily_level,
    daily_midnight_level,
)
from hospsim.model.records import ADMITTED, AVOIDED, REFUSED, TRANSFERRED, WAITING
from hospsim.model.streams import Streams

DATA = Path(__file__).parent / "data"
KERNELS = compiled.array_kernels()
needs_numba = pytest.mark.skipif(KERNELS is None, reason="numba cannot be imported")


def same_bits(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Equal dtype, shape and bytes (so -0.0 differs from 0.0 and NaNs must match)."""
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# Times on a grid of quarter days (ties with each other and with midnights), off-grid ones, and
# times before 0 or after the horizon (clipped), NaN (no start / still open) and infinities.
def times(n_days: int) -> st.SearchStrategy[float]:
    return st.one_of(
        st.integers(-4, 4 * n_days + 4).map(lambda q: q / 4),
        st.floats(-2.0, n_days + 2.0),
        st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0]),
    )


@st.composite
def intervals(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n_days = draw(st.integers(1, 6))
    n = draw(st.integers(0, 40))
    starts = np.array(draw(st.lists(times(n_days), min_size=n, max_size=n)), dtype=float)
    ends = np.array(draw(st.lists(times(n_days), min_size=n, max_size=n)), dtype=float)
    if draw(st.booleans()):  # mostly well-formed: each end at or after its start
        with np.errstate(invalid="ignore"):  # infinities make NaN: "still open"
            ends = np.where(np.isnan(ends), ends, starts + np.abs(ends - starts))
    return starts, ends, n_days


def assert_levels_equal(starts, ends, n_days, threshold=None, cap=None) -> None:
    ref = _daily_level_numpy(starts, ends, n_days, threshold, cap)
    got = daily_level(starts, ends, n_days, threshold, cap)
    for field in ("mean", "max", "midnight", "mean_excess"):
        assert same_bits(getattr(ref, field), getattr(got, field)), field
    assert same_bits(daily_midnight_level(starts, ends, n_days), ref.midnight)


@needs_numba
@settings(max_examples=150, deadline=None)
@given(
    intervals(),
    st.one_of(st.none(), st.lists(st.integers(-2, 6), min_size=8, max_size=8)),
    st.one_of(st.none(), st.lists(st.integers(-1, 4), min_size=8, max_size=8)),
)
def test_daily_level_compiled_equals_numpy(iv, threshold, cap):
    starts, ends, n_days = iv
    assert_levels_equal(
        starts,
        ends,
        n_days,
        None if threshold is None else np.array(threshold[:n_days]),
        None if cap is None else np.array(cap[:n_days], dtype=float),
    )


@st.composite
def logged_intervals(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Intervals as the compiled engine meets them: each starts in the run, ends at or after its
    start (many at once: zero length), before the horizon or not at all (NaN: still open)."""
    n_days = draw(st.integers(1, 5))
    quarter = st.integers(0, 4 * n_days - 1).map(lambda q: q / 4)
    start = st.one_of(quarter, st.floats(0.0, n_days, exclude_max=True))
    pairs = draw(st.lists(st.tuples(start, st.sampled_from([0.0, 0.25, 1.0]) | st.floats(0.0, 3.0)), max_size=40))
    starts = np.array([s for s, _ in pairs], dtype=float)
    ends = np.array([s + d if s + d < n_days else np.nan for s, d in pairs], dtype=float)
    return starts, ends, n_days


if KERNELS is not None:
    from collections import namedtuple
    from collections.abc import Iterator
    from contextlib import contextmanager
    from typing import Any

    from numba import njit
    from numba.core.caching import NullCache

    from hospsim.model.fast import kernel

    # The fields of the kernel's state that its daily levels use (one level here: OCCUPIED).
    _Levels = namedtuple(
        "_Levels", "lv_level lv_since lv_area lv_top lv_mean lv_peak lv_midnight lv_excess sf core_beds escalation_beds"
    )

    @contextmanager
    def _not_cached(*dispatchers: Any) -> Iterator[None]:
        """The kernel's functions compiled for this test's own state type, and not written to
        their on-disk cache: its index would then name this test module, which numba could not
        import to read the index when it next compiles the kernel outside pytest."""
        saved = [d._cache for d in dispatchers]
        for d in dispatchers:
            d._cache = NullCache()
        try:
            yield
        finally:
            for d, cache in zip(dispatchers, saved, strict=True):
                d._cache = cache

    @njit
    def _sweep_as_the_kernel(st, times, deltas, n_days):  # type: ignore[no-untyped-def]
        """The kernel's calls in a run: a day's capacities at its midnight, each change as it
        happens, each day closed at the next midnight (before the events at that time)."""
        day = 0
        kernel._levels_open_day(st, 0)
        for i in range(times.size):
            while times[i] >= day + 1:
                kernel._close_levels(st, day, float(day + 1))
                day += 1
                kernel._levels_open_day(st, day)
            kernel._level_step(st, 0, deltas[i], times[i])
        while day < n_days:
            kernel._close_levels(st, day, float(day + 1))
            day += 1
            if day < n_days:
                kernel._levels_open_day(st, day)


@needs_numba
@settings(max_examples=120, deadline=None)
@given(logged_intervals(), st.lists(st.integers(0, 5), min_size=5, max_size=5), st.randoms(use_true_random=False))
def test_the_kernels_daily_levels_equal_numpy(iv, core, rnd):
    """The compiled engine sweeps each daily level as it changes, in the order its events come
    (at one time, in any order, but an interval's end after its own start): the bits the records
    give, excess over the core beds (capped at the escalation beds) included."""
    with _not_cached(kernel._levels_open_day, kernel._close_levels, kernel._level_step, kernel._nn):
        _check_the_kernels_daily_levels(iv, core, rnd)


def _check_the_kernels_daily_levels(iv, core, rnd) -> None:  # type: ignore[no-untyped-def]
    starts, ends, n_days = iv
    changes = [(t, 1.0, i, 0) for i, t in enumerate(starts)] + [
        (t, -1.0, i, 1) for i, t in enumerate(ends) if not np.isnan(t)
    ]
    # Time order, ties in a random order that keeps each interval's end after its start.
    rnd.shuffle(changes)
    changes.sort(key=lambda c: c[0])
    for at in range(1, len(changes)):  # a zero-length interval shuffled end-first: swap back
        j = at
        while (
            j > 0
            and changes[j][0] == changes[j - 1][0]
            and changes[j][2] == changes[j - 1][2]
            and changes[j][3] < changes[j - 1][3]
        ):
            changes[j], changes[j - 1] = changes[j - 1], changes[j]
            j -= 1
    core_beds = np.array(core[:n_days], dtype=np.int64)
    escalation = np.full(n_days, 2, dtype=np.int64)
    st_ = _Levels(
        np.zeros(1), np.zeros(1), np.zeros(1), np.full(1, -np.inf),
        *(np.zeros((1, n_days)) for _ in range(3)), np.zeros(n_days), np.zeros(kernel.N_SF), core_beds, escalation,
    )  # fmt: skip
    times = np.array([c[0] for c in changes], dtype=float)
    deltas = np.array([c[1] for c in changes], dtype=float)
    _sweep_as_the_kernel(st_, times, deltas, n_days)
    ref = _daily_level_numpy(starts, ends, n_days, core_beds.astype(float), escalation.astype(float))
    got = {"mean": st_.lv_mean[0], "max": st_.lv_peak[0], "midnight": st_.lv_midnight[0], "mean_excess": st_.lv_excess}
    for field, value in got.items():
        assert same_bits(getattr(ref, field), value), field


@needs_numba
def test_daily_level_edge_cases_equal_numpy():
    nan, inf = float("nan"), float("inf")
    cases = [
        (np.empty(0), np.empty(0), 3),  # nobody
        (np.array([nan, nan]), np.array([1.0, nan]), 2),  # no start at all
        (np.array([-5.0, 0.5]), np.array([0.25, 9.0]), 2),  # clipped at 0 and at the horizon
        (np.array([1.0, 0.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0, nan]), 3),  # ties at midnights
        (np.array([0.5, 0.5, 0.7]), np.array([0.5, 0.2, 0.7]), 1),  # zero length, end before start
        (np.array([0.3, 1.2, -inf]), np.array([inf, 1.2, 0.4]), 2),
        (np.array([-0.0, 0.0]), np.array([0.0, -0.0]), 1),
        (np.array([0.1, 0.1, 0.1]), np.array([3.0, 3.0, 3.0]), 3),
    ]
    for starts, ends, n_days in cases:
        assert_levels_equal(starts, ends, n_days)
        assert_levels_equal(starts, ends, n_days, np.ones(n_days, dtype=np.int64))
        assert_levels_equal(starts, ends, n_days, np.zeros(n_days), np.full(n_days, 1.0))
        assert_levels_equal(starts, ends, n_days, np.full(n_days, -1.0), np.zeros(n_days))
    # Not finite thresholds or caps, or a threshold too short: the numpy answer (or error).
    s, e = np.array([0.2, 0.4]), np.array([0.6, 1.5])
    assert_levels_equal(s, e, 2, np.array([nan, 1.0]))
    assert_levels_equal(s, e, 2, np.array([0.0, 1.0]), np.array([inf, nan]))
    with pytest.raises(IndexError):
        daily_level(s, e, 2, np.array([0.0]))


@needs_numba
def test_daily_level_numbers_by_hand():
    # A in 0.5-1.5, B in 1.0-2.0, C from 1.5 on: the bed A frees at 1.5 is C's at once.
    lv = daily_level(np.array([0.5, 1.0, 1.5]), np.array([1.5, 2.0, np.nan]), 3, np.ones(3), np.ones(3))
    assert lv.mean.tolist() == [0.5, 2.0, 1.0]
    assert lv.max.tolist() == [1.0, 2.0, 1.0]
    assert lv.midnight.tolist() == [1.0, 2.0, 1.0]  # just before each midnight: B not yet, B still
    assert lv.mean_excess is not None and lv.mean_excess.tolist() == [0.0, 1.0, 0.0]


@needs_numba
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # numpy on infinities
@settings(max_examples=100, deadline=None)
@given(st.lists(times(5), max_size=60), st.integers(1, 6))
def test_daily_counts_compiled_equals_numpy(values, n_days):
    t = np.array(values, dtype=float)
    assert same_bits(daily_counts(t, n_days), _daily_counts_numpy(t, n_days))


@needs_numba
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # numpy on infinities
@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(times(5), st.booleans()), max_size=60), st.integers(1, 6))
def test_daily_counts_where_equals_the_masked_copy(values, n_days):
    t = np.array([v for v, _ in values], dtype=float)
    where = np.array([w for _, w in values], dtype=bool)
    masked = _daily_counts_numpy(np.where(where, t, np.nan), n_days)
    assert same_bits(daily_counts(t, n_days, where), masked)
    assert daily_counts(np.array([0.5, 1.5, 1.7, 9.0]), 3, np.array([True, False, True, True])).tolist() == [1, 1, 1]


@needs_numba
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # numpy on infinities
@settings(max_examples=120, deadline=None)
@given(st.integers(1, 6), st.data())
def test_patient_day_counts_compiled_equal_numpy(n_days, data):
    n = data.draw(st.integers(0, 40))
    column = st.lists(times(n_days), min_size=n, max_size=n)
    arrival, admit, transfer = (np.array(data.draw(column), dtype=float) for _ in range(3))
    outcome = np.array(
        data.draw(
            st.lists(st.sampled_from([ADMITTED, AVOIDED, REFUSED, TRANSFERRED, WAITING]), min_size=n, max_size=n)
        ),
        dtype=np.int8,
    )
    elective = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    # waits at, around and far from the 4- and 12-hour thresholds
    near = st.sampled_from([4 / 24, 12 / 24, np.nextafter(4 / 24, 0), np.nextafter(12 / 24, 1), 0.0, float("nan")])
    waits = np.array(data.draw(st.lists(near | st.floats(0.0, 2.0), min_size=n, max_size=n)), dtype=float)
    m = SimpleNamespace(
        n_days=n_days, arrival=arrival, outcome=outcome, rec=SimpleNamespace(admit_days=admit),
        transfer_days=transfer, elective=elective, emergency=~elective, wait_days=waits,
    )  # fmt: skip
    got = _patient_day_counts(m)  # type: ignore[arg-type]
    with mock.patch.object(compiled, "array_kernels", lambda: None):
        ref = _patient_day_counts(m)  # type: ignore[arg-type]
    assert list(got) == list(ref) == list(_PATIENT_COUNTS)
    for name in ref:
        assert same_bits(np.ascontiguousarray(got[name]), ref[name]), name


@needs_numba
@settings(max_examples=100, deadline=None)
@given(intervals(), st.data())
def test_same_day_leaves_compiled_equal_numpy(iv, data):
    admit, leave, _ = iv
    chosen = np.array(data.draw(st.lists(st.booleans(), min_size=admit.size, max_size=admit.size)), dtype=bool)
    got = _same_day_leaves(chosen, admit, leave)
    with mock.patch.object(compiled, "array_kernels", lambda: None):
        ref = _same_day_leaves(chosen, admit, leave)
    assert same_bits(got, ref)


@needs_numba
@settings(max_examples=120, deadline=None)
@given(
    intervals(),
    st.lists(st.sampled_from([0.0, 0.5, 7.0 * 18, -1.0]) | st.floats(-3.0, 3.0), min_size=1, max_size=3),
    st.data(),
)
def test_shifted_midnight_levels_equal_one_level_each(iv, shifts, data):
    starts, ends, n_days = iv
    where = np.array(data.draw(st.lists(st.booleans(), min_size=starts.size, max_size=starts.size)), dtype=bool)
    got = KERNELS.shifted_midnight_levels(starts, where, ends, np.array(shifts), n_days)
    for j, shift in enumerate(shifts):
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, left out
            ref = _daily_level_numpy(np.where(where, starts, np.nan) + shift, ends, n_days).midnight
        assert same_bits(got[j], ref.astype(np.int64)), shift


@needs_numba
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract")  # numpy on infinities
@settings(max_examples=120, deadline=None)
@given(st.integers(1, 6), st.sampled_from([float("nan"), 0.5, 1 / 3]), st.data())
def test_waits_compiled_equal_numpy(n_days, max_wait_days, data):
    n = data.draw(st.integers(0, 40))
    arrival, admit = (
        np.array(data.draw(st.lists(times(n_days), min_size=n, max_size=n)), dtype=float) for _ in range(2)
    )
    codes = [ADMITTED, AVOIDED, REFUSED, TRANSFERRED, WAITING]
    outcome = np.array(data.draw(st.lists(st.sampled_from(codes), min_size=n, max_size=n)), dtype=np.int8)
    emergency = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    got = _waits(arrival, admit, outcome, emergency, max_wait_days, n_days)
    with mock.patch.object(compiled, "array_kernels", lambda: None):
        ref = _waits(arrival, admit, outcome, emergency, max_wait_days, n_days)
    for a, b in zip(got, ref, strict=True):
        assert same_bits(a, b)


@needs_numba
@settings(max_examples=120, deadline=None)
@given(st.integers(1, 20), st.data())
def test_list_wait_histogram_equals_counting_each_wait(n, data):
    """Referrals a power of 2 of a day after a whole day: the waits just below a whole number of
    days, where rounding puts the longer ones (with a coarser ulp) into the next day."""
    first = np.array(data.draw(st.lists(st.integers(1, 3000), min_size=n, max_size=n)), dtype=np.int64)
    count = np.array(data.draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n)), dtype=np.int64)
    back = np.array(data.draw(st.lists(st.integers(1, 600), min_size=n, max_size=n)), dtype=np.int64)
    tiny = 2.0 ** -np.array(data.draw(st.lists(st.integers(30, 60), min_size=n, max_size=n)), dtype=float)
    ref = np.minimum((first - back) + tiny, np.nextafter(first.astype(float), -np.inf))
    waits = list_waits(first, count, ref)
    want = np.bincount(waits.astype(np.int64))
    got = KERNELS.list_wait_histogram(first, count, ref)
    size = max(want.size, got.size)
    assert (np.pad(want, (0, size - want.size)) == np.pad(got, (0, size - got.size))).all()


def test_a_wait_rounded_into_the_next_day_by_hand():
    # From 8 days on a double is 2**-49 apart: 9 - 2**-50 lies halfway and rounds to 9 (even),
    # and so do the later waits; 8 - 2**-50 and those before it are exact.
    ref = np.array([2.0**-50])
    waits = list_waits(np.array([1]), np.array([20]), ref)
    assert waits.astype(np.int64).tolist() == [*range(8), *range(9, 21)]
    if KERNELS is not None:
        assert KERNELS.list_wait_histogram(np.array([1]), np.array([20]), ref).tolist() == [1] * 8 + [0] + [1] * 12


@needs_numba
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(0, 2**32))
def test_row_entries_compiled_equal_numpy(n_rows, n_columns, seed):
    rng = np.random.default_rng(seed)
    rows = rng.random((n_rows, n_columns))
    rows[rng.random(rows.shape) < 0.2] = np.nan
    row = rng.integers(-1, n_rows, 50)
    column = rng.integers(0, n_columns, 50)
    got = row_entries(rows, row, column)
    with mock.patch.object(compiled, "array_kernels", lambda: None):
        ref = row_entries(rows, row, column)
    assert same_bits(got, ref)
    assert same_bits(ref, np.where(row < 0, 0.0, rows[np.maximum(row, 0), column]))


@st.composite
def list_spans(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 30))
    ref = np.array(draw(st.lists(st.floats(-120.0, 60.0), min_size=n, max_size=n)), dtype=float)
    if draw(st.booleans()):  # referrals at whole days and tiny fractions: waits near whole days
        ref = np.round(ref) - draw(st.sampled_from([0.0, 1e-13, 0.5, 1 - 1e-13]))
    first = np.maximum(1, np.floor(ref).astype(np.int64) + 1)
    if draw(st.booleans()):  # not as kpis makes them: some waits <= 0 (numpy then answers)
        first = first - draw(st.integers(0, 3))
    last = np.minimum(60, first + np.array(draw(st.lists(st.integers(-2, 70), min_size=n, max_size=n)), dtype=np.int64))
    return first, np.maximum(last - first + 1, 0), ref


@needs_numba
@settings(max_examples=120, deadline=None)
@given(list_spans(), st.lists(st.sampled_from([0.0, 0.5, 0.92, 1.0]) | st.floats(0.0, 1.0), min_size=1, max_size=3))
def test_list_wait_quantiles_equal_numpy(spans, qs):
    waits = list_waits(*spans)
    fast = ListWaitQuantiles(*spans)
    for q in qs:
        ref = float(np.quantile(waits, q, method="inverted_cdf")) if waits.size else float("nan")
        assert same_bits(np.float64(fast.days(q)), np.float64(ref)), q


@needs_numba
@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=10),
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]) | st.floats(0.0, 3.0), min_size=24, max_size=24),
    st.integers(0, 2**32),
)
def test_times_of_day_equal_numpy(counts, hourly, seed):
    h = np.array(hourly)
    if h.sum() == 0:
        h[0] = 1.0
    cum = np.concatenate([[0.0], np.cumsum(h / h.sum())])
    c = np.array(counts, dtype=np.int64)
    u = np.random.default_rng(seed).random(int(c.sum()))
    u[: min(u.size, 25)] = cum[: min(u.size, 25)]  # uniforms exactly on the hour boundaries
    got = KERNELS.times_of_day(c, u, cum, np.nextafter(1.0, 0.0))
    assert same_bits(got, demand._times_of_day(c, u, cum))


@needs_numba
@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0), max_size=30), st.integers(0, 2**32))
def test_bins_by_counting_equal_searchsorted(edges, seed):
    cum = np.sort(np.array(edges, dtype=float))
    # uniforms, the edges themselves, numbers just off them, outside [0, 1) and NaN
    near = np.concatenate([np.nextafter(cum, -1.0), np.nextafter(cum, 2.0), [-0.5, 1.0, 1.5, np.nan, -0.0]])
    u = np.concatenate([np.random.default_rng(seed).random(50), cum, near])
    assert (KERNELS.count_at_or_below(cum, u) == np.searchsorted(cum, u, side="right")).all()


SPECS = [
    Lognormal(dist="lognormal", mean_days=5.0, cv=1.2),
    Lognormal(dist="lognormal", mean_days=0.25, cv=0.4),
    Gamma(dist="gamma", mean_days=3.0, cv=0.7),
    Exponential(dist="exponential", mean_days=2.0),
    Fixed(dist="fixed", mean_days=1.5),
    Empirical(dist="empirical", values_days=[3.0, 1.0, 2.0]),
]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(range(len(SPECS))), min_size=1, max_size=4), st.integers(0, 2**32), st.integers(0, 50))
def test_ppf_rows_and_grouped_equal_ppf(chosen, seed, n):
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    specs = [SPECS[i] for i in chosen]
    rows = ppf_rows([*specs, None], u)
    for row, spec in zip(rows, specs, strict=False):
        assert same_bits(row, ppf(spec, u))
    assert same_bits(rows[-1], np.zeros(n))
    which = rng.integers(0, len(specs), n)
    expected = np.empty(n)
    for i, spec in enumerate(specs):
        expected[which == i] = ppf(spec, u[which == i])
    assert same_bits(ppf_grouped(specs, which, u), expected)


@given(st.lists(st.integers(0, 8).map(lambda q: q / 4), max_size=40))
def test_time_order_is_the_stable_order(values):
    t = np.array(values, dtype=float)
    assert (_time_order(t) == np.argsort(t, kind="stable")).all()
    rest = np.arange(3.0)
    assert same_bits(_gather_concat(np.argsort(t), t, rest), np.concatenate([np.sort(t), rest]))


@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(-3, 6), st.booleans()), max_size=60),
    st.booleans(),
)
def test_elective_orders_of_a_selection_are_its_own(rows, referrals_sorted):
    """The orders a shared draw's electives carry through a selection (:meth:`ElectiveOrder.kept`)
    are the orders made from the selected electives themselves: ties in both orders, referral
    times sorted (the draw's case) or not."""
    bookable = np.array([r[0] / 2 for r in rows], dtype=float)
    priority = np.array([r[1] for r in rows], dtype=np.int64)
    referral = np.array([r[2] / 3 for r in rows], dtype=float)
    if referrals_sorted:
        referral = np.sort(referral)
    keep = np.array([r[3] for r in rows], dtype=bool)
    full = ElectiveOrder.of(bookable, priority, referral)
    assert (full.by_bookable == np.argsort(bookable, kind="stable")).all()
    assert (full.by_rank == np.lexsort((np.arange(keep.size), referral, priority))).all()
    kept, own = full.kept(keep), ElectiveOrder.of(bookable[keep], priority[keep], referral[keep])
    assert (kept.by_bookable == own.by_bookable).all()
    assert (kept.by_rank == own.by_rank).all()
    assert (kept.ranks()[own.by_rank] == np.arange(keep.sum())).all()


def test_a_selection_carries_the_electives_orders():
    """A shared draw sorts its electives once; each run's selection gets their orders among its
    own electives (every elective kept: the very same orders, not a copy)."""
    cfg = load_config(Path(hospsim.model.__file__).parent.parent / "configs" / "footprint.yaml")
    cfg = cfg.model_copy(update={"horizon_days": 60, "warmup_days": 0})
    cand = build_candidates(cfg, Streams(3)).with_elective_order()
    first, n = cand.n_emergencies, cand.n_electives
    assert n > 100
    every = np.ones(len(cand), dtype=bool)
    every[:first:2] = False  # half the emergencies dropped: the electives' orders as they were
    assert cand.select(every).elective_order is cand.elective_order
    some = every.copy()
    some[first : first + n : 3] = False
    chosen = cand.select(some)
    el = slice(chosen.n_emergencies, chosen.n_emergencies + chosen.n_electives)
    own = ElectiveOrder.of(chosen.bookable_days[el], chosen.priority[el], chosen.time_days[el])
    assert chosen.elective_order is not None
    assert (chosen.elective_order.by_bookable == own.by_bookable).all()
    assert (chosen.elective_order.by_rank == own.by_rank).all()


# Values for the bucket sorts: ties (a grid), spread values, a crowd of one value (a bucket past
# the insertion sort's limit), huge magnitudes (a range too wide for buckets) and signed zeros.
sortable = st.one_of(
    st.integers(-40, 40).map(lambda q: q / 4),
    st.floats(-1e6, 1e6),
    st.sampled_from([-0.0, 0.0, 1e308, -1e308, 5e-324]),
)


@needs_numba
@given(st.lists(sortable, max_size=300), st.integers(0, 200), st.integers(0, 3))
def test_bucket_sorts_equal_numpy(values, crowd, which):
    a = np.array(values + [values[0] if values else 1.5] * crowd, dtype=float)
    if which:  # a value crowded among spread ones, or a range of one value
        a = np.concatenate([a, np.full(crowd, float(which))])
    order, done = KERNELS.stable_argsort(a)
    assert done and (order == np.argsort(a, kind="stable")).all()
    b = a.copy()
    assert KERNELS.sort_in_place(b)
    assert (b == np.sort(a)).all()
    if not (a == 0).any():  # signed zeros compare equal: their order among themselves is free
        assert same_bits(b, np.sort(a))


# Times of day for the sort by day: a grid (ties), both ends of the day (a time that rounded up
# to the next midnight ties that day's first), spread values, and now and then one outside its
# day, which the sort must refuse.
time_of_day = st.one_of(
    st.integers(0, 8).map(lambda q: q / 8),
    st.sampled_from([0.0, 1.0, 1.0 - 2**-53, 5e-324]),
    st.floats(0.0, 1.0),
    st.sampled_from([-1e-9, 1.5, float("nan")]),
)


@needs_numba
@given(st.lists(st.lists(time_of_day, max_size=40), max_size=8))
def test_the_sort_by_day_equals_numpy_or_refuses(days):
    """Times drawn day by day sort as numpy's stable sort; a time outside its day is refused,
    and the time order then still is the stable order."""
    a = np.concatenate([np.zeros(0), *(np.array(fracs) + d for d, fracs in enumerate(days))])
    counts = np.array([len(fracs) for fracs in days], dtype=np.int64)
    order, done = KERNELS.stable_argsort_by_day(a, counts)
    assert done == all(0.0 <= f <= 1.0 for fracs in days for f in fracs)
    if done:
        assert (order == np.argsort(a, kind="stable")).all()
    if not np.isnan(a).any():
        assert (_time_order(a, counts) == np.argsort(a, kind="stable")).all()


@needs_numba
def test_the_sort_by_day_refuses_counts_that_do_not_add_up():
    a = np.array([0.5, 0.25, 1.5])
    assert KERNELS.stable_argsort_by_day(a, np.array([2, 1], dtype=np.int64))[1]
    assert not KERNELS.stable_argsort_by_day(a, np.array([1, 1], dtype=np.int64))[1]
    assert not KERNELS.stable_argsort_by_day(a, np.array([2, 2], dtype=np.int64))[1]


@needs_numba
@pytest.mark.parametrize(
    "values",
    [[0.0, 5e-324], [5e-324, 0.0, 1e-310, 5e-324], [-0.0, 0.0, -0.0], [3.0] * 100, [1e308, -1e308, 0.0]],
)
def test_bucket_sorts_of_ranges_too_narrow_or_too_wide_for_buckets(values):
    # a range of one subnormal made the scale infinite and 0 * inf a NaN bucket (a crash)
    a = np.array(values * 40, dtype=float)
    order, done = KERNELS.stable_argsort(a)
    assert done and (order == np.argsort(a, kind="stable")).all()
    b = a.copy()
    assert KERNELS.sort_in_place(b)
    assert (b == np.sort(a)).all()


@needs_numba
def test_bucket_sorts_refuse_values_that_are_not_finite():
    for bad in (np.nan, np.inf, -np.inf):
        a = np.array([2.0, bad, 1.0])
        order, done = KERNELS.stable_argsort(a)
        assert not done and order.size == 0
        b = a.copy()
        assert not KERNELS.sort_in_place(b)
        assert same_bits(b, a)  # left as it was, for numpy to sort
    # the time order falls back to numpy's stable order
    t = np.array([1.0, np.nan, 0.5, 0.5])
    assert (_time_order(t) == np.argsort(t, kind="stable")).all()


@needs_numba
def test_bucket_sorts_of_a_replication_size():
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.random(200_000) * 1_000, np.floor(rng.random(50_000) * 1_000), np.full(5_000, 3.0)])
    rng.shuffle(a)
    order, done = KERNELS.stable_argsort(a)
    assert done and (order == np.argsort(a, kind="stable")).all()
    b = a.copy()
    KERNELS.sort_in_place(b)
    assert same_bits(b, np.sort(a))


def without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "array_kernels", lambda: None)


ROOT = Path(__file__).parent.parent
CONFIGS = {
    "mini_system": (DATA / "mini_system.yaml", ()),
    "mini_chain": (DATA / "mini_chain.yaml", ()),
    # electives (a waiting list and its quantiles), escalation beds, every service kind
    "footprint": (ROOT / "hospsim/configs/footprint.yaml", ("horizon_days=120", "warmup_days=20")),
}


@needs_numba
@pytest.mark.parametrize("name", list(CONFIGS))
def test_replication_same_with_and_without_numba(name, monkeypatch):
    cfg = load_config(*CONFIGS[name])
    fast_cand = build_candidates(cfg, Streams(7))
    rep = simulate_candidates(cfg, fast_cand)
    fast_daily, fast_kpis = daily_and_kpis(cfg, rep)
    without_numba(monkeypatch)
    ref_cand = build_candidates(cfg, Streams(7))
    for field in ("time_days", "group", "priority", "base_los_days", "service_los_days", "assessment_days"):
        assert same_bits(getattr(fast_cand, field), getattr(ref_cand, field)), field
    ref_daily, ref_kpis = daily_and_kpis(cfg, rep)
    pd.testing.assert_frame_equal(fast_daily, ref_daily, check_exact=True)
    assert list(fast_kpis) == list(ref_kpis)
    for k, v in ref_kpis.items():
        assert same_bits(np.float64(fast_kpis[k]), np.float64(v)), k
    assert "elective_wait_weeks_p92" in ref_kpis or name != "footprint"


def test_without_numba_the_kernels_are_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "hospsim.model.array_kernels", raising=False)
    monkeypatch.delattr(hospsim.model, "array_kernels", raising=False)  # else `from . import` finds it
    compiled.array_kernels.cache_clear()
    try:
        assert compiled.array_kernels() is None
        lv = daily_level(np.array([0.5]), np.array([1.5]), 2)  # the numpy path
        assert lv.mean.tolist() == [0.5, 0.5]
    finally:
        compiled.array_kernels.cache_clear()


@needs_numba
def test_kernels_that_cannot_compile_mean_numpy(monkeypatch):
    def broken() -> None:
        raise RuntimeError("LLVM could not compile")

    monkeypatch.setattr(KERNELS, "warm_up", broken)
    compiled.array_kernels.cache_clear()
    try:
        assert compiled.array_kernels() is None
    finally:
        compiled.array_kernels.cache_clear()
