"""The draw key: configs that differ only in their plan draw the same candidates (so a sweep may
draw each replication's patients once); configs that differ in what is drawn have other keys."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_census import censuses
from test_properties import SETTINGS, build, seeds, systems

from hospsim.config import ConfigError, default_config_path, load_config
from hospsim.model.cohort import build_candidates
from hospsim.model.draw_key import NOT_DRAWN, draw_key
from hospsim.model.engine import draw_for_run, engine_candidates
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


@settings(max_examples=150, **SETTINGS)
@given(data=st.data(), seed=seeds, census=st.booleans())
def test_a_run_drawn_alone_has_the_candidates_selected_from_the_whole_draw(data, seed, census):
    """One replication draws only the candidates its plan may accept (draw_for_run); a sweep
    draws them all once and selects per cell (engine_candidates). Both give the same bits."""
    raw = data.draw(systems(plans=None, network=None))
    if census:
        raw["initial_state"] = data.draw(censuses(raw))
    cfg = build(raw)
    whole = build_candidates(cfg, Streams(seed))
    selected = engine_candidates(cfg, whole)
    alone = draw_for_run(cfg, seed)
    assert len(alone) < len(whole) or len(selected) == len(whole)
    assert _bit_identical(selected, alone) == []
    assert engine_candidates(cfg, alone) is alone  # nothing more to select: no copy


def test_the_default_footprint_drawn_alone_leaves_a_third_out():
    cfg = load_config(default_config_path())
    whole, alone = build_candidates(cfg, Streams(5)), draw_for_run(cfg, 5)
    assert 0.25 < 1 - len(alone) / len(whole) < 0.40
    assert _bit_identical(engine_candidates(cfg, whole), alone) == []


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
    from hospsim.model.engines import simulate_candidates
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
