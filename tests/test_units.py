"""Unit tests with numbers worked out by hand: schedules, LOS distributions, streams, demand,
daily monitors and KPIs of a tiny deterministic system."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from hospsim.config import Elective, Emergency, config_from_dict
from hospsim.config.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, mean_days, ppf
from hospsim.config.schedules import Schedule
from hospsim.model.cohort import Candidates
from hospsim.model.demand import (
    accept_per_multiplier,
    calendar,
    emergency_arrivals,
    emergency_base_rate_per_day,
    emergency_rate_per_day,
    initial_list_times,
    referral_times,
)
from hospsim.model.engine import ADMITTED, NOT_ARRIVED, ElectiveList, run_model, simulate_candidates
from hospsim.model.kpis import daily_table, kpis
from hospsim.model.monitor import daily_counts, daily_level
from hospsim.model.records import final_states
from hospsim.model.streams import Streams, replication_seeds, stream_key

# ---------------------------------------------------------------------------------------------
# Schedules


def sched(raw) -> Schedule:
    return Schedule.model_validate(raw)


def test_constant_schedule():
    s = sched(7)
    assert s.constant == 7 and s.is_constant() and s.values() == [7]
    np.testing.assert_array_equal(s.daily(4), [7.0, 7.0, 7.0, 7.0])


def test_steps_schedule_by_hand():
    s = sched({"steps": [[0, 10], [5, 20], [8, 5]]})
    np.testing.assert_array_equal(s.daily(11), [10] * 5 + [20] * 3 + [5] * 3)
    assert s.values() == [10, 20, 5] and not s.is_constant()
    # A single step is a constant in disguise.
    assert sched({"steps": [[0, 3]]}).is_constant()


def test_ramp_schedule_by_hand():
    s = sched({"ramp": {"from": 100, "to": 200, "start_day": 10, "duration_days": 10}})
    d = s.daily(30)
    assert d[0] == 100 and d[10] == 100
    assert d[15] == 150
    assert d[11] == 110 and d[19] == 190
    assert d[20] == 200 and d[29] == 200
    assert s.values() == [100, 200]
    # A ramp down works the same way.
    down = sched({"ramp": {"from": 40, "to": 10, "start_day": 0, "duration_days": 3}}).daily(5)
    np.testing.assert_array_equal(down, [40, 30, 20, 10, 10])


def test_ramp_of_zero_duration_is_a_jump_on_start_day():
    d = sched({"ramp": {"from": 5, "to": 9, "start_day": 3, "duration_days": 0}}).daily(6)
    np.testing.assert_array_equal(d, [5, 5, 5, 9, 9, 9])


def test_ramp_starting_after_the_horizon_stays_at_from():
    d = sched({"ramp": {"from": 5, "to": 9, "start_day": 100, "duration_days": 10}}).daily(4)
    np.testing.assert_array_equal(d, [5, 5, 5, 5])


def test_daily_int_rounds_to_nearest_whole_place():
    # 10 -> 12 over 5 days: 10, 10.4, 10.8, 11.2, 11.6, 12
    d = sched({"ramp": {"from": 10, "to": 12, "start_day": 0, "duration_days": 5}})
    np.testing.assert_allclose(d.daily(6), [10, 10.4, 10.8, 11.2, 11.6, 12])
    got = d.daily_int(6)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [10, 10, 11, 11, 12, 12])
    np.testing.assert_array_equal(sched(2.4).daily_int(2), [2, 2])
    np.testing.assert_array_equal(sched(2.6).daily_int(2), [3, 3])


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"steps": [[1, 5]]}, "steps must start on day 0"),
        ({"steps": []}, "steps must start on day 0"),
        ({"steps": [[0, 5], [5, 3], [5, 2]]}, "strictly increasing"),
        ({"steps": [[0, 5], [6, 3], [4, 2]]}, "strictly increasing"),
        (
            {"steps": [[0, 5]], "ramp": {"from": 1, "to": 2, "start_day": 0, "duration_days": 1}},
            "a schedule is a number",
        ),
        ({"constant": 3, "steps": [[0, 5]]}, "a schedule is a number"),
        ({}, "a schedule is a number"),
        (True, "got a boolean"),
        ({"ramp": {"from": 1, "to": 2, "start_day": -1, "duration_days": 1}}, "greater than or equal to 0"),
        ({"ramp": {"from": 1, "to": 2, "start_day": 0}}, "Field required"),
        ({"steps": [[0, 1]], "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_schedule_validation_errors(raw, message):
    with pytest.raises(ValidationError, match=message):
        sched(raw)


def test_schedule_is_frozen():
    s = sched(3)
    with pytest.raises(ValidationError):
        s.constant = 4


# ---------------------------------------------------------------------------------------------
# Distributions

N_U = 200_000


@pytest.fixture(scope="module")
def uniforms() -> np.ndarray:
    return np.random.default_rng(20240601).random(N_U)


@pytest.mark.parametrize(
    "spec, mean, cv",
    [
        (Exponential(dist="exponential", mean_days=3.0), 3.0, 1.0),
        (Lognormal(dist="lognormal", mean_days=4.0, cv=0.5), 4.0, 0.5),
        (Lognormal(dist="lognormal", mean_days=0.35, cv=0.8), 0.35, 0.8),
        (Gamma(dist="gamma", mean_days=2.0, cv=0.7), 2.0, 0.7),
        (Gamma(dist="gamma", mean_days=10.0, cv=1.3), 10.0, 1.3),
        (Fixed(dist="fixed", mean_days=5.5), 5.5, 0.0),
        (Empirical(dist="empirical", values_days=[1, 2, 2, 5]), 2.5, math.sqrt(2.25) / 2.5),
    ],
    ids=["exponential", "lognormal", "lognormal-short", "gamma", "gamma-wide", "fixed", "empirical"],
)
def test_distribution_mean_and_cv(spec, mean, cv, uniforms):
    x = ppf(spec, uniforms)
    assert x.shape == uniforms.shape and np.all(x >= 0)
    assert mean_days(spec) == pytest.approx(mean)
    # Standard error of the mean is cv / sqrt(N) (< 0.3% here): allow 1%.
    assert x.mean() == pytest.approx(mean, rel=0.01)
    sample_cv = x.std() / x.mean()
    if cv == 0:
        assert sample_cv == 0
    else:
        assert sample_cv == pytest.approx(cv, rel=0.03)


def test_distribution_quantiles_by_hand():
    u = np.array([0.0, 0.5, 0.75])
    np.testing.assert_allclose(
        ppf(Exponential(dist="exponential", mean_days=2), u), [0, 2 * math.log(2), 2 * math.log(4)]
    )
    # Lognormal median = mean / sqrt(1 + cv^2).
    ln = Lognormal(dist="lognormal", mean_days=3.0, cv=0.75)
    assert ppf(ln, np.array([0.5]))[0] == pytest.approx(3.0 / math.sqrt(1 + 0.75**2))
    # Gamma with cv 1 is the exponential.
    g = Gamma(dist="gamma", mean_days=2.0, cv=1.0)
    np.testing.assert_allclose(ppf(g, u), ppf(Exponential(dist="exponential", mean_days=2), u), rtol=1e-12)
    np.testing.assert_array_equal(ppf(Fixed(dist="fixed", mean_days=4), u), [4, 4, 4])
    assert ppf(Fixed(dist="fixed", mean_days=0), u).sum() == 0


def test_empirical_quantiles_and_frequencies(uniforms):
    spec = Empirical(dist="empirical", values_days=[5, 1, 2, 2])  # order of the data does not matter
    np.testing.assert_array_equal(ppf(spec, np.array([0.0, 0.2499, 0.25, 0.7499, 0.75, 0.9999999])), [1, 1, 2, 2, 5, 5])
    x = ppf(spec, uniforms)
    values, counts = np.unique(x, return_counts=True)
    np.testing.assert_array_equal(values, [1, 2, 5])
    # Binomial sd of a share is at most 0.0011 here.
    np.testing.assert_allclose(counts / N_U, [0.25, 0.5, 0.25], atol=0.005)


@pytest.mark.parametrize(
    "spec",
    [
        Exponential(dist="exponential", mean_days=3.0),
        Lognormal(dist="lognormal", mean_days=4.0, cv=1.2),
        Gamma(dist="gamma", mean_days=2.0, cv=0.3),
        Gamma(dist="gamma", mean_days=2.0, cv=2.5),
        Fixed(dist="fixed", mean_days=1.0),
        Empirical(dist="empirical", values_days=[3, 0.5, 7, 7, 1]),
    ],
    ids=lambda s: s.dist,
)
def test_ppf_is_monotone_in_u(spec, uniforms):
    u = np.concatenate([[0.0], np.sort(uniforms[:5000]), [np.nextafter(1.0, 0.0)]])
    x = ppf(spec, u)
    assert np.all(np.isfinite(x))
    assert np.all(np.diff(x) >= 0)


# ---------------------------------------------------------------------------------------------
# Streams


def test_replication_seeds_deterministic_and_prefix_stable():
    a = replication_seeds(12345, 5)
    assert a == replication_seeds(12345, 5)
    assert replication_seeds(12345, 3) == a[:3]
    assert replication_seeds(12345, 50)[:5] == a
    assert a[:3] == [6864596863322291500, 770740658761493587, 8254786547478850972]
    assert len(set(a)) == 5 and all(0 <= s < 2**63 for s in a)
    assert replication_seeds(12346, 5) != a
    assert replication_seeds(1, 0) == []


def test_stream_key_is_stable():
    # Fixed values: the key must not depend on Python's hash randomisation or the process.
    assert stream_key("emergency_arrivals") == 3108897245
    assert stream_key("group") == 582653885
    assert stream_key("acute_los") == 3097461971
    assert all(0 <= stream_key(n) < 2**32 for n in ("a", "b", "x" * 100, ""))


def test_named_streams_are_independent_of_each_other_and_of_order():
    s1 = Streams(99)
    a1 = s1["a"].random(10)
    b1 = s1["b"].random(10)
    s2 = Streams(99)
    b2 = s2["b"].random(10)  # "a" never touched
    s2["c"].random(1000)
    a2 = s2["a"].random(10)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, b1)
    # The same name gives the same generator object (draws continue), another seed other numbers.
    assert s1["a"] is s1["a"]
    assert not np.array_equal(Streams(100)["a"].random(10), a1)


# ---------------------------------------------------------------------------------------------
# Demand


def test_calendar_known_dates():
    wd, doy, month = calendar(dt.date(2017, 4, 2), 3)  # Sunday 2 April 2017
    np.testing.assert_array_equal(wd, [6, 0, 1])
    np.testing.assert_array_equal(doy, [92, 93, 94])
    np.testing.assert_array_equal(month, [4, 4, 4])
    wd, doy, month = calendar(dt.date(2016, 2, 28), 3)  # leap year
    np.testing.assert_array_equal(wd, [6, 0, 1])
    np.testing.assert_array_equal(doy, [59, 60, 61])
    np.testing.assert_array_equal(month, [2, 2, 3])
    wd, doy, month = calendar(dt.date(2015, 12, 31), 2)
    np.testing.assert_array_equal(wd, [3, 4])
    np.testing.assert_array_equal(doy, [365, 1])
    np.testing.assert_array_equal(month, [12, 1])
    _, doy, _ = calendar(dt.date(2016, 12, 31), 1)
    assert doy[0] == 366


def test_calendar_agrees_with_datetime_over_years():
    start = dt.date(1999, 11, 7)
    n = 3000
    wd, doy, month = calendar(start, n)
    dates = [start + dt.timedelta(days=int(i)) for i in range(n)]
    np.testing.assert_array_equal(wd, [d.weekday() for d in dates])
    np.testing.assert_array_equal(doy, [d.timetuple().tm_yday for d in dates])
    np.testing.assert_array_equal(month, [d.month for d in dates])


def em(**kw) -> Emergency:
    return Emergency.model_validate(kw)


def test_emergency_rate_by_hand():
    e = em(per_day=100, weekday_factors=[1.4, 1, 1, 1, 1, 0.6, 1.0], winter={"amplitude": 0.2, "peak_day_of_year": 15})
    start = dt.date(2018, 1, 15)  # a Monday, day of year 15: winter peak
    rate = emergency_base_rate_per_day(e, start, 7)
    assert rate[0] == pytest.approx(100 * 1.4 * 1.2)
    assert rate[5] == pytest.approx(100 * 0.6 * (1 + 0.2 * math.cos(2 * math.pi * 5 / 365.25)))
    # Weekday factors are normalised to average 1.
    e2 = em(per_day=70, weekday_factors=[2, 2, 2, 2, 2, 2, 2])
    np.testing.assert_allclose(emergency_base_rate_per_day(e2, start, 7), 70)
    # Growth: x (1 + g) after 365.25 days.
    e3 = em(per_day=10, growth_per_year=0.1)
    r3 = emergency_base_rate_per_day(e3, start, 800)
    assert r3[0] == 10 and r3[730] == pytest.approx(10 * 1.1 ** (730 / 365.25))
    # The plan multiplier scales the rate day by day.
    e4 = em(per_day=10, multiplier={"steps": [[0, 1.0], [3, 0.5]]})
    np.testing.assert_allclose(emergency_rate_per_day(e4, start, 5), [10, 10, 10, 5, 5])


def accepted(e: Emergency, arr, n_days: int) -> np.ndarray:
    """Which candidates are real arrivals under growth and the (ungated) plan multiplier."""
    day = arr.time_days.astype(np.int64)
    return arr.u_accept < (e.multiplier.daily(n_days) * accept_per_multiplier(e, n_days))[day]


def arrival_days(e: Emergency, arr, n_days: int) -> np.ndarray:
    """The day of each real arrival."""
    return arr.time_days[accepted(e, arr, n_days)].astype(np.int64)


def _z(observed: float, expected: float) -> float:
    return abs(observed - expected) / math.sqrt(expected)


def test_emergency_counts_match_rate_and_weekday_factors():
    e = em(per_day=200, weekday_factors=[1.4, 1.0, 1.0, 1.0, 1.0, 0.7, 0.9])
    start = dt.date(2018, 1, 1)  # Monday
    n = 364
    arr = emergency_arrivals(e, start, n, np.random.default_rng(1))
    candidate_day = arr.time_days.astype(np.int64)
    assert np.all(np.diff(candidate_day) >= 0) and candidate_day.min() >= 0 and candidate_day.max() < n
    day = arrival_days(e, arr, n)
    counts = np.bincount(day, minlength=n)
    assert _z(counts.sum(), 200 * n) < 4
    wd, _, _ = calendar(start, n)
    mon, sat = counts[wd == 0].sum(), counts[wd == 5].sum()
    assert _z(mon, 52 * 200 * 1.4) < 4 and _z(sat, 52 * 200 * 0.7) < 4
    ratio_sd = 2.0 * math.sqrt(1 / mon + 1 / sat)
    assert abs(mon / sat - 2.0) < 4 * ratio_sd


def test_winter_peak_and_trough():
    amp, peak = 0.3, 20
    e = em(per_day=100, winter={"amplitude": amp, "peak_day_of_year": peak})
    start = dt.date(2010, 1, 1)
    n = 3652  # ten years
    arr = emergency_arrivals(e, start, n, np.random.default_rng(2))
    counts = np.bincount(arrival_days(e, arr, n), minlength=n)
    _, doy, _ = calendar(start, n)
    # Exactly on the peak/trough day the rate is 1 +/- A; around them, slightly less extreme.
    rate = emergency_base_rate_per_day(e, start, n)
    assert rate[doy == peak][0] == pytest.approx(100 * (1 + amp))
    trough = peak + 183
    assert rate[doy == trough][0] == pytest.approx(100 * (1 - amp), rel=1e-3)
    near_peak = np.abs(doy - peak) <= 5
    near_trough = np.abs(doy - trough) <= 5
    hi, lo = counts[near_peak].sum(), counts[near_trough].sum()
    assert _z(hi, rate[near_peak].sum()) < 4 and _z(lo, rate[near_trough].sum()) < 4
    ratio = hi / lo
    assert ratio == pytest.approx((1 + amp) / (1 - amp), rel=0.05)


def test_hourly_profile_shares():
    hourly = [0.0] * 6 + [1.0] * 12 + [2.0] * 6  # total 24
    e = em(per_day=300, hourly_factors=hourly)
    arr = emergency_arrivals(e, dt.date(2018, 1, 1), 200, np.random.default_rng(3))
    frac = arr.time_days - np.floor(arr.time_days)
    hour = np.floor(frac * 24).astype(int)
    share = np.bincount(hour, minlength=24) / hour.size
    assert np.all(share[:6] == 0)
    expected = np.array(hourly) / 24
    sd = np.sqrt(expected * (1 - expected) / hour.size)
    assert np.all(np.abs(share - expected) <= 4 * sd + 1e-12)


def test_growth_in_counts():
    e = em(per_day=200, growth_per_year=0.2)
    start = dt.date(2018, 1, 1)
    arr = emergency_arrivals(e, start, 730, np.random.default_rng(4))
    counts = np.bincount(arrival_days(e, arr, 730), minlength=730)
    rate = emergency_base_rate_per_day(e, start, 730)
    y1, y2 = counts[:365].sum(), counts[365:].sum()
    assert _z(y1, rate[:365].sum()) < 4 and _z(y2, rate[365:].sum()) < 4
    assert y2 / y1 == pytest.approx(rate[365:].sum() / rate[:365].sum(), rel=0.02)
    assert rate[365:].sum() / rate[:365].sum() == pytest.approx(1.2, rel=0.01)


def test_demand_multiplier_thins_candidates():
    e = em(per_day=200, multiplier={"steps": [[0, 1.0], [100, 0.25], [200, 0.0]]})
    arr = emergency_arrivals(e, dt.date(2018, 1, 1), 300, np.random.default_rng(5))
    day = arr.time_days.astype(np.int64)
    ok = accepted(e, arr, 300)
    for period, share in ((day < 100, 1.0 / 1.5), ((day >= 100) & (day < 200), 0.25 / 1.5)):
        kept = ok[period].sum()  # a candidate is kept with probability multiplier / headroom
        assert abs(kept / period.sum() - share) < 4 * math.sqrt(share * (1 - share) / period.sum())
    assert not ok[day >= 200].any()


def el(**kw) -> Elective:
    kw.setdefault("los", {"dist": "fixed", "mean_days": 1})
    return Elective.model_validate(kw)


def test_referrals_are_poisson_with_growth_and_never_depend_on_slots():
    e = el(per_weekday=3, referrals_per_week=70, referral_growth_per_year=0.5)
    t = referral_times(e, 730, np.random.default_rng(3))
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 730
    first, second = np.sum(t < 365), np.sum(t >= 365)
    expected_first = 10 * 365.25 / math.log(1.5) * (1.5 ** (365 / 365.25) - 1)
    assert abs(first - expected_first) < 4 * math.sqrt(expected_first)
    assert abs(second / first - 1.5) < 0.1
    fewer_slots = el(per_weekday=1, referrals_per_week=70, referral_growth_per_year=0.5)
    np.testing.assert_array_equal(referral_times(fewer_slots, 730, np.random.default_rng(3)), t)


def test_initial_list_is_spread_evenly_before_day_zero():
    e = el(per_weekday=3, referrals_per_week=1, initial_list={"patients": 4, "max_wait_weeks": 2})
    np.testing.assert_allclose(initial_list_times(e), [-12.25, -8.75, -5.25, -1.75])
    assert initial_list_times(el(per_weekday=3, referrals_per_week=1)).size == 0


def _list_of(bookable: list[float], priority: list[int], referral: list[float]) -> ElectiveList:
    n = len(bookable)
    cand = SimpleNamespace(
        n_emergencies=1,
        n_electives=n,
        bookable_days=np.array([np.nan, *bookable]),
        priority=np.array([-1, *priority]),
        time_days=np.array([0.0, *referral]),
        day=np.floor([0.0, *referral]).astype(np.int64),
        u_accept=np.linspace(0, 1, n + 1, endpoint=False),
    )
    cfg = config_from_dict(dict(TINY_RAW))
    assert n == len(priority) == len(referral)
    return ElectiveList(cand, cfg)  # type: ignore[arg-type]


def test_waiting_list_books_by_priority_then_referral_and_rebooks_first():
    # Patients 1..5: referral times and priorities; patient 5 is not bookable until day 3.
    wl = _list_of(bookable=[0.2, 0.1, 0.5, 0.9, 2.5], priority=[1, 1, 0, 1, 0], referral=[0.2, 0.1, 0.5, 0.9, 0.4])
    assert wl.book(1, 2) == [3, 2]  # urgent first, then the earliest routine referral
    wl.rebook(3, 1.3)  # cancelled on day 1: back to the top
    assert wl.book(2, 1) == [3]
    assert wl.book(3, 5) == [5, 1, 4]  # patient 5 (urgent) now bookable; then routine by referral
    assert wl.book(4, 3) == []


def test_referral_multiplier_drops_the_referrals_drawn_above_it():
    wl = _list_of(bookable=[0.5, 1.5, 1.6], priority=[0, 0, 0], referral=[0.5, 1.5, 1.6])
    # Uniform draws 1/4, 2/4, 3/4 for patients 1..3: keep a half on day 0, a quarter on day 1.
    assert wl.refer(0, 0.5) == []
    assert wl.refer(1, 0.25) == [2, 3]
    assert wl.book(2, 5) == [1]
    assert wl.slot_offset_days(0, 2) == pytest.approx(6 / 24) and wl.slot_offset_days(1, 2) == pytest.approx(6 / 24)


# ---------------------------------------------------------------------------------------------
# Daily monitors


def test_daily_level_by_hand():
    # A: [0.5, 1.5) straddles midnight; D: [0.5, 0.75); B: zero length at 1.0; C: open from 2.25.
    starts = np.array([0.5, 0.5, 1.0, 2.25])
    ends = np.array([1.5, 0.75, 1.0, np.nan])
    lv = daily_level(starts, ends, 3)
    np.testing.assert_allclose(lv.mean, [0.25 * 2 + 0.25 * 1, 0.5, 0.75])
    np.testing.assert_array_equal(lv.max, [2, 1, 1])
    np.testing.assert_array_equal(lv.midnight, [1, 0, 1])
    assert lv.mean_excess is None


def test_daily_level_applies_ends_before_starts():
    # A bed freed and refilled at the same instant never counts twice.
    lv = daily_level(np.array([0.2, 1.0, 1.6]), np.array([1.0, 1.6, 1.9]), 2)
    np.testing.assert_allclose(lv.mean, [0.8, 0.9])
    np.testing.assert_array_equal(lv.max, [1, 1])
    # Just before midnight 1 the first patient is still there; at the end of day 1 nobody.
    np.testing.assert_array_equal(lv.midnight, [1, 0])


def test_daily_level_zero_length_and_ignored_intervals():
    lv = daily_level(
        np.array([0.5, np.nan, 1.0, 0.25, 1.5]),
        np.array([0.5, 1.5, 1.0, 0.1, 1.5]),  # zero length, NaN start, zero at midnight, end < start, zero
        2,
    )
    np.testing.assert_array_equal(lv.mean, [0, 0])
    np.testing.assert_array_equal(lv.max, [0, 0])
    np.testing.assert_array_equal(lv.midnight, [0, 0])


def test_daily_level_clips_to_the_horizon_and_open_intervals():
    lv = daily_level(np.array([-1.0, 1.5, 2.5]), np.array([0.5, np.nan, 5.0]), 3)
    np.testing.assert_allclose(lv.mean, [0.5, 0.5, 1.5])
    np.testing.assert_array_equal(lv.max, [1, 1, 2])
    np.testing.assert_array_equal(lv.midnight, [0, 1, 2])


def test_daily_level_threshold_excess():
    # Levels: day 0: 3 on [0, 0.5), 1 on [0.5, 1); day 1: 2 all day.
    starts = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    ends = np.array([0.5, 0.5, 2.0, 2.0, 2.0])
    lv = daily_level(starts, ends, 2, threshold_by_day=np.array([1, 2]))
    np.testing.assert_allclose(lv.mean, [0.5 * 3 + 0.5 * 1, 3])
    np.testing.assert_allclose(lv.mean_excess, [0.5 * 2 + 0.5 * 0, 1])
    np.testing.assert_array_equal(lv.max, [3, 3])


def test_daily_counts():
    np.testing.assert_array_equal(daily_counts(np.array([0.1, 0.9, 1.0, 2.999, np.nan]), 3), [2, 1, 1])
    np.testing.assert_array_equal(daily_counts(np.array([]), 2), [0, 0])


# ---------------------------------------------------------------------------------------------
# KPIs of a tiny deterministic system
#
# Beds 2 (queue), rehab 1 place, warm-up 2 days, horizon 10 days, starting Monday 3 April 2017.
#   P0 emergency  arrives 0.50, LOS 3,   home   -> bed [0.50, 3.50)
#   P1 emergency  arrives 1.00, LOS 2,   rehab 2 days -> bed [1.00, 3.00), rehab [3.00, 5.00)
#   P2 emergency  arrives 2.50, LOS 1,   rehab 4 days -> waits 12 h (hospital full), bed
#                 [3.00, 5.00): fit at 4.00, delayed a day for rehab, rehab [5.00, 9.00)
#   P3 emergency  arrives 4.25, LOS 0.5, home   -> bed [4.25, 4.75)
#   P4 elective   arrives 7.25, LOS 1,   home   -> bed [7.25, 8.25)
#   P5 emergency  arrives 9.50, LOS 2,   home   -> bed [9.50, horizon)
# All times are binary fractions, so the arithmetic is exact.

TINY_RAW = {
    "name": "tiny",
    "start_date": "2017-04-03",
    "horizon_days": 10,
    "warmup_days": 2,
    "acute": {"beds": 2, "when_full": "queue", "delayed_day_cost_gbp": 100},
    "demand": {
        "emergency": {"per_day": 1},
        # One elective referred on day 6, booked into the one slot, on Monday 10 April (day 7) at 06:00.
        "elective": {
            "per_weekday": {"steps": [[0, 0], [7, 1], [8, 0]]},
            "referrals_per_week": 1,
            "admit_hour": 6,
            "spread_hours": 0,
            "los": {"dist": "fixed", "mean_days": 1},
        },
    },
    "groups": {
        "all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"home": 0.5, "rehab": 0.5}}
    },
    "services": {"rehab": {"capacity": 1, "los": {"dist": "fixed", "mean_days": 2}, "place_day_cost_gbp": 50}},
}


# Patients P0..P5 by time of admission; candidates list the emergencies (P0-P3, P5), then the
# elective (P4, referred at 6.5). ``OLD`` puts arrays in candidate order back in P order.
OLD = [0, 1, 2, 3, 5, 4]


def tiny_candidates() -> Candidates:
    n = 6
    arrival = np.array([0.5, 1.0, 2.5, 4.25, 6.5, 9.5])[OLD]
    to_rehab = np.array([False, True, True, False, False, False])[OLD]
    return Candidates(
        time_days=arrival,
        day=arrival.astype(np.int64),
        is_elective=np.array([False, False, False, False, False, True]),
        n_emergencies=5,
        priority=np.array([-1, -1, -1, -1, -1, 0]),
        bookable_days=np.array([np.nan] * 5 + [6.5]),
        group=np.array([0, 0, 0, 0, 0, 1]),
        u_accept=np.zeros(n),  # every emergency candidate arrives
        base_los_days=np.array([3.0, 2.0, 1.0, 0.5, 1.0, 2.0])[OLD],
        u_step_up=np.ones(n),
        step_up_los_days=np.zeros(n),
        u_pathway=np.where(to_rehab, 0.75, 0.25),  # mix home 0.5 / rehab 0.5
        service_los_days=np.array([[0.0, 2.0, 4.0, 0.0, 0.0, 0.0]])[:, OLD],
        assessment_days=np.zeros((1, n)),
        group_names=("all",),
        service_names=("rehab",),
        priority_names=("routine",),
    )


def tiny(warmup: int = 2):
    cfg = config_from_dict(dict(TINY_RAW, warmup_days=warmup))
    return cfg, simulate_candidates(cfg, tiny_candidates())


def test_tiny_system_records():
    _, rep = tiny()
    r = rep.records
    assert np.all(r.outcome == ADMITTED)
    nan = np.nan
    np.testing.assert_array_equal(r.admit_days[OLD], [0.5, 1.0, 3.0, 4.25, 7.25, 9.5])
    np.testing.assert_array_equal(r.fit_days[OLD], [3.5, 3.0, 4.0, 4.75, 8.25, nan])
    np.testing.assert_array_equal(r.bed_leave_days[OLD], [3.5, 3.0, 5.0, 4.75, 8.25, nan])
    np.testing.assert_array_equal(r.service[OLD], [-1, 0, 0, -1, -1, -1])
    np.testing.assert_array_equal(r.service_start_days[OLD], [nan, 3.0, 5.0, nan, nan, nan])
    np.testing.assert_array_equal(r.service_end_days[OLD], [nan, 5.0, 9.0, nan, nan, nan])
    np.testing.assert_array_equal(r.times_cancelled, 0)
    assert r.cancellation_days.size == 0


def test_tiny_system_kpis():
    cfg, rep = tiny()
    k = kpis(cfg, rep)
    expected = {
        "emergency_arrivals": 3,  # P2, P3, P5 arrive after the warm-up
        "emergency_admissions": 3,
        "admissions_avoided": 0,
        "refused_admissions": 0,
        "p_refused": 0,
        "elective_referrals": 1,
        "elective_admissions": 1,
        "elective_cancellations": 0,
        "elective_cancellations_per_1000_booked": 0,
        # On the list from 6.5 to 7.25: counted at the midnight ending day 6 (of days 2..9).
        "elective_waiting_list_mean": 1 / 8,
        "elective_waiting_list_end": 0,
        "elective_wait_weeks_median": 0.5 / 7,
        "elective_wait_weeks_p92": 0.5 / 7,
        "share_waiting_over_18_weeks": 0,
        # Bed-days after day 2: P0 1.5 + P1 1 + P2 2 + P3 0.5 + P4 1 + P5 0.5
        "acute_bed_days": 6.5,
        "mean_occupied_beds": 6.5 / 8,
        "mean_occupancy": 6.5 / 16,
        # Daily occupancy 1, .75, .75, 0, 0, .375, .125, .25; at 2 beds the hospital is full on
        # days 2, 3 and 4.
        "share_days_over_85pct": 1 / 8,
        "share_days_over_92pct": 1 / 8,
        "share_days_full": 3 / 8,
        "share_days_no_bed": 1 / 8,
        "p_wait_for_bed": 1 / 3,
        "mean_wait_hours": 12 / 3,
        "p_wait_over_4h": 1 / 3,
        "waits_over_12h_per_1000": 0,  # P2 waited exactly 12 h: not over
        "mean_boarding_patients": 0.5 / 8,
        "delayed_bed_days": 1.0,
        "delayed_share": 1 / 6.5,
        "mean_delayed_patients": 1 / 8,
        "delayed_cost_gbp": 100.0,
        "mean_escalation_beds_in_use": 0,
        "mean_emergency_los_days": 5.5 / 3,
        "same_day_discharge_share": 0.5,  # P3 yes, P2 no (P5 still in)
        "long_stay_bed_share": 0,
        "emergency_bed_share": 5.5 / 6.5,
        "rehab_mean_occupied": 6 / 8,
        "rehab_utilisation": 6 / 8,
        "rehab_p_wait": 0.5,
        "rehab_mean_wait_days": 0.5,
        "rehab_capacity_cost_gbp": 8 * 50,
    }
    for key, value in expected.items():
        assert k[key] == pytest.approx(value, abs=1e-12), key
    # April only: no winter or summer days measured.
    assert math.isnan(k["mean_occupancy_winter"]) and math.isnan(k["mean_occupancy_summer"])


def test_tiny_system_daily_table():
    cfg, rep = tiny()
    d = daily_table(cfg, rep).set_index("day")
    assert list(d["warmup"]) == [True, True] + [False] * 8
    np.testing.assert_allclose(d["occupied_beds_mean"], [0.5, 2, 2, 1.5, 1.5, 0, 0, 0.75, 0.25, 0.5])
    np.testing.assert_array_equal(d["occupied_beds_max"], [1, 2, 2, 2, 2, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(d["occupied_beds_midnight"], [1, 2, 2, 1, 1, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(d["boarding_queue_midnight"], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(d["boarding_queue_mean"], [0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(d["delayed_patients_mean"], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(d["rehab_queue_mean"], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(d["rehab_occupied_mean"], [0, 0, 0, 1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(d["emergency_arrivals"], [1, 1, 1, 0, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(d["emergency_admissions"], [1, 1, 0, 1, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(d["elective_admissions"], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(d["elective_referrals"], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(d["elective_waiting_list"], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(d["elective_booked"], d["elective_admissions"])
    np.testing.assert_array_equal(d["waits_over_4h"], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(d["waits_over_12h"], [0] * 10)
    np.testing.assert_allclose(d["occupancy"], d["occupied_beds_mean"] / 2)
    assert d["date"].iloc[0] == "2017-04-03" and d["date"].iloc[-1] == "2017-04-12"


def test_warmup_counts_only_the_part_of_a_stay_after_it():
    # P0's stay [0.5, 3.5) straddles a 2-day warm-up: 1.5 days count, not 3.
    whole = kpis(*tiny(warmup=0))
    assert whole["acute_bed_days"] == pytest.approx(3 + 2 + 2 + 0.5 + 1 + 0.5)
    assert whole["emergency_arrivals"] == 5
    part = kpis(*tiny(warmup=2))
    # Before day 2: P0 1.5 and P1 1.0 days are cut off.
    assert part["acute_bed_days"] == pytest.approx(9.0 - 1.5 - 1.0)
    late = kpis(*tiny(warmup=3))
    # From day 3: P0 0.5, P2 2, P3 0.5, P4 1, P5 0.5.
    assert late["acute_bed_days"] == pytest.approx(4.5)


def test_bed_days_of_a_config_with_fixed_los_and_ample_beds():
    """With fixed LOS and more beds than patients, bed-days are a sum over the arrivals."""
    raw = {
        "name": "fixed",
        "start_date": "2017-04-03",
        "horizon_days": 30,
        "warmup_days": 5,
        "acute": {"beds": 1000},
        "demand": {"emergency": {"per_day": 4}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 2.5}}},
    }
    cfg = config_from_dict(raw)
    rep = run_model(cfg, 7)
    a = rep.cohort.arrival_days
    assert np.all(rep.records.outcome == ADMITTED)
    np.testing.assert_allclose(rep.records.fit_days, np.where(a + 2.5 < 30, a + 2.5, np.nan), rtol=0, atol=1e-12)
    expected = np.clip(np.minimum(a + 2.5, 30) - np.maximum(a, 5), 0, None).sum()
    k = kpis(cfg, rep)
    assert k["acute_bed_days"] == pytest.approx(expected, rel=1e-12)
    assert k["emergency_arrivals"] == np.sum(a >= 5)
    assert k["emergency_admissions"] == np.sum(a >= 5)
    assert k["p_wait_for_bed"] == 0 and k["delayed_bed_days"] == 0
    assert k["mean_emergency_los_days"] == pytest.approx(expected / np.sum(a >= 5))


def test_final_states_account_for_every_patient_once():
    _, rep = tiny()
    states = final_states(rep.records)
    assert states["in an acute bed"] == 1 and states["discharged"] == 5  # P5 still in at day 10
    assert sum(states.values()) == len(rep.cohort)
    broken = dataclasses.replace(rep.records, outcome=np.full(6, NOT_ARRIVED, dtype=np.int8))
    with pytest.raises(AssertionError, match="6 patients are not in exactly one state"):
        final_states(broken)


def test_daily_column_types_do_not_depend_on_what_happened():
    """Sweep runs are streamed into one Parquet file: a column must have one type in every run,
    e.g. displaced bed days stay float when nobody was turned away."""
    cfg, quiet = tiny()
    busy_cfg = config_from_dict(dict(TINY_RAW, acute={"beds": 1, "when_full": "refuse"}))
    busy = run_model(busy_cfg, 5)
    assert busy.records.outcome.tolist().count(3) > 0  # some refused
    quiet_types = daily_table(cfg, quiet).dtypes
    assert quiet_types.equals(daily_table(busy_cfg, busy).dtypes)
    assert quiet_types["displaced_bed_days"] == np.float64
