"""Lockstep: the compiled engine (``engine: fast``) gives the same patients the same fates as the
reference engine, bit for bit - every record, every visit, the daily table and every KPI.

Configs are generated across every feature the reference engine has (schedules, gates and chained
gates, plan delivery, escalation beds, boarding with wait limits or refusal, the elective list,
step-up diversion, onward community pathways with unlimited services and cycles through them,
census starts). Any change to either engine must keep this file green (docs/contributing).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import NEEDS_FAST
from hypothesis import given, settings
from hypothesis import strategies as st
from test_census import censuses
from test_properties import SETTINGS, build, seeds, systems

from hospsim.config import Config, config_to_dict, default_config_path, load_config
from hospsim.model.engine import TRANSFERRED, run_model
from hospsim.model.fast import run_model_fast
from hospsim.model.kpis import daily_and_kpis
from hospsim.model.records import Replication

pytestmark = NEEDS_FAST

# Examples per generated test (the plain-Python run of the kernel below asks for fewer).
EXAMPLES = int(os.environ.get("HOSPSIM_LOCKSTEP_EXAMPLES", "0")) or None


def examples(n: int) -> int:
    return EXAMPLES or n


def _differences(a: object, b: object, where: str = "") -> list[str]:
    """Fields (dotted) where two records or cohorts differ (NaN equal to NaN)."""
    out = []
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        name = f"{where}{f.name}"
        if dataclasses.is_dataclass(x):
            out += _differences(x, y, name + ".")
        elif isinstance(x, np.ndarray):
            if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                out.append(name)
        elif x != y:
            out.append(name)
    return out


def assert_lockstep(cfg, seed: int) -> Replication:
    """Both engines: identical records, cohorts, capacities, daily tables and KPIs (returns the
    reference engine's replication)."""
    ref, fast = run_model(cfg, seed), run_model_fast(cfg, seed)
    # The compiled engine also logs its daily levels in time order (the reference engine's are
    # measured from its records): the daily tables below compare the two ways, bit for bit.
    assert ref.records.levels is None
    assert fast.records.levels is not None or cfg.initial_state is not None, "a run without a census logs its levels"
    logged = dataclasses.replace(fast.records, levels=None)
    diff = _differences(ref.records, logged) + _differences(ref.cohort, fast.cohort, "cohort.")
    diff += _differences(ref.capacity, fast.capacity, "capacity.")
    assert not diff, f"the engines differ in {diff}"
    daily_ref, kpis_ref = daily_and_kpis(cfg, ref)
    daily_fast, kpis_fast = daily_and_kpis(cfg, fast)
    pd.testing.assert_frame_equal(daily_ref, daily_fast, check_exact=True)
    for name in daily_ref.select_dtypes(float).columns:  # and every bit (a -0.0 is not 0.0)
        assert np.array_equal(daily_ref[name].to_numpy().view(np.int64), daily_fast[name].to_numpy().view(np.int64)), (
            name
        )
    assert list(kpis_ref) == list(kpis_fast)
    for name, value in kpis_ref.items():
        assert value == kpis_fast[name] or (np.isnan(value) and np.isnan(kpis_fast[name])), name
    return ref


@settings(max_examples=examples(200), **SETTINGS)
@given(raw=systems(plans=None, network=None), seed=seeds)
def test_generated_systems_run_in_lockstep(raw, seed):
    """Every feature, each drawn half the time: plans (gates, delivery, wait limits), networks,
    electives, step-up, escalation, either policy when full."""
    assert_lockstep(build(raw), seed)


@settings(max_examples=examples(100), **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_generated_census_starts_run_in_lockstep(data, seed):
    """Census starts: patients in their stay, fit and waiting, in services, blocked, boarding and
    on the list; the reference engine places them, the compiled one takes over."""
    raw = data.draw(systems(plans=None, network=None))
    raw["initial_state"] = data.draw(censuses(raw))
    assert_lockstep(build(raw), seed)


@settings(max_examples=examples(50), **SETTINGS)
@given(raw=systems(plans=True, network=True, services=True), seed=seeds)
def test_generated_networks_with_plans_run_in_lockstep(raw, seed):
    """The hardest mix: onward routes (cascades of blocked patients) under gated plans."""
    assert_lockstep(build(raw), seed)


def test_the_kernel_as_plain_python_runs_in_lockstep():
    """The kernel's source, run by Python rather than compiled (``NUMBA_DISABLE_JIT``): the same
    results again - the code coverage measures is the code that runs - on fewer examples."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "HOSPSIM_LOCKSTEP_EXAMPLES": "15"}
    test = f"{Path(__file__).resolve()}"
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", test, "-k", "generated"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "3 passed" in out.stdout


def test_the_default_footprint_runs_in_lockstep():
    """The whole default config (about 500,000 patients, 1.1 M events), one seed."""
    assert_lockstep(load_config(default_config_path()), 2024)


def test_a_run_that_needs_its_logs_grown_and_later_numbers_drawn():
    """A long network run: the visit log outgrows its first allocation and later visits'
    numbers are drawn depth by depth as the kernel first needs them."""
    cfg = load_config(default_config_path().parent / "stroke_pathway.yaml")
    assert_lockstep(cfg, 7)


def _cells(experiment: str) -> list:
    from hospsim.runs.experiment import load_experiment

    root = Path(__file__).resolve().parents[1]
    path = root / "experiments" / experiment
    return list(load_experiment(path if path.exists() else root / "configs" / experiment).variants)


def test_cells_of_the_44pct_experiment_run_in_lockstep():
    """The plan's hardest cells over their first 900 days (every cell at full length is the slow
    test below): the gated cut with IC on time (its gate opens on the rewritten capacities, on day
    693) and two years late at a quarter of its growth (never opens), and the fixed-date cut late
    (boarding, and from day 720 transfers out at 24 hours and cancellations)."""
    wanted = {
        ("gated", 0, 1.0): "opens",
        ("gated", 730, 0.25): "never opens",
        ("fixed_date", 365, 0.5): "no gate",
    }
    seen = {}
    for v in _cells("swl_44pct.yaml"):
        p = dict(v.params)
        key = (v.scenario, p.get("ic_delay_days"), p.get("ic_growth_achieved"))
        if key in wanted:
            rep = assert_lockstep(v.config.with_overrides({"horizon_days": 900}), 11)
            seen[wanted[key]] = rep.records.gate_open_days.get("acute.beds")
            if key[0] == "fixed_date":
                assert (rep.records.outcome == TRANSFERRED).sum() > 100 and rep.records.times_cancelled.sum() > 100
    assert set(seen) == set(wanted.values())
    assert seen["opens"] is not None and seen["opens"] > 180  # as the ramps reach 95% of their growth
    assert seen["never opens"] is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "experiment", ["swl_44pct.yaml", "stroke_rehab.yaml", "swl_44pct_fast.yaml", "example_experiment.yaml"]
)
def test_every_cell_of_the_bundled_experiments_runs_in_lockstep(experiment):
    for v in _cells(experiment):
        assert_lockstep(v.config, 3)


def test_a_results_folder_made_with_one_engine_reproduces_with_the_other(tmp_path, capsys):
    """End to end, with the real compiled engine: `run --engine fast`, then `reproduce --engine
    simpy` re-runs every replication with the reference and finds every number identical (and
    the other way round for a sweep of the network example)."""
    from hospsim.cli import main

    data = Path(__file__).parent / "data"
    out = tmp_path / "run"
    args = ["run", str(data / "mini_system.yaml"), "-r", "3", "--workers", "2", "--no-progress", "--engine", "fast"]
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["engine"] == "fast"
    capsys.readouterr()
    assert main(["reproduce", str(out), "--engine", "simpy", "--workers", "1", "--no-progress"]) == 0
    assert "all identical (engine simpy)" in capsys.readouterr().out

    sweep = tmp_path / "sweep"
    exp = ["sweep", str(data / "mini_chain_experiment.yaml"), "--out", str(sweep), "--no-progress"]
    assert main([*exp, "--engine", "simpy", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(sweep), "--engine", "fast", "--workers", "2", "--no-progress"]) == 0
    assert "all identical (engine fast)" in capsys.readouterr().out


def test_logs_grown_many_times_keep_the_lockstep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Visit and cancellation logs with room for two at first: the kernel stops to have them
    grown again and again, with the same results."""
    from hospsim.model.fast import driver, state

    sizes: list[tuple[int, int]] = []
    monkeypatch.setattr(state, "log_sizes", lambda n, n_el: sizes.append((n, n_el)) or (2, 2))
    grown = []
    grow_visits = driver.grow_visits
    monkeypatch.setattr(driver, "grow_visits", lambda st: grown.append(st.v_patient.size) or grow_visits(st))
    raw = config_to_dict(load_config(default_config_path()))
    raw.update(horizon_days=150, warmup_days=30)
    raw["acute"].update(beds=1900, max_wait_hours=12)  # full: cancelled electives, transfers
    ref = assert_lockstep(Config.model_validate(raw), 3)
    assert sizes, "the state asked for its log sizes"
    assert len(ref.records.visits) > 1000 and ref.records.cancellation_days.size > 8
    assert grown[:4] == [2, 4, 8, 16] and len(grown) >= 9  # doubled each time, past 1,000 visits
