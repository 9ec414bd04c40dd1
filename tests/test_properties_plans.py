"""Property-based tests of the elective waiting list and of plans compared under one seed.

Checked on small random systems (strategies from ``test_properties``):

* list order    - replayed from the records alone, every weekday's booked patients are exactly
                  the top of the list (rebooked after a cancellation first, in cancellation
                  order; then priority; then referral time), as many as the day's slots allow;
* conservation  - every referral and emergency ends in exactly one state; the referrals kept are
                  exactly those the referral multiplier accepts, the others are dropped whole;
* CRN           - slots, referral multiplier and beds never change a referral's draws: the
                  scenario with fewer referrals keeps a subset of the other's, same attributes;
* monotonicity  - what more beds or places do and do not guarantee (see the tests' docstrings).
"""

from __future__ import annotations

import copy

import numpy as np
from conftest import LONG_RUN_ENGINE, run_replication
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import (
    SETTINGS,
    build,
    capacity_schedules,
    check_conservation,
    check_fifo,
    seeds,
    systems,
)

from hospsim.model.cohort import Candidates, build_candidates
from hospsim.model.engine import ADMITTED, ON_LIST
from hospsim.model.engines import simulate_candidates
from hospsim.model.kpis import daily_table, kpis
from hospsim.model.plan import build_levers
from hospsim.model.streams import Streams

# ---------------------------------------------------------------------------------------------
# Strategies


@st.composite
def referral_multipliers(draw, horizon: int):
    """A referral multiplier (a share, at most 1) as a constant, steps or a ramp."""
    level = st.floats(0.0, 1.0)
    kind = draw(st.sampled_from(["constant", "steps", "ramp"]))
    if kind == "constant":
        return draw(level)
    if kind == "steps":
        days = [0, *sorted(draw(st.lists(st.integers(1, horizon - 1), max_size=3, unique=True)))]
        return {"steps": [[d, draw(level)] for d in days]}
    return {
        "ramp": {
            "from": draw(level),
            "to": draw(level),
            "start_day": draw(st.integers(0, horizon)),
            "duration_days": draw(st.integers(0, horizon)),
        }
    }


@st.composite
def elective_systems(draw, *, plans: bool | None = None, tight: bool | None = None):
    """A system with an elective list: priorities, bookable delays, a starting list and a
    referral multiplier each half the time; ``tight`` beds (1-4, busy emergencies) give many
    cancellations. Slot times are distinct here (``spread_hours`` > 0); simultaneous
    cancellations have their own test below."""
    raw = draw(systems(electives=True, plans=plans))
    el = raw["demand"]["elective"]
    horizon = raw["horizon_days"]
    if draw(st.booleans()):
        el["referral_multiplier"] = draw(referral_multipliers(horizon))
    if draw(st.booleans()) if tight is None else tight:
        raw["acute"]["beds"] = draw(capacity_schedules(1, 4, horizon))
        raw["acute"].pop("gate", None)
        el["per_weekday"] = draw(capacity_schedules(0, 4, horizon))
    return raw


# ---------------------------------------------------------------------------------------------
# Helpers


def elective_candidates(cfg, seed: int):
    """The elective candidates of a replication (as drawn, before the plan) and which of them
    the plan's referral multiplier keeps (the starting list always)."""
    cand = build_candidates(cfg, Streams(seed))
    levers, _ = build_levers(cfg)
    el = slice(cand.n_emergencies, len(cand))
    accept = np.asarray(levers.referral_accept)
    time, day, u = cand.time_days[el], cand.day[el], cand.u_accept[el]
    kept = u < accept[np.minimum(day, cfg.horizon_days - 1)]
    return cand, el, kept, time


