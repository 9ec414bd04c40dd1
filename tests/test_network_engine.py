"""Community services as a network: onward routes with blocking after service, on small random
systems (strategies from ``test_properties``, always with onward routes) and on pinned examples.

Invariants checked on every generated network (besides ``test_properties``' conservation,
capacity and FIFO checks, which read the visits):

* one place at a time - a patient holds at most one place (acute bed or community place) at any
                        moment; each move frees the old place at the instant it takes the new one;
* occupancy path      - rebuilt from the visits after every event time and midnight: above the
                        places in force only after a cut, and then never rising;
* work conservation   - at no moment does a service have a free place while a patient ready to
                        move in waits for it (checked after every event time and midnight);
* the draws           - every onward stay and assessment is the patient's own draw for that depth
                        and service (x the assessment multiplier of its arrival day), every route
                        follows the patient's uniform and the service's mix on its arrival day;
* blocking measures   - blocked time of S (stay end to leaving) is the daily ``S_blocked_mean``
                        integrated; ``community_delayed_bed_days``, ``S_mean_blocked``,
                        ``S_blocked_share``, ``S_mean_occupied`` and the waits are those of the
                        visits; acute delayed patients are exactly the fit patients in acute beds
                        (what the engine's gates count, too).
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np
import pytest
from hypothesis import given, settings
from test_properties import (
    SETTINGS,
    admission_violations,
    build,
    check_capacity,
    check_conservation,
    check_fifo,
    seeds,
    systems,
)

from hospsim.config import config_from_dict
from hospsim.model.cohort import NO_SERVICE, build_candidates
from hospsim.model.engine import ADMITTED, NOT_ARRIVED, Engine, run_model
from hospsim.model.kpi_registry import WAIT_TOLERANCE_DAYS
from hospsim.model.kpis import daily_and_kpis
from hospsim.model.plan import build_levers, most_accept_probability
from hospsim.model.records import FROM_ACUTE, FROM_ARRIVAL
from hospsim.model.streams import Streams

# ---------------------------------------------------------------------------------------------
# Running with the engine at hand


def run_engine(cfg, seed: int):
    """One replication as :func:`run_model` runs it, keeping the engine (its draws, levers and
    gate book) and the records of every candidate it saw; returns (engine, records, replication)."""
    cand = build_candidates(cfg, Streams(seed))
    cand = cand.select(cand.is_elective | (cand.u_accept < most_accept_probability(cfg)[cand.day]))
    engine = Engine(cfg, cand, *build_levers(cfg))
    records = engine.run()
    rep = run_model(cfg, seed)
    keep = records.outcome != NOT_ARRIVED
    assert np.array_equal(rep.records.visits.start_days, records.select(keep).visits.start_days, equal_nan=True)
    return engine, records, rep


def _end(times: np.ndarray, horizon: int) -> np.ndarray:
    """Times with NaN (not yet) read as the horizon."""
    return np.where(np.isnan(times), float(horizon), times)


def _overlap_days(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> float:
    """Total length of the intervals [start, end) inside [lo, hi) (NaN start: none)."""
    s = np.clip(starts[~np.isnan(starts)], lo, hi)
    e = np.clip(ends[~np.isnan(starts)], lo, hi)
    return float(np.sum(np.maximum(e - s, 0.0)))


# ---------------------------------------------------------------------------------------------
# Checks


def check_one_place_at_a_time(rep) -> None:
    """Acute bed [admit, bed leave) and community places [start, leave): never two at once."""
    rec, v = rep.records, rep.records.visits
    admitted = np.flatnonzero(rec.outcome == ADMITTED)
    patient = np.concatenate([admitted, v.patient])
    start = np.concatenate([rec.admit_days[admitted], v.start_days])
    end = np.concatenate([rec.bed_leave_days[admitted], v.leave_days])
    held = ~np.isnan(start)
    patient, start, end = patient[held], start[held], np.where(np.isnan(end[held]), np.inf, end[held])
    order = np.lexsort((start, patient))
    patient, start, end = patient[order], start[order], end[order]
    same = patient[1:] == patient[:-1]
    overlap = same & (start[1:] < end[:-1])
    assert not overlap.any(), f"patients holding two places at once: {np.unique(patient[1:][overlap])[:5]}"


def _open_after(starts: np.ndarray, ends: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How many intervals [start, end) are open just after each time in ``t`` (every event at
    that time done); NaN start: none, NaN end: still open."""
    s = ~np.isnan(starts)
    opened = np.searchsorted(np.sort(starts[s]), t, side="right")
    return opened - np.searchsorted(np.sort(_end(ends[s], np.inf)), t, side="right")


