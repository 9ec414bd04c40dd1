"""Verdict logic on hand-built KPI tables (no simulation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hospsim.analysis.verdicts import monthly_table, paired_differences, verdict_table, wilson_interval
from hospsim.config.experiment import Criterion, Experiment
from hospsim.model import kpi_registry


def kpi_rows(scenario: str, point: int, values: dict[str, list[float]], **params) -> list[dict]:
    n = len(next(iter(values.values())))
    return [
        {
            "scenario": scenario,
            "point": point,
            **{f"param_{k}": v for k, v in params.items()},
            "replication": r,
            **{k: v[r] for k, v in values.items()},
        }
        for r in range(n)
    ]


def experiment(criteria: list[dict]) -> Experiment:
    return Experiment.model_validate({"name": "t", "config": "x.yaml", "scenarios": {"plan": {}}, "criteria": criteria})


def test_relative_absolute_and_difference_criteria():
    base = kpi_rows(
        "baseline",
        -1,
        {
            "acute_bed_days": [1000, 1000, 1000, 1000],
            "mean_occupancy": [0.9] * 4,
            "waits_over_12h_per_1000": [1.0, 2.0, 3.0, 4.0],
        },
    )
    # Replication 0: -50% bed days (holds), 1: -44% exactly (holds), 2: -43% (fails), 3: -60% (holds).
    plan = kpi_rows(
        "plan",
        -1,
        {
            "acute_bed_days": [500, 560, 570, 400],
            "mean_occupancy": [0.91, 0.93, 0.90, 0.92],
            "waits_over_12h_per_1000": [1.0, 2.4, 3.6, 4.5],
        },
    )
    kpis = pd.DataFrame(base + plan)
    exp = experiment(
        [
            {"kpi": "acute_bed_days", "compare": "relative_to_baseline", "at_most": -0.44},
            {"kpi": "mean_occupancy", "at_most": 0.92},
            {"kpi": "waits_over_12h_per_1000", "compare": "difference_from_baseline", "at_most": 0.5},
        ]
    )
    v = verdict_table(exp, kpis).set_index("criterion")
    assert v.loc["acute_bed_days change vs baseline <= -0.44", "share_holds"] == 0.75
    assert v.loc["mean_occupancy <= 0.92", "share_holds"] == 0.75  # rep 1 fails (0.93)
    # Differences +0.0, +0.4, +0.6, +0.5: only replication 2 is over the margin.
    assert v.loc["waits_over_12h_per_1000 minus baseline <= 0.5", "share_holds"] == 0.75
    # All criteria: rep 0 holds all; rep 1 fails occupancy; rep 2 fails bed days; rep 3 holds all -> 0.5
    assert v.loc["all criteria", "share_holds"] == 0.5
    assert v.loc["all criteria", "n"] == 4
    low, high = wilson_interval(2, 4)
    assert v.loc["all criteria", "ci_low"] == pytest.approx(low) and v.loc["all criteria", "ci_high"] == pytest.approx(
        high
    )


def test_pairs_by_replication_not_by_row_order():
    base = kpi_rows("baseline", -1, {"acute_bed_days": [100.0, 200.0, 300.0]})
    plan = kpi_rows("plan", 0, {"acute_bed_days": [60.0, 120.0, 180.0]}, delay=0)
    kpis = pd.DataFrame(base + plan[::-1])  # shuffled rows
    exp = experiment([{"kpi": "acute_bed_days", "compare": "relative_to_baseline", "at_most": -0.4}])
    v = verdict_table(exp, kpis)
    assert v.iloc[0]["share_holds"] == 1.0  # every replication is exactly -40%
    assert v.iloc[0]["param_delay"] == 0
    d = paired_differences(kpis, ["acute_bed_days"]).iloc[0]
    assert d["difference"] == pytest.approx(-80.0)
    assert d["relative_change"] == pytest.approx(-0.4)
    assert d["n"] == 3


def test_nan_kpi_fails_a_criterion():
    c = Criterion(kpi="mean_wait_hours", at_most=4)
    assert c.holds(3.0) and not c.holds(5.0) and not c.holds(math.nan)
    c = Criterion(kpi="x", at_least=0.5)
    assert c.holds(0.5) and not c.holds(0.49)


def test_criterion_needs_exactly_one_bound():
    with pytest.raises(ValueError):
        Criterion(kpi="x")
    with pytest.raises(ValueError):
        Criterion(kpi="x", at_most=1, at_least=0)


def test_wilson_interval_known_values():
    # Wilson 95% for 0/10: (0, 0.2775); for 10/10: (0.7225, 1).
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.2775, abs=1e-3)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-3) and high == pytest.approx(1.0)


def _daily(days: int, occupied: float, capacity: int, start: str = "2017-01-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=days, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "day": np.arange(days),
            "date": dates,
            "occupied_beds_mean": occupied,
            "beds_capacity": capacity,
            "delayed_patients_mean": 1.0,
            "boarding_queue_mean": 0.0,
            "emergency_arrivals": 10,
            "admissions_avoided": 2,
            "waits_over_12h": 0,
            "waits_over_4h": 1,
            "emergency_admissions": 8,
            "elective_cancellations": np.where(np.arange(days) % 2 == 0, 1, 0),
            "elective_booked": 20,
            "elective_waiting_list": 400,
            "elective_waiting_over_18_weeks": 40,
            "elective_waiting_over_52_weeks": np.where(np.arange(days) < 31, 4, 0),
            "refused_admissions": 0,
            "displaced_bed_days": 2.5,
        }
    )


def test_monthly_table_sums_and_ratios():
    d = _daily(59, occupied=90.0, capacity=100)  # January (31 days) and February (28 days) 2017
    m = monthly_table(d, (0, 59)).set_index("month")
    assert list(m.index) == ["2017-01", "2017-02"]
    assert list(m.columns) == [name for name, _ in kpi_registry.monthly_forms()]  # the registry's order
    assert m.loc["2017-01", "acute_bed_days"] == pytest.approx(31 * 90.0)
    assert m.loc["2017-02", "acute_bed_days"] == pytest.approx(28 * 90.0)
    assert m.loc["2017-01", "mean_occupancy"] == pytest.approx(0.9)
    assert m.loc["2017-01", "p_wait_over_4h"] == pytest.approx(1 / 8)  # 1 of 8 needing a bed each day
    assert m.loc["2017-01", "share_days_over_85pct"] == 1.0 and m.loc["2017-01", "share_days_over_92pct"] == 0.0
    assert m.loc["2017-02", "displaced_bed_days"] == pytest.approx(28 * 2.5)
    assert m.loc["2017-02", "bed_days_demanded"] == pytest.approx(28 * (90.0 + 2.5))  # used + displaced
    # January: 16 cancellations (odd days) of 31 x 20 booked; February: 14 of 28 x 20.
    assert m.loc["2017-01", "elective_cancellations_per_1000_booked"] == pytest.approx(1000 * 16 / 620)
    assert m.loc["2017-02", "elective_cancellations_per_1000_booked"] == pytest.approx(1000 * 14 / 560)
    assert m.loc["2017-01", "elective_waiting_list_mean"] == 400
    assert m.loc["2017-01", "share_waiting_over_18_weeks"] == pytest.approx(0.1)
    assert m.loc["2017-01", "share_waiting_over_52_weeks"] == pytest.approx(0.01)
    assert m.loc["2017-02", "share_waiting_over_52_weeks"] == 0
    # The window cuts the months.
    m = monthly_table(d, (31, 40)).set_index("month")
    assert list(m.index) == ["2017-02"] and m.loc["2017-02", "acute_bed_days"] == pytest.approx(9 * 90.0)


def test_monthly_sums_are_each_months_own_sum_exactly():
    """Each month's value is the sum of its own days - the same bits as reducing the month alone
    (numpy's reduceat over the month's run of days, as pandas' sorted groupby), within rounding
    of the exact sum; counts stay integers; a day without a value gives its month none rather
    than being skipped; a window with no day gives no month."""
    rng = np.random.default_rng(7)
    d = _daily(120, occupied=0.0, capacity=100)  # January to April 2017
    d["occupied_beds_mean"] = rng.uniform(50, 99, 120)
    d["emergency_admissions"] = rng.integers(0, 30, 120)
    m = monthly_table(d, (3, 117)).set_index("month")
    inside = d[(d["day"] >= 3) & (d["day"] < 117)]
    for month, days in inside.groupby(inside["date"].str[:7]):
        occupied = days["occupied_beds_mean"].to_numpy()
        alone = np.add.reduceat(occupied, [0])[0]
        assert m.loc[month, "acute_bed_days"] == alone and alone == pytest.approx(math.fsum(occupied), rel=1e-14)
        assert m.loc[month, "mean_occupied_beds"] == alone / occupied.size
        assert m.loc[month, "emergency_admissions"] == days["emergency_admissions"].sum()
    assert m["emergency_admissions"].dtype == np.int64
    d.loc[40, "occupied_beds_mean"] = np.nan  # 10 February
    m = monthly_table(d, (0, 120)).set_index("month")
    assert np.isnan(m.loc["2017-02", "acute_bed_days"]) and not m.drop(index="2017-02")["acute_bed_days"].isna().any()
    empty = monthly_table(d, (200, 300))
    assert len(empty) == 0 and list(empty.columns) == ["month"] + [name for name, _ in kpi_registry.monthly_forms()]


def test_first_breach_month():
    exp = experiment([{"kpi": "mean_occupancy", "at_most": 0.92}])
    kpis = pd.DataFrame(
        kpi_rows("baseline", -1, {"mean_occupancy": [0.9, 0.9]})
        + kpi_rows("plan", -1, {"mean_occupancy": [0.95, 0.91]})
    )
    months = ["2017-01", "2017-02", "2017-03"]
    rows = []
    # Replication 0 breaches in February, replication 1 in March.
    for r, occ in enumerate([[0.9, 0.95, 0.96], [0.9, 0.91, 0.97]]):
        for m, o in zip(months, occ):
            rows.append({"scenario": "plan", "point": -1, "replication": r, "month": m, "mean_occupancy": o})
            rows.append({"scenario": "baseline", "point": -1, "replication": r, "month": m, "mean_occupancy": 0.9})
    v = verdict_table(exp, kpis, pd.DataFrame(rows)).set_index("criterion")
    row = v.loc["mean_occupancy <= 0.92"]
    assert row["share_holds"] == 0.5
    assert row["share_breached_in_some_month"] == 1.0
    assert row["first_breach_month_median"] == "2017-02"  # median of indices 1 and 2 -> 1.5 -> February