def attempts_by_day(cfg, rep) -> dict[int, list[tuple[float, int, int]]]:
    """Every booked elective admission (admitted or cancelled), by day: (time, order in the
    records, cohort index of the patient), in the order they happened."""
    rec, co = rep.records, rep.cohort
    out: dict[int, list[tuple[float, int, int]]] = {}
    admitted = np.flatnonzero(co.is_elective & (rec.outcome == ADMITTED))
    # Admissions after every cancellation in the records' order (an admission ends the patient's
    # list stay, so it is that patient's last attempt).
    n_cancel = rec.cancellation_days.size
    events = [(float(t), i, int(p)) for i, (t, p) in enumerate(zip(rec.cancellation_days, rec.cancelled_patient))]
    events += [(float(rec.admit_days[p]), n_cancel + i, int(p)) for i, p in enumerate(admitted)]
    for t, i, p in sorted(events):
        out.setdefault(int(np.floor(t)), []).append((t, i, p))
    return out


def replay_waiting_list(cfg, rep, seed: int) -> None:
    """Rebuild the waiting list day by day from the records and check each day's bookings.

    Each weekday midnight the day's slots go to, in order: patients cancelled earlier (in the
    order of their cancellations), then the bookable patients never booked, by priority index,
    then referral time. A booked patient's attempt (admission or cancellation) happens the same
    day, at ``admit_hour + spread_hours * k / slots`` for the k-th booking.
    """
    co, rec = rep.cohort, rep.records
    el_cfg = cfg.demand.elective
    H = cfg.horizon_days
    cand, el, kept, _ = elective_candidates(cfg, seed)
    # Cohort electives are the kept candidates, in order.
    idx = np.flatnonzero(co.is_elective)
    assert idx.size == int(kept.sum())
    bookable = cand.bookable_days[el][kept]
    priority = cand.priority[el][kept]
    referral = cand.time_days[el][kept]
    np.testing.assert_array_equal(co.arrival_days[idx], referral)
    np.testing.assert_array_equal(co.priority[idx], priority)
    # Patients (cohort indices) in the order they become bookable.
    by_bookable = idx[np.argsort(bookable, kind="stable")]
    book_time = dict(zip(idx.tolist(), bookable.tolist()))
    prio = dict(zip(idx.tolist(), priority.tolist()))
    ref = dict(zip(idx.tolist(), referral.tolist()))

    slots = build_levers(cfg)[0].elective_slots
    attempts = attempts_by_day(cfg, rep)
    fresh: set[int] = set()  # bookable, never booked
    rebook: list[int] = []  # cancelled, in order of cancellation
    nxt = 0
    first_hour = el_cfg.admit_hour / 24.0
    spread = el_cfg.spread_hours / 24.0
    for day in range(H):
        while nxt < by_bookable.size and book_time[int(by_bookable[nxt])] <= day:
            fresh.add(int(by_bookable[nxt]))
            nxt += 1
        ordered = rebook + sorted(fresh, key=lambda p: (prio[p], ref[p], p))
        k = min(slots[day], len(ordered))
        expected = ordered[:k]
        got = attempts.pop(day, [])
        assert len(got) <= slots[day], f"day {day}: {len(got)} attempts for {slots[day]} slots"
        assert len(got) == k, f"day {day}: {len(got)} booked, {k} expected ({slots[day]} slots, list {len(ordered)})"
        if spread > 0:
            # Distinct slot times: the order of the attempts is the order of booking.
            assert [p for _, _, p in got] == expected, f"day {day}: booked {got}, list top {expected}"
        else:
            assert sorted(p for _, _, p in got) == sorted(expected), f"day {day}: booked {got}, list top {expected}"
        want = day + first_hour + spread * np.arange(k) / max(slots[day], 1)
        np.testing.assert_allclose([t for t, _, _ in got], want, rtol=0, atol=1e-9)
        for p in expected:
            if p in fresh:
                fresh.remove(p)
            else:
                rebook.remove(p)
        for _, i, p in got:
            if i < rec.cancellation_days.size:
                rebook.append(p)  # cancelled: back to the top, after earlier cancellations
    assert not attempts, f"attempts on days without a midnight: {sorted(attempts)}"
    # Whoever was never admitted is still on the list (booked-and-cancelled included).
    still = set(fresh) | set(rebook) | {int(by_bookable[i]) for i in range(nxt, by_bookable.size)}
    assert still == set(np.flatnonzero(co.is_elective & (rec.outcome == ON_LIST)).tolist())