def check_occupancy_and_work_conservation(cfg, rep) -> None:
    """The occupancy path of each service, rebuilt from the visits after every event time (and
    midnight) before the horizon: above the places in force only after a cut, and then never
    rising; and no free place while a patient ready to move in waits for one."""
    v, H = rep.records.visits, cfg.horizon_days
    stamps = np.concatenate([v.ready_days, v.start_days, v.stay_end_days, v.leave_days, np.arange(H, dtype=float)])
    t = np.unique(stamps[~np.isnan(stamps) & (stamps < H)])
    day = np.floor(t).astype(np.int64)
    for si, name in enumerate(rep.cohort.service_names):
        here = v.service == si
        places = rep.capacity.service_places[si][day]
        occupied = _open_after(v.start_days[here], v.leave_days[here], t)
        over = occupied > places
        rose = np.r_[occupied[0] > 0, occupied[1:] > occupied[:-1]]
        assert not (over & rose).any(), f"{name}: occupancy rose above its places at {t[over & rose][:5]}"
        if cfg.services[name].service_kind.takes_transfers:
            waiting = _open_after(v.ready_days[here], v.start_days[here], t)
            idle = (occupied < places) & (waiting > 0)
            assert not idle.any(), f"{name}: a free place while patients wait, at {t[idle][:5]}"


def check_draws(cfg, engine, records) -> None:
    """Each stay, assessment and route of every visit is the patient's own draw (see OnwardDraws)."""
    v, lv, draws, H = records.visits, engine.levers, engine.onward, cfg.horizon_days
    arrival_day = np.asarray(engine.arrival_day)
    for k in range(len(v)):
        p, s, depth = int(v.patient[k]), int(v.service[k]), int(v.depth[k])
        if v.origin[k] == FROM_ARRIVAL:
            continue  # a diversion: checked by check_visits
        # The assessment, spent in the sender's place, at the multiplier of the arrival day.
        if cfg.services[rep_name(cfg, s)].assessment is None:
            days = 0.0
        elif depth == 0:
            days = float(engine.assessment[s][p])
        else:
            days = float(draws.assessment_days(depth, s)[p])
        due = v.referred_days[k] + days * lv.assessment_multiplier[s][arrival_day[p]] if days else v.referred_days[k]
        if np.isnan(v.ready_days[k]):
            assert due >= H, (k, due)
        else:
            assert v.ready_days[k] == due, (k, v.ready_days[k], due)
        if depth >= 1 and not np.isnan(v.start_days[k]):
            due = v.start_days[k] + float(draws.los_days(depth, s)[p])
            assert v.stay_end_days[k] == due if not np.isnan(v.stay_end_days[k]) else due >= H, (k, due)
    # Routes: where each finished stay went (home, or the next visit's service).
    nxt = {(int(p), int(d)): int(s) for p, d, s in zip(v.patient, v.depth, v.service)}
    for k in np.flatnonzero(~np.isnan(v.stay_end_days)):
        p, s, depth = int(v.patient[k]), int(v.service[k]), int(v.depth[k])
        went = nxt.get((p, depth + 1), NO_SERVICE)
        if lv.onward_service[s] == (NO_SERVICE,):
            assert went == NO_SERVICE
            continue
        u = draws.route(depth)[p]
        expected = lv.onward_service[s][bisect_right(lv.onward_cumulative[s][arrival_day[p]], u)]
        assert went == expected, (k, went, expected)


def rep_name(cfg, s: int) -> str:
    """The name of service ``s``."""
    return list(cfg.services)[s]


