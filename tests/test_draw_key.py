"""The draw key: configs that differ only in their plan draw the same candidates (so a sweep may
draw each replication's patients once); configs that differ in what is drawn have other keys."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import LONG_RUN_ENGINE
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_census import censuses
from test_properties import SETTINGS, _changes, build, gate_conditions, seeds, systems
from test_properties_plans import referral_multipliers

from hospsim.config import ConfigError, default_config_path, load_config
from hospsim.model.cohort import build_candidates
from hospsim.model.draw_key import NOT_DRAWN, draw_key
from hospsim.model.engine import draw_for_run, engine_candidates
from hospsim.model.engines import simulate_candidates
from hospsim.model.kpis import daily_and_kpis
from hospsim.model.plan import may_use_a_service
from hospsim.model.streams import Streams


def _without_plan(raw: dict) -> dict:
    """The same system with every path of NOT_DRAWN reset (defaults, or other capacities)."""
    out = copy.deepcopy(raw)
    out.pop("plan_delivery", None)
    out["name"], out["seed"], out["warmup_days"] = "other", 1, 0
    out["acute"] = {"beds": 7, "when_full": "refuse"}
    em = out["demand"]["emergency"]
    em.pop("multiplier", None)
    em.pop("growth_per_year", None)
    el = out["demand"].get("elective")
    if el is not None:
        el["per_weekday"] = 1
        el.pop("referral_multiplier", None)
    for g in out["groups"].values():
        for key in ("los_multiplier", "step_up_share", "pathways", "pathways_change"):
            g.pop(key, None)
    for s in out["services"].values():
        s["capacity"] = 3
        for key in ("assessment_multiplier", "place_day_cost_gbp", "pathways", "pathways_change"):
            s.pop(key, None)
    return out


def _bit_identical(a, b) -> list[str]:
    """The fields of two candidate sets that differ in any bit, dtype or shape."""
    differ = []
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                differ.append(f.name)
        elif dataclasses.is_dataclass(x):
            differ += [f"{f.name}.{name}" for name in _bit_identical(x, y)]
        elif x != y:
            differ.append(f.name)
    return differ


@settings(max_examples=150, **SETTINGS)
@given(raw=systems(plans=True, network=None), seed=seeds)
def test_configs_that_differ_only_in_their_plan_draw_the_same_candidates(raw, seed):
    try:
        plain = build(_without_plan(raw))
    except ConfigError:  # e.g. a census over the other capacities' limits
        assume(False)
    cfg = build(raw)
    assert draw_key(cfg) == draw_key(plain)
    assert _bit_identical(build_candidates(cfg, Streams(seed)), build_candidates(plain, Streams(seed))) == []


# The stays a run drawn for itself draws only for the candidates its plan may send there.
_STAYS = ("service_los_days", "assessment_days", "step_up_los_days")


def _with_referral_multiplier(draw: st.DrawFn, raw: dict) -> dict:
    """Electives (half the time) with a referral multiplier, sometimes gated: the referrals it
    always drops are left out of a run's candidates."""
    if draw(st.booleans()):
        raw = draw(systems(plans=True, network=None, electives=True))
        multiplier = draw(referral_multipliers(raw["horizon_days"]))
        if _changes(multiplier) and draw(st.booleans()):
            multiplier = {**multiplier, "gate": [draw(gate_conditions([]))]}
        raw["demand"]["elective"]["referral_multiplier"] = multiplier
    return raw


def _drawn_alone_differs(selected, alone) -> list[str]:
    """The fields where a run's own draw differs in any bit from the selection of the whole
    draw, but for the stays it left out (NaN): every stay it drew has the same bits."""
    differ = [name for name in _bit_identical(selected, alone) if name not in (*_STAYS, "stays_left_out")]
    if selected.stays_left_out or not alone.stays_left_out:
        differ.append("stays_left_out")
    for name in _STAYS:
        whole, own = getattr(selected, name), getattr(alone, name)
        drawn = ~np.isnan(own)
        if own.shape != whole.shape or whole[drawn].tobytes() != own[drawn].tobytes():
            differ.append(name)
    return differ