# ---------------------------------------------------------------------------------------------
# 1. The waiting list's order


@settings(max_examples=100, **SETTINGS)
@given(raw=elective_systems(plans=None), seed=seeds)
def test_waiting_list_is_booked_in_order(raw, seed):
    cfg = build(raw)
    rep = run_replication(cfg, seed)
    replay_waiting_list(cfg, rep, seed)


def test_simultaneous_cancellations_keep_their_order():
    """ "First cancelled, first rebooked" even at one instant (found by the properties: the
    rebooking key tied on time and fell back to the patient index).

    One bed, held by an emergency for 10 days; two electives on the list, A (patient 1, routine,
    referred first) and B (patient 2, urgent); slots 1, 2, 1 on Monday to Wednesday at 08:00
    sharp. Monday: B (urgent) is booked and cancelled. Tuesday: B (rebooked, top) then A are
    booked and cancelled at the same instant, B first. Wednesday: the one slot is B's.
    """
    raw = {
        "name": "ties",
        "start_date": "2017-04-03",  # a Monday
        "horizon_days": 4,
        "acute": {"beds": 1},
        "demand": {
            "emergency": {"per_day": 1.0},
            "elective": {
                "per_weekday": {"steps": [[0, 1], [1, 2], [2, 1], [3, 0]]},
                "referrals_per_week": 1.0,
                "priorities": {"urgent": 0.5, "routine": 0.5},
                "admit_hour": 8.0,
                "spread_hours": 0.0,
                "los": {"dist": "fixed", "mean_days": 1.0},
            },
        },
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1.0}}},
    }
    cfg = build(raw)
    n = 3
    cand = Candidates(
        time_days=np.array([0.05, -1.0, -0.5]),
        day=np.array([0, 0, 0]),
        is_elective=np.array([False, True, True]),
        n_emergencies=1,
        priority=np.array([-1, 1, 0]),
        bookable_days=np.array([np.nan, -1.0, -0.5]),
        group=np.array([0, 1, 1]),
        u_accept=np.array([0.0, -1.0, -1.0]),
        base_los_days=np.array([10.0, 1.0, 1.0]),
        u_step_up=np.ones(n),
        step_up_los_days=np.zeros(n),
        u_pathway=np.zeros(n),
        service_los_days=np.zeros((0, n)),
        assessment_days=np.zeros((0, n)),
        group_names=("all",),
        service_names=(),
        priority_names=("urgent", "routine"),
    )
    rec = simulate_candidates(cfg, cand, LONG_RUN_ENGINE).records
    at = 8 / 24
    np.testing.assert_allclose(rec.cancellation_days, [at, 1 + at, 1 + at, 2 + at])
    assert rec.cancelled_patient.tolist() == [2, 2, 1, 2]
    assert rec.times_cancelled.tolist() == [0, 1, 3]


# ---------------------------------------------------------------------------------------------
# 2. Conservation with the list


@settings(max_examples=100, **SETTINGS)
@given(raw=elective_systems(plans=None), seed=seeds)
def test_every_referral_ends_in_one_state(raw, seed):
    """``check_conservation`` gives every cohort patient one outcome (electives: admitted - in
    a bed, discharged, in a service - or on the list; emergencies: waiting, admitted, avoided,
    refused, transferred). What it cannot see are the referrals the multiplier removed: they are
    not in the cohort at all. Here: the cohort's electives are exactly the candidates accepted
    (``u_accept < multiplier`` on the referral day), with their draws, and the starting list is
    always among them."""
    cfg = build(raw)
    rep = run_replication(cfg, seed)
    check_conservation(cfg, rep)
    co, rec = rep.cohort, rep.records
    cand, el, kept, time = elective_candidates(cfg, seed)
    idx = np.flatnonzero(co.is_elective)
    assert idx.size == int(kept.sum())
    np.testing.assert_array_equal(co.arrival_days[idx], time[kept])
    np.testing.assert_array_equal(co.priority[idx], cand.priority[el][kept])
    np.testing.assert_array_equal(co.acute_los_days[idx], cand.base_los_days[el][kept])
    if cfg.demand.elective.initial_list is not None:
        assert np.all(kept[time < 0]) and int(np.sum(co.arrival_days[idx] < 0)) == int(np.sum(time < 0))
    # Electives: admitted or still on the list; a cancelled patient was booked again or is on it.
    assert set(np.unique(rec.outcome[idx])) <= {ADMITTED, ON_LIST}
    assert np.all(rec.times_cancelled[co.is_elective] == np.bincount(rec.cancelled_patient, minlength=len(co))[idx])
    # Emergencies: the candidates are untouched by the list (their own streams).
    em = ~co.is_elective
    assert np.all(np.isin(co.arrival_days[em], cand.time_days[: cand.n_emergencies]))
    check_fifo(cfg, rep)


