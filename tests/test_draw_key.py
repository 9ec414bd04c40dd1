"""The draw key: configs that differ only in their plan draw the same candidates (so a sweep may
draw each replication's patients once); configs that differ in what is drawn have other keys."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
from hypothesis import assume, given, settings
from test_properties import SETTINGS, build, seeds, systems

from hospsim.config import ConfigError, default_config_path, load_config
from hospsim.model.cohort import build_candidates
from hospsim.model.draw_key import NOT_DRAWN, draw_key
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


def _same_candidates(a, b) -> bool:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif dataclasses.is_dataclass(x):
            if not _same_candidates(x, y):
                return False
        elif f.name != "replication_seed" and x != y:
            return False
    return True


@settings(max_examples=150, **SETTINGS)
@given(raw=systems(plans=True, network=None), seed=seeds)
def test_configs_that_differ_only_in_their_plan_draw_the_same_candidates(raw, seed):
    try:
        plain = build(_without_plan(raw))
    except ConfigError:  # e.g. a census over the other capacities' limits
        assume(False)
    cfg = build(raw)
    assert draw_key(cfg) == draw_key(plain)
    assert _same_candidates(build_candidates(cfg, Streams(seed)), build_candidates(plain, Streams(seed)))


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
