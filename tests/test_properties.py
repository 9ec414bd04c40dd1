"""Property-based tests: small random systems must obey the model's invariants.

Every system is written as a raw mapping and validated by ``config_from_dict``, so the generator
also exercises validation. Systems are small (1-30 beds, 60-200 days, a few patients a day) so
that a few hundred examples run in well under a minute on one core.

Invariants checked on the records of one replication:

* conservation - one outcome per patient; outcome counts match the daily table; times ordered;
* capacity     - no admission (transfer) while the pool is at or above that day's capacity, so
                 occupancy only exceeds capacity after a capacity cut (nobody is evicted);
* FIFO         - the boarding queue and each service's waiting list are served in order;
* determinism  - same seed, same records and tables; other seed, other patients; 1 or 2 workers
                 give the same tables bit for bit;
* common random numbers - more beds never lengthen a wait (or add refusals), more community
                 places never add delayed bed-days where that holds pathwise, a demand cut keeps
                 a subset of the same patients.

Systems with services are half the time networks (``add_network``): onward routes between
services, unlimited services, cycles through them, route changes; conservation then also
follows every patient's chain of community visits (``check_visits``), and capacity and FIFO are
checked on the visits. ``test_network_engine`` checks more of networks.

Replications run on ``conftest.LONG_RUN_ENGINE`` (``run_replication``): the compiled engine where
numba runs, whose records are the reference's bit for bit over the same generated systems
(``test_lockstep``); ``HOSPSIM_TEST_ENGINE=simpy`` checks the invariants on the reference itself.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
from conftest import run_replication
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hospsim.config import STEP_UP, config_from_dict
from hospsim.config.schedules import Schedule
from hospsim.model.demand import calendar
from hospsim.model.engine import ADMITTED, AVOIDED, ON_LIST, REFUSED, TRANSFERRED, WAITING
from hospsim.model.kpis import daily_and_kpis, daily_table, kpis
from hospsim.model.records import FROM_ACUTE, FROM_ARRIVAL, final_states
from hospsim.runs.replications import run_config

# The model advances the clock by differences (``timeout(arrival - now)``), so a time that should
# equal the arrival time can come out one rounding step either side of it (see
# test_admission_time_not_before_arrival). Comparisons with arrival times allow this much.
EPS = 1e-9

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
COMMUNITY = ("rehab", "care_home")
STEP_UP_NAMES = (STEP_UP, "admission_avoidance")
# Network systems (onward routes between services) may have a third service with places and
# services with ``capacity: unlimited`` (pure delays that hold the sender's place).
EXTRA_COMMUNITY = "home_care"
UNLIMITED_NAMES = ("care_package", "funding_wait")

# ---------------------------------------------------------------------------------------------
# Strategies: raw config mappings


@st.composite
def capacity_schedules(draw, lo: int, hi: int, horizon: int):
    """A whole-number capacity as a constant, steps or a ramp (cuts included)."""
    kind = draw(st.sampled_from(["constant", "steps", "ramp"]))
    if kind == "constant":
        return draw(st.integers(lo, hi))
    if kind == "steps":
        days = draw(st.lists(st.integers(1, horizon - 1), max_size=4, unique=True))
        days = [0, *sorted(days)]
        return {"steps": [[d, draw(st.integers(lo, hi))] for d in days]}
    return {
        "ramp": {
            "from": draw(st.integers(lo, hi)),
            "to": draw(st.one_of(st.integers(lo, hi), st.floats(lo, hi))),
            "start_day": draw(st.integers(0, horizon)),
            "duration_days": draw(st.integers(0, horizon)),
        }
    }


@st.composite
def share_schedules(draw, horizon: int):
    kind = draw(st.sampled_from(["constant", "steps"]))
    share = st.floats(0.0, 0.6)
    if kind == "constant":
        return draw(share)
    days = [0, *sorted(draw(st.lists(st.integers(1, horizon - 1), max_size=2, unique=True)))]
    return {"steps": [[d, draw(share)] for d in days]}


@st.composite
def multiplier_schedules(draw, horizon: int, lo: float = 0.3, hi: float = 2.0):
    """A positive multiplier (LOS, assessment, demand) as a constant or steps."""
    level = st.floats(lo, hi)
    if draw(st.booleans()):
        return draw(level)
    days = [0, *sorted(draw(st.lists(st.integers(1, horizon - 1), min_size=1, max_size=2, unique=True)))]
    return {"steps": [[d, draw(level)] for d in days]}


@st.composite
def gate_conditions(draw, services: list[str]):
    """One gate condition: occupancy, delays, or (with services) a service's places."""
    kinds = ["occupancy", "delayed"] + (["service"] if services else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "occupancy":
        return {"occupancy_at_most": {"days": draw(st.integers(1, 14)), "occupancy": draw(st.floats(0.3, 1.0))}}
    if kind == "delayed":
        return {"delayed_patients_at_most": {"days": draw(st.integers(1, 14)), "patients": draw(st.floats(0.0, 5.0))}}
    return {
        "service_capacity_at_least": {"service": draw(st.sampled_from(services)), "places": draw(st.integers(0, 6))}
    }


def _changes(schedule) -> bool:
    """Does a raw schedule ever change (only such a schedule may be gated)?"""
    if isinstance(schedule, dict) and "steps" in schedule:
        return len({v for _, v in schedule["steps"]}) > 1
    if isinstance(schedule, dict) and "ramp" in schedule:
        return schedule["ramp"]["from"] != schedule["ramp"]["to"]
    return False


@st.composite
def los_dists(draw, max_mean: float):
    """A LOS distribution. Fixed and empirical use whole days half the time (ties at midnight)."""
    dist = draw(st.sampled_from(["exponential", "lognormal", "gamma", "fixed", "empirical"]))
    mean = st.floats(0.05, max_mean)
    if dist == "exponential":
        return {"dist": dist, "mean_days": draw(mean)}
    if dist in ("lognormal", "gamma"):
        return {"dist": dist, "mean_days": draw(mean), "cv": draw(st.floats(0.2, 1.5))}
    whole = st.integers(0, int(max_mean)).map(float)
    value = draw(st.sampled_from([whole, st.floats(0.0, max_mean)]))
    if dist == "fixed":
        return {"dist": dist, "mean_days": draw(value)}
    return {"dist": dist, "values_days": draw(st.lists(value, min_size=1, max_size=6))}


@st.composite
def pathway_mixes(draw, services: list[str]):
    """Shares over home and a subset of ``services`` that sum to 1."""
    names = ["home"] + [s for s in services if draw(st.booleans())]
    weights = [draw(st.floats(0.05, 1.0)) for _ in names]
    total = sum(weights)
    return {n: w / total for n, w in zip(names, weights)}


@st.composite
def onward_mixes(draw, services: list[str], home: bool = True):
    """Shares over a non-empty subset of ``services``, and home if ``home``, that sum to 1."""
    names = (["home"] if home else []) + draw(st.lists(st.sampled_from(services), min_size=1, unique=True))
    weights = [draw(st.floats(0.05, 1.0)) for _ in names]
    total = sum(weights)
    return {n: w / total for n, w in zip(names, weights)}


@st.composite
def systems(
    draw,
    *,
    electives: bool | None = None,
    services: bool | None = None,
    step_up: bool | None = None,
    policy: str | None = None,
    escalation: bool | None = None,
    fancy_demand: bool = True,
    plans: bool | None = False,
    network: bool | None = None,
):
    """A small random system as a raw config mapping. ``None`` means "either". ``plans`` adds the
    plan machinery: LOS, assessment and demand multipliers, assessments, pathway changes, gates
    (chained ones included), a wait limit and late or partial delivery of community capacity.
    ``network`` (only with services) adds onward routes between services (see :func:`add_network`);
    ``network=False`` draws exactly what the generator drew before networks existed."""
    horizon = draw(st.integers(60, 200))
    pick = lambda flag: draw(st.booleans()) if flag is None else flag  # noqa: E731

    svc_names = list(COMMUNITY[: draw(st.integers(1, 2))]) if pick(services) else []
    has_step_up = pick(step_up)
    raw_services = {}
    for name in svc_names:
        raw_services[name] = {
            "capacity": draw(capacity_schedules(0, 6, horizon)),
            "los": draw(los_dists(20.0)),
        }
        if draw(st.booleans()):
            raw_services[name]["kind"] = "discharge"  # the default, said explicitly
    if has_step_up:
        # What a service does comes from its kind: the step-up service may have any name (one
        # named step_up with no kind is of kind step_up, as configs before kinds wrote it).
        name = draw(st.sampled_from(STEP_UP_NAMES))
        raw_services[name] = {"capacity": draw(capacity_schedules(0, 4, horizon)), "los": draw(los_dists(10.0))}
        if name != STEP_UP or draw(st.booleans()):
            raw_services[name]["kind"] = "step_up"
    # Onward routes: the services a plan may add routes to, per service (empty: no network).
    routes: dict[str, list[str]] = {}
    if svc_names and pick(network):
        raw_services, routes = add_network(draw, raw_services, svc_names, horizon)
        svc_names = [n for n in raw_services if n in (*COMMUNITY, EXTRA_COMMUNITY)]
    # Where acute patients may go: services with places and, in a network, unlimited ones.
    destinations = [n for n in raw_services if n in (*COMMUNITY, EXTRA_COMMUNITY, *UNLIMITED_NAMES)]

    n_groups = draw(st.integers(1, 2))
    shares = [1.0] if n_groups == 1 else [p := draw(st.floats(0.05, 0.95)), 1.0 - p]
    groups = {}
    for gi, share in enumerate(shares):
        g = {"share": share, "los": draw(los_dists(10.0))}
        if destinations:
            g["pathways"] = draw(pathway_mixes(destinations))
        if has_step_up and draw(st.booleans()):
            g["step_up_share"] = draw(share_schedules(horizon))
        groups[f"g{gi}"] = g

    emergency: dict = {"per_day": draw(st.floats(0.2, 12.0))}
    if fancy_demand:
        if draw(st.booleans()):
            emergency["weekday_factors"] = draw(st.lists(st.floats(0.5, 1.5), min_size=7, max_size=7))
        if draw(st.booleans()):
            hourly = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=24, max_size=24))
            assume(sum(hourly) > 0)
            emergency["hourly_factors"] = hourly
        if draw(st.booleans()):
            emergency["winter"] = {
                "amplitude": draw(st.floats(0.0, 0.5)),
                "peak_day_of_year": draw(st.integers(1, 366)),
            }
        if draw(st.booleans()):
            emergency["growth_per_year"] = draw(st.floats(-0.3, 0.5))

    demand: dict = {"emergency": emergency}
    if pick(electives):
        admit_hour = draw(st.sampled_from([0.0, 8.0, 13.5]))
        demand["elective"] = {
            "per_weekday": draw(capacity_schedules(0, 3, horizon)),
            "referrals_per_week": draw(st.floats(0.5, 15.0)),
            "admit_hour": admit_hour,
            # Not 0: simultaneous electives can crash the model (test_simultaneous_electives...).
            "spread_hours": draw(st.sampled_from([0.5, 2.0, 4.0])),
            "los": draw(los_dists(6.0)),
        }
        if destinations:
            demand["elective"]["pathways"] = draw(pathway_mixes(destinations))
        if draw(st.booleans()):
            demand["elective"]["referral_growth_per_year"] = draw(st.floats(-0.5, 1.0))
        if draw(st.booleans()):
            demand["elective"]["priorities"] = draw(
                st.sampled_from([{"urgent": 0.3, "routine": 0.7}, {"a": 0.2, "b": 0.3, "c": 0.5}])
            )
        if draw(st.booleans()):
            demand["elective"]["bookable_after"] = draw(los_dists(6.0))
        if draw(st.booleans()):
            demand["elective"]["initial_list"] = {
                "patients": draw(st.integers(0, 30)),
                "max_wait_weeks": draw(st.floats(0.0, 30.0)),
            }

    acute: dict = {
        "beds": draw(capacity_schedules(1, 30, horizon)),
        "when_full": policy or draw(st.sampled_from(["queue", "refuse"])),
    }
    if pick(escalation):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6, unique=True))
        acute["escalation"] = {"beds": draw(st.integers(0, 5)), "months": months}

    raw = {
        "name": "prop",
        "start_date": draw(st.dates(dt.date(2015, 1, 1), dt.date(2020, 12, 31))).isoformat(),
        "horizon_days": horizon,
        "warmup_days": draw(st.integers(0, horizon // 3)),
        "replications": 1,
        "seed": draw(st.integers(0, 2**32 - 1)),
        "acute": acute,
        "demand": demand,
        "groups": groups,
        "services": raw_services,
    }
    if pick(plans):
        add_plans(draw, raw, svc_names, horizon, routes)
    fit_headroom(draw, raw)
    return raw


def add_network(draw, raw_services: dict, svc_names: list[str], horizon: int) -> tuple[dict, dict[str, list[str]]]:
    """Onward routes between the services of a raw system: chains and forks among the services
    with places (in a random order, each routing only to later ones, so they form no cycle), up
    to two ``capacity: unlimited`` services (pure delays, mostly with an assessment) that may
    route anywhere - so cycles pass only through them - and a step-up service (sometimes with no
    limit) that routes on. Returns the services (in a random order: the engine handles them in config order) and, per
    service, the services its routes (or a plan's change of them) may lead to."""
    services = copy.deepcopy(raw_services)
    limited = list(svc_names)
    if draw(st.booleans()):
        limited.append(EXTRA_COMMUNITY)
        services[EXTRA_COMMUNITY] = {"capacity": draw(capacity_schedules(0, 6, horizon)), "los": draw(los_dists(20.0))}
    # At least one service that can route on: a lone service with places needs an unlimited one.
    unlimited = list(UNLIMITED_NAMES[: draw(st.integers(1 if len(limited) == 1 else 0, 2))])
    for name in unlimited:
        services[name] = {"capacity": "unlimited", "los": draw(los_dists(10.0))}
        if draw(st.integers(0, 4)):  # mostly a pure delay in the sender's place
            services[name]["assessment"] = draw(los_dists(5.0))
    for name in limited:
        if draw(st.booleans()):
            services[name]["assessment"] = draw(los_dists(5.0))
    for name in [n for n in services if n in STEP_UP_NAMES]:
        if not draw(st.integers(0, 4)):  # takes every suitable emergency
            services[name]["capacity"] = "unlimited"
    order = draw(st.permutations(limited))
    routes = {name: [*order[i + 1 :], *unlimited] for i, name in enumerate(order)}
    routes |= {name: [*limited, *unlimited] for name in unlimited}
    routes |= {n: [*limited, *unlimited] for n, s in services.items() if n in STEP_UP_NAMES}
    routing = [name for name, dests in routes.items() if dests and draw(st.integers(0, 3))]
    for name in routing or [next(n for n, dests in routes.items() if dests)]:
        # Some services send every patient on (a compulsory chain); unlimited ones always send
        # some home, so a cycle through them always has a way out.
        home = name in unlimited or draw(st.integers(0, 3)) > 0
        services[name]["pathways"] = draw(onward_mixes(routes[name], home))
    names = draw(st.permutations(list(services)))
    return {n: services[n] for n in names}, routes


def fit_headroom(draw, raw: dict) -> None:
    """Give the emergencies a headroom that their growth x demand multiplier fits in (the config
    refuses less), sometimes the default, sometimes a random larger one."""
    em = raw["demand"]["emergency"]
    mult = em.get("multiplier", 1.0)
    top = max(Schedule.model_validate(mult).values())
    growth = max(1.0, (1 + em.get("growth_per_year", 0.0)) ** ((raw["horizon_days"] - 1) / 365.25))
    need = max(1.0, top * growth * (1 + 1e-9))  # a margin for rounding of the growth factor
    if need > 1.5 or draw(st.booleans()):
        em["headroom"] = draw(st.floats(need, 2 * need))


def add_plans(draw, raw: dict, svc_names: list[str], horizon: int, routes: dict[str, list[str]] | None = None) -> None:
    """Add the plan machinery to a raw system (in place); with ``routes`` (see
    :func:`add_network`) also changes of services' onward routes, sometimes gated, and late or
    partial delivery applied to them."""
    for name in svc_names:
        svc = raw["services"][name]
        if draw(st.booleans()):
            svc["assessment"] = draw(los_dists(5.0))
            svc["assessment_multiplier"] = draw(multiplier_schedules(horizon))
        if _changes(svc["capacity"]) and draw(st.booleans()):
            # A gated service capacity: a bed gate waiting on it makes a chain of gates.
            svc["capacity"] = {**svc["capacity"], "gate": draw(gate_conditions([]))}
    destinations = svc_names + [n for n in UNLIMITED_NAMES if n in raw["services"]]
    for g in raw["groups"].values():
        if draw(st.booleans()):
            g["los_multiplier"] = draw(multiplier_schedules(horizon))
        if svc_names and draw(st.booleans()):
            change = {"to": draw(pathway_mixes(destinations)), "start_day": draw(st.integers(0, horizon)),
                      "duration_days": draw(st.integers(0, horizon))}  # fmt: skip
            if draw(st.booleans()):
                change["gate"] = draw(gate_conditions(svc_names))
            g["pathways_change"] = change
    if draw(st.booleans()):
        raw["demand"]["emergency"]["multiplier"] = draw(multiplier_schedules(horizon, 0.5, 1.5))
    acute = raw["acute"]
    if acute["when_full"] == "queue" and draw(st.booleans()):
        acute["max_wait_hours"] = draw(st.floats(0.5, 72.0))
    if _changes(acute["beds"]) and draw(st.booleans()):
        acute["beds"] = {**acute["beds"], "gate": draw(st.lists(gate_conditions(svc_names), min_size=1, max_size=2))}
    if draw(st.booleans()):
        raw["plan_delivery"] = {"ic_delay_days": draw(st.integers(0, horizon // 2)),
                                "ic_growth_achieved": draw(st.floats(0.0, 1.0))}  # fmt: skip
    if routes:
        add_network_plans(draw, raw, svc_names, horizon, routes)


def add_network_plans(draw, raw: dict, svc_names: list[str], horizon: int, routes: dict[str, list[str]]) -> None:
    """Plan levers of a network: onward pathway changes (gated sometimes), assessment
    multipliers of unlimited services, and ``plan_delivery.applies_to`` naming route changes."""
    services = raw["services"]
    for name, dests in routes.items():
        if dests and draw(st.booleans()):
            change = {"to": draw(onward_mixes(dests)), "start_day": draw(st.integers(0, horizon)),
                      "duration_days": draw(st.integers(0, horizon))}  # fmt: skip
            if draw(st.booleans()):
                change["gate"] = draw(gate_conditions(svc_names))
            services[name]["pathways_change"] = change
    for name in UNLIMITED_NAMES:
        if name in services and "assessment" in services[name] and draw(st.booleans()):
            services[name]["assessment_multiplier"] = draw(multiplier_schedules(horizon))
    if "plan_delivery" in raw and draw(st.booleans()):
        # Any service's route change may be listed, whether or not this system has one.
        levers = [f"services.{n}.pathways_change" for n in routes]
        levers += [f"services.{n}.capacity" for n in svc_names]
        raw["plan_delivery"]["applies_to"] = draw(
            st.lists(st.sampled_from(levers), min_size=1, max_size=3, unique=True)
        )


seeds = st.integers(0, 2**63 - 1)


def build(raw: dict):
    return config_from_dict(copy.deepcopy(raw), "<hypothesis>")


# ---------------------------------------------------------------------------------------------
# Checks shared by several properties


def _le(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a <= b where both are defined (NaN compares as 'not applicable')."""
    both = ~np.isnan(a) & ~np.isnan(b)
    out = np.ones(a.shape, dtype=bool)
    out[both] = a[both] <= b[both]
    return out


def check_conservation(cfg, rep) -> None:
    co, rec = rep.cohort, rep.records
    H = cfg.horizon_days
    n = len(co)
    out = rec.outcome
    em, el = ~co.is_elective, co.is_elective
    names = co.service_names
    step_up = names.index(cfg.step_up_service) if cfg.step_up_service is not None else -1

    # One outcome per patient, from the set that fits the patient type and policy.
    assert out.shape == (n,)
    assert set(np.unique(out[el])) <= {ADMITTED, ON_LIST}
    assert set(np.unique(out[em])) <= {WAITING, ADMITTED, AVOIDED, REFUSED, TRANSFERRED}
    if cfg.acute.when_full == "queue":
        assert not np.any(out == REFUSED)
    else:
        assert not np.any(out == WAITING)
    if cfg.acute.max_wait_hours is None:
        assert not np.any(out == TRANSFERRED)
    counts = {k: int(np.sum(out == k)) for k in (WAITING, ADMITTED, AVOIDED, REFUSED, ON_LIST, TRANSFERRED)}
    assert sum(counts.values()) == n
    # Emergencies, then electives (the starting list referred before day 0), each in time order.
    assert np.array_equal(el, np.sort(el)) and np.all(co.arrival_days < H)
    assert np.all(np.diff(co.arrival_days[em]) >= 0) and np.all(co.arrival_days[em] >= 0)
    assert np.all(np.diff(co.arrival_days[el]) >= 0)
    assert np.all(rec.times_cancelled[em] == 0) and rec.times_cancelled.sum() == rec.cancellation_days.size

    admitted = out == ADMITTED
    # Admitted patients have an admission time, everyone else none.
    assert not np.any(np.isnan(rec.admit_days[admitted]))
    assert np.all(np.isnan(rec.admit_days[~admitted]))
    assert np.all(np.isnan(rec.fit_days[~admitted])) and np.all(np.isnan(rec.bed_leave_days[~admitted]))
    # admitted = discharged + still in a bed; fit exactly LOS after admission if before the horizon.
    in_bed = admitted & np.isnan(rec.bed_leave_days)
    assert counts[ADMITTED] == int(np.sum(admitted & ~np.isnan(rec.bed_leave_days))) + int(in_bed.sum())
    fit_due = rec.admit_days + co.acute_los_days
    got_fit = admitted & ~np.isnan(rec.fit_days)
    np.testing.assert_array_equal(rec.fit_days[got_fit], fit_due[got_fit])
    assert np.all(fit_due[admitted & ~got_fit] >= H)

    # Time order: arrival <= admit <= fit <= bed_leave <= service_start <= service_end.
    assert np.all(_le(co.arrival_days, rec.admit_days + EPS))
    assert np.all(_le(rec.admit_days, rec.fit_days))
    assert np.all(_le(rec.fit_days, rec.bed_leave_days))
    assert np.all(_le(rec.bed_leave_days, rec.service_start_days))
    assert np.all(_le(rec.service_start_days, rec.service_end_days))
    assert np.all(np.isnan(rec.bed_leave_days) | (rec.bed_leave_days < H))
    assert np.all(np.isnan(rec.service_end_days) | (rec.service_end_days < H))

    # Avoided: straight into step-up on arrival, never in an acute bed.
    avoided = out == AVOIDED
    if avoided.any():
        assert step_up >= 0 and np.all(co.step_up_suitable[avoided])
        assert np.all(rec.service[avoided] == step_up)
        assert np.allclose(rec.service_start_days[avoided], co.arrival_days[avoided], rtol=0, atol=EPS)
    # Home pathway: the bed is freed the moment the patient is fit, no service.
    home = admitted & (co.service < 0)
    assert np.array_equal(rec.bed_leave_days[home], rec.fit_days[home], equal_nan=True)
    assert np.all(rec.service[home] == -1)
    # Community pathway: transferred exactly once, to their own service, at or after fit; the
    # bed is freed by the transfer itself.
    referred = admitted & (co.service >= 0)
    moved = referred & ~np.isnan(rec.service_start_days)
    assert np.all(rec.service[moved] == co.service[moved])
    assert np.array_equal(rec.bed_leave_days[moved], rec.service_start_days[moved])
    assert np.all(rec.service_start_days[moved] >= rec.fit_days[moved])
    not_moved = referred & np.isnan(rec.service_start_days)
    assert np.all(rec.service[not_moved] == -1) and np.all(np.isnan(rec.bed_leave_days[not_moved]))
    # Nobody else ever used a service.
    users = ~np.isnan(rec.service_start_days)
    assert np.array_equal(users, moved | avoided)
    assert np.array_equal(rec.service >= 0, users)
    # The community visits, first ones (the per-patient fields) and onward ones.
    check_visits(cfg, rep)

    # The daily table tells the same story.
    daily = daily_table(cfg, rep)
    assert len(daily) == H
    assert daily["emergency_arrivals"].sum() == int(em.sum())
    assert daily["admissions_avoided"].sum() == counts[AVOIDED]
    assert daily["refused_admissions"].sum() == counts[REFUSED]
    assert daily["elective_cancellations"].sum() == int(rec.times_cancelled.sum())
    assert daily["elective_referrals"].sum() == int(np.sum(el & (co.arrival_days >= 0)))
    assert daily["emergency_admissions"].sum() + daily["elective_admissions"].sum() == counts[ADMITTED]
    assert daily["transferred_out"].sum() == counts[TRANSFERRED]
    if counts[TRANSFERRED]:
        # A transfer happens exactly the wait limit after arrival, before the horizon.
        limit = cfg.acute.max_wait_hours / 24.0
        assert np.all(co.arrival_days[out == TRANSFERRED] + limit < H)
    last = daily.iloc[-1]
    assert last["boarding_queue_midnight"] == counts[WAITING]
    assert last["elective_waiting_list"] == counts[ON_LIST]
    assert last["occupied_beds_midnight"] == int(in_bed.sum())
    assert last["delayed_patients_midnight"] == int(np.sum(got_fit & np.isnan(rec.bed_leave_days)))


def _chains(v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The visits in (patient, depth) order: their indices, and which of them are a patient's
    first and last visit."""
    order = np.lexsort((v.depth, v.patient))
    p = v.patient[order]
    first = np.r_[True, p[1:] != p[:-1]] if p.size else np.zeros(0, dtype=bool)
    last = np.r_[p[1:] != p[:-1], True] if p.size else np.zeros(0, dtype=bool)
    return order, first, last


def check_visits(cfg, rep) -> None:
    """Every community visit: times in order (NaN only at the tail, before the horizon); one
    chain of visits per patient, depth 0, 1, ..., each referred when the previous stay ended,
    by the service it was in, and started exactly when that place was left; the last visit of a
    finished chain leaves when its stay ends (home). The first visit is the patient's pathway
    out of the acute bed (started when the bed was left) or its step-up diversion (on arrival),
    and the per-patient fields are that visit's; its stay lasts the patient's drawn LOS."""
    co, rec, v = rep.cohort, rep.records, rep.records.visits
    H, n, n_services = cfg.horizon_days, len(co), len(co.service_names)
    assert sum(final_states(rec).values()) == n  # raises unless each patient is in one state
    assert np.all((v.patient >= 0) & (v.patient < n)) and np.all((v.service >= 0) & (v.service < n_services))
    assert np.all((v.origin >= FROM_ARRIVAL) & (v.origin < n_services))
    times = np.stack([v.referred_days, v.ready_days, v.start_days, v.stay_end_days, v.leave_days])
    nan = np.isnan(times)
    assert not nan[0].any() and np.all(nan[1:] >= nan[:-1]), "a visit's times are NaN only at the tail"
    assert all(np.all(_le(times[k], times[k + 1])) for k in range(4)), "visit times out of order"
    assert np.all(nan | (times < H)) and np.all(np.diff(v.referred_days) >= 0)  # in the order referred

    order, first, last = _chains(v)
    depth = np.arange(order.size) - np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    assert np.array_equal(v.depth[order], depth), "a patient's visits are not depth 0, 1, 2, ..."
    nxt, prev = order[~first], order[np.flatnonzero(~first) - 1]
    assert np.array_equal(v.origin[nxt], v.service[prev])
    assert np.array_equal(v.referred_days[nxt], v.stay_end_days[prev]), "referred on, not when the stay ended"
    assert np.array_equal(v.leave_days[prev], v.start_days[nxt], equal_nan=True), "left, not when moved on"
    home = order[last & ~np.isnan(v.stay_end_days[order])]
    assert np.array_equal(v.leave_days[home], v.stay_end_days[home]), "a finished chain did not go home"

    # First visits: from an acute bed (admitted, fit) or a step-up diversion (avoided).
    head = order[first]
    p = v.patient[head]
    acute, arrival = v.origin[head] == FROM_ACUTE, v.origin[head] == FROM_ARRIVAL
    assert np.all(acute | arrival) and np.unique(p).size == p.size
    pa = p[acute]
    assert np.all(rec.outcome[pa] == ADMITTED) and np.array_equal(v.service[head][acute], co.service[pa])
    assert np.array_equal(v.referred_days[head][acute], rec.fit_days[pa])
    assert np.array_equal(v.ready_days[head][acute], rec.ready_days[pa], equal_nan=True)
    assert np.array_equal(v.start_days[head][acute], rec.bed_leave_days[pa], equal_nan=True)
    referred = (rec.outcome == ADMITTED) & (co.service >= 0) & ~np.isnan(rec.fit_days)
    assert np.array_equal(np.sort(pa), np.flatnonzero(referred)), "a fit patient with a pathway has no visit"
    diverted = p[arrival]
    assert np.array_equal(np.sort(diverted), np.flatnonzero(rec.outcome == AVOIDED))
    step_up = list(co.service_names).index(cfg.step_up_service) if diverted.size else -1
    assert np.all(v.service[head][arrival] == step_up)
    assert np.allclose(v.start_days[head][arrival], co.arrival_days[diverted], rtol=0, atol=EPS)
    assert np.array_equal(v.ready_days[head][arrival], v.start_days[head][arrival])
    # The per-patient fields are the first visit's.
    started = ~np.isnan(v.start_days[head])
    assert np.array_equal(rec.service[p], np.where(started, v.service[head], -1))
    assert np.array_equal(rec.service_start_days[p], v.start_days[head], equal_nan=True)
    assert np.array_equal(rec.service_end_days[p], v.leave_days[head], equal_nan=True)
    others = np.setdiff1d(np.arange(n), p)
    assert np.all(np.isnan(rec.service_start_days[others])) and np.all(rec.service[others] == -1)
    # The first stay lasts the patient's drawn LOS (exactly), cut only by the horizon.
    los = np.where(arrival, co.step_up_los_days[p], co.service_los_days[p])
    due = v.start_days[head] + los
    ended = ~np.isnan(v.stay_end_days[head])
    assert np.array_equal(v.stay_end_days[head][ended], due[ended])
    assert np.all(due[started & ~ended] >= H)


def admission_violations(starts, ends, cap_by_day) -> list[tuple[float, int, int]]:
    """Admissions made while the pool was already at or above that day's capacity.

    ``starts``/``ends`` are the stays (NaN end = still there). The occupancy seen by an admission
    at time t is bounded below by the stays open across t plus the other positive-length stays
    starting at t, so a reported violation is certain (ties at t are resolved in the model's
    favour). Returns (time, occupancy after the admissions at t, capacity) per violation.
    """
    s = np.asarray(starts, dtype=float)
    e = np.asarray(ends, dtype=float)
    keep = ~np.isnan(s)
    s, e = s[keep], np.where(np.isnan(e[keep]), np.inf, e[keep])
    bad = []
    for t in np.unique(s):
        open_across = int(np.sum((s < t) & (e > t)))
        starting = int(np.sum((s == t) & (e > t)))
        level = open_across + max(starting, 1)
        cap = int(cap_by_day[int(t)])
        if level > cap:
            bad.append((float(t), level, cap))
    return bad


def check_capacity(cfg, rep) -> None:
    co, rec, capacity, v = rep.cohort, rep.records, rep.capacity, rep.records.visits
    admitted = rec.outcome == ADMITTED
    # No exclusions: a capacity change at midnight comes before every other event due then.
    # A community place is held from the start of a visit until the patient leaves it (blocked
    # time after the stay included).
    pools = [("acute", np.where(admitted, rec.admit_days, np.nan), rec.bed_leave_days, capacity.total_beds)]
    for si, name in enumerate(co.service_names):
        here = v.service == si
        pools.append((name, v.start_days[here], v.leave_days[here], capacity.service_places[si]))
    for name, starts, ends, cap_by_day in pools:
        bad = admission_violations(starts, ends, cap_by_day)
        assert not bad, f"{name}: admissions into a full pool (time, occupancy, capacity): {bad[:5]}"

    # Daily table: the peak stays within the beds unless the day began above them (a cut).
    H = cfg.horizon_days
    daily = daily_table(cfg, rep)
    carried = np.concatenate([[0], daily["occupied_beds_midnight"].to_numpy()[:-1]])
    cap = daily["beds_capacity"].to_numpy()
    over = (carried <= cap) & (daily["occupied_beds_max"].to_numpy() > cap)
    assert not over.any(), daily.loc[over, ["day", "beds_capacity", "occupied_beds_max"]]
    # Services have only a daily mean: it stays within max(places, level carried into the day).
    for si, name in enumerate(co.service_names):
        here = (v.service == si) & ~np.isnan(v.start_days)
        s = np.sort(v.start_days[here])
        e = np.sort(np.where(np.isnan(v.leave_days[here]), np.inf, v.leave_days[here]))
        days = np.arange(H, dtype=float)
        carried = np.searchsorted(s, days, side="left") - np.searchsorted(e, days, side="left")
        places = capacity.service_places[si]
        if cfg.services[name].unlimited:
            assert f"{name}_capacity" not in daily  # no places to count
        else:
            assert np.array_equal(daily[f"{name}_capacity"].to_numpy(), places)
        ok = daily[f"{name}_occupied_mean"].to_numpy() <= np.maximum(places, carried) + 1e-9
        assert ok.all(), f"{name}: mean occupancy above places on days {np.flatnonzero(~ok)}"


def _nondecreasing_nan_last(values: np.ndarray) -> bool:
    v = np.where(np.isnan(values), np.inf, values)
    return bool(np.all(v[1:] >= v[:-1]))


def check_fifo(cfg, rep) -> None:
    co, rec = rep.cohort, rep.records
    out = rec.outcome
    em = ~co.is_elective
    # Boarders: emergencies that joined the queue (admitted later than arrival, or still waiting).
    boarded = em & (((out == ADMITTED) & (rec.admit_days > co.arrival_days + EPS)) | (out == WAITING))
    idx = np.flatnonzero(boarded)
    order = np.lexsort((np.where(np.isnan(rec.admit_days[idx]), np.inf, rec.admit_days[idx]), co.arrival_days[idx]))
    assert _nondecreasing_nan_last(rec.admit_days[idx][order]), "boarding queue not served in arrival order"
    # Nobody walks past the queue: nobody (emergency or elective) is admitted on arrival while
    # an earlier arrival is still waiting for a bed.
    direct = (out == ADMITTED) & (np.abs(rec.admit_days - co.arrival_days) <= EPS)
    w_start = co.arrival_days[idx]
    w_end = np.where(np.isnan(rec.admit_days[idx]), np.inf, rec.admit_days[idx])
    for t in co.arrival_days[direct]:
        assert not np.any((w_start < t - EPS) & (w_end > t + EPS)), f"admitted on arrival at {t} past a waiting patient"
    # Electives are admitted only into a weekday's theatre slots, after their referral.
    el_in = co.is_elective & (out == ADMITTED)
    if el_in.any():
        el_cfg = cfg.demand.elective
        admit = rec.admit_days[el_in]
        hour = (admit - np.floor(admit)) * 24
        assert np.all(hour >= el_cfg.admit_hour - 1e-6) and np.all(
            hour <= el_cfg.admit_hour + el_cfg.spread_hours + 1e-6
        )
        weekday = calendar(cfg.start_date, cfg.horizon_days)[0][np.floor(admit).astype(np.int64)]
        assert np.all(weekday < 5) and np.all(admit > co.arrival_days[el_in])

    # Each service takes its waiting list in the order patients became ready to transfer (the
    # end of the stay in the sender's place - medically fit or a community stay - plus the
    # service's assessment when it has one), whatever place each patient waits in.
    v = rec.visits
    for si, name in enumerate(co.service_names):
        if name == cfg.step_up_service:
            continue
        ref = np.flatnonzero((v.service == si) & ~np.isnan(v.ready_days))
        assert not np.any(v.origin[ref] == FROM_ARRIVAL)
        start = v.start_days[ref]
        order = np.lexsort((np.where(np.isnan(start), np.inf, start), v.ready_days[ref]))
        assert _nondecreasing_nan_last(start[order]), f"{name} not taken in order of readiness"


# ---------------------------------------------------------------------------------------------
# Invariants


# One test for the three invariants: each of them is still checked on 500 generated systems,
# but every system is generated and simulated once instead of three times (the three were
# separate tests over the same strategy; the simulation is most of their time). A failure names
# the invariant: the check functions assert with their own messages.
@settings(max_examples=500, **SETTINGS)
@given(raw=systems(plans=None), seed=seeds)
def test_conservation_capacity_and_fifo(raw, seed):
    cfg = build(raw)
    rep = run_replication(cfg, seed)
    check_conservation(cfg, rep)
    check_capacity(cfg, rep)
    check_fifo(cfg, rep)


# ---------------------------------------------------------------------------------------------
# Determinism


def _records_equal(a, b) -> bool:
    """Every field equal, NaN where NaN; nested records (the visits) field by field."""

    def same(x, y) -> bool:
        if dataclasses.is_dataclass(x):
            return _records_equal(x, y)
        return np.array_equal(x, y, equal_nan=np.asarray(x).dtype.kind == "f")

    return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)


def _kpis_equal(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all((x == y) or (np.isnan(x) and np.isnan(y)) for x, y in zip(a.values(), b.values()))


@settings(max_examples=80, **SETTINGS)
@given(raw=systems(plans=None), seed=seeds, other=seeds)
def test_same_seed_same_results_other_seed_other_patients(raw, seed, other):
    assume(seed != other)
    cfg = build(raw)
    a, b = run_replication(cfg, seed), run_replication(build(raw), seed)
    assert _records_equal(a.records, b.records)
    for f in a.cohort.__dataclass_fields__:
        x, y = getattr(a.cohort, f), getattr(b.cohort, f)
        assert np.array_equal(x, y, equal_nan=np.asarray(x).dtype.kind == "f"), f
    daily_a, kpis_a = daily_and_kpis(cfg, a)
    daily_b, kpis_b = daily_and_kpis(cfg, b)
    pd.testing.assert_frame_equal(daily_a, daily_b, check_exact=True)
    assert _kpis_equal(kpis_a, kpis_b)

    c = run_replication(cfg, other)
    # Other patients: emergencies and new referrals (the starting list is the same whatever the seed).
    new_a = a.cohort.arrival_days[a.cohort.arrival_days >= 0]
    new_c = c.cohort.arrival_days[c.cohort.arrival_days >= 0]
    assume(new_a.size + new_c.size > 0)
    assert not np.array_equal(new_a, new_c)
    assert np.array_equal(
        a.cohort.arrival_days[a.cohort.arrival_days < 0], c.cohort.arrival_days[c.cohort.arrival_days < 0]
    )


@settings(max_examples=2, **SETTINGS)
@given(raw=systems(services=True, step_up=True))
def test_one_or_two_workers_give_identical_tables(raw):
    raw = dict(raw, replications=3)
    cfg = build(raw)
    one = run_config(cfg, workers=1)
    two = run_config(cfg, workers=2)
    assert one.seeds == two.seeds
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)
    pd.testing.assert_frame_equal(one.replications, two.replications, check_exact=True)
    pd.testing.assert_frame_equal(one.daily, two.daily, check_exact=True)
    assert one.events == two.events


# ---------------------------------------------------------------------------------------------
# Common random numbers: scenarios compared under one seed


@st.composite
def more_capacity(draw, schedule, lo_extra: int = 0, hi_extra: int = 5):
    """A capacity schedule that is pointwise at least ``schedule``."""
    extra = st.integers(lo_extra, hi_extra)
    if isinstance(schedule, (int, float)):
        return schedule + draw(extra)
    if "steps" in schedule:
        return {"steps": [[d, v + draw(extra)] for d, v in schedule["steps"]]}
    r = dict(schedule["ramp"])
    k = draw(extra)
    r["from"], r["to"] = r["from"] + k, r["to"] + k
    return {"ramp": r}


def _waits(rep, horizon: int) -> np.ndarray:
    """Each emergency's wait for a bed (running waits cut at the horizon; others 0)."""
    co, rec = rep.cohort, rep.records
    end = np.where(np.isnan(rec.admit_days), float(horizon), rec.admit_days)
    boarding = ~co.is_elective & ((rec.outcome == ADMITTED) | (rec.outcome == WAITING))
    return np.where(boarding, np.maximum(end - co.arrival_days, 0.0), 0.0)


@settings(max_examples=400, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_more_beds_never_lengthen_a_wait(data, seed):
    raw = data.draw(systems(electives=False, services=False, step_up=False, policy="queue"))
    bigger = copy.deepcopy(raw)
    bigger["acute"]["beds"] = data.draw(more_capacity(raw["acute"]["beds"]))
    small_cfg, big_cfg = build(raw), build(bigger)
    small, big = run_replication(small_cfg, seed), run_replication(big_cfg, seed)
    assert np.all(big.capacity.total_beds >= small.capacity.total_beds)
    assert np.array_equal(small.cohort.arrival_days, big.cohort.arrival_days)
    w_small, w_big = _waits(small, raw["horizon_days"]), _waits(big, raw["horizon_days"])
    worse = np.flatnonzero(w_big > w_small + EPS)
    assert worse.size == 0, f"patients {worse[:5]} wait longer with more beds"


@settings(max_examples=300, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_same_extra_beds_every_day_never_add_refusals(data, seed):
    """Refuse policy: k more beds on every day never means more refusals in total.

    Only for the same k every day. Extra beds that are open only for a while are not pathwise
    better: hypothesis found beds {steps: [[0, 1], [1, 1]]} vs {steps: [[0, 2], [1, 1]]} (an extra
    bed on day 0 only), where the extra patient admitted on day 0 is still in when the bed goes,
    nobody is evicted, and the run refuses more patients afterwards. That is how a loss system
    without eviction works, not a bug.
    """
    raw = data.draw(systems(electives=False, services=False, step_up=False, policy="refuse"))
    k = data.draw(st.integers(1, 4))
    bigger = copy.deepcopy(raw)
    beds = raw["acute"]["beds"]
    if isinstance(beds, int):
        bigger["acute"]["beds"] = beds + k
    elif "steps" in beds:
        bigger["acute"]["beds"] = {"steps": [[d, v + k] for d, v in beds["steps"]]}
    else:
        bigger["acute"]["beds"] = {
            "ramp": dict(beds["ramp"], **{"from": beds["ramp"]["from"] + k, "to": beds["ramp"]["to"] + k})
        }
    small, big = run_replication(build(raw), seed), run_replication(build(bigger), seed)
    # Rounding a ramp half-way value can give k +/- 1 extra on a day: keep exact-k cases only.
    assume(np.all(big.capacity.total_beds - small.capacity.total_beds == k))
    assert np.sum(big.records.outcome == REFUSED) <= np.sum(small.records.outcome == REFUSED)


def _delayed_days(rep, horizon: int) -> np.ndarray:
    """Each patient's days in a bed after being fit (running delays cut at the horizon)."""
    rec = rep.records
    end = np.where(np.isnan(rec.bed_leave_days), float(horizon), rec.bed_leave_days)
    return np.where(np.isnan(rec.fit_days), 0.0, end - rec.fit_days)


def _more_places(data, raw):
    community = [s for s, svc in raw["services"].items() if s not in STEP_UP_NAMES and svc["capacity"] != "unlimited"]
    name = data.draw(st.sampled_from(community))
    bigger = copy.deepcopy(raw)
    bigger["services"][name]["capacity"] = data.draw(more_capacity(raw["services"][name]["capacity"]))
    return bigger


@settings(max_examples=300, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_more_places_never_add_delays_when_beds_are_not_short(data, seed):
    """More places in a community service never lengthen anyone's delayed transfer, provided
    the acute hospital never has to queue or refuse anyone (so admissions, and therefore fit
    times, are the same in both scenarios).

    In general neither delayed bed-days nor boarding is pathwise monotone in community places,
    and hypothesis finds counterexamples quickly (all are properties of the model, not bugs):

    * boarding turns into delay: with more rehab places beds free sooner, a boarder is admitted
      sooner, becomes fit sooner, and then waits longer in the bed for a *different*, full
      service (care_home capacity 0: she waits to the horizon) - delayed bed-days go up;
    * with ``refuse``, freer beds admit patients who would have been refused; they are
      referred too, and their delays add to the total;
    * FIFO reordering: a patient admitted sooner overtakes another in the queue of an unchanged
      service with a different community LOS, so the other's transfer - and the bed it frees -
      comes later and a boarder waits longer: total boarding goes up (e.g. 4 beds, 1.5625/day,
      gamma LOS, services s1 1 -> 2 places and s2 1 place, seed 255: 2078.6 -> 2089.9 days);
    * the warm-up cut: a scenario that clears a backlog during warm-up processes more patients
      after it, so the post-warm-up delay can go up even when the whole-run delay goes down;
    * onward routes (so no networks here): a step-up service that sends half its patients on to
      rehab frees its places sooner when rehab has more, so more emergencies are diverted and
      fewer admitted - other fit times (rehab 0 -> 1 place, step-up 1 place, seed 0); and
      patients arriving in a service from another compete with acute patients for the next one.
    """
    raw = data.draw(systems(electives=False, services=True, network=False))
    raw["acute"] = {"beds": 100_000, "when_full": raw["acute"]["when_full"]}
    bigger = _more_places(data, raw)
    small_cfg, big_cfg = build(raw), build(bigger)
    small, big = run_replication(small_cfg, seed), run_replication(big_cfg, seed)
    H = raw["horizon_days"]
    for rep in (small, big):
        assert not np.any(_waits(rep, H) > EPS) and not np.any(rep.records.outcome == REFUSED)
    assert np.array_equal(small.records.fit_days, big.records.fit_days, equal_nan=True)
    d_small, d_big = _delayed_days(small, H), _delayed_days(big, H)
    worse = np.flatnonzero(d_big > d_small + EPS)
    assert worse.size == 0, f"patients {worse[:5]} wait longer for a transfer with more places"
    k_small, k_big = kpis(small_cfg, small), kpis(big_cfg, big)
    assert k_big["delayed_bed_days"] <= k_small["delayed_bed_days"] + 1e-9


@settings(max_examples=300, derandomize=True, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_more_places_in_the_only_service_never_add_delay_or_boarding(data, seed):
    """One community service, queue policy, no electives, constant capacities, measured from
    day 0: more places never increase delayed bed-days nor total boarding.

    This is the regime where none of the mechanisms in the test above applies (no other
    service to wait longer for, no refused patients who could be admitted, no warm-up cut).
    Capacities must be constant too: when beds or places fall later (escalation beds closing,
    a cut, a place open for a day), a bed freed by the extra place admits a boarder who
    then waits in it for the service, and delays go up (hypothesis found such cases; both
    engines agree). It held in every one of several thousand targeted examples but is not
    proven, so the examples are derandomized (the same every run) to keep the suite
    deterministic.
    """
    raw = data.draw(systems(electives=False, services=True, policy="queue", network=False))
    raw["warmup_days"] = 0
    raw["acute"]["beds"] = data.draw(st.integers(1, 12))
    raw["acute"].pop("escalation", None)
    raw["services"].pop("care_home", None)
    for svc in raw["services"].values():
        if svc["capacity"] != "unlimited":
            svc["capacity"] = data.draw(st.integers(0, 6))
    for g in raw["groups"].values():
        mix = {k: v for k, v in g["pathways"].items() if k != "care_home"}
        total = sum(mix.values())
        g["pathways"] = {k: v / total for k, v in mix.items()}
    bigger = _more_places(data, raw)
    small_cfg, big_cfg = build(raw), build(bigger)
    small, big = run_replication(small_cfg, seed), run_replication(big_cfg, seed)
    H = raw["horizon_days"]
    assert _waits(big, H).sum() <= _waits(small, H).sum() + 1e-9
    assert kpis(big_cfg, big)["delayed_bed_days"] <= kpis(small_cfg, small)["delayed_bed_days"] + 1e-9


_COHORT_FIELDS = (
    "group",
    "step_up_suitable",
    "step_up_los_days",
    "acute_los_days",
    "service",
    "service_los_days",
)


@st.composite
def demand_cuts(draw, horizon: int):
    """A demand multiplier schedule with every value in [0, 1]."""
    level = st.floats(0.0, 1.0)
    kind = draw(st.sampled_from(["constant", "steps", "ramp"]))
    if kind == "constant":
        return draw(level)
    if kind == "steps":
        days = [0, *sorted(draw(st.lists(st.integers(1, horizon - 1), max_size=3, unique=True)))]
        return {"steps": [[d, draw(level)] for d in days]}
    return {
        "ramp": {
            "from": 1.0,
            "to": draw(level),
            "start_day": draw(st.integers(0, horizon)),
            "duration_days": draw(st.integers(0, horizon)),
        }
    }


@settings(max_examples=200, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_demand_cut_keeps_a_subset_of_the_same_patients(data, seed):
    raw = data.draw(systems())
    raw["demand"]["emergency"].pop("multiplier", None)
    cut = copy.deepcopy(raw)
    cut["demand"]["emergency"]["multiplier"] = data.draw(demand_cuts(raw["horizon_days"]))
    base = run_replication(build(raw), seed).cohort
    less = run_replication(build(cut), seed).cohort

    # Elective referrals are untouched (their admissions may move with the beds).
    el_a, el_b = base.is_elective, less.is_elective
    assert np.array_equal(base.arrival_days[el_a], less.arrival_days[el_b])
    for f in _COHORT_FIELDS:
        assert np.array_equal(getattr(base, f)[el_a], getattr(less, f)[el_b], equal_nan=f.endswith("_days")), f
    # Emergencies: every patient of the cut scenario is a base patient with the same attributes.
    em_a, em_b = ~base.is_elective, ~less.is_elective
    t_a, t_b = base.arrival_days[em_a], less.arrival_days[em_b]
    assert t_b.size <= t_a.size
    pos = np.searchsorted(t_a, t_b)
    assert np.all(pos < t_a.size) and np.array_equal(t_a[np.minimum(pos, t_a.size - 1)], t_b)
    assert np.unique(pos).size == pos.size
    for f in _COHORT_FIELDS:
        assert np.array_equal(getattr(base, f)[em_a][pos], getattr(less, f)[em_b], equal_nan=f.endswith("_days")), f
    mult = build(cut).demand.emergency.multiplier.daily(raw["horizon_days"])
    # Days with no demand at all keep nobody; days at full demand keep everybody.
    day_b = t_b.astype(np.int64)
    assert not np.any(mult[day_b] == 0.0)
    full_days = np.flatnonzero(mult == 1.0)
    assert np.array_equal(np.isin(t_a.astype(np.int64), full_days).sum(), np.isin(day_b, full_days).sum())


# ---------------------------------------------------------------------------------------------
# Bugs found by the properties above, pinned to minimal examples


def test_capacity_cut_applies_at_midnight_acute():
    """Beds 1 -> 2 on day 1 -> 1 on day 3, fixed LOS 2 days, queue policy.

    The patient admitted from the queue when the second bed opens (t = 1.0) becomes fit exactly
    at the midnight of the cut (t = 3.0). That discharge is processed before the cut, so the
    freed bed is refilled under day 2's capacity: at t = 3.0 a patient is admitted into a
    hospital whose day-3 capacity (1) is already full (2 patients, including that admission).
    """
    raw = {
        "name": "tie",
        "start_date": "2017-04-03",
        "horizon_days": 6,
        "acute": {"beds": {"steps": [[0, 1], [1, 2], [3, 1]]}, "when_full": "queue"},
        "demand": {"emergency": {"per_day": 10}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 2}}},
    }
    cfg = build(raw)
    rep = run_replication(cfg, 1)
    rec = rep.records
    admitted = rec.outcome == ADMITTED
    assert np.any(rec.admit_days[admitted] == 1.0) and np.any(rec.bed_leave_days == 3.0)  # the setup
    bad = admission_violations(np.where(admitted, rec.admit_days, np.nan), rec.bed_leave_days, rep.capacity.total_beds)
    assert not bad, f"admissions into a full pool at a cut (time, occupancy, capacity): {bad}"


def test_capacity_cut_applies_at_midnight_service():
    """The same for community places: rehab 0 -> 1 place on day 1 -> 0 on day 3, fixed stay 2.

    The first patient transferred at t = 1.0 leaves rehab at t = 3.0, before the cut is
    applied, and the next waiting patient is transferred into a service with 0 places.
    """
    raw = {
        "name": "tie",
        "start_date": "2017-04-03",
        "horizon_days": 6,
        "acute": {"beds": 50},
        "demand": {"emergency": {"per_day": 10}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 0.1}, "pathways": {"rehab": 1.0}}},
        "services": {
            "rehab": {"capacity": {"steps": [[0, 0], [1, 1], [3, 0]]}, "los": {"dist": "fixed", "mean_days": 2}}
        },
    }
    cfg = build(raw)
    rep = run_replication(cfg, 1)
    rec = rep.records
    used = rec.service == 0
    assert np.any(rec.service_start_days[used] == 1.0)  # the setup
    bad = admission_violations(
        np.where(used, rec.service_start_days, np.nan), rec.service_end_days, rep.capacity.service_places[0]
    )
    assert not bad, f"admissions into a full pool at a cut (time, occupancy, capacity): {bad}"


def test_admission_time_not_before_arrival():
    raw = {
        "name": "ulp",
        "start_date": "2015-02-04",
        "horizon_days": 60,
        "acute": {"beds": 2},
        "demand": {
            "emergency": {
                "per_day": 11.0,
                "weekday_factors": [1.5, 0.5, 1.25, 1.0, 1.5, 1.5, 0.5],
                "hourly_factors": [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0.5, 2, 2, 2, 2, 2, 2],
            }
        },
        "groups": {"all": {"share": 1.0, "los": {"dist": "exponential", "mean_days": 1.0}}},
    }
    rep = run_replication(build(raw), 10195)
    admitted = rep.records.outcome == ADMITTED
    assert np.all(rep.records.admit_days[admitted] >= rep.cohort.arrival_days[admitted])


def test_simultaneous_electives_do_not_crash():
    """``spread_hours: 0`` books all of a day's electives at the same instant (allowed by the
    schema). The arrival process advances the clock by ``timeout(arrival - now)``; after a long gap
    ``now`` can land one rounding step past the arrival time (0.6347 + (3.3333 - 0.6347) >
    3.3333), and the next patient's delay ``arrival - now`` is then -4.4e-16: SimPy raises
    ``ValueError: Negative delay`` and the whole run dies."""
    raw = {
        "name": "ties",
        "start_date": "2017-01-06",  # a Friday
        "horizon_days": 7,
        "acute": {"beds": 5},
        "demand": {
            "emergency": {"per_day": 0.5},
            "elective": {
                "per_weekday": 2,
                "referrals_per_week": 0.01,
                "initial_list": {"patients": 10},
                "spread_hours": 0,
                "los": {"dist": "fixed", "mean_days": 0.5},
            },
        },
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1}}},
    }
    rep = run_replication(build(raw), 7)
    assert np.sum(rep.records.outcome == ADMITTED) == len(rep.cohort)
    # The starting list, two at a time at 08:00 on Friday and Monday to Thursday.
    el = rep.cohort.is_elective
    assert el.sum() == 10
    np.testing.assert_allclose(np.sort(rep.records.admit_days[el]), np.repeat([0, 3, 4, 5, 6], 2) + 8 / 24)
