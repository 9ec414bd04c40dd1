"""Validation of numbers cannot be bypassed: every numeric leaf of a config is finite and under a
ceiling (hospsim/config/limits.py), and so is every numeric command-line argument.

The schema is tested in-process over every number of the bundled config (plus the schedule,
gate, distribution and delivery fields it leaves out); the command line on a small sample.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest

from hospsim.cli import main
from hospsim.config import ConfigError, config_from_dict, copy_raw, default_config_path, limits, read_yaml
from hospsim.config.schedules import whole

FOOTPRINT = copy_raw(read_yaml(default_config_path()))

# The bundled config with the numbers it does not write: a stepped and a gated ramped schedule,
# an empirical LOS, a pathway change, plan delivery, and the optional fields with numbers.
RICH = copy.deepcopy(FOOTPRINT)
RICH["acute"].update(max_wait_hours=24.0, beds={"steps": [[0, 2250], [100, 2200.0]]})
RICH["demand"]["emergency"].update(headroom=1.5, multiplier={"steps": [[0, 1.0], [200, 0.95]]})
RICH["demand"]["elective"].update(admit_hour=8.0, spread_hours=4.0, referral_multiplier=0.9)
RICH["groups"]["other_adults"]["los"] = {"dist": "empirical", "values_days": [0.5, 2.0, 4.5, 11.0]}
RICH["groups"]["other_adults"]["los_multiplier"] = 1.0
RICH["groups"]["frail_older"]["pathways_change"] = {
    "to": {"home": 0.55, "home_support": 0.2, "rehab_bed": 0.13, "care_home": 0.12},
    "start_day": 200,
    "duration_days": 100,
}
RICH["groups"]["short_stay"]["los"] = {"dist": "gamma", "mean_days": 0.25, "cv": 1.0}
RICH["services"]["home_support"]["assessment_multiplier"] = 0.9
RICH["services"]["rehab_bed"]["capacity"] = {
    "ramp": {"from": 412.0, "to": 500.0, "start_day": 200, "duration_days": 60},
    "gate": [
        {"occupancy_at_most": {"days": 28, "occupancy": 0.95}},
        {"delayed_patients_at_most": {"days": 14, "patients": 200.0}},
        {"service_capacity_at_least": {"service": "home_support", "places": 200.0}},
    ],
}
RICH["services"]["step_up"]["los"] = {"dist": "fixed", "mean_days": 7.0}
RICH["services"]["care_home"]["los"] = {"dist": "exponential", "mean_days": 50.0}
RICH["plan_delivery"] = {"ic_delay_days": 30, "ic_growth_achieved": 0.8}


def _leaves(node: Any, path: str = "") -> list[tuple[str, int | float]]:
    """Every number in a YAML tree with its dotted path (list items by index)."""
    if isinstance(node, bool):
        return []
    if isinstance(node, int | float):
        return [(path, node)]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [leaf for k, v in items for leaf in _leaves(v, f"{path}.{k}" if path else str(k))]


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


# Every number of the bundled config, then those only the richer base writes.
LEAVES = [("footprint", p, v) for p, v in _leaves(FOOTPRINT)]
LEAVES += [("rich", p, v) for p, v in _leaves(RICH) if p not in {leaf[1] for leaf in LEAVES}]
BASES = {"footprint": FOOTPRINT, "rich": RICH}
BAD = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "1e300": 1e300, "negative": None}


def test_the_leaves_cover_the_bundled_config():
    assert config_from_dict(RICH, "rich")  # the richer base is itself valid
    assert sum(base == "footprint" for base, _, _ in LEAVES) > 60
    assert sum(base == "rich" for base, _, _ in LEAVES) > 20


def _tiny_run(data: dict[str, Any]) -> None:
    from hospsim.runs.replications import run_config

    small = {**data, "horizon_days": 30, "warmup_days": 0, "replications": 1}
    out = run_config(config_from_dict(small, "tiny"), workers=1)
    assert np.isfinite(out.summary["mean"].dropna().to_numpy(dtype=float)).all()


@pytest.mark.parametrize("kind", list(BAD))
@pytest.mark.parametrize(("base", "path", "written"), LEAVES, ids=[p for _, p, _ in LEAVES])
def test_no_number_bypasses_validation(base: str, path: str, written: float, kind: str):
    value = BAD[kind]
    if value is None:  # negative, of the leaf's own type
        value = -1 if isinstance(written, int) else -0.5
    data = _set(BASES[base], path, value)
    try:
        config_from_dict(data, "rich.yaml")
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg
        assert msg.startswith("rich.yaml: ")
        assert path in msg, msg
        return
    # Accepted: only a legitimate value (no NaN, infinity or 1e300), and the model runs with it.
    assert kind == "negative", f"{path}={value} accepted"
    _tiny_run(data)


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ("acute.beds", 1e300, "acute.beds: every value must be <= 1e+06 (got 1e+300)"),
        ("demand.emergency.per_day", math.inf, "demand.emergency.per_day: Input should be a finite number (got inf)"),
        ("horizon_days", 10**30, "horizon_days: Input should be less than or equal to 365250 (got 1e+30)"),
        ("groups.frail_older.los.cv", 1e300, "groups.frail_older.los.cv: Input should be less than or equal to 100"),
        ("seed", 2**63, "seed: Input should be less than or equal to 9223372036854775807"),
        ("replications", 10**12, "replications: Input should be less than or equal to 100000 (got 1000000000000)"),
        (
            "services.rehab_bed.capacity.ramp.to",
            2e6,
            "services.rehab_bed.capacity.ramp.to: every value must be <= 1e+06",
        ),
    ],
)
def test_the_message_gives_field_value_and_limit(path: str, value: Any, shown: str):
    with pytest.raises(ConfigError) as err:
        config_from_dict(_set(RICH, path, value), "rich.yaml")
    assert shown in str(err.value)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("horizon_days", limits.MAX_HORIZON_DAYS + 1),
        ("warmup_days", 1276),
        ("demand.emergency.weekday_factors.0", limits.MAX_FACTOR * 1.01),
        ("demand.emergency.hourly_factors.5", limits.MAX_FACTOR * 1.01),
        ("acute.max_wait_hours", limits.MAX_WAIT_HOURS + 1),
        ("acute.delayed_day_cost_gbp", limits.MAX_COST_GBP_PER_DAY * 2),
        ("services.home_support.place_day_cost_gbp", limits.MAX_COST_GBP_PER_DAY * 2),
        ("services.home_support.capacity", limits.MAX_PLACES + 1),
        ("acute.escalation.beds", limits.MAX_PLACES + 1),
        ("groups.frail_older.los.mean_days", limits.MAX_LOS_DAYS * 1.01),
        ("demand.emergency.per_day", limits.MAX_PER_DAY * 1.01),
        ("demand.emergency.growth_per_year", limits.MAX_GROWTH_PER_YEAR + 0.01),
        ("replications", limits.MAX_REPLICATIONS + 1),
        ("seed", limits.SEED_LIMIT),
        ("acute.beds.steps.1.0", limits.MAX_HORIZON_DAYS + 1),
    ],
)
def test_ceilings(path: str, value: float):
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        config_from_dict(_set(RICH, path, value), "rich.yaml")


def test_values_at_the_ceilings_run():
    """The largest places, costs, LOS and factors validate and a tiny run stays finite."""
    data = copy.deepcopy(RICH)
    data["acute"].update(beds=limits.MAX_PLACES, delayed_day_cost_gbp=limits.MAX_COST_GBP_PER_DAY)
    data["acute"]["escalation"]["beds"] = limits.MAX_PLACES
    data["acute"]["max_wait_hours"] = limits.MAX_WAIT_HOURS
    data["services"]["care_home"].update(capacity=limits.MAX_PLACES, place_day_cost_gbp=limits.MAX_COST_GBP_PER_DAY)
    data["groups"]["frail_older"]["los"] = {"dist": "lognormal", "mean_days": limits.MAX_LOS_DAYS, "cv": limits.MAX_CV}
    data["groups"]["short_stay"]["los"] = {"dist": "gamma", "mean_days": limits.MAX_LOS_DAYS, "cv": limits.MAX_CV}
    data["demand"]["emergency"]["hourly_factors"] = [limits.MAX_FACTOR] + [0.0] * 23
    data["seed"] = limits.MAX_SEED
    _tiny_run(data)


def test_derived_products_cannot_overflow():
    """Capacities become int64 whole places; place days x cost is a float far inside range."""
    places = whole(np.full(limits.MAX_HORIZON_DAYS, float(limits.MAX_PLACES)))
    assert places.dtype == np.int64 and (places == limits.MAX_PLACES).all()
    place_days = places.sum()
    assert place_days == limits.MAX_PLACES * limits.MAX_HORIZON_DAYS < np.iinfo(np.int64).max
    cost = float(place_days * limits.MAX_COST_GBP_PER_DAY)  # as kpi_registry's capacity cost
    assert math.isfinite(cost) and cost == pytest.approx(3.6525e20)
    # The fastest growth over the longest horizon stays finite, and headroom refuses it.
    longest = {**RICH, "horizon_days": limits.MAX_HORIZON_DAYS}
    longest = _set(longest, "demand.emergency.growth_per_year", limits.MAX_GROWTH_PER_YEAR)
    longest = _set(longest, "demand.emergency.multiplier", limits.MAX_FACTOR)
    with pytest.raises(ConfigError, match=r"growth x multiplier reaches 1\.07e\+304 on day 365249"):
        config_from_dict(longest, "rich.yaml")
    # Delivered (late, over-delivered) capacities are checked against the same ceiling.
    over = _set(RICH, "services.rehab_bed.capacity.ramp.to", 900_000.0)
    over["plan_delivery"]["ic_growth_achieved"] = 2.0
    with pytest.raises(ConfigError, match="out of range as delivered"):
        config_from_dict(over, "rich.yaml")


# --- the command line --------------------------------------------------------------------------


def hospsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hospsim", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args"),
    [
        ["check", "--set", "acute.beds=.nan"],
        ["check", "--set", "demand.emergency.per_day=.inf"],
        ["check", "--set", "groups.frail_older.los.cv=1.0e+300"],
        ["run", "--set", "services.rehab_bed.capacity=-.inf", "-r", "1", "--set", "horizon_days=30"],
        ["run", "--set", "horizon_days=1000000000000000000000000000000", "-r", "1"],
        ["run", "--set", "services.care_home.place_day_cost_gbp=-.inf", "-r", "1", "--set", "horizon_days=30"],
    ],
    ids=["beds-nan", "per_day-inf", "cv-1e300", "capacity-minus-inf", "horizon-1e30", "cost-minus-inf"],
)
def test_cli_rejects_bad_numbers_in_one_line(args: list[str]):
    res = hospsim(*args, "--no-progress") if args[0] == "run" else hospsim(*args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hospsim: error: "), res.stderr
    assert args[2].split("=")[0] in lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "-r", "0"],
        ["run", "-r", "1e12"],
        ["run", "-r", "1000000000000"],
        ["run", "--workers", "0"],
        ["run", "--workers", "10000"],
        ["run", "--seed", "-1"],
        ["run", "--seed", str(limits.SEED_LIMIT)],
        ["calibrate", "-r", "100001"],
        ["sweep", "x.yaml", "--workers", "0"],
        ["reproduce", "results", "--sample", "0"],
        ["plot", "results", "--dpi", "0"],
        ["plot", "results", "--dpi", "100000"],
        ["plot", "results", "--point", "-1"],
        ["report", "results", "--point", "1e3"],
        ["run", "-r", "9" * 5000],
    ],
)
def test_cli_arguments_within_limits(argv: list[str], capsys: pytest.CaptureFixture[str]):
    start = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - start < 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hospsim: error: argument "), err


def test_a_trillion_replications_exit_2_at_once():
    start = time.perf_counter()
    res = hospsim("run", "-r", "1000000000000")
    assert res.returncode == 2
    assert "must be at most 100,000" in res.stderr
    assert time.perf_counter() - start < 10  # the process start; the check itself is instant