def check_blocking_measures(cfg, rep, engine) -> None:
    """Daily blocked / queue / occupied levels and the service KPIs are those of the visits."""
    v, H, W = rep.records.visits, cfg.horizon_days, cfg.warmup_days
    daily, k = daily_and_kpis(cfg, rep)
    window = float(H - W)
    total_blocked = 0.0
    for si, name in enumerate(rep.cohort.service_names):
        svc, here = cfg.services[name], v.service == si
        stay_end, leave = v.stay_end_days[here], _end(v.leave_days[here], H)
        start, ready = v.start_days[here], v.ready_days[here]
        blocked_days = _overlap_days(stay_end, leave, 0, H)
        if svc.routes_onward:
            assert daily[f"{name}_blocked_mean"].sum() == pytest.approx(blocked_days, rel=1e-9, abs=1e-9)
            in_window = _overlap_days(stay_end, leave, W, H)
            total_blocked += in_window
            assert k[f"{name}_mean_blocked"] == pytest.approx(in_window / window, rel=1e-9, abs=1e-12)
            if not svc.unlimited:
                places = rep.capacity.service_places[si][W:H].sum()
                expected = in_window / places if places > 0 else np.nan
                assert k[f"{name}_blocked_share"] == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)
        else:
            assert f"{name}_blocked_mean" not in daily and f"{name}_mean_blocked" not in k
            assert blocked_days == 0.0  # nowhere to go but home: leaves when the stay ends
        occupied = _overlap_days(start, leave, W, H)
        assert k[f"{name}_mean_occupied"] == pytest.approx(occupied / window, rel=1e-9, abs=1e-12)
        if svc.service_kind.takes_transfers:
            waited = _overlap_days(ready, _end(start, H), 0, H)
            assert daily[f"{name}_queue_mean"].sum() == pytest.approx(waited, rel=1e-9, abs=1e-9)
            check_waits(cfg, rep, si, name, k)
    if any(s.routes_onward for s in cfg.services.values()):
        assert k["community_delayed_bed_days"] == pytest.approx(total_blocked, rel=1e-9, abs=1e-9)
    else:
        assert "community_delayed_bed_days" not in k
    # Acute delayed transfers: fit patients in acute beds, whatever service they wait for - the
    # visits out of acute beds from referral (fit) to transfer, and what the gates are fed.
    acute = v.origin == FROM_ACUTE
    delayed = _overlap_days(v.referred_days[acute], _end(v.start_days[acute], H), 0, H)
    assert daily["delayed_patients_mean"].sum() == pytest.approx(delayed, rel=1e-9, abs=1e-9)
    fed = np.asarray(engine.gates.delayed_bed_days[: H - 1])
    np.testing.assert_allclose(fed, daily["delayed_patients_mean"].to_numpy()[: H - 1], rtol=1e-9, atol=1e-9)


def check_waits(cfg, rep, si: int, name: str, k: dict) -> None:
    """``S_p_wait``, ``S_mean_wait_days`` and ``S_mean_delay_days``: transfers into S from every
    sender referred in the window; a service with no limit never makes anyone wait."""
    v, H, W = rep.records.visits, cfg.horizon_days, cfg.warmup_days
    into = (v.service == si) & (v.referred_days >= W) & (v.referred_days < H)
    start = _end(v.start_days[into], H)
    ready = np.where(np.isnan(v.ready_days[into]), start, v.ready_days[into])
    wait, delay = start - ready, start - v.referred_days[into]
    if not into.any():
        assert np.isnan(k[f"{name}_p_wait"]) and np.isnan(k[f"{name}_mean_wait_days"])
        return
    assert k[f"{name}_p_wait"] == pytest.approx(np.mean(wait > WAIT_TOLERANCE_DAYS), abs=1e-12)
    assert k[f"{name}_mean_wait_days"] == pytest.approx(wait.mean(), rel=1e-9, abs=1e-12)
    assert k[f"{name}_mean_delay_days"] == pytest.approx(delay.mean(), rel=1e-9, abs=1e-12)
    if cfg.services[name].unlimited:
        assert k[f"{name}_p_wait"] == 0.0 and np.all(wait == 0.0)


# ---------------------------------------------------------------------------------------------
# Properties


# Every system has services with onward routes (chains, forks, unlimited services, cycles through
# them, step-up sending on); half with plan levers (route changes, gated or late and partial).
@settings(max_examples=150, **SETTINGS)
@given(raw=systems(services=True, network=True, plans=None), seed=seeds)
def test_network_invariants(raw, seed):
    cfg = build(raw)
    engine, records, rep = run_engine(cfg, seed)
    check_conservation(cfg, rep)
    check_capacity(cfg, rep)
    check_fifo(cfg, rep)
    check_one_place_at_a_time(rep)
    check_occupancy_and_work_conservation(cfg, rep)
    check_draws(cfg, engine, records)
    check_blocking_measures(cfg, rep, engine)


