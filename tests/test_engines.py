"""Choosing the engine: the config and experiment key, ``--engine`` on every command that
simulates, the engine recorded in results folders, and graceful degradation when the compiled
engine cannot run here.

The compiled engine itself is stood in for by a fake ``hospsim.model.fast`` module that runs the
reference engine and counts its calls, and that can say it cannot run (as the real one does
without numba): these tests are about which engine runs, not about the compiled one (that is
``tests/test_lockstep.py``).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from hospsim.cli import main
from hospsim.config import Config, ConfigError, config_from_dict, config_hash, config_to_dict, load_config
from hospsim.model import engine as reference
from hospsim.model import engines
from hospsim.runs.experiment import load_experiment
from hospsim.runs.replications import run_config

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "mini_system.yaml"
EXPERIMENT = DATA / "mini_experiment.yaml"
PROBLEM = "engine fast needs numba, which could not be imported (No module named 'numba'); use engine: simpy"


class FakeFast(types.ModuleType):
    """A stand-in for ``hospsim.model.fast``: the reference engine, with its calls counted."""

    def __init__(self, problem: str | None = None) -> None:
        super().__init__("hospsim.model.fast")
        self.problem = problem
        self.runs: list[int] = []  # the seeds it simulated
        self.problem_checks = 0

    def fast_engine_problem(self) -> str | None:
        self.problem_checks += 1
        return self.problem

    def run_model_fast(self, cfg, replication_seed):
        self.runs.append(replication_seed)
        return reference.run_model(cfg, replication_seed)

    def simulate_candidates_fast(self, cfg, cand):
        self.runs.append(cand.replication_seed)
        return reference.simulate_candidates(cfg, cand)

    def warm_up(self) -> None:
        self.warmed_up = True


def install(monkeypatch, problem: str | None = None) -> FakeFast:
    fake = FakeFast(problem)
    monkeypatch.setitem(sys.modules, "hospsim.model.fast", fake)
    engines.engine_problem.cache_clear()  # asked once per process: forget the real answer
    return fake


@pytest.fixture(autouse=True)
def _fresh_engine_answers():
    engines.engine_problem.cache_clear()
    yield
    engines.engine_problem.cache_clear()


def mini(**over) -> Config:
    raw = yaml.safe_load(CONFIG.read_text())
    raw.update(horizon_days=120, warmup_days=20, replications=2, **over)
    return config_from_dict(raw, "<mini>")


# --- the config key --------------------------------------------------------------------------


def test_engine_key_defaults_to_simpy_and_is_not_hashed():
    simpy, fast = load_config(CONFIG), load_config(CONFIG, ["engine=fast"])
    assert (simpy.engine, fast.engine) == ("simpy", "fast")
    assert config_hash(simpy) == config_hash(fast)
    # The default is not written: manifests of folders written before the key read the same.
    assert "engine" not in config_to_dict(simpy) and config_to_dict(fast)["engine"] == "fast"
    assert config_hash(load_config(CONFIG, ["engine=simpy"])) == config_hash(simpy)


def test_a_bad_engine_is_one_line_naming_the_field():
    with pytest.raises(ConfigError) as err:
        load_config(CONFIG, ["engine=numba"])
    assert str(err.value) == "--set engine=numba: engine: Input should be 'simpy', 'fast' or 'flow'"


# --- run_model -------------------------------------------------------------------------------


def test_run_model_runs_the_engine_asked_for(monkeypatch):
    fake = install(monkeypatch)
    cfg = mini()
    ref = engines.run_model(cfg, 11)
    assert fake.runs == []  # the config's default: simpy
    engines.run_model(cfg, 11, "fast")
    assert fake.runs == [11]
    engines.run_model(mini(engine="fast"), 12)  # the config's engine
    assert fake.runs == [11, 12]
    engines.run_model(mini(engine="fast"), 13, "simpy")  # the argument wins
    assert fake.runs == [11, 12]
    assert fake.problem_checks == 1  # asked once per process
    direct = reference.run_model(cfg, 11)  # simpy is the reference engine itself
    np.testing.assert_array_equal(ref.records.admit_days, direct.records.admit_days)
    np.testing.assert_array_equal(ref.records.outcome, direct.records.outcome)


def test_run_model_refuses_an_engine_that_cannot_run(monkeypatch):
    fake = install(monkeypatch, PROBLEM)
    with pytest.raises(engines.EngineUnavailable) as err:
        engines.run_model(mini(), 1, "fast")
    assert str(err.value) == PROBLEM and fake.runs == []
    assert isinstance(err.value, RuntimeError)
    assert engines.run_model(mini(), 1).records.events > 0  # simpy still works


def test_choose_engine(monkeypatch):
    install(monkeypatch, PROBLEM)
    assert engines.choose_engine("simpy", "--engine simpy") == engines.EngineChoice("simpy")
    with pytest.raises(engines.EngineUnavailable, match=r"^--engine fast: engine fast needs numba"):
        engines.choose_engine("fast", "--engine fast")
    fallback = engines.choose_engine(None, "", default="fast")
    assert fallback == engines.EngineChoice(
        "simpy",
        "engine fast unavailable (engine fast needs numba, which could not be imported "
        "(No module named 'numba')); using simpy",
    )


def test_without_the_compiled_package_fast_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "hospsim.model.fast", None)  # import fails, as if absent
    problem = engines.engine_problem("fast")
    assert problem is not None and problem.startswith("engine fast is not part of this installation")


# --- hospsim run -----------------------------------------------------------------------------


def test_run_default_is_simpy_and_the_flag_picks_fast(monkeypatch, tmp_path, capsys):
    fake = install(monkeypatch)
    args = ["run", str(CONFIG), "-r", "2", "--set", "horizon_days=120", "--workers", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert fake.runs == []
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["engine"] == "simpy"
    assert main([*args, "--engine", "fast", "--out", str(tmp_path / "b")]) == 0
    assert len(fake.runs) == 2
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["engine"] == "fast" and "engine" not in manifest["config"]
    for name in ("replications.csv", "summary.csv", "daily.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_run_refuses_fast_asked_for_when_unavailable(monkeypatch, tmp_path, capsys):
    fake = install(monkeypatch, PROBLEM)
    out = tmp_path / "r"
    code = main(["run", str(CONFIG), "--engine", "fast", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"hospsim: error: --engine fast: {PROBLEM}\n"
    assert not out.exists() and fake.runs == []
    # Asked for by the config file: the line names the file and the field.
    written = tmp_path / "fast.yaml"
    written.write_text(CONFIG.read_text() + "engine: fast\n")
    assert main(["run", str(written), "--out", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err == f"hospsim: error: {written}: engine: {PROBLEM}\n"
    assert main(["run", str(CONFIG), "--set", "engine=fast", "--out", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err == f"hospsim: error: --set engine=fast: engine: {PROBLEM}\n"
    assert not out.exists()


# --- hospsim sweep ---------------------------------------------------------------------------


def small_experiment(tmp_path: Path, **extra) -> Path:
    """The mini experiment, one replication and no sweep (5 runs' worth is enough here)."""
    raw = yaml.safe_load(EXPERIMENT.read_text())
    raw.update(config=str(CONFIG), replications=1, **extra)
    raw.pop("sweep")
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def sweep_args(exp: Path, out: Path, *more: str) -> list[str]:
    return ["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress", *more]


def test_sweep_defaults_to_fast(monkeypatch, tmp_path, capsys):
    assert engines.SWEEP_DEFAULT_ENGINE == "fast"
    fake = install(monkeypatch)
    exp = small_experiment(tmp_path)
    assert main(sweep_args(exp, tmp_path / "f")) == 0
    assert len(fake.runs) == 3 and capsys.readouterr().err == ""
    assert json.loads((tmp_path / "f" / "manifest.json").read_text())["sessions"][-1]["engine"] == "fast"
    assert main(sweep_args(exp, tmp_path / "s", "--engine", "simpy")) == 0
    assert len(fake.runs) == 3
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["sessions"][-1]["engine"] == "simpy"
    for name in ("kpis.csv", "summary.csv", "verdicts.csv"):
        assert (tmp_path / "f" / name).read_bytes() == (tmp_path / "s" / name).read_bytes(), name


def test_sweep_default_falls_back_to_simpy_in_one_line(monkeypatch, tmp_path, capsys):
    fake = install(monkeypatch, PROBLEM)
    assert main(sweep_args(small_experiment(tmp_path), tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert err == (
        "hospsim: engine fast unavailable (engine fast needs numba, which could not be imported "
        "(No module named 'numba')); using simpy\n"
    )
    assert fake.runs == []
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["sessions"][-1]["engine"] == "simpy"


@pytest.mark.parametrize("where", ["flag", "experiment", "base config"])
def test_sweep_refuses_fast_asked_for_when_unavailable(monkeypatch, tmp_path, capsys, where):
    install(monkeypatch, PROBLEM)
    out = tmp_path / "out"
    if where == "flag":
        exp, more, named = small_experiment(tmp_path), ["--engine", "fast"], "--engine fast"
    elif where == "experiment":
        exp, more = small_experiment(tmp_path, engine="fast"), []
        named = f"{exp}: engine"
    else:
        base = tmp_path / "base.yaml"
        base.write_text(CONFIG.read_text() + "engine: fast\n")
        exp, more = small_experiment(tmp_path), []
        raw = yaml.safe_load(exp.read_text())
        exp.write_text(yaml.safe_dump({**raw, "config": str(base)}))
        named = f"{base.resolve()}: engine"
    assert main(sweep_args(exp, out, *more)) == 2
    assert capsys.readouterr().err == f"hospsim: error: {named}: {PROBLEM}\n"
    assert not out.exists()  # nothing ran, nothing written


def test_sweep_engine_follows_flag_then_experiment_then_base_config(monkeypatch, tmp_path):
    from hospsim.runs.sweep import sweep_engine

    install(monkeypatch)
    plain = load_experiment(small_experiment(tmp_path))
    assert sweep_engine(plain).engine == "fast"
    assert sweep_engine(plain, "simpy").engine == "simpy"
    named = load_experiment(small_experiment(tmp_path, engine="simpy"))
    assert sweep_engine(named).engine == "simpy" and sweep_engine(named, "fast").engine == "fast"
    base = tmp_path / "base.yaml"
    base.write_text(CONFIG.read_text() + "engine: simpy\n")
    raw = yaml.safe_load(small_experiment(tmp_path).read_text())
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({**raw, "config": str(base)}))
    assert sweep_engine(load_experiment(tmp_path / "exp.yaml")).engine == "simpy"


def test_experiment_engine_is_not_part_of_its_hash_and_not_an_override(tmp_path):
    plain = load_experiment(small_experiment(tmp_path))
    assert load_experiment(small_experiment(tmp_path, engine="fast")).hash == plain.hash
    raw = yaml.safe_load(small_experiment(tmp_path).read_text())
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**raw, "overrides": {"engine": "fast"}}))
    with pytest.raises(ConfigError) as err:
        load_experiment(tmp_path / "bad.yaml")
    assert str(err.value) == (
        f"{tmp_path / 'bad.yaml'}: overrides.engine: an experiment ignores the config's engine; "
        "set `engine:` at the top of the experiment"
    )