def test_starting_list_is_always_kept_even_with_no_wait():
    """The starting list is always kept, whatever the referral multiplier, and is referred
    strictly before day 0 even with ``max_wait_weeks: 0`` (found by the properties: its times
    were -0.0, so a multiplier of 0 removed it and the daily table counted it as day-0
    referrals)."""
    raw = {
        "name": "zero_wait",
        "start_date": "2017-01-02",
        "horizon_days": 10,
        "acute": {"beds": 5},
        "demand": {
            "emergency": {"per_day": 0.5},
            "elective": {
                "per_weekday": 0,
                "referrals_per_week": 0.01,
                "referral_multiplier": 0.0,
                "initial_list": {"patients": 10, "max_wait_weeks": 0},
                "los": {"dist": "fixed", "mean_days": 1},
            },
        },
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1}}},
    }
    cfg = build(raw)
    rep = run_replication(cfg, 1)
    assert int(rep.cohort.is_elective.sum()) == 10
    assert np.all(rep.cohort.arrival_days[rep.cohort.is_elective] < 0)
    assert daily_table(cfg, rep)["elective_referrals"].sum() == 0


# ---------------------------------------------------------------------------------------------
# 3. Common random numbers for electives

_ELECTIVE_FIELDS = ("arrival_days", "priority", "group", "acute_los_days", "service", "service_los_days")


def _electives_of(co) -> dict[str, np.ndarray]:
    el = co.is_elective
    return {f: getattr(co, f)[el] for f in _ELECTIVE_FIELDS}


