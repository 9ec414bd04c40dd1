"""hospsim backtest (issue 12): fit on an extract's past, start from its census, compare."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hospsim.analysis.census import census_from_extract
from hospsim.config import config_from_dict
from hospsim.config.extract import read_extract
from hospsim.runs.backtest import SERIES, backtest, observed_series
from hospsim.runs.synth import synth_extract, write_extract

MINI = Path(__file__).resolve().parent / "data" / "mini_system.yaml"


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> tuple[Path, object]:
    """Two years of a mid-sized system with a community service (step-up off), as an extract."""
    raw = yaml.safe_load(MINI.read_text())
    raw["acute"]["beds"] = 120
    raw["demand"]["emergency"]["per_day"] = 20
    raw["services"]["rehab"]["capacity"] = 45
    raw["services"]["rehab"]["assessment"] = {"dist": "lognormal", "mean_days": 2, "cv": 0.8}
    cfg = config_from_dict(raw, "<bt>")
    path = tmp_path_factory.mktemp("bt") / "extract.parquet"
    write_extract(synth_extract(cfg, 2.0, 7), path)
    return path, cfg


def test_the_census_from_an_extract_is_the_extracts_state(extract):
    path, _ = extract
    ex = read_extract(path)
    ep = ex.episodes
    a, d, f = (ep[c].to_numpy(float) for c in ("admission_days", "discharge_days", "medically_fit_days"))
    # A moment with patients fit and waiting in their beds (a few a day in this system).
    at = next(t for t in np.arange(300.0, 700.0, 3.5) if np.any((a < t) & ~(d <= t) & (f <= t)))
    cfg_raw = yaml.safe_load(MINI.read_text())
    cfg = config_from_dict(cfg_raw, "<mini>")
    census, notes = census_from_extract(cfg, ex.episodes, at)
    admit, discharge = ex.episodes["admission_days"].to_numpy(float), ex.episodes["discharge_days"].to_numpy(float)
    in_bed = int(np.sum((admit < at) & ~(discharge <= at)))
    assert len(census["acute"]) == in_bed > 50
    fit = [a for a in census["acute"] if "fit_elapsed_days" in a]
    assert fit and all(a["waiting_for"] == "rehab" and a["fit_elapsed_days"] <= a["elapsed_days"] for a in fit)
    start, end = ex.episodes["service_start_days"].to_numpy(float), ex.episodes["service_end_days"].to_numpy(float)
    assert len(census["services"]) == int(np.sum((start <= at) & ~(end <= at))) > 10
    # The census is a valid initial_state of the config.
    cfg_raw.update(initial_state=census, warmup_days=0)
    assert len(config_from_dict(cfg_raw, "<census>").initial_state.acute) == in_bed
    assert notes == [] or all("not yet fit" in n or "left out" in n for n in notes)


def test_the_observed_series_count_the_extract(extract):
    path, _ = extract
    ex = read_extract(path)
    obs = observed_series(ex.episodes, 300.0, 30)
    admit = ex.episodes["admission_days"].to_numpy(float)
    assert obs["admissions"].sum() == np.sum((admit >= 300) & (admit < 330))
    assert 60 < obs["occupied_beds"].mean() <= 120


def test_a_backtest_of_the_models_own_extract_covers_what_followed(extract):
    """Fitted on 18 months, started from the census then, the simulation's 5-95% band holds the
    observed occupancy and delayed patients on most days (a wrong start - an empty hospital - does
    not: the first weeks fall outside)."""
    path, _ = extract
    ex = read_extract(path)
    until = ex.start_date + dt.timedelta(days=548)
    bt = backtest(path, until, replications=12, seed=3)
    assert len(bt.daily) == (ex.end_date - until).days
    assert set(bt.coverage) == set(SERIES)
    # Coverage of a 5-95% band is ~90% only on average over many windows: delayed patients
    # wander in long excursions, so one half-year sees fewer, independent days.
    assert bt.coverage["occupied_beds"] >= 0.7, bt.coverage
    assert bt.coverage["admissions"] >= 0.6, bt.coverage
    assert bt.coverage["delayed_patients"] >= 0.5, bt.coverage
    # And no bias beyond what the fit's documented approximations explain (the assessment fitted
    # from fit-to-discharge includes the waits for a place: a few beds too many).
    d = bt.daily
    for name, tolerance in (("occupied_beds", 0.06), ("admissions", 0.03), ("delayed_patients", 0.25)):
        assert d[f"{name}_sim_median"].mean() == pytest.approx(d[name].mean(), rel=tolerance), name
    # The simulation starts full: day 0's simulated occupancy is near the observed, not near 0.
    first = bt.daily.iloc[0]
    assert first["occupied_beds_sim_median"] == pytest.approx(first["occupied_beds"], rel=0.1)


def test_the_backtest_command_writes_its_table_and_figure(extract, tmp_path):
    path, _ = extract
    ex = read_extract(path)
    until = ex.start_date + dt.timedelta(days=600)
    out = tmp_path / "bt"
    run = subprocess.run(
        [sys.executable, "-m", "hospsim", "backtest", str(path), "--train-until", str(until), "-r", "4",
         "--out", str(out), "--workers", "1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "observed inside the simulated 5-95% band on" in run.stdout
    table = pd.read_csv(out / "backtest.csv")
    assert {"occupied_beds", "occupied_beds_sim_p5", "occupied_beds_sim_p95"} <= set(table.columns)
    assert (out / "backtest.png").stat().st_size > 10_000
    bad = subprocess.run(
        [sys.executable, "-m", "hospsim", "backtest", str(path), "--train-until", "1999-01-01", "--out", str(tmp_path / "x")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "--train-until: 1999-01-01 is not inside the extract's period" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_fit_from_census_starts_where_the_extract_ends(extract, tmp_path):
    """`hospsim fit --from-census`: the config starts on the extract's last day + 1 ("this
    morning") from the census the extract shows then, written beside it as CSV."""
    from hospsim.config import load_config

    path, _ = extract
    ex = read_extract(path)
    out = tmp_path / "mine.yaml"
    run = subprocess.run(
        [sys.executable, "-m", "hospsim", "fit", str(path), "--out", str(out), "--from-census"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    cfg = load_config(out)
    assert cfg.start_date == ex.end_date and cfg.warmup_days == 0
    admit, discharge = ex.episodes["admission_days"].to_numpy(float), ex.episodes["discharge_days"].to_numpy(float)
    still_in = int(np.sum(np.isnan(discharge) & (admit < ex.n_days)))
    assert len(cfg.initial_state.acute) == still_in > 50
    assert (tmp_path / "mine_census.csv").read_text().startswith("place,group,elapsed_days")
    ran = subprocess.run(
        [sys.executable, "-m", "hospsim", "run", str(out), "-r", "2", "--out", str(tmp_path / "r"), "--no-progress",
         "--set", "horizon_days=30"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "in an acute bed" in ran.stdout


def test_a_census_writes_and_reads_back_the_same(tmp_path):
    from hospsim.config.census import census_csv_text, read_census

    state = {
        "acute": [{"group": "frail", "elapsed_days": 4.5}, {"group": "frail", "elapsed_days": 9.0, "fit_elapsed_days": 1.25, "waiting_for": "rehab"}],
        "services": [{"service": "rehab", "elapsed_days": 3.0}, {"service": "rehab", "elapsed_days": 30.0, "finished_elapsed_days": 2.0, "waiting_for": "care"}],
        "boarding": [{"group": "other", "elapsed_days": 0.2}],
        "waiting_list": [{"priority": "routine", "elapsed_days": 40.0}],
    }  # fmt: skip
    (tmp_path / "c.csv").write_text(census_csv_text(state))
    assert read_census(tmp_path / "c.csv") == state
