"""The flow engine (``engine: flow``): exact against the infinite-server formula, steady states,
conservation over generated systems, agreement with the DES where averages are exact, and the
same tables and KPI names as the DES."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from scipy import special
from test_properties import SETTINGS, build, systems

from hospsim.config import UserError, config_from_dict
from hospsim.model.demand import emergency_rate_per_day, initial_list_times
from hospsim.model.engine import run_model
from hospsim.model.flow import flow_engine_problem, run_flow
from hospsim.model.flow.los import stop_loss_days
from hospsim.model.flow.run import simulate
from hospsim.model.kpis import daily_table, kpi_names

pytestmark = pytest.mark.skipif(flow_engine_problem() is not None, reason=str(flow_engine_problem()))


def _open_system(horizon: int = 120, per_day: float = 40.0, **emergency) -> dict:
    """One group, beds never binding: an infinite-server system with a time-varying rate."""
    return {
        "name": "open",
        "start_date": "2024-11-01",
        "horizon_days": horizon,
        "replications": 1,
        "acute": {"beds": 1_000_000},
        "demand": {
            "emergency": {
                "per_day": per_day,
                "growth_per_year": 0.3,
                "weekday_factors": [1.3, 1.1, 1.0, 1.0, 0.9, 0.8, 0.9],
                "hourly_factors": [0.3] * 6 + [1.5] * 12 + [0.9] * 6,
                "winter": {"amplitude": 0.2, "peak_day_of_year": 20},
                "headroom": 2.0,
                **emergency,
            }
        },
        "groups": {"all": {"share": 1.0, "los": {"dist": "lognormal", "mean_days": 3.0, "cv": 1.3}}},
    }


def _infinite_server_midnights(cfg) -> np.ndarray:
    """E[N(t)] at each midnight t = 1..H: sum over hours s of rate_s x int_s^{s+1h} P(LOS > t - u) du,
    by 16-point Gauss-Legendre per hour (independent of the engine's stop-loss differences)."""
    em = cfg.demand.emergency
    H = cfg.horizon_days
    hourly = np.asarray(em.hourly_factors) / np.sum(em.hourly_factors)
    per_hour = (emergency_rate_per_day(em, cfg.start_date, H)[:, None] * hourly[None, :]).ravel()  # patients
    spec = cfg.groups["all"].los
    sigma = math.sqrt(math.log1p(spec.cv**2))
    mu = math.log(spec.mean_days) - sigma**2 / 2
    nodes, weights = np.polynomial.legendre.leggauss(16)
    u = (nodes + 1) / 2 / 24  # within an hour, days
    w = weights / 2  # the hour's mean of S
    start = np.arange(H * 24) / 24.0
    out = np.empty(H)
    for t in range(1, H + 1):
        before = start < t
        age = t - (start[before][:, None] + u[None, :])
        surv = special.ndtr(-(np.log(age) - mu) / sigma)
        out[t - 1] = float((per_hour[before] * (surv @ w)).sum())
    return out


def test_infinite_server_occupancy_is_exact():
    cfg = build(_open_system())
    flow = run_flow(cfg)
    exact = _infinite_server_midnights(cfg)
    got = flow.daily["occupied_beds_midnight"].to_numpy()
    assert np.max(np.abs(got - exact) / exact) < 1e-9
    # and the daily means lie between the midnights around them (no first-order drain lag)
    assert flow.kpis["mean_occupied_beds"] > 0


def test_occupancy_in_steady_state_is_rate_times_mean_stay_per_stage():
    raw = {
        "name": "steady",
        "start_date": "2024-05-01",
        "horizon_days": 400,
        "acute": {"beds": 100_000},
        "demand": {"emergency": {"per_day": 30.0}},
        "groups": {
            "a": {"share": 0.6, "los": {"dist": "gamma", "mean_days": 2.0, "cv": 0.7}, "pathways": {"home": 1.0}},
            "b": {
                "share": 0.4,
                "los": {"dist": "lognormal", "mean_days": 6.0, "cv": 1.1},
                "pathways": {"home": 0.5, "rehab": 0.5},
            },
        },
        "services": {
            "rehab": {
                "capacity": "unlimited",
                "los": {"dist": "exponential", "mean_days": 20.0},
                "assessment": {"dist": "fixed", "mean_days": 1.5},
            }
        },
    }
    flow = run_flow(build(raw))
    late = flow.daily.iloc[300:]
    beds = 30 * (0.6 * 2.0 + 0.4 * 6.0) + 30 * 0.4 * 0.5 * 1.5  # stays + assessments in the bed
    # Within the small bias of spreading exits more than 48 h after entry evenly over the hours
    # of their day (exact at midnight for a stage fed directly: see the infinite-server test; a
    # stage fed by another's exits inherits their spread within the day).
    assert late["occupied_beds_midnight"].mean() == pytest.approx(beds, rel=2e-3)
    assert late["delayed_patients_midnight"].mean() == pytest.approx(30 * 0.2 * 1.5, rel=2e-2)
    assert late["occupied_beds_mean"].mean() == pytest.approx(beds, rel=5e-3)
    assert late["rehab_occupied_mean"].mean() == pytest.approx(30 * 0.2 * 20.0, rel=5e-3)


def test_des_mean_occupancy_agrees_with_the_flow_within_its_confidence_interval():
    cfg = build(_open_system(horizon=60, per_day=25.0))
    flow = run_flow(cfg).daily["occupied_beds_mean"].to_numpy()[20:]
    means = np.array(
        [daily_table(cfg, run_model(cfg, seed))["occupied_beds_mean"].to_numpy()[20:].mean() for seed in range(20)]
    )
    half = 2.093 * means.std(ddof=1) / math.sqrt(means.size)  # t(19), 95%
    assert abs(means.mean() - flow.mean()) < half
    assert half < 0.05 * flow.mean()  # a check that can fail


def _total_in(cfg, daily) -> float:
    el = cfg.demand.elective
    return float(
        daily["emergency_arrivals"].sum()
        + daily["elective_referrals"].sum()
        + (initial_list_times(el).size if el else 0)
    )


@settings(max_examples=150, **SETTINGS)
@given(raw=systems(plans=None, network=None))
def test_conservation_and_outputs_over_generated_systems(raw):
    _check_flow(raw)


@settings(max_examples=100, **SETTINGS)
@given(raw=systems(plans=True, network=True, services=True))
def test_conservation_under_gated_plans_and_networks(raw):
    _check_flow(raw)


def _check_flow(raw: dict) -> None:
    """Every patient in exactly one end state, every KPI and daily column of the DES, stocks
    never below zero, nobody admitted over the beds while they have not been cut."""
    cfg = build(raw)
    flow = run_flow(cfg)
    states = flow.final_states
    assert sum(states.values()) == pytest.approx(_total_in(cfg, flow.daily), rel=1e-9, abs=1e-6)
    # ... and through beds and places: whoever came in (admitted or diverted) is still in a bed
    # or a place, or left one
    s = simulate(cfg)[4]
    came_in = s.em_admissions.sum() + s.el_admissions.sum() + s.avoided.sum()
    still_in = s.beds[0] + s.occ.sum()
    left = s.discharged.sum() + s.left_services.sum()
    assert still_in + left == pytest.approx(came_in, rel=1e-9, abs=1e-6)
    assert (s.occ >= -1e-9).all() and (s.avoided_in >= -1e-9).all() and (s.avoided_in <= s.occ + 1e-9).all()
    assert min(states.values()) > -1e-6
    assert list(flow.kpis) == kpi_names(cfg)
    assert flow.variability_kpis <= set(flow.kpis)
    des = daily_table(cfg, run_model(cfg, 1))
    assert list(flow.daily.columns) == list(des.columns)
    daily = flow.daily
    assert (daily["occupied_beds_mean"] >= -1e-9).all() and (daily["delayed_patients_mean"] >= -1e-9).all()
    assert (daily["delayed_patients_mean"] <= daily["occupied_beds_mean"] + 1e-6).all()
    # With queueing, nobody is admitted over the beds (a cut below occupancy only stops admissions).
    over = daily["occupied_beds_max"] - daily["beds_capacity"]
    cut = daily["beds_capacity"].diff().fillna(0) < 0
    assert (over[~cut.cummax()] <= 1e-6).all()


def test_a_gate_on_service_capacity_opens_on_the_day_the_des_opens_it():
    raw = _open_system(horizon=90, per_day=20.0)
    raw["acute"]["beds"] = {
        "steps": [[0, 200], [30, 150]],
        "gate": [{"service_capacity_at_least": {"service": "rehab", "places": 40}}],
    }
    raw["groups"]["all"]["pathways"] = {"home": 0.8, "rehab": 0.2}
    raw["services"] = {
        "rehab": {
            "capacity": {"ramp": {"from": 20, "to": 60, "start_day": 10, "duration_days": 40}},
            "los": {"dist": "lognormal", "mean_days": 10.0, "cv": 0.6},
        }
    }
    cfg = build(raw)
    flow = run_flow(cfg)
    des = run_model(cfg, 3)
    ((path, day),) = des.records.gate_open_days.items()
    key = f"gate_{path.replace('.', '_')}_open_day"
    assert flow.kpis[key] == day == 30  # the capacity reaches 40 on day 30
    assert flow.daily["beds_capacity"].iloc[29] == 200 and flow.daily["beds_capacity"].iloc[30] == 150


def test_census_starts_are_refused_in_one_line():
    raw = copy.deepcopy(_open_system(horizon=30))
    raw["initial_state"] = {"acute": [{"group": "all", "elapsed_days": 1.0}]}
    with pytest.raises(UserError, match="initial_state: the flow engine starts from an empty hospital"):
        run_flow(config_from_dict(raw, "<test>"))


def test_stop_loss_is_the_integral_of_survival():
    spec = build(_open_system()).groups["all"].los
    a, b = 0.7, 2.9
    x = np.linspace(a, b, 20001)
    sigma = math.sqrt(math.log1p(spec.cv**2))
    mu = math.log(spec.mean_days) - sigma**2 / 2
    integral = np.trapezoid(special.ndtr(-(np.log(x) - mu) / sigma), x)
    pi = stop_loss_days(spec, np.array([a, b]))
    assert pi[0] - pi[1] == pytest.approx(integral, rel=1e-8)


def _overloaded(when_full: str = "queue", max_wait_hours: float | None = None) -> dict:
    """40 a day for 5-day stays into 150 beds: 10 a day more than the beds can take (150 / 5)."""
    acute: dict = {"beds": 150, "when_full": when_full}
    if max_wait_hours is not None:
        acute["max_wait_hours"] = max_wait_hours
    return {
        "name": "overloaded",
        "start_date": "2024-05-01",
        "horizon_days": 200,
        "acute": acute,
        "demand": {"emergency": {"per_day": 40.0}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "gamma", "mean_days": 5.0, "cv": 0.5}}},
    }


@pytest.mark.parametrize(
    ("when_full", "max_wait_hours", "column"),
    [
        ("queue", None, "boarding_queue_midnight"),
        ("refuse", None, "refused_admissions"),
        ("queue", 12.0, "transferred_out"),
    ],
)
def test_an_overloaded_hospital_turns_away_or_queues_exactly_the_excess(when_full, max_wait_hours, column):
    """Full beds discharge 150 / 5 = 30 a day, so 10 of the 40 a day cannot be admitted: they
    board (the queue grows by 10 a day), are refused, or leave after the wait limit."""
    daily = run_flow(build(_overloaded(when_full, max_wait_hours))).daily.iloc[100:]
    assert (daily["occupied_beds_max"] <= 150 + 1e-9).all()
    assert daily["occupied_beds_mean"].mean() == pytest.approx(150, rel=1e-3)
    excess = daily[column].diff().mean() if column == "boarding_queue_midnight" else daily[column].mean()
    assert excess == pytest.approx(10.0, rel=2e-3)
    if max_wait_hours is not None:  # those who stay board for the limit at most
        assert daily["boarding_queue_mean"].max() <= 40 * 12 / 24 + 1e-6