@settings(max_examples=150, **SETTINGS)
@given(data=st.data(), seed=seeds, census=st.booleans())
def test_a_run_drawn_alone_has_the_candidates_selected_from_the_whole_draw(data, seed, census):
    """One replication draws only the candidates its plan may accept (draw_for_run); a sweep
    draws them all once and selects per cell (engine_candidates). Both give the same bits, but
    for the community stays of candidates the plan can never send there, which a run's own draw
    leaves out (NaN)."""
    raw = _with_referral_multiplier(data.draw, data.draw(systems(plans=True, network=None)))
    if census:
        raw["initial_state"] = data.draw(censuses(raw))
    cfg = build(raw)
    whole = build_candidates(cfg, Streams(seed))
    selected = engine_candidates(cfg, whole)
    alone = draw_for_run(cfg, seed)
    assert len(alone) < len(whole) or len(selected) == len(whole)
    assert _drawn_alone_differs(selected, alone) == []
    assert not np.isnan(alone.service_los_days[:, len(alone) - alone.n_census :]).any()  # a census: all
    assert engine_candidates(cfg, alone) is alone  # nothing more to select: no copy


@settings(max_examples=60, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_a_run_drawn_alone_is_the_run_of_the_whole_draw(data, seed):
    """The same patients meet the same fates whether the run's stays were drawn for the
    candidates its plan may send to a service only, or for everyone: every plan (pathway
    changes, gated or late, step-up shares, referral multipliers) sends nobody where its draw
    left the stay out, and leaving out the referrals it always drops changes nobody's fate."""
    cfg = build(_with_referral_multiplier(data.draw, data.draw(systems(plans=True, network=None))))
    alone = simulate_candidates(cfg, draw_for_run(cfg, seed), LONG_RUN_ENGINE)
    whole = simulate_candidates(cfg, build_candidates(cfg, Streams(seed)), LONG_RUN_ENGINE)
    assert (
        _bit_identical(dataclasses.replace(alone.records, levels=None), dataclasses.replace(whole.records, levels=None))
        == []
    )
    assert _bit_identical(alone.cohort, whole.cohort) == []
    (daily_a, kpis_a), (daily_w, kpis_w) = daily_and_kpis(cfg, alone), daily_and_kpis(cfg, whole)
    pd.testing.assert_frame_equal(daily_a, daily_w, check_exact=True)
    assert kpis_a.keys() == kpis_w.keys()
    assert all(kpis_a[k] == kpis_w[k] or (np.isnan(kpis_a[k]) and np.isnan(kpis_w[k])) for k in kpis_a)


def test_the_default_footprint_drawn_alone_leaves_a_third_out():
    cfg = load_config(default_config_path())
    whole, alone = build_candidates(cfg, Streams(5)), draw_for_run(cfg, 5)
    assert 0.25 < 1 - len(alone) / len(whole) < 0.40
    assert _drawn_alone_differs(engine_candidates(cfg, whole), alone) == []
    # Community stays for about one candidate in ten (those not surely sent home), step-up
    # stays for the groups with a step-up share, by their share.
    los_rows = alone.service_los_days
    assert 0.05 < np.mean(~np.isnan(los_rows[0])) < 0.15
    assert (~np.isnan(los_rows)).all(axis=0).sum() == (~np.isnan(los_rows[0])).sum()  # all rows or none
    emergencies = alone.step_up_los_days[: alone.n_emergencies]
    assert 0.01 < np.mean(~np.isnan(emergencies)) < 0.06


def test_referrals_a_plan_always_drops_are_left_out():
    cfg = load_config(default_config_path(), ("horizon_days=200", "demand.elective.referral_multiplier=0.8"))
    whole, alone = build_candidates(cfg, Streams(5)), draw_for_run(cfg, 5)
    referrals = slice(whole.n_emergencies, whole.n_emergencies + whole.n_electives)
    drawn = whole.u_accept[referrals]
    dropped = int(np.count_nonzero(drawn >= 0.8))  # the starting list (-1) is always kept
    assert 0.15 < dropped / np.count_nonzero(drawn >= 0) < 0.25
    assert alone.n_electives == whole.n_electives - dropped
    assert (alone.u_accept[alone.n_emergencies : alone.n_emergencies + alone.n_electives] < 0.8).all()
    assert _drawn_alone_differs(engine_candidates(cfg, whole), alone) == []
    assert engine_candidates(cfg, alone) is alone
    # Where each one (and the census after them) was in the whole draw: its time is there.
    assert whole.n_drawn == alone.n_drawn == len(whole)
    assert (whole.time_days[alone.source_index] == alone.time_days).all()


def test_a_stay_the_draw_left_out_and_a_patient_needed_is_refused():
    """A patient sent to a service whose stay was not drawn would be a wrong run: refused."""
    cfg = load_config(default_config_path(), ["horizon_days=60", "warmup_days=0"])
    cand = draw_for_run(cfg, 4)
    broken = dataclasses.replace(cand, service_los_days=np.full_like(cand.service_los_days, np.nan))
    with pytest.raises(RuntimeError, match="left out"):
        simulate_candidates(cfg, broken, LONG_RUN_ENGINE)
    stepped = dataclasses.replace(cand, step_up_los_days=np.full_like(cand.step_up_los_days, np.nan))
    with pytest.raises(RuntimeError, match="left out"):
        simulate_candidates(cfg, stepped, LONG_RUN_ENGINE)


def test_whoever_any_mix_of_the_plan_sends_to_a_service_may_use_one():
    """Home in the middle of the mix, its share raised by a gated change delivered in part:
    the uniforms every mix sends home are those of the narrowest home bin, and only they."""
    over = [
        "groups.frail_older.pathways={rehab_bed: 0.2, home: 0.5, care_home: 0.3}",
        "groups.frail_older.pathways_change={to: {rehab_bed: 0.1, home: 0.8, home_support: 0.1}, start_day: 100,"
        " duration_days: 50, gate: {occupancy_at_most: {occupancy: 0.8, days: 7}}}",
        "plan_delivery.ic_growth_achieved=0.5",
    ]
    cfg = load_config(default_config_path(), over)
    frail = list(cfg.groups).index("frail_older")
    u = np.linspace(0.0, 1.0, 10_001)[:-1]
    may = may_use_a_service(cfg, np.full(u.size, frail), u)
    # Home's bin is [0.2, 0.7) before the change and only widens along it (rehab's share falls,
    # home's rises), however much of it is delivered: surely home is [0.2, 0.7).
    surely_home = (u >= 0.2 + 1e-6) & (u < 0.7 - 1e-6)
    near_edge = (np.abs(u - 0.2) < 1e-6) | (np.abs(u - 0.7) < 1e-6)
    assert np.array_equal(may[~near_edge], ~surely_home[~near_edge])
    short = list(cfg.groups).index("short_stay")  # all home: nobody
    assert not may_use_a_service(cfg, np.full(u.size, short), u).any()
    assert may_use_a_service(cfg, np.full(u.size, len(cfg.groups) + 1), u).all()  # a census's service patients


def test_what_is_drawn_is_in_the_key():
    base = load_config(default_config_path())
    key = draw_key(base)
    for change in (
        "demand.emergency.per_day=300",
        "demand.emergency.headroom=2",
        "horizon_days=400",
        "start_date=2017-01-01",
        "groups.frail_older.los.mean_days=12",
        "groups.frail_older.share=0.21",
        "groups.other_adults.share=0.5",
        "services.rehab_bed.los.mean_days=30",
        "demand.elective.referrals_per_week=100",
    ):
        try:
            other = load_config(default_config_path(), [change])
        except ConfigError:
            continue  # shares that no longer sum to 1
        assert draw_key(other) != key, change
    for change in ("acute.beds=1000", "demand.emergency.multiplier=0.9", "services.rehab_bed.capacity=100", "seed=3"):
        assert draw_key(load_config(default_config_path(), [change])) == key, change


def test_every_excluded_path_names_a_config_field():
    cfg = load_config(default_config_path())
    fields = {"": type(cfg).model_fields}
    for path in NOT_DRAWN:
        assert path[0] in fields[""], path


def test_a_shared_read_only_draw_is_copied_even_when_every_candidate_is_kept():
    """A sweep's shared draw is read-only (sweep._LastDraw); with a headroom of 1 every candidate
    is kept, and the engines still get arrays of their own, which they may write."""
    from hospsim.model.fast import fast_engine_problem

    over = ["horizon_days=40", "warmup_days=0", "demand.emergency.headroom=1", "demand.emergency.growth_per_year=0"]
    cfg = load_config(default_config_path(), over)
    shared = build_candidates(cfg, Streams(3))
    for f in dataclasses.fields(shared):
        value = getattr(shared, f.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    selected = engine_candidates(cfg, shared)
    assert len(selected) == len(shared) and selected is not shared
    assert selected.time_days.flags.writeable and _bit_identical(selected, shared) == []
    alone = draw_for_run(cfg, 3)
    assert engine_candidates(cfg, alone) is alone
    engines = ["simpy"] + (["fast"] if fast_engine_problem() is None else [])
    for engine in engines:
        from_shared = simulate_candidates(cfg, shared, engine).records.outcome
        assert np.array_equal(from_shared, simulate_candidates(cfg, alone, engine).records.outcome)
