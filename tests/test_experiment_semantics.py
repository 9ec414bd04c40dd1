"""Experiments mean what they say (issue 9): a setting an experiment would silently ignore, let
win or lose, or turn into a clashing file name is one line naming the file and the field, before
anything runs; ``baseline.extends`` starts the baseline from a scenario's overrides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hospsim.config import ConfigError
from hospsim.runs.experiment import load_experiment
from hospsim.runs.store import run_file_stem

DATA = Path(__file__).parent / "data"
EXPERIMENT = DATA / "mini_experiment.yaml"
DELAY = "plan_delivery.ic_delay_days"


def _write(tmp_path: Path, mutate, name: str = "exp.yaml") -> Path:
    raw = yaml.safe_load(EXPERIMENT.read_text())
    raw["config"] = str(DATA / "mini_system.yaml")
    mutate(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _param(raw: dict, name: str, **fields) -> None:
    raw["sweep"]["parameters"][name] = {"path": DELAY, "values": [0, 90], **fields}


def _scen(raw: dict, name: str) -> dict:
    return raw["scenarios"][name]


CASES = {
    # seed and replications belong to the experiment
    "seed in overrides": (lambda r: r.setdefault("overrides", {}).update(seed=3), "overrides.seed:", "`seed:`"),
    "replications in baseline": (
        lambda r: r.update(baseline={"overrides": {"replications": 50}}),
        "baseline.overrides.replications:",
        "set `replications:` at the top of the experiment",
    ),
    "seed in a scenario": (
        lambda r: _scen(r, "gated")["overrides"].update(seed=9),
        "scenarios.gated.overrides.seed:",
        "set `seed:` at the top of the experiment",
    ),
    "swept seed": (
        lambda r: _param(r, "s", path="seed"),
        "sweep.parameters.s.path: seed cannot be swept",
        "set `seed:` at the top",
    ),
    "swept replications": (
        lambda r: _param(r, "n", path="replications", values=[3, 30]),
        "sweep.parameters.n.path: replications cannot be swept",
        "set `replications:` at the top",
    ),
    # sweep paths
    "same sweep path twice": (
        lambda r: _param(r, "again"),
        f"sweep.parameters.again.path: same path as ic_delay_days ({DELAY})",
        "",
    ),
    "sweep path inside another": (
        lambda r: _param(r, "whole", path="plan_delivery", values=[{"ic_delay_days": 5}]),
        "sweep.parameters.whole.path: same path as ic_delay_days",
        "",
    ),
    "sweep path a scenario sets": (
        lambda r: _scen(r, "gated")["overrides"].update({DELAY: 30}),
        f"sweep.parameters.ic_delay_days.path: {DELAY} is also set by scenarios.gated.overrides.{DELAY}",
        "sweep.scenarios",
    ),
    "sweep path an extended scenario sets": (
        lambda r: (
            _scen(r, "fixed_date")["overrides"].update({"plan_delivery": {"ic_delay_days": 30}}),
            _scen(r, "gated").update(extends="fixed_date"),
            r["sweep"].update(scenarios=["gated"]),
        ),
        "is also set by scenarios.fixed_date.overrides.plan_delivery (extended by gated)",
        "",
    ),
    # criteria
    "nan limit": (
        lambda r: r["criteria"].append({"kpi": "mean_occupancy", "at_most": float("nan")}),
        "criteria.3.at_most: Input should be a finite number",
        "",
    ),
    "inf limit": (
        lambda r: r["criteria"].append({"kpi": "mean_occupancy", "at_least": float("-inf")}),
        "criteria.3.at_least: Input should be a finite number",
        "",
    ),
    "both limits": (
        lambda r: r["criteria"].append({"kpi": "mean_occupancy", "at_most": 1, "at_least": 0}),
        "criteria.3: give exactly one of at_most, at_least",
        "",
    ),
    "no limit": (lambda r: r["criteria"].append({"kpi": "mean_occupancy"}), "criteria.3: give exactly one", ""),
    # names that become file names
    "name climbs out": (lambda r: r.update(name="../x"), "name: '../x' is not a safe folder name", ""),
    "name with a slash": (lambda r: r.update(name="a/b"), "name: 'a/b' is not a safe folder name", ""),
    "name starts with a dot": (lambda r: r.update(name=".hidden"), "name: '.hidden'", ""),
    "scenario name with a space": (
        lambda r: r["scenarios"].update({"cut beds": {"overrides": {}}}),
        "scenarios.cut beds: not a valid scenario name",
        "",
    ),
    "scenario name with a hash": (
        lambda r: r["scenarios"].update({"gated#p001": {"overrides": {}}}),
        "scenarios.gated#p001: not a valid scenario name",
        "",
    ),
    "scenario named like a sweep point's files": (
        lambda r: (r["scenarios"].update({"gated_p001": {}}), r["sweep"].update(scenarios=["fixed_date", "gated"])),
        "scenarios.gated_p001: its run files would be those of gated#p001#r000 (runs/gated_p001_r000.json)",
        "",
    ),
    # sizes: a huge experiment is refused before anything is built (it would hang, not run)
    "a trillion replications": (lambda r: r.update(replications=10**12), "replications:", "100000"),
    "a huge seed": (lambda r: r.update(seed=2**64), "seed:", ""),
    "a huge grid": (
        lambda r: r["sweep"]["parameters"].update(
            {f"p{i}": {"path": f"groups.frail.los_multiplier.p{i}", "values": list(range(100))} for i in range(4)}
        ),
        "sweep.parameters: ",
        "more than the 10,000,000 runs",
    ),
    "too many runs in all": (
        lambda r: (
            r.update(replications=100_000),
            _param(r, "big", path="acute.delayed_day_cost_gbp", values=[x / 1000 for x in range(1, 1001)]),
        ),
        "replications: ",
        "runs in all",
    ),
    "an infinite sweep bound": (
        lambda r: r.update(
            sweep={"method": "lhs", "samples": 4, "parameters": {"d": {"path": DELAY, "low": 0, "high": float("inf")}}}
        ),
        "sweep.parameters.d.high",
        "",
    ),
    # baseline.extends
    "baseline extends nothing": (
        lambda r: r.update(baseline={"extends": "nope"}),
        "baseline.extends: no scenario 'nope'",
        "",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_is_one_line_naming_the_file_and_field(tmp_path: Path, case: str):
    mutate, expected, hint = CASES[case]
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: "), msg
    assert expected in msg and hint in msg, msg


@pytest.mark.parametrize("case", ["swept replications", "same sweep path twice", "nan limit", "name climbs out"])
def test_the_command_line_refuses_before_writing_anything(tmp_path: Path, case: str):
    mutate, expected, _hint = CASES[case]
    path = _write(tmp_path, mutate)
    out = tmp_path / "o"
    res = subprocess.run(
        [sys.executable, "-m", "hospsim", "sweep", str(path), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert str(path) in lines[0] and expected in lines[0], lines[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml"]


def test_baseline_extends_a_scenario(tmp_path: Path):
    """The baseline starts from the scenario's resolved overrides (its ancestors' too), its own on top."""

    def mutate(r: dict) -> None:
        _scen(r, "gated").update(extends="fixed_date")
        r["baseline"] = {"extends": "gated", "overrides": {"acute.beds": 45}}

    loaded = load_experiment(_write(tmp_path, mutate))
    base = loaded.variants[0]
    assert base.scenario == "baseline"
    gated = next(v.config for v in loaded.variants if v.scenario == "gated")
    plain = load_experiment(EXPERIMENT).variants[0].config
    # Inherited from fixed_date through gated: the plan's levers.
    assert base.config.groups["frail"].step_up_share == gated.groups["frail"].step_up_share
    assert base.config.groups["frail"].step_up_share != plain.groups["frail"].step_up_share
    assert base.config.services["rehab"].capacity == gated.services["rehab"].capacity
    # Its own override wins over the inherited bed schedule.
    assert base.config.acute.beds == plain.acute.beds != gated.acute.beds


def test_fine_experiments_still_load_and_run_files_are_distinct():
    for path in [EXPERIMENT, *(Path(__file__).resolve().parents[1] / "experiments").glob("*.yaml")]:
        runs = load_experiment(path).runs()
        assert len({run_file_stem(r.run_id) for r in runs}) == len(runs)


def test_a_sweep_path_set_only_by_an_unswept_scenario_or_the_baseline_is_fine(tmp_path: Path):
    def mutate(r: dict) -> None:
        r["sweep"]["scenarios"] = ["gated"]
        _scen(r, "fixed_date")["overrides"][DELAY] = 30
        r["baseline"] = {"overrides": {DELAY: 10}}
        r.setdefault("overrides", {})[DELAY] = 20

    loaded = load_experiment(_write(tmp_path, mutate))
    delays = {(v.scenario, v.point): v.config.plan_delivery.ic_delay_days for v in loaded.variants}
    assert delays[("baseline", -1)] == 10 and delays[("fixed_date", -1)] == 30
    assert {d for (s, _p), d in delays.items() if s == "gated"} == {0, 90}
