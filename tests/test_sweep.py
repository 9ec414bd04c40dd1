"""Experiments and sweeps end to end: files, determinism across workers and backends, resume
after a kill, reproduce, CRN pairing, and bad experiment files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hospsim.cli import main
from hospsim.config import ConfigError
from hospsim.config.experiment import Sweep, design_points
from hospsim.runs.errors import ResultsError
from hospsim.runs.experiment import load_experiment
from hospsim.runs.reproduce import reproduce
from hospsim.runs.sweep import run_sweep

DATA = Path(__file__).parent / "data"
EXPERIMENT = DATA / "mini_experiment.yaml"
TABLES = ["kpis.csv", "summary.csv", "paired_differences.csv", "verdicts.csv"]


def hospsim(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hospsim", *args], capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The mini experiment run once, serially, uninterrupted."""
    out = tmp_path_factory.mktemp("ref") / "out"
    run_sweep(load_experiment(EXPERIMENT), out, workers=1)
    return out


def assert_same_results(a: Path, b: Path) -> None:
    for name in TABLES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(a / "kpis.parquet"), pd.read_parquet(b / "kpis.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(a / "daily.parquet"), pd.read_parquet(b / "daily.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(a / "monthly.parquet"), pd.read_parquet(b / "monthly.parquet"))


def test_sweep_writes_tidy_tables(reference: Path):
    loaded = load_experiment(EXPERIMENT)
    assert len(loaded.variants) == 1 + 2 * 4  # baseline + 2 scenarios x 2x2 grid
    kpis = pd.read_parquet(reference / "kpis.parquet")
    assert len(kpis) == 9 * 3 and kpis["run_id"].is_unique
    assert set(kpis["scenario"]) == {"baseline", "fixed_date", "gated"}
    assert {"param_ic_delay_days", "param_ic_growth_achieved"} <= set(kpis.columns)
    # Every scenario sees the same replication seeds (common random numbers).
    seeds = kpis.groupby(["scenario", "point"])["seed"].apply(tuple)
    assert seeds.nunique() == 1
    daily = pd.read_parquet(reference / "daily.parquet")
    assert len(daily) == 27 * 300
    assert list(daily.columns[:4]) == ["run_id", "scenario", "point", "replication"]
    # The plan happens: fixed-date cut to 36 beds on day 150 in every fixed-date run.
    fixed = daily[daily["scenario"] == "fixed_date"]
    assert set(fixed[fixed["day"] == 149]["beds_capacity"]) == {45}
    assert set(fixed[fixed["day"] == 150]["beds_capacity"]) == {36}
    # IC delivery: 90-day delay moves the rehab ramp; half growth reaches 19 (16 + 0.5 * 6).
    late_half = daily[(daily["scenario"] == "fixed_date") & (daily["point"] == 2)]  # delay 90, achieved 0.5
    assert late_half[late_half["day"] == 299]["rehab_capacity"].iloc[0] == 19
    assert late_half[late_half["day"] == 150]["rehab_capacity"].iloc[0] == 16
    # Gated cut: never happens when rehab only reaches 19 < 22, happens when it reaches 22.
    gated = kpis[kpis["scenario"] == "gated"].set_index(["point", "replication"])
    assert (gated.loc[0, "gate_acute_beds_opened"] == 0).all()  # delay 0, achieved 0.5
    assert (gated.loc[1, "gate_acute_beds_open_day"] == 97).all()  # 16 + 6 * 37/40 = 21.55 rounds to 22 on day 97
    assert (gated.loc[3, "gate_acute_beds_open_day"] == 187).all()  # 90 days later

    verdicts = pd.read_csv(reference / "verdicts.csv")
    assert {
        "scenario",
        "point",
        "criterion",
        "share_holds",
        "ci_low",
        "ci_high",
        "n",
        "first_breach_month_median",
    } <= set(verdicts.columns)
    assert len(verdicts) == 8 * 4  # 8 plan cells x (3 criteria + all)
    assert ((verdicts["ci_low"] <= verdicts["share_holds"]) & (verdicts["share_holds"] <= verdicts["ci_high"])).all()
    summary = pd.read_csv(reference / "summary.csv")
    assert {"scenario", "point", "kpi", "mean", "ci_low", "ci_high", "n"} <= set(summary.columns)
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["complete"] and manifest["runs"] == 27 and len(manifest["cells"]) == 9
    assert manifest["experiment_hash"] == loaded.hash
    assert all(len(c["config_hash"]) == 64 for c in manifest["cells"])


