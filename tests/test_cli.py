"""End-to-end tests of the `hospsim` command (run as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import hospsim_in_process

from hospsim.config import config_hash, load_config
from hospsim.model.engine import run_model
from hospsim.model.kpis import kpis
from hospsim.model.streams import replication_seeds

SMALL = {
    "name": "small-test",
    "start_date": "2017-01-01",
    "horizon_days": 150,
    "warmup_days": 30,
    "replications": 3,
    "seed": 99,
    "acute": {"beds": 40, "when_full": "queue", "escalation": {"beds": 3, "months": [1, 2]}},
    "demand": {
        "emergency": {"per_day": 8.5, "winter": {"amplitude": 0.1}},
        "elective": {"per_weekday": 2, "referrals_per_week": 9, "los": {"dist": "gamma", "mean_days": 3, "cv": 0.8}},
    },
    "groups": {
        "frail": {
            "share": 0.4,
            "los": {"dist": "lognormal", "mean_days": 8, "cv": 1.0},
            "step_up_share": 0.2,
            "pathways": {"home": 0.6, "rehab": 0.4},
        },
        "other": {"share": 0.6, "los": {"dist": "exponential", "mean_days": 3}},
    },
    "services": {
        "step_up": {"capacity": 2, "los": {"dist": "fixed", "mean_days": 5}},
        "rehab": {
            "capacity": {"ramp": {"from": 6, "to": 10, "start_day": 60, "duration_days": 30}},
            "los": {"dist": "lognormal", "mean_days": 12, "cv": 0.6},
        },
    },
}


def hospsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hospsim", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def test_run_writes_results_folder(small_config: Path, tmp_path: Path):
    out = tmp_path / "out"
    res = hospsim("run", str(small_config), "--out", str(out), "--workers", "1", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "mean_occupancy" in res.stdout and "95% CI (n=3)" in res.stdout

    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["kpi", "mean", "ci_low", "ci_high", "n"]
    reps = pd.read_csv(out / "replications.csv")
    assert list(reps.columns[:2]) == ["replication", "seed"]
    assert reps["replication"].tolist() == [0, 1, 2]
    assert reps["seed"].tolist() == replication_seeds(99, 3)
    assert set(summary["kpi"]) == set(reps.columns[2:])
    # The accounting line: every patient of every replication in one end state, none missing.
    line = next(x for x in res.stdout.splitlines() if "patients accounted for" in x)
    total = int(line.split()[1].replace(",", ""))
    parts = [int(p.split()[0].replace(",", "")) for p in line.split(": ", 1)[1].split(" + ")]
    cfg = load_config(small_config)
    assert total == sum(parts) == sum(len(run_model(cfg, s).cohort) for s in replication_seeds(99, 3))
    for name in [
        "rehab_mean_occupied",
        "rehab_utilisation",
        "rehab_p_wait",
        "rehab_mean_wait_days",
        "step_up_p_wait",
        "waits_over_12h_per_1000",
        "share_days_no_bed",
    ]:
        assert name in set(summary["kpi"])
    # The summary is the mean of the replications, with a CI around it.
    s = summary.set_index("kpi")
    assert s.loc["mean_occupied_beds", "mean"] == pytest.approx(reps["mean_occupied_beds"].mean(), rel=1e-9)
    assert (
        s.loc["mean_occupied_beds", "ci_low"]
        < s.loc["mean_occupied_beds", "mean"]
        < s.loc["mean_occupied_beds", "ci_high"]
    )
    # No summer days in a January-May run: that KPI is undefined, not zero.
    assert s.loc["mean_occupancy_summer", "n"] == 0 and pd.isna(s.loc["mean_occupancy_summer", "mean"])
    assert (s.drop(index="mean_occupancy_summer")["n"] == 3).all()

    # Each replication's KPIs are reproducible from its seed alone.
    cfg = load_config(small_config)
    again = kpis(cfg, run_model(cfg, int(reps["seed"][1])))
    assert again["acute_bed_days"] == pytest.approx(reps["acute_bed_days"][1], rel=1e-9)

    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == 3 * 150
    for col in [
        "replication",
        "day",
        "date",
        "occupied_beds_mean",
        "occupied_beds_midnight",
        "beds_capacity",
        "delayed_patients_mean",
        "boarding_queue_mean",
        "emergency_admissions",
        "admissions_avoided",
        "elective_cancellations",
        "refused_admissions",
        "rehab_occupied_mean",
        "rehab_capacity",
        "rehab_queue_mean",
        "escalation_beds_in_use",
    ]:
        assert col in daily.columns
    first = daily[daily["replication"] == 0]
    assert first["date"].iloc[0] == "2017-01-01" and first["date"].iloc[-1] == "2017-05-30"
    # Capacity follows the schedules: escalation beds in Jan/Feb, rehab ramp 6 -> 10.
    assert first["beds_capacity"].iloc[0] == 43 and first["beds_capacity"].iloc[100] == 40
    assert (
        first["rehab_capacity"].iloc[0] == 6
        and first["rehab_capacity"].iloc[75] == 8
        and first["rehab_capacity"].iloc[120] == 10
    )
    # KPIs agree with the daily table over the measured days.
    measured = first[~first["warmup"]]
    assert measured["occupied_beds_mean"].sum() == pytest.approx(reps["acute_bed_days"][0], rel=1e-9)

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config_hash"] == config_hash(cfg)
    assert manifest["root_seed"] == 99 and manifest["replication_seeds"] == replication_seeds(99, 3)
    assert manifest["config"]["acute"]["beds"] == {"constant": 40.0}
    for key in ["versions", "started_at", "finished_at", "wall_seconds", "git_revision"]:
        assert key in manifest
    assert manifest["versions"]["numpy"] and manifest["versions"]["scipy"] and manifest["events"] > 0


def test_same_seed_same_files_whatever_the_workers(small_config: Path, tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert hospsim("run", str(small_config), "--out", str(a), "--workers", "1", "--no-progress").returncode == 0
    assert hospsim("run", str(small_config), "--out", str(b), "--workers", "2", "--no-progress").returncode == 0
    for name in ["summary.csv", "replications.csv", "daily.parquet"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["config"] == mb["config"] and ma["replication_seeds"] == mb["replication_seeds"]


def test_seed_and_overrides_change_the_run(small_config: Path, tmp_path: Path):
    out = tmp_path / "o"
    res = hospsim(
        "run",
        str(small_config),
        "--out",
        str(out),
        "--no-progress",
        "--workers",
        "1",
        "--seed",
        "7",
        "-r",
        "2",
        "--set",
        "acute.beds=35",
        "--set",
        "services.rehab.capacity=12",
        "--daily-format",
        "csv",
    )
    assert res.returncode == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["root_seed"] == 7 and manifest["replications"] == 2
    assert manifest["config"]["acute"]["beds"] == {"constant": 35.0}
    daily = pd.read_csv(out / "daily.csv")
    assert set(daily["rehab_capacity"]) == {12}
    assert not (out / "daily.parquet").exists()


def test_check_accepts_good_config(small_config: Path):
    res = hospsim("check", str(small_config))
    assert res.returncode == 0
    assert "OK" in res.stdout and "small-test" in res.stdout


def test_check_and_run_default_config_after_install(tmp_path: Path):
    res = hospsim("check")
    assert res.returncode == 0, res.stderr
    assert "footprint" in res.stdout
    res = hospsim(
        "run",
        "-r",
        "1",
        "--set",
        "horizon_days=240",
        "--set",
        "warmup_days=60",
        "--no-progress",
        "--out",
        str(tmp_path / "d"),
    )
    assert res.returncode == 0, res.stderr
    reps = pd.read_csv(tmp_path / "d" / "replications.csv")
    assert 300 < reps["emergency_arrivals"][0] / 180 < 400


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda c: c["groups"]["frail"].update(loss=3), "groups.frail.loss"),
        (lambda c: c["services"]["rehab"].update(capacity=-5), "services.rehab.capacity"),
        (lambda c: c["groups"]["frail"].update(share=0.5), "groups"),
        (lambda c: c["groups"]["frail"]["los"].update(cv=0), "groups.frail.los.cv"),
        (lambda c: c.update(warmup_days=400), "warmup_days"),
        (lambda c: c["groups"]["frail"]["pathways"].update(rehab=0.5), "groups.frail.pathways"),
        (lambda c: c["acute"].update(when_full="divert"), "acute.when_full"),
        (lambda c: c.update(horizon_days="long"), "horizon_days"),
    ],
)
def test_bad_config_gives_one_line_naming_file_and_field(tmp_path: Path, mutate, field):
    raw = yaml.safe_load(yaml.safe_dump(SMALL))
    mutate(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    for command in ("check", "run"):  # in this process: the other tests here run the real command
        res = (
            hospsim_in_process(command, str(path), "--out", str(tmp_path / "x"))
            if command == "run"
            else hospsim_in_process(command, str(path))
        )
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert str(path) in lines[0] and field in lines[0]
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()


def test_missing_file_malformed_yaml_and_bad_override(tmp_path: Path, small_config: Path):
    res = hospsim("check", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "nope.yaml: file not found" in res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nacute: [1, 2\n")
    res = hospsim("check", str(bad))
    assert (
        res.returncode == 2
        and f"{bad}: line 3, column 1: malformed YAML" in res.stderr
        and len(res.stderr.strip().splitlines()) == 1
    )
    res = hospsim("check", str(small_config), "--set", "acute.beds.ramp=3")
    assert res.returncode == 2 and "acute.beds" in res.stderr
    res = hospsim("check", str(small_config), "--set", "acute.bedz=3")
    assert res.returncode == 2 and "acute.bedz: unknown key" in res.stderr
    res = hospsim("run", str(small_config), "--workers", "0")
    assert res.returncode == 2 and "--workers" in res.stderr


def test_version_and_help():
    res = hospsim("--version")
    assert res.returncode == 0 and res.stdout.startswith("hospsim ")
    res = hospsim()
    assert res.returncode == 2 and "run" in res.stdout


def test_run_into_a_used_folder_replaces_it_whole(small_config: Path, tmp_path: Path):
    out = tmp_path / "o"
    common = ("run", str(small_config), "--out", str(out), "--workers", "1", "--no-progress")
    assert hospsim(*common).returncode == 0
    res = hospsim(*common, "-r", "2", "--seed", "7", "--daily-format", "csv")
    assert res.returncode == 0, res.stderr
    # Only the second run's files: no Parquet table of the first, no temporary files.
    assert sorted(p.name for p in out.iterdir()) == ["daily.csv", "manifest.json", "replications.csv", "summary.csv"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replication_seeds"] == replication_seeds(7, 2)
    assert pd.read_csv(out / "replications.csv")["seed"].tolist() == replication_seeds(7, 2)
    assert sorted(set(pd.read_csv(out / "daily.csv")["replication"])) == [0, 1]
    res = hospsim("reproduce", str(out), "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "reproduced: 2 replications" in res.stdout and "all identical" in res.stdout


def test_sweep_scheduler_needs_dask_and_nothing_is_written(tmp_path: Path):
    experiment = Path(__file__).parent / "data" / "mini_experiment.yaml"
    res = hospsim("sweep", str(experiment), "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.strip() == "hospsim: error: --scheduler: only with --backend dask"
    assert not (tmp_path / "o").exists()
