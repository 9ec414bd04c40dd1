"""The bit-for-bit guard: results must come out identical to those recorded in
``tests/data/guard/reference.json`` (made by ``tests/guard_digest.py`` from ``hospsim run
--replications 3 --seed 5`` on the default config and ``hospsim sweep
experiments/swl_44pct_fast.yaml``). Recorded before the core was restructured (issue 7), and
re-recorded only for a deliberate change of output after checking that every earlier value is
unchanged: the displaced-demand KPIs and daily column (issue 8) added columns and moved none.

The run is checked whole in every CI run; of the sweep, a sample of runs (baseline, a fixed-date
cut and a gated cut, with transfers and gates) is re-run in every CI, and the whole sweep's
files behind the ``slow`` marker. In CI both run on the compiled engine (conftest's
``LONG_RUN_ENGINE``); the same checks on the reference engine are ``slow`` too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import LONG_RUN_ENGINE
from guard_digest import exact_values, file_digest, frame_digest

from hospsim.cli import main
from hospsim.model.engines import SIMPY
from hospsim.runs.experiment import load_experiment
from hospsim.runs.sweep import execute_run

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "tests" / "data" / "guard" / "reference.json").read_text())
FAST_EXPERIMENT = ROOT / "experiments" / "swl_44pct_fast.yaml"
SAMPLED_RUNS = ("baseline#r000", "fixed_date#p006#r001", "gated#p004#r002", "gated#p008#r000")


# Each check on LONG_RUN_ENGINE (conftest: the compiled engine, held to the reference engine's
# trajectories by tests/test_lockstep.py), and on the reference engine itself behind `slow`.
ENGINES = [LONG_RUN_ENGINE] + [pytest.param(SIMPY, marks=pytest.mark.slow)] * (LONG_RUN_ENGINE != SIMPY)


@pytest.mark.parametrize("engine", ENGINES)
def test_default_run_is_bit_identical(tmp_path, engine):
    out = tmp_path / "run"
    args = ["run", "--replications", "3", "--seed", "5", "--engine", engine, "--out", str(out), "--no-progress"]
    assert main(args) == 0
    for name, digest in REFERENCE["run"].items():
        assert file_digest(out / name) == digest, f"{name} changed"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("run_id", SAMPLED_RUNS)
def test_sampled_sweep_runs_are_bit_identical(run_id, engine):
    loaded = load_experiment(FAST_EXPERIMENT)
    spec = next(s for s in loaded.runs() if s.run_id == run_id)
    record, daily = execute_run(spec, engine)
    ref = REFERENCE["sweep_runs"][run_id]
    assert exact_values(record["kpis"]) == ref["kpis"]
    assert frame_digest(pd.DataFrame(record["monthly"])) == ref["monthly"]
    assert frame_digest(daily) == ref["daily"]


def test_reference_covers_every_sweep_run():
    loaded = load_experiment(FAST_EXPERIMENT)
    assert sorted(s.run_id for s in loaded.runs()) == sorted(REFERENCE["sweep_runs"])


@pytest.mark.slow
def test_fast_44pct_sweep_is_bit_identical(tmp_path):
    out = tmp_path / "sweep"
    assert main(["sweep", str(FAST_EXPERIMENT), "--out", str(out), "--no-progress"]) == 0
    for name, digest in REFERENCE["sweep"].items():
        assert file_digest(out / name) == digest, f"{name} changed"