# ---------------------------------------------------------------------------------------------
# Pinned examples


def _chain(**services) -> dict:
    """Acute (plenty of beds) -> services; fixed stays; emergencies every 0.25 days or so."""
    return {
        "name": "chain",
        "start_date": "2017-04-03",
        "horizon_days": 12,
        "acute": {"beds": 100},
        "demand": {"emergency": {"per_day": 8}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 0.5}, "pathways": {"a": 1.0}}},
        "services": services,
    }


def test_a_freed_place_cascades_back_to_the_acute_bed_at_the_same_instant():
    """a (1 place, stay 1 day) -> b (1 place, stay 2 days) -> home. When b's patient leaves,
    a's blocked patient moves into b, and the acute patient waiting for a moves into a - all at
    that instant; a's patients are blocked in a for exactly the time b is full."""
    raw = _chain(
        a={"capacity": 1, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"b": 1.0}},
        b={"capacity": 1, "los": {"dist": "fixed", "mean_days": 2}},
    )
    cfg = config_from_dict(raw)
    rep = run_model(cfg, 3)
    v, rec = rep.records.visits, rep.records
    into_b = np.flatnonzero((v.service == 1) & ~np.isnan(v.start_days))
    assert into_b.size >= 4
    for k in into_b[1:]:
        t = v.start_days[k]
        # The patient left a at t; the next patient into a came at t from its acute bed.
        prev = np.flatnonzero((v.patient == v.patient[k]) & (v.depth == 0))[0]
        assert v.leave_days[prev] == t and v.stay_end_days[prev] < t  # blocked in a until then
        starts_a = (v.service == 0) & (v.start_days == t)
        assert starts_a.sum() == 1
        newcomer = v.patient[starts_a][0]
        assert rec.bed_leave_days[newcomer] == t and rec.fit_days[newcomer] < t
    # b's patients stay 2 days, one at a time: b takes one patient every 2 days once full.
    np.testing.assert_allclose(np.diff(v.start_days[into_b][1:]), 2.0)
    k = daily_and_kpis(cfg, rep)[1]
    # From the first move into b on, a patient finishes its day in a while b's patient has a day
    # to go: blocked 1 day in a, then into b - 5 such days in 12 (the first patient never waits).
    assert k["community_delayed_bed_days"] == pytest.approx(5.0)
    assert k["a_mean_blocked"] == pytest.approx(5 / 12) and k["a_blocked_share"] == pytest.approx(5 / 12)
    assert k["b_p_wait"] == pytest.approx(5 / 6) and k["b_mean_wait_days"] == pytest.approx(5 / 6)


def test_an_unlimited_service_with_an_assessment_is_a_pure_delay_in_the_bed():
    """Acute -> care_package (unlimited, assessment fixed 3 days, stay 5 days): every patient
    stays in its acute bed exactly 3 days after being fit and never waits for a place."""
    raw = _chain(
        care_package={
            "capacity": "unlimited",
            "los": {"dist": "fixed", "mean_days": 5},
            "assessment": {"dist": "fixed", "mean_days": 3},
        }
    )
    raw["groups"]["all"]["pathways"] = {"care_package": 1.0}
    raw["horizon_days"] = 30
    cfg = config_from_dict(raw)
    rep = run_model(cfg, 1)
    rec = rep.records
    moved = ~np.isnan(rec.bed_leave_days)
    assert moved.sum() > 100
    np.testing.assert_allclose(rec.bed_leave_days[moved] - rec.fit_days[moved], 3.0)
    daily, k = daily_and_kpis(cfg, rep)
    assert "care_package_capacity" not in daily and "care_package_utilisation" not in k
    assert k["care_package_p_wait"] == 0.0 and k["care_package_mean_wait_days"] == 0.0
    # 3 days each, except the patients still being assessed at the horizon (censored there).
    fit = rec.fit_days[~np.isnan(rec.fit_days)]
    assert k["care_package_mean_delay_days"] == pytest.approx(np.mean(np.minimum(3.0, 30 - fit)), rel=1e-12)
    assert k["care_package_mean_delay_days"] < 3.0
    # About 8 a day spend 3 days delayed: ~24 delayed patients once the first 3.5 days are past.
    assert daily["delayed_patients_mean"].to_numpy()[5:25].mean() == pytest.approx(24, rel=0.15)
    # Stays of 5 days at ~8 a day: ~40 in the service once full (from day ~8.5).
    assert daily["care_package_occupied_mean"].to_numpy()[10:29].mean() == pytest.approx(40, rel=0.15)