@settings(max_examples=60, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_slots_multiplier_and_beds_keep_the_same_referrals(data, seed):
    """Two plans under one seed: other slots, another referral multiplier (<= 1), other beds.
    On each day the plan accepting a smaller share keeps a subset of the other's referrals of
    that day, each with the same referral time, priority, LOS draw and pathway; with the same
    multiplier the referrals are identical, and so are the emergency candidates' draws."""
    raw = data.draw(elective_systems(plans=False))
    start = raw["demand"]["elective"].get("initial_list")
    if start is not None and start["max_wait_weeks"] < 1e-3:
        # Distinct referral times, which the matching below needs: a spread of 0 - or a tiny one,
        # such as 5e-324 weeks, which rounds every referral to the same instant - gives ties.
        start["max_wait_weeks"] = 1.0
    H = raw["horizon_days"]
    other = copy.deepcopy(raw)
    el = other["demand"]["elective"]
    el["per_weekday"] = data.draw(capacity_schedules(0, 4, H))
    same_multiplier = data.draw(st.booleans())
    if not same_multiplier:
        el["referral_multiplier"] = data.draw(referral_multipliers(H))
    if data.draw(st.booleans()):
        other["acute"]["beds"] = data.draw(capacity_schedules(1, 30, H))
    cfg_a, cfg_b = build(raw), build(other)
    a, b = run_replication(cfg_a, seed), run_replication(cfg_b, seed)
    ea, eb = _electives_of(a.cohort), _electives_of(b.cohort)
    if same_multiplier:
        for f in _ELECTIVE_FIELDS:
            np.testing.assert_array_equal(ea[f], eb[f], err_msg=f)
    else:
        acc_a = np.asarray(build_levers(cfg_a)[0].referral_accept)
        acc_b = np.asarray(build_levers(cfg_b)[0].referral_accept)
        day_a = np.maximum(np.floor(ea["arrival_days"]), 0).astype(np.int64)
        day_b = np.maximum(np.floor(eb["arrival_days"]), 0).astype(np.int64)
        for d in np.unique(np.concatenate([day_a, day_b])):
            fewer, more = (ea, eb) if acc_a[d] <= acc_b[d] else (eb, ea)
            in_f = np.maximum(np.floor(fewer["arrival_days"]), 0) == d
            in_m = np.maximum(np.floor(more["arrival_days"]), 0) == d
            t_f, t_m = fewer["arrival_days"][in_f], more["arrival_days"][in_m]
            pos = np.searchsorted(t_m, t_f)
            assert np.all(pos < t_m.size), f"day {d}: a referral of the plan with fewer is not in the other"
            np.testing.assert_array_equal(t_m[pos], t_f)
            for f in _ELECTIVE_FIELDS:
                np.testing.assert_array_equal(more[f][in_m][pos], fewer[f][in_f], err_msg=f"day {d}: {f}")
    # Emergencies arrive the same (the list never shifts an emergency's draws).
    em_a, em_b = ~a.cohort.is_elective, ~b.cohort.is_elective
    np.testing.assert_array_equal(a.cohort.arrival_days[em_a], b.cohort.arrival_days[em_b])
    np.testing.assert_array_equal(a.cohort.acute_los_days[em_a], b.cohort.acute_los_days[em_b])
    # Referrals pair exactly in two runs: the same patient is admitted in both or the list
    # order differs only through the slots and beds - never through the draws.
    replay_waiting_list(cfg_b, b, seed)


@settings(max_examples=40, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_more_slots_pair_referrals_one_to_one(data, seed):
    """Two separate ``run_model`` calls, same seed, only the slots differ (constant, steps or a
    ramp): the cohorts are equal field by field, emergencies included (the slots decide only
    when, and whether, a referral is admitted)."""
    raw = data.draw(elective_systems(plans=None))
    other = copy.deepcopy(raw)
    other["demand"]["elective"]["per_weekday"] = data.draw(capacity_schedules(0, 5, raw["horizon_days"]))
    a, b = run_replication(build(raw), seed), run_replication(build(other), seed)
    for f in ("arrival_days", "is_elective", "priority", "group", "step_up_los_days"):
        np.testing.assert_array_equal(getattr(a.cohort, f), getattr(b.cohort, f), err_msg=f)
    el = a.cohort.is_elective
    for f in ("acute_los_days", "service", "service_los_days"):
        np.testing.assert_array_equal(getattr(a.cohort, f)[el], getattr(b.cohort, f)[el], err_msg=f)


# ---------------------------------------------------------------------------------------------
# 4. Monotonicity under common random numbers

_REFUSE_CARE_HOME = {
    "name": "care_home_blocks",
    "start_date": "2015-01-01",
    "horizon_days": 74,
    "acute": {"beds": 1, "when_full": "refuse"},
    "demand": {"emergency": {"per_day": 1.0, "winter": {"amplitude": 0.5, "peak_day_of_year": 1}}},
    "groups": {
        "g0": {
            "share": 1.0,
            "los": {"dist": "exponential", "mean_days": 1.0},
            "pathways": {"home": 0.5, "care_home": 0.5},
        }
    },
    "services": {"care_home": {"capacity": 1, "los": {"dist": "exponential", "mean_days": 5.0}}},
}

_REFUSE_ELECTIVES = {
    "name": "emergencies_cancel_electives",
    "start_date": "2015-01-01",
    "horizon_days": 142,
    "acute": {"beds": 1, "when_full": "refuse"},
    "demand": {
        "emergency": {"per_day": 2.875},
        "elective": {
            "per_weekday": 1,
            "referrals_per_week": 2.0,
            "admit_hour": 0.0,
            "spread_hours": 0.5,
            "los": {"dist": "exponential", "mean_days": 2.25},
        },
    },
    "groups": {"g0": {"share": 1.0, "los": {"dist": "exponential", "mean_days": 2.546875}}},
}


def _more_beds_kpis(raw: dict, extra: int, seed: int) -> tuple[dict, dict]:
    """Whole-run KPIs of a system and of the same system with ``extra`` beds every day."""
    bigger = copy.deepcopy(raw)
    bigger["acute"]["beds"] = raw["acute"]["beds"] + extra
    out = []
    for r in (raw, bigger):
        cfg = build(r)
        out.append(kpis(cfg, run_replication(cfg, seed), window=(0, cfg.horizon_days)))
    return out[0], out[1]


def test_more_beds_can_give_more_displaced_bed_days_and_a_longer_list():
    """The issue's "more beds or more community places never give more displaced bed days or a
    longer list" is false sample-path-wise; hypothesis found these (shrunk) counterexamples, all
    properties of the system, not bugs:

    * a community service: 1 -> 3 beds (refuse), half the emergencies go to a care home with 1
      place: the extra beds admit patients the small hospital refused; half of them then wait in
      their bed for the care home, ahead of later patients (FIFO), so beds block and later
      refusals - of patients with longer LOS - add up to more displaced bed days;
    * electives (``_REFUSE_ELECTIVES``, found by hypothesis for one large seed, rare: no seed in
      0..299 shows it, before or after the emergency draws changed): 1 -> 3 beds (refuse), 1 slot a weekday: the extra beds go to
      emergencies the small hospital refused, so booked electives find no bed more often and
      are cancelled: the list at the end is longer;
    * (not pinned) electives with queueing: an extra bed opened by day 2 lets electives in whose
      stays later make an emergency board longer; with ``max_wait_hours`` an emergency that the
      small hospital transferred out is admitted and holds a bed, so another waits longer;
      more places in one service let patients overtake in the queue of another (see
      test_properties.test_more_places_never_add_delays_when_beds_are_not_short).
    """
    small, big = _more_beds_kpis(_REFUSE_CARE_HOME, 2, 1)
    assert big["displaced_bed_days"] > small["displaced_bed_days"]


@settings(max_examples=150, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_same_extra_beds_never_add_displaced_bed_days_without_electives_or_services(data, seed):
    """The strongest pathwise form found to hold: a refuse hospital with no electives, no
    community services and no step-up; k more beds on every day never give more displaced bed
    days over the whole run (refusals weighted by each one's own LOS - a stronger claim than
    test_properties.test_same_extra_beds_every_day_never_add_refusals). Held in over 5,000
    targeted examples; not proven. With electives or a community service it fails (see above)."""
    raw = data.draw(systems(electives=False, services=False, step_up=False, policy="refuse", escalation=False))
    raw["acute"]["beds"] = data.draw(st.integers(1, 30))
    small, big = _more_beds_kpis(raw, data.draw(st.integers(1, 4)), seed)
    assert big["displaced_bed_days"] <= small["displaced_bed_days"] + 1e-9
    assert big["refused_admissions"] <= small["refused_admissions"]


@settings(max_examples=8, derandomize=True, **SETTINGS)
@given(data=st.data())
def test_more_beds_do_not_add_displaced_bed_days_or_list_on_average(data):
    """With electives, community services and step-up, the issue's statement holds in
    expectation: over 20 paired seeds, k more beds every day give a mean difference in
    displaced bed days and in the mean waiting list no larger than 3 standard errors of the
    paired differences (held for 200 random systems; derandomized: the same 8 every run)."""
    raw = data.draw(systems(electives=True, plans=False))
    raw["horizon_days"], raw["warmup_days"] = 60, 0
    raw["acute"]["beds"] = data.draw(st.integers(1, 12))
    extra = data.draw(st.integers(1, 4))
    diffs = []
    for seed in range(20):
        small, big = _more_beds_kpis(raw, extra, seed)
        diffs.append([big[k] - small[k] for k in ("displaced_bed_days", "elective_waiting_list_mean")])
    d = np.array(diffs)
    se = d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
    assert np.all(d.mean(axis=0) <= 3 * se + 1e-9), f"mean increase {d.mean(axis=0)} vs 3 SE {3 * se}"