def test_paired_differences_beat_unpaired(reference: Path):
    """Common random numbers: the variance of paired differences is far below the unpaired one."""
    from hospsim.model.engine import run_model
    from hospsim.model.kpis import kpis as kpis_of
    from hospsim.model.streams import replication_seeds

    loaded = load_experiment(EXPERIMENT)
    base_cfg = loaded.variants[0].config
    plan_cfg = next(v.config for v in loaded.variants if v.scenario == "gated" and v.point == 1)
    window = loaded.window(base_cfg)
    seeds = replication_seeds(11, 12)
    base = np.array([kpis_of(base_cfg, run_model(base_cfg, s), window)["acute_bed_days"] for s in seeds])
    plan = np.array([kpis_of(plan_cfg, run_model(plan_cfg, s), window)["acute_bed_days"] for s in seeds])
    other = np.array([kpis_of(plan_cfg, run_model(plan_cfg, s + 1), window)["acute_bed_days"] for s in seeds])
    assert plan.mean() < base.mean()  # the plan removes bed days
    paired = np.var(plan - base, ddof=1)
    unpaired = np.var(other - base, ddof=1)  # same comparison on independent patients
    assert paired < 0.5 * unpaired

    kpis = pd.read_parquet(reference / "kpis.parquet")
    b = kpis[kpis["scenario"] == "baseline"].sort_values("replication")["acute_bed_days"].to_numpy()
    p = (
        kpis[(kpis["scenario"] == "gated") & (kpis["point"] == 1)]
        .sort_values("replication")["acute_bed_days"]
        .to_numpy()
    )
    diffs = pd.read_csv(reference / "paired_differences.csv")
    row = diffs[(diffs["scenario"] == "gated") & (diffs["point"] == 1) & (diffs["kpi"] == "acute_bed_days")].iloc[0]
    assert row["difference"] == pytest.approx(np.mean(p - b))
    assert row["ci_low"] < row["difference"] < row["ci_high"]


def test_two_workers_give_identical_results(reference: Path, tmp_path: Path):
    out = tmp_path / "w2"
    run_sweep(load_experiment(EXPERIMENT), out, workers=2)
    assert_same_results(reference, out)


def test_dask_backend_gives_identical_results(reference: Path, tmp_path: Path):
    pytest.importorskip("dask.distributed", reason="needs Dask: pip install '.[dask]' (CI installs it)")
    out = tmp_path / "dask"
    run_sweep(load_experiment(EXPERIMENT), out, workers=2, backend="dask")
    assert_same_results(reference, out)