def test_a_sweep_resumes_with_the_other_engine(monkeypatch, tmp_path):
    fake = install(monkeypatch)
    exp = small_experiment(tmp_path)
    out = tmp_path / "out"
    assert main(sweep_args(exp, out, "--engine", "simpy")) == 0
    assert main(sweep_args(exp, out, "--engine", "fast", "--resume")) == 0
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert [s["engine"] for s in sessions] == ["simpy", "fast"] and fake.runs == []  # nothing left to run


# --- hospsim reproduce: the cross-check of the engines ---------------------------------------


def test_reproduce_with_the_other_engine(monkeypatch, tmp_path, capsys):
    fake = install(monkeypatch)
    out = tmp_path / "run"
    args = ["run", str(CONFIG), "-r", "2", "--set", "horizon_days=120", "--workers", "1", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(out), "--workers", "1", "--no-progress"]) == 0
    assert fake.runs == [] and "all identical (engine simpy)" in capsys.readouterr().out
    assert main(["reproduce", str(out), "--engine", "fast", "--workers", "1", "--no-progress"]) == 0
    assert len(fake.runs) == 2 and "all identical (engine fast)" in capsys.readouterr().out


def test_reproduce_reruns_with_the_recorded_engine_or_falls_back(monkeypatch, tmp_path, capsys):
    fake = install(monkeypatch)
    exp = small_experiment(tmp_path)
    out = tmp_path / "sweep"
    assert main(sweep_args(exp, out)) == 0  # made with fast (the sweep default)
    assert main(["reproduce", str(out), "--workers", "1", "--no-progress"]) == 0
    assert len(fake.runs) == 6 and "(engine fast)" in capsys.readouterr().out
    fake.problem = PROBLEM
    engines.engine_problem.cache_clear()
    assert main(["reproduce", str(out), "--workers", "1", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("hospsim: engine fast unavailable (engine fast needs numba")
    assert "all identical (engine simpy)" in captured.out and len(fake.runs) == 6
    assert main(["reproduce", str(out), "--engine", "fast", "--no-progress"]) == 2
    assert capsys.readouterr().err == f"hospsim: error: --engine fast: {PROBLEM}\n"


# --- the other commands that simulate ----------------------------------------------------------


def test_run_config_and_api_take_an_engine(monkeypatch):
    import hospsim

    fake = install(monkeypatch)
    out = run_config(mini(), workers=1, engine="fast")
    assert out.engine == "fast" and len(fake.runs) == 2
    res = hospsim.run(mini(), workers=1, progress=False, engine="fast")
    assert res.manifest["engine"] == "fast" and len(fake.runs) == 4


def test_synth_and_calibrate_take_the_flag(monkeypatch, tmp_path, capsys):
    fake = install(monkeypatch)
    extract = tmp_path / "x.csv"
    assert main(["synth", str(CONFIG), "--years", "0.2", "--out", str(extract), "--engine", "fast"]) == 0
    assert len(fake.runs) == 1
    fake.problem = PROBLEM
    engines.engine_problem.cache_clear()
    assert main(["calibrate", str(CONFIG), "-r", "1", "--engine", "fast", "--no-progress"]) == 2
    assert capsys.readouterr().err == f"hospsim: error: --engine fast: {PROBLEM}\n"