def test_a_step_up_service_sends_patients_on_from_its_places():
    """Step-up (2 places, stay 1 day) sends every patient on to rehab (0 places): its patients
    are blocked in step-up after their stay, so it fills and diverts nobody more."""
    raw = _chain(
        rehab={"capacity": 0, "los": {"dist": "fixed", "mean_days": 1}},
        step_up={"kind": "step_up", "capacity": 2, "los": {"dist": "fixed", "mean_days": 1},
                 "pathways": {"rehab": 1.0}},
    )  # fmt: skip
    raw["groups"]["all"].update(step_up_share=1.0, pathways={"home": 1.0})
    cfg = config_from_dict(raw)
    rep = run_model(cfg, 2)
    v = rep.records.visits
    diverted = v.origin == FROM_ARRIVAL
    assert diverted.sum() == 2 and np.all(np.isnan(v.leave_days[diverted]))  # blocked to the end
    onward = v.origin == 1
    assert np.array_equal(np.sort(v.referred_days[onward]), np.sort(v.stay_end_days[diverted]))
    assert np.all(np.isnan(v.start_days[onward]))
    k = daily_and_kpis(cfg, rep)[1]
    blocked = float(np.sum(12 - v.stay_end_days[diverted]))  # from the end of the stay to the horizon
    assert blocked > 20 and k["community_delayed_bed_days"] == pytest.approx(blocked)
    assert k["step_up_mean_blocked"] == pytest.approx(blocked / 12) and k["rehab_p_wait"] == 1.0


def test_midnight_cascade_uses_the_new_capacity_of_every_service():
    raw = _chain(
        b={"capacity": {"steps": [[0, 0], [5, 5]]}, "los": {"dist": "fixed", "mean_days": 100}},
        a={"capacity": {"steps": [[0, 4], [5, 1]]}, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"b": 1.0}},
    )
    raw["horizon_days"] = 8
    rep = run_model(config_from_dict(raw), 1)
    v = rep.records.visits
    a = v.service == 1
    # On day 5 a has 1 place: only one of the patients waiting in acute beds may move in at t = 5.
    assert np.sum(a & (v.start_days == 5.0)) <= 1
    assert not admission_violations(v.start_days[a], v.leave_days[a], rep.capacity.service_places[1])


def test_an_onward_assessment_is_its_own_draw_when_no_first_one_was_needed():
    """a -> b (b's assessment: 0 or 4 days, equally likely). Seed 35 has 6 candidates whose
    first-visit draws for b are all 0; a patient going a -> b drew 4 days for its visit to b."""
    raw = {
        "name": "assess", "start_date": "2017-04-03", "horizon_days": 20,
        "acute": {"beds": 10},
        "demand": {"emergency": {"per_day": 0.3}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"a": 1.0}}},
        "services": {
            "a": {"capacity": 5, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"b": 1.0}},
            "b": {"capacity": 5, "los": {"dist": "fixed", "mean_days": 1},
                  "assessment": {"dist": "empirical", "values_days": [0.0, 4.0]}},
        },
    }  # fmt: skip
    engine, records, _ = run_engine(config_from_dict(raw), 35)
    v = records.visits
    into_b = np.flatnonzero((v.service == 1) & ~np.isnan(v.ready_days))
    drawn = np.array([engine.onward.assessment_days(int(v.depth[k]), 1)[v.patient[k]] for k in into_b])
    assert not np.any(engine.assessment[1]) and np.any(drawn == 4.0)  # the setup: every first-visit draw 0
    # ready = referred + drawn (the difference of two times, exact to rounding)
    np.testing.assert_allclose(v.ready_days[into_b] - v.referred_days[into_b], drawn, rtol=0, atol=1e-12)
