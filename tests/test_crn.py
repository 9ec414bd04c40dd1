"""Common random numbers for emergencies: the candidates are drawn at ``headroom`` x the rate
without growth or plan, and thinned to growth x multiplier, so a scenario with more emergency
demand on every day keeps every patient of one with less, whatever growth and plan levers do."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import (
    _COHORT_FIELDS,
    SETTINGS,
    _changes,
    build,
    capacity_schedules,
    fit_headroom,
    multiplier_schedules,
    seeds,
    systems,
)

from hospsim.config import ConfigError, config_from_dict
from hospsim.model import engine
from hospsim.model.cohort import OnwardDraws, build_candidates
from hospsim.model.engine import run_model, simulate_candidates
from hospsim.model.plan import build_levers
from hospsim.model.records import FROM_ARRIVAL
from hospsim.model.streams import Streams

SMALL = {
    "name": "crn",
    "start_date": "2017-01-02",
    "horizon_days": 400,
    "acute": {"beds": 60},
    "demand": {"emergency": {"per_day": 20, "winter": {"amplitude": 0.2}}},
    "groups": {
        "a": {"share": 0.6, "los": {"dist": "lognormal", "mean_days": 3, "cv": 1.0}},
        "b": {"share": 0.4, "los": {"dist": "exponential", "mean_days": 6}},
    },
}


def small(**emergency) -> dict:
    raw = copy.deepcopy(SMALL)
    raw["demand"]["emergency"].update(emergency)
    return raw


# --- strategies: two demand levels, one at least the other on every day -------------------------


@st.composite
def demand_pairs(draw, horizon: int):
    """Two ungated multiplier schedules, (lower, higher), the second >= the first on every day."""
    level, extra = st.floats(0.0, 1.2), st.floats(0.0, 0.4)
    kind = draw(st.sampled_from(["constant", "steps", "ramp"]))
    if kind == "constant":
        low = draw(level)
        return low, low + draw(extra)
    if kind == "steps":
        days = [0, *sorted(draw(st.lists(st.integers(1, horizon - 1), max_size=3, unique=True)))]
        low = [draw(level) for _ in days]
        return {"steps": [[d, v] for d, v in zip(days, low)]}, {
            "steps": [[d, v + draw(extra)] for d, v in zip(days, low)]
        }
    start, duration = draw(st.integers(0, horizon)), draw(st.integers(0, horizon))
    a, b = draw(level), draw(level)
    da, db = draw(extra), draw(extra)
    ramp = lambda x, y: {"ramp": {"from": x, "to": y, "start_day": start, "duration_days": duration}}  # noqa: E731
    return ramp(a, b), ramp(a + da, b + db)  # linear in both ends: higher on every day


def _emergencies(cohort) -> dict[str, np.ndarray]:
    em = ~cohort.is_elective
    return {f: getattr(cohort, f)[em] for f in ("arrival_days", *_COHORT_FIELDS)}


def assert_kept_subset(less, more) -> np.ndarray:
    """Every emergency of ``less`` is one of ``more`` with the same arrival time and attributes;
    returns their positions in ``more``."""
    a, b = _emergencies(less), _emergencies(more)
    pos = np.searchsorted(b["arrival_days"], a["arrival_days"])
    assert np.all(pos < b["arrival_days"].size)
    assert np.array_equal(b["arrival_days"][pos], a["arrival_days"])
    for f, values in a.items():  # NaN: no step-up stay (not suitable)
        assert np.array_equal(b[f][pos], values, equal_nan=values.dtype.kind == "f"), f
    return pos


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=120, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_more_demand_keeps_every_patient_of_less(data, seed):
    """Random small systems with random (ungated) plan levers; the demand rises by its multiplier,
    its growth, or both, and the patients of the smaller scenario are all in the larger one."""
    raw = data.draw(systems())
    horizon = raw["horizon_days"]
    for g in raw["groups"].values():
        if data.draw(st.booleans()):
            g["los_multiplier"] = data.draw(multiplier_schedules(horizon))
    low_mult, high_mult = data.draw(demand_pairs(horizon))
    g_low = data.draw(st.floats(-0.3, 0.5))
    g_high = g_low + data.draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    less, more = copy.deepcopy(raw), copy.deepcopy(raw)
    less["demand"]["emergency"].update(multiplier=low_mult, growth_per_year=g_low)
    more["demand"]["emergency"].update(multiplier=high_mult, growth_per_year=g_high)
    more["demand"]["emergency"].pop("headroom", None)
    fit_headroom(data.draw, more)  # one headroom for both: it is what the candidates are drawn at
    less["demand"]["emergency"]["headroom"] = more["demand"]["emergency"].get("headroom", 1.5)
    cfg_less, cfg_more = build(less), build(more)
    cand = build_candidates(cfg_less, Streams(seed))
    assert _same_candidates(cand, build_candidates(cfg_more, Streams(seed)))
    rep_less, rep_more = simulate_candidates(cfg_less, cand), simulate_candidates(cfg_more, cand)
    assert_kept_subset(rep_less.cohort, rep_more.cohort)
    # Electives are untouched.
    el_a, el_b = rep_less.cohort.is_elective, rep_more.cohort.is_elective
    assert np.array_equal(rep_less.cohort.arrival_days[el_a], rep_more.cohort.arrival_days[el_b])


@settings(max_examples=150, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_rejecting_candidates_without_events_changes_nothing(data, seed):
    """The model drops the candidates that no opening of the plan's gates can accept, and rejects
    a day's later candidates at its first event; an engine given every candidate, each with its
    own arrival event (as before), gives the same records, gates on the demand multiplier included."""
    raw = data.draw(systems(plans=True))
    em = raw["demand"]["emergency"]
    if data.draw(st.booleans()):  # a ramp: the acceptance probability changes every day
        em["multiplier"] = {"ramp": {"from": data.draw(st.floats(0.3, 1.5)), "to": data.draw(st.floats(0.3, 1.5)),
                                     "start_day": data.draw(st.integers(0, 30)),
                                     "duration_days": data.draw(st.integers(1, 300))}}  # fmt: skip
        em.pop("headroom", None)
        fit_headroom(data.draw, raw)
    if _changes(em.get("multiplier")) and data.draw(st.booleans()):
        em["multiplier"] = {**em["multiplier"], "gate": {"occupancy_at_most": {"days": 3, "occupancy": 0.8}}}
    cfg = build(raw)
    cand = build_candidates(cfg, Streams(seed))
    fast = simulate_candidates(cfg, cand)
    one_by_one = engine.Engine(cfg, cand, *build_levers(cfg))

    def every_later_candidate(pid: int, day: int) -> None:
        one_by_one.kept_today = iter(range(pid + 1, one_by_one.day_end[day]))
        one_by_one.sorted_day = day

    one_by_one._sort_day = every_later_candidate  # type: ignore[method-assign]
    slow = one_by_one.run()
    arrived = slow.outcome != engine.NOT_ARRIVED
    assert np.array_equal(fast.cohort.arrival_days, cand.time_days[arrived])
    assert fast.records.events <= slow.events
    slow = slow.select(arrived)
    pairs = [
        (f, getattr(fast.records, f), getattr(slow, f)) for f in fast.records.__dataclass_fields__ if f != "visits"
    ]
    pairs += [
        (f"visits.{f}", getattr(fast.records.visits, f), getattr(slow.visits, f))
        for f in slow.visits.__dataclass_fields__
    ]
    for f, a, b in pairs:
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f
        elif f != "events":
            assert a == b, f


def _same_candidates(a, b) -> bool:
    def same(x, y) -> bool:
        if isinstance(x, np.ndarray):
            return np.array_equal(x, y, equal_nan=x.dtype.kind == "f")  # NaN: no bookable time
        return bool(x == y)

    return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)


# --- fixed examples ----------------------------------------------------------------------------


def test_a_five_percent_rise_keeps_every_patient():
    """Two separate runs, same seed, multiplier 1 and 1.05: the second has every patient of the
    first (before, only ~9% of them survived such a step) and about 5% more."""
    base = run_model(config_from_dict(small()), 11)
    more = run_model(config_from_dict(small(multiplier=1.05)), 11)
    assert_kept_subset(base.cohort, more.cohort)
    n_base, n_more = len(base.cohort), len(more.cohort)
    extra = n_more - n_base  # binomial: each extra candidate accepted with probability 0.05 / 1.45
    expected = n_base * 0.05
    assert abs(extra - expected) < 4 * math.sqrt(expected)


def test_growth_keeps_every_patient_of_no_growth():
    flat = run_model(config_from_dict(small()), 5)
    growing = run_model(config_from_dict(small(growth_per_year=0.3)), 5)
    pos = assert_kept_subset(flat.cohort, growing.cohort)
    assert pos.size < len(growing.cohort)


def test_candidates_depend_on_neither_growth_nor_plan():
    """The dominating process is the same whatever the growth and the levers; the headroom sets it."""
    ref = build_candidates(config_from_dict(small()), Streams(3))
    gated = {"steps": [[0, 1.0], [50, 1.3]], "gate": {"occupancy_at_most": {"occupancy": 0.9}}}
    variants = [small(growth_per_year=0.2), small(multiplier=0.5), small(multiplier=gated, growth_per_year=-0.1)]
    los_cut = small()
    los_cut["groups"]["a"]["los_multiplier"] = 0.5
    for raw in [*variants, los_cut]:
        assert _same_candidates(ref, build_candidates(config_from_dict(raw), Streams(3)))
    assert not _same_candidates(ref, build_candidates(config_from_dict(small(headroom=2.0)), Streams(3)))


def test_acceptance_reproduces_the_expected_rate():
    """per_day 200, growth 10% a year, a 20% rise in year 2: arrivals per year within 4 sigma."""
    raw = small(per_day=200, growth_per_year=0.1, multiplier={"steps": [[0, 1.0], [365, 1.2]]}, winter=None)
    raw.update(horizon_days=730, acute={"beds": 300})
    raw["groups"] = {"a": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 0.5}}}
    cfg = config_from_dict(raw)
    day = run_model(cfg, 2).cohort.arrival_days.astype(np.int64)
    days = np.arange(730)
    expected = 200 * 1.1 ** (days / 365.25) * np.where(days >= 365, 1.2, 1.0)
    for year in (days < 365, days >= 365):
        observed = np.isin(day, days[year]).sum()
        assert abs(observed - expected[year].sum()) < 4 * math.sqrt(expected[year].sum())


def test_a_gate_that_opens_rescales_the_postponed_multiplier_by_growth():
    gated = {"steps": [[0, 1.0], [50, 1.2]], "gate": {"occupancy_at_most": {"occupancy": 0.9}}}
    cfg = config_from_dict(small(multiplier=gated, growth_per_year=0.1, headroom=2.0))
    levers, (gate,) = build_levers(cfg)
    growth = 1.1 ** (np.arange(400) / 365.25)
    np.testing.assert_allclose(levers.accept_probability, growth / 2.0)  # held at 1
    gate.apply(levers, 120)  # opens 70 days late: the rise comes on day 120, at day 120's growth
    expected = np.where(np.arange(400) >= 120, 1.2, 1.0) * growth / 2.0
    np.testing.assert_allclose(levers.accept_probability, expected)


# --- asking for more than the headroom ----------------------------------------------------------


@pytest.mark.parametrize(
    ("emergency", "extra", "message"),
    [
        ({"multiplier": 1.6}, {}, "demand.emergency.multiplier: growth x multiplier reaches 1.6 on day 0, above "
         "demand.emergency.headroom 1.5; raise headroom"),
        ({"growth_per_year": 0.5}, {"horizon_days": 600},
         "demand.emergency.multiplier: growth x multiplier reaches 1.94 on day 599"),
        # Ungated, 1.4 x growth stays below 1.5 until day 200; a late gate could move it to day 399.
        ({"growth_per_year": 0.1, "multiplier": {"steps": [[0, 1.0], [100, 1.4], [200, 1.0]],
          "gate": {"occupancy_at_most": {"occupancy": 0.9}}}}, {}, "reaches 1.55 on day 399"),
        ({"multiplier": {"ramp": {"from": 1.0, "to": 1.4, "start_day": 10, "duration_days": 10}}},
         {"plan_delivery": {"ic_growth_achieved": 2.0, "applies_to": ["demand.emergency.multiplier"]}},
         "plan_delivery.ic_growth_achieved: 2 makes demand.emergency.multiplier out of range as delivered "
         "(growth x multiplier reaches 1.8 on day 20"),
        ({"headroom": 0.9}, {}, "demand.emergency.headroom"),
        ({"headroom": 11}, {}, "demand.emergency.headroom"),
        ({"headroom": float("inf")}, {}, "demand.emergency.headroom"),
        ({"headroom": float("nan")}, {}, "demand.emergency.headroom"),
    ],
)  # fmt: skip
def test_more_than_the_headroom_is_a_one_line_error(emergency, extra, message):
    raw = small(**emergency)
    raw.update(extra)
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, "<test>")
    text = str(err.value)
    assert text.startswith("<test>: ") and message in text and "\n" not in text


def test_within_the_headroom_is_accepted():
    ungated = {"steps": [[0, 1.0], [100, 1.4], [200, 1.0]]}
    config_from_dict(small(growth_per_year=0.1, multiplier=ungated))  # 1.4 x 1.1^(199/365.25) < 1.5
    config_from_dict(small(multiplier=1.5))  # exactly the headroom
    config_from_dict(small(multiplier=3.0, headroom=3.0))


def test_check_refuses_more_than_the_headroom(tmp_path: Path):
    path = tmp_path / "over.yaml"
    path.write_text(yaml.safe_dump(small(growth_per_year=0.05, multiplier=1.5)))
    res = subprocess.run(
        [sys.executable, "-m", "hospsim", "check", str(path)], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert str(path) in lines[0] and "demand.emergency.multiplier: growth x multiplier reaches 1.58" in lines[0]
    assert "above demand.emergency.headroom 1.5; raise headroom" in lines[0]


# --- networks: onward routes, assessments and places never change a patient's draws -------------


def _ungated(node):
    """A raw config with every gate removed: each lever is then a function of the day alone."""
    if isinstance(node, dict):
        return {k: _ungated(v) for k, v in node.items() if k != "gate"}
    if isinstance(node, list):
        return [_ungated(v) for v in node]
    return node


@st.composite
def network_lever_changes(draw, raw: dict):
    """``raw`` with one network lever changed: a service's onward shares (over the same
    destinations), a service's assessment multiplier, or the places of a service with a limit.
    Returns (the changed raw, what changed, the service)."""
    services = raw["services"]
    routing = [n for n, s in services.items() if set(s.get("pathways", {})) - {"home"}]
    assessed = [n for n, s in services.items() if "assessment" in s]
    limited = [n for n, s in services.items() if s["capacity"] != "unlimited"]
    options = [o for o, names in (("mix", routing), ("assessment", assessed), ("capacity", limited)) if names]
    what = draw(st.sampled_from(options))
    name = draw(st.sampled_from({"mix": routing, "assessment": assessed, "capacity": limited}[what]))
    other = copy.deepcopy(raw)
    svc = other["services"][name]
    if what == "mix":
        weights = {d: draw(st.floats(0.05, 1.0)) for d in svc["pathways"]}
        svc["pathways"] = {d: w / sum(weights.values()) for d, w in weights.items()}
    elif what == "assessment":
        svc["assessment_multiplier"] = draw(multiplier_schedules(raw["horizon_days"]))
    else:
        svc["capacity"] = draw(capacity_schedules(0, 8, raw["horizon_days"]))
    return other, what, name


def _visits_by_key(rep) -> dict[tuple[int, int], int]:
    v = rep.records.visits
    return {(int(p), int(d)): k for k, (p, d) in enumerate(zip(v.patient, v.depth))}


def _routes(rep) -> dict[int, list[tuple[int, bool]]]:
    """Each patient's visits in order: (service, diverted on arrival)."""
    v = rep.records.visits
    out: dict[int, list[tuple[int, bool]]] = {}
    for k in np.lexsort((v.depth, v.patient)):
        out.setdefault(int(v.patient[k]), []).append((int(v.service[k]), bool(v.origin[k] == FROM_ARRIVAL)))
    return out