def _start_and_kill(out: Path, sig: int, at_least: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hospsim",
            "sweep",
            str(EXPERIMENT),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell that runs jobs in the background (as CI may) leaves SIGINT ignored, and Python
        # keeps an inherited SIG_IGN: give the sweep the default disposition, as in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list((out / "runs").glob("*.json"))) >= at_least:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_sweep_resumes_to_identical_results(reference: Path, tmp_path: Path, sig: int):
    out = tmp_path / "killed"
    proc = _start_and_kill(out, sig, at_least=4)
    done = len(list((out / "runs").glob("*.json")))
    assert 4 <= done < 27, "the sweep should have been stopped part-way"
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "--resume" in proc.stderr.read()
    # Without --resume the folder is protected.
    res = hospsim("sweep", str(EXPERIMENT), "--out", str(out), "--workers", "1", "--no-progress")
    assert res.returncode == 2 and "--resume" in res.stderr
    res = hospsim("sweep", str(EXPERIMENT), "--out", str(out), "--workers", "2", "--no-progress", "--resume")
    assert res.returncode == 0, res.stderr
    assert f"{done} already done" in res.stdout
    assert_same_results(reference, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["sessions"]) == 2


def test_resume_refuses_a_different_experiment(reference: Path, tmp_path: Path):
    changed = yaml.safe_load(EXPERIMENT.read_text())
    changed["replications"] = 2
    path = DATA / "_changed_experiment.yaml"
    try:
        path.write_text(yaml.safe_dump(changed))
        with pytest.raises(ResultsError, match="different experiment"):
            run_sweep(load_experiment(path), reference, resume=True)
    finally:
        path.unlink()


def test_reproduce_sweep_and_detect_tampering(reference: Path, tmp_path: Path):
    res = hospsim("reproduce", str(reference), "--sample", "4", "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "reproduced: 4 runs" in res.stdout and "all identical" in res.stdout
    tampered = tmp_path / "tampered"
    subprocess.run(["cp", "-r", str(reference), str(tampered)], check=True)
    kpis = pd.read_parquet(tampered / "kpis.parquet")
    kpis.loc[0, "acute_bed_days"] += 1.0
    kpis.to_parquet(tampered / "kpis.parquet", index=False)
    report = reproduce(tampered, sample=1)  # the first run is the tampered one
    assert not report.ok and "acute_bed_days" in report.mismatches[0]


def test_reproduce_a_run_folder(tmp_path: Path):
    out = tmp_path / "run"
    assert hospsim("run", str(DATA / "mini_system.yaml"), "-r", "2", "--out", str(out), "--no-progress").returncode == 0
    res = hospsim("reproduce", str(out), "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "reproduced: 2 replications" in res.stdout


def test_sweep_cli_prints_verdicts(reference: Path, tmp_path: Path):
    res = hospsim("sweep", str(EXPERIMENT), "--out", str(tmp_path / "cli"), "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert "question: Does a 20% bed cut hold" in res.stdout
    assert "all criteria" in res.stdout and "first breach" in res.stdout
    assert "runs" in res.stderr  # the progress bar
    assert_same_results(reference, tmp_path / "cli")


# --- design points ---------------------------------------------------------------------------


def test_scenario_extends_another(tmp_path: Path):
    raw = yaml.safe_load(EXPERIMENT.read_text())
    raw["config"] = str(DATA / "mini_system.yaml")
    raw["scenarios"]["gated"] = {
        "extends": "fixed_date",
        "overrides": {
            "acute.beds": {
                "steps": [[0, 45], [150, 36]],
                "gate": {"service_capacity_at_least": {"service": "rehab", "places": 22}},
            }
        },
    }
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(raw))
    extended = {(v.scenario, v.point): v.config for v in load_experiment(path).variants}
    original = {(v.scenario, v.point): v.config for v in load_experiment(EXPERIMENT).variants}
    assert extended == original  # same plan levers inherited, own bed schedule on top


def test_grid_lhs_and_sobol_designs():
    grid = Sweep.model_validate(
        {"parameters": {"a": {"path": "x", "values": [1, 2, 3]}, "b": {"path": "y", "values": [0.5, 1]}}}
    )
    pts = design_points(grid, seed=1)
    assert len(pts) == 6 and pts[0] == {"a": 1, "b": 0.5} and pts[-1] == {"a": 3, "b": 1}
    for method in ("lhs", "sobol"):
        sw = Sweep.model_validate(
            {
                "method": method,
                "samples": 8,
                "parameters": {
                    "a": {"path": "x", "low": 0, "high": 730, "integer": True},
                    "b": {"path": "y", "low": 0.25, "high": 1.0},
                },
            }
        )
        p1, p2 = design_points(sw, seed=3), design_points(sw, seed=3)
        assert p1 == p2 and len(p1) == 8
        assert all(isinstance(p["a"], int) and 0 <= p["a"] <= 730 and 0.25 <= p["b"] <= 1.0 for p in p1)
        assert design_points(sw, seed=4) != p1
    # A Latin hypercube puts exactly one point in each of the 8 strata of each parameter.
    lhs = Sweep.model_validate(
        {"method": "lhs", "samples": 8, "parameters": {"b": {"path": "y", "low": 0.0, "high": 1.0}}}
    )
    strata = sorted(int(p["b"] * 8) for p in design_points(lhs, seed=9))
    assert strata == list(range(8))


def test_designs_are_the_scipy_designs_they_name():
    """lhs and sobol are scipy.stats.qmc's seeded designs, scaled to the ranges."""
    from scipy.stats import qmc

    sw = Sweep.model_validate(
        {"method": "sobol", "samples": 4, "parameters": {"a": {"path": "x", "low": 2.0, "high": 6.0}}}
    )
    expected = qmc.scale(qmc.Sobol(d=1, scramble=True, seed=5).random(4), [2.0], [6.0])[:, 0]
    assert [p["a"] for p in design_points(sw, seed=5)] == expected.tolist()


def test_a_new_sampling_method_is_one_registry_entry(monkeypatch):
    from hospsim.config.sweep_methods import SAMPLING_METHODS, SamplingMethod

    def corners(d: int, n: int, seed: int) -> np.ndarray:
        return np.tile([0.0, 0.999], (n + 1) // 2)[:n, None].repeat(d, axis=1)

    monkeypatch.setitem(SAMPLING_METHODS, "corners", SamplingMethod("corners", "both ends", corners))
    sw = Sweep.model_validate(
        {"method": "corners", "samples": 3, "parameters": {"a": {"path": "x", "low": 0.0, "high": 10.0}}}
    )
    assert [p["a"] for p in design_points(sw, seed=1)] == pytest.approx([0.0, 9.99, 0.0])


def test_an_unknown_sweep_method_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown method 'latin' \(methods: grid, lhs, sobol\)"):
        Sweep.model_validate({"method": "latin", "samples": 3, "parameters": {"a": {"path": "x", "low": 0, "high": 1}}})


# --- bad experiment files --------------------------------------------------------------------


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(EXPERIMENT.read_text())
    raw["config"] = str(DATA / "mini_system.yaml")
    mutate(raw)
    path = tmp_path / "bad_experiment.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda r: r["sweep"]["parameters"]["ic_delay_days"].update(path="plan_delivery.ic_delay_dayz"),
            "plan_delivery.ic_delay_dayz: unknown key",
        ),
        (lambda r: r["sweep"].update(parameters={}), "sweep.parameters"),
        (
            lambda r: r["sweep"]["parameters"]["ic_delay_days"].update(values=[]),
            "sweep.parameters.ic_delay_days.values",
        ),
        (
            lambda r: r["sweep"].update(
                method="lhs", samples=4, parameters={"d": {"path": "plan_delivery.ic_delay_days", "low": 10, "high": 5}}
            ),
            "low must be < high",
        ),
        (
            lambda r: r["sweep"]["parameters"]["ic_growth_achieved"].update(values=[0.5, 3.0]),
            "plan_delivery.ic_growth_achieved",
        ),
        (lambda r: r["scenarios"]["gated"]["overrides"].update({"acute.bedz": 3}), "acute.bedz: unknown key"),
        (lambda r: r["criteria"].append({"kpi": "bed_dayz", "at_most": 1}), "criteria.3.kpi: unknown KPI 'bed_dayz'"),
        (lambda r: r["criteria"].append({"kpi": "acute_bed_days"}), "criteria.3"),
        (lambda r: r.update(config="nope.yaml"), "config: file not found"),
        (lambda r: r.update(replications=0), "replications"),
        (lambda r: r.update(window={"start_day": 200, "end_day": 900}), "window.end_day"),
        (lambda r: r.update(colour="red"), "colour: unknown key"),
        (lambda r: r["sweep"].update(scenarios=["nope"]), "sweep.scenarios"),
        (lambda r: r["scenarios"]["gated"].update(extends="nope"), "scenarios.gated.extends: no scenario 'nope'"),
        (
            lambda r: (
                r["scenarios"]["gated"].update(extends="fixed_date"),
                r["scenarios"]["fixed_date"].update(extends="gated"),
            ),
            "circular",
        ),
    ],
)
def test_bad_experiment_gives_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate, expected: str):
    """``hospsim sweep``'s entry point, in this process: a new interpreter per case (as before)
    cost ~2.5 s each to start and import, and checked nothing more than the test below, which
    runs one case as a real ``python -m hospsim`` process (exit status, stderr)."""
    path = _write(tmp_path, mutate)
    code = main(["sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("hospsim: error: ")
    assert str(path) in lines[0] and expected in lines[0], lines[0]
    assert not (tmp_path / "o").exists()


def test_bad_experiment_in_a_real_process_exits_2_with_one_line(tmp_path: Path):
    path = _write(tmp_path, lambda r: r["criteria"].append({"kpi": "bed_dayz", "at_most": 1}))
    res = hospsim("sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith(f"hospsim: error: {path}: ") and "criteria.3.kpi: unknown KPI 'bed_dayz'" in res.stderr
    assert not (tmp_path / "o").exists()


# --- the bundled experiments ------------------------------------------------------------------

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def test_bundled_experiments_are_valid_and_fast_extends_full():
    full = load_experiment(EXPERIMENTS / "swl_44pct.yaml")
    fast = load_experiment(EXPERIMENTS / "swl_44pct_fast.yaml")
    assert len(full.variants) == 1 + 2 * 20 and len(full.seeds) == 10
    assert len(fast.variants) == 1 + 2 * 9 and len(fast.seeds) == 3
    assert full.seeds[:3] == fast.seeds  # same root seed: the fast run is a subset of the full one
    # Same base (experiment-level overrides applied) and same plan, scenario by scenario.
    assert full.variants[0].config == fast.variants[0].config
    assert full.variants[0].config.horizon_days == 1461
    full_cells = {
        (v.scenario, dict(v.params).get("ic_delay_days"), dict(v.params).get("ic_growth_achieved")): v.config
        for v in full.variants
    }
    for v in fast.variants:
        p = dict(v.params)
        assert full_cells[(v.scenario, p.get("ic_delay_days"), p.get("ic_growth_achieved"))] == v.config
    gated = next(v.config for v in full.variants if v.scenario == "gated")
    assert [c.service_capacity_at_least.service for c in gated.acute.beds.gate] == [
        "step_up",
        "home_support",
        "rehab_bed",
    ]
    fixed = next(v.config for v in full.variants if v.scenario == "fixed_date")
    assert (
        fixed.acute.beds.gate is None
        and fixed.groups["frail_older"].los_multiplier == gated.groups["frail_older"].los_multiplier
    )


def test_experiment_extends_a_file(tmp_path: Path):
    child = tmp_path / "child.yaml"
    child.write_text(
        yaml.safe_dump(
            {
                "extends": str(EXPERIMENT),
                "name": "child",
                "replications": 2,
                "sweep": {"parameters": {"ic_delay_days": {"values": [30]}}},
            }
        )
    )
    loaded = load_experiment(child)
    assert loaded.experiment.name == "child" and len(loaded.seeds) == 2
    delays = {dict(v.params)["ic_delay_days"] for v in loaded.variants if v.params}
    assert delays == {30}
    # The base config path stays relative to the parent's folder.
    assert loaded.base_source == str((DATA / "mini_system.yaml").resolve())
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\nname: x\n")
    with pytest.raises(ConfigError, match="circular"):
        load_experiment(tmp_path / "loop.yaml")