@settings(max_examples=100, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_network_levers_keep_every_patients_draws(data, seed):
    """Same seed, one network lever changed (ungated plans, so levers depend on the day only):
    every patient arrives the same, in the same group, with the same acute LOS and pathway out
    of the acute bed; a visit to the same service at the same depth has the same stay (and the
    same assessment, unless that service's multiplier changed); routes are the same as far as
    both runs go - up to the first visit to the service whose onward mix changed."""
    raw = _ungated(data.draw(systems(services=True, network=True, plans=None)))
    other, what, name = data.draw(network_lever_changes(raw))
    cfg_a, cfg_b = build(raw), build(other)
    a, b = run_model(cfg_a, seed), run_model(cfg_b, seed)
    for f in ("arrival_days", "is_elective", *_COHORT_FIELDS):
        x, y = getattr(a.cohort, f), getattr(b.cohort, f)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f
    changed = list(cfg_a.services).index(name)
    va, vb, keys_b = a.records.visits, b.records.visits, _visits_by_key(b)
    for key, i in _visits_by_key(a).items():
        j = keys_b.get(key)
        if (
            j is None
            or va.service[i] != vb.service[j]
            or (va.origin[i] == FROM_ARRIVAL) != (vb.origin[j] == FROM_ARRIVAL)
        ):
            continue
        stay_a, stay_b = va.stay_end_days[i] - va.start_days[i], vb.stay_end_days[j] - vb.start_days[j]
        if not (np.isnan(stay_a) or np.isnan(stay_b)):
            assert stay_a == pytest.approx(stay_b, rel=1e-9, abs=1e-9), ("stay", key)
        if not (what == "assessment" and va.service[i] == changed):
            assess_a, assess_b = va.ready_days[i] - va.referred_days[i], vb.ready_days[j] - vb.referred_days[j]
            if not (np.isnan(assess_a) or np.isnan(assess_b)):
                assert assess_a == pytest.approx(assess_b, rel=1e-9, abs=1e-9), ("assessment", key)
    routes_b = _routes(b)
    for p, route_a in _routes(a).items():
        route_b = routes_b.get(p, [])
        if not route_b or route_a[0][1] != route_b[0][1]:
            continue  # diverted to step-up in one run only: another first visit
        n = min(len(route_a), len(route_b))
        if what == "mix":
            firsts = [k for k in range(n) if route_a[k][0] == changed]
            n = min(n, firsts[0] + 1) if firsts else n
        assert route_a[:n] == route_b[:n], p


@settings(max_examples=20, **SETTINGS)
@given(order=st.permutations(range(6)), seed=seeds)
def test_onward_draws_do_not_depend_on_the_order_they_are_needed(order, seed):
    """OnwardDraws gives the same numbers whichever depth, service and kind is asked for first,
    and the same for a selection of the candidates as for the full draw (what the engine sees)."""
    raw = copy.deepcopy(SMALL)
    raw["horizon_days"] = 60
    raw["groups"]["a"]["pathways"] = {"home": 0.5, "rehab": 0.5}
    raw["services"] = {
        "rehab": {"capacity": 5, "los": {"dist": "exponential", "mean_days": 10}, "pathways": {"home": 0.5, "wait": 0.5}},
        "wait": {"capacity": "unlimited", "los": {"dist": "fixed", "mean_days": 2},
                 "assessment": {"dist": "lognormal", "mean_days": 3, "cv": 0.5}, "pathways": {"home": 0.5, "rehab": 0.5}},
    }  # fmt: skip
    cfg = config_from_dict(raw)
    cand = build_candidates(cfg, Streams(seed))
    asks = [("route", 0), ("route", 3), ("los_days", 1, 0), ("los_days", 2, 1), ("assessment_days", 1, 1),
            ("assessment_days", 4, 0)]  # fmt: skip
    first, second = OnwardDraws(cfg, cand), OnwardDraws(cfg, cand)
    in_order = [getattr(first, ask[0])(*ask[1:]) for ask in asks]
    shuffled = {i: getattr(second, asks[i][0])(*asks[i][1:]) for i in order}
    for i, values in enumerate(in_order):
        assert values.shape == (len(cand),)
        assert np.array_equal(values, shuffled[i]), asks[i]
    keep = np.random.default_rng(seed % 2**32).random(len(cand)) < 0.5
    part = OnwardDraws(cfg, cand.select(keep))
    for i in reversed(order):
        assert np.array_equal(getattr(part, asks[i][0])(*asks[i][1:]), in_order[i][keep]), asks[i]
    # Other depths, other numbers; a service with no assessment takes none.
    assert not np.array_equal(in_order[0], in_order[1])
    assert np.all(first.assessment_days(2, 0) == 0.0) and np.all(first.los_days(3, 1) == 2.0)
