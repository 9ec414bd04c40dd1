"""The flow engine's plumbing: the ``engine: flow`` key, the DES/flow dispatch, ``run``,
``reproduce``, ``sweep``, ``calibrate``, the refusals (``--patients``, ``synth``, ``backtest``,
cross-kind reproduce and resume) and ``compare-engines``.

Tests that run the flow engine use the fixture ``flow_engine`` (named when a stand-in engine
was used before the real one existed): it now only resets the cached engine check after each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hospsim.cli import main
from hospsim.config import ConfigError, config_hash, load_config
from hospsim.model import engines
from hospsim.model import flow as flow_module
from hospsim.model.cohort import build_candidates
from hospsim.model.kpis import kpi_names
from hospsim.model.streams import Streams
from hospsim.runs.compare import compare_engines

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini_system.yaml"
EXPERIMENT = DATA / "mini_experiment.yaml"


@pytest.fixture
def flow_engine():
    """The real flow engine; the cached check of which engines can run is reset after."""
    yield
    engines.engine_problem.cache_clear()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --- the key and the dispatch ------------------------------------------------------------------


def test_engine_kinds():
    from hospsim.cli import DES_ENGINE_NAMES, ENGINE_NAMES

    assert engines.ENGINES == ENGINE_NAMES == ("simpy", "fast", "flow")
    assert engines.DES_ENGINES == DES_ENGINE_NAMES
    assert [engines.is_des(e) for e in engines.ENGINES] == [True, True, False]
    with pytest.raises(ValueError, match="unknown engine 'des'"):
        engines.is_des("des")


def test_des_path_refuses_the_flow_engine():
    cfg = load_config(MINI, ["engine=flow"])
    cand = build_candidates(cfg, Streams(1))
    with pytest.raises(ValueError, match="simulates no patients"):
        engines.simulate_candidates(cfg, cand)  # the config's engine: flow


def test_engine_flow_key_is_not_hashed():
    simpy, flow = load_config(MINI), load_config(MINI, ["engine=flow"])
    assert flow.engine == "flow"
    assert config_hash(simpy) == config_hash(flow)


def test_bad_engine_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(MINI.read_text() + "engine: flows\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "engine" in str(err.value)
    assert "\n" not in str(err.value)


def test_flow_problem_is_refused_not_replaced(monkeypatch):
    monkeypatch.setattr(flow_module, "flow_engine_problem", lambda: "numba is not installed", raising=False)
    engines.engine_problem.cache_clear()
    try:
        with pytest.raises(engines.EngineUnavailable, match=r"^--engine flow: numba is not installed$"):
            engines.choose_engine("flow", "--engine flow")
        # A recorded flow engine that cannot run is refused: simpy cannot stand in for it.
        with pytest.raises(engines.EngineUnavailable, match=r"^x: numba is not installed$"):
            engines.choose_engine(None, "x", default="flow")
    finally:
        engines.engine_problem.cache_clear()


def _main_without_flow(monkeypatch, argv: list[str]) -> int:
    """``main(argv)`` on a platform where the flow engine cannot be loaded."""
    monkeypatch.setattr(flow_module, "flow_engine_problem", lambda: "numba is not installed", raising=False)
    engines.engine_problem.cache_clear()
    try:
        return main(argv)
    finally:
        engines.engine_problem.cache_clear()


def test_cli_refuses_an_unavailable_flow_engine(monkeypatch, tmp_path, capsys):
    code = _main_without_flow(
        monkeypatch, ["run", str(MINI), "--engine", "flow", "--out", str(tmp_path / "r"), "--no-progress"]
    )
    assert code == 2
    assert capsys.readouterr().err == "hospsim: error: --engine flow: numba is not installed\n"
    assert not (tmp_path / "r").exists()


# --- hospsim run and reproduce -----------------------------------------------------------------


def _run_flow(tmp_path: Path, capsys, *extra: str) -> tuple[Path, str, str]:
    out = tmp_path / "flow"
    code = main(["run", str(MINI), "--engine", "flow", "--out", str(out), "--workers", "1", "--no-progress", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return out, captured.out, captured.err


def test_run_flow_writes_one_deterministic_run(flow_engine, tmp_path, capsys):
    out, stdout, stderr = _run_flow(tmp_path, capsys)
    assert stderr == "hospsim: engine flow is deterministic: one run instead of 10 replications\n"
    assert stdout.startswith("mini: one deterministic flow run of 300 days (warm-up 60)")
    assert "expected patients accounted for" in stdout
    cfg = load_config(MINI)
    flow = flow_module.run_flow(cfg)
    reps = pd.read_csv(out / "replications.csv")
    assert len(reps) == 1 and reps["replication"].tolist() == [0]
    assert reps["mean_occupied_beds"].iloc[0] == pytest.approx(flow.kpis["mean_occupied_beds"], rel=1e-9)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["engine"], manifest["replications"], manifest["events"]) == ("flow", 1, flow.steps)
    assert len(manifest["replication_seeds"]) == 1
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == 300 and daily["occupied_beds_mean"].dtype == np.float64
    np.testing.assert_array_equal(daily["occupied_beds_mean"], flow.daily["occupied_beds_mean"])
    summary = pd.read_csv(out / "summary.csv")
    assert summary["n"].le(1).all() and summary["ci_low"].isna().all()  # no CI from one run (n 0: undefined KPI)


def test_run_flow_refuses_patients(flow_engine, tmp_path, capsys):
    code = main(["run", str(MINI), "--engine", "flow", "--patients", "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert _lines(err) == [err.strip()] and err.startswith(
        "hospsim: error: --patients: the flow engine has no patients"
    )
    assert not (tmp_path / "r").exists()


def test_config_engine_flow_runs_flow(flow_engine, tmp_path, capsys):
    out = tmp_path / "r"
    code = main(
        ["run", str(MINI), "--set", "engine=flow", "-r", "1", "--out", str(out), "--workers", "1", "--no-progress"]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""  # one run asked for: nothing to say
    assert json.loads((out / "manifest.json").read_text())["engine"] == "flow"


def test_reproduce_flow_folder(flow_engine, tmp_path, capsys):
    out, _, _ = _run_flow(tmp_path, capsys)
    assert main(["reproduce", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "reproduced: 1 replications" in capsys.readouterr().out
    for engine in ("simpy", "fast"):
        assert main(["reproduce", str(out), "--engine", engine, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"hospsim: error: --engine {engine}: these results were made by the flow engine (one deterministic "
            "run); a flow folder can only be reproduced with --engine flow\n"
        )


def test_reproduce_des_folder_with_flow_is_refused(flow_engine, tmp_path, capsys):
    out = tmp_path / "des"
    assert main(["run", str(MINI), "-r", "1", "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(out), "--engine", "flow", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hospsim: error: --engine flow: these results were made by the simpy engine")
    assert len(_lines(err)) == 1


def test_flow_run_folder_reads_plots_reports_exports(flow_engine, tmp_path, capsys):
    pytest.importorskip("openpyxl")
    out, _, _ = _run_flow(tmp_path, capsys)
    assert main(["plot", str(out), "--what", "fan,delays,exceedance"]) == 0
    assert main(["report", str(out)]) == 0
    assert main(["export", str(out), "--xlsx"]) == 0
    html = (out / "report.html").read_text()
    assert "1 replications" not in html or "flow engine: deterministic, one run" in html
    assert (out / "plots" / "fan.png").stat().st_size > 10_000


# --- calibrate, synth, backtest -----------------------------------------------------------------


def test_calibrate_with_flow(flow_engine, capsys):
    code = main(["calibrate", str(MINI), "--engine", "flow", "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code in (0, 1)  # targets met or not: the mini system is not England
    assert "against England 2016/17 targets, one deterministic flow run" in captured.out
    assert "of 10 targets met" in captured.out or "targets met" in captured.out


def test_synth_and_backtest_refuse_flow(flow_engine, tmp_path, capsys):
    code = main(["synth", str(MINI), "--engine", "flow", "--years", "0.5", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and len(_lines(err)) == 1
    assert err.startswith("hospsim: error: --engine flow: hospsim synth writes one row per simulated patient")
    assert not (tmp_path / "x.csv").exists()
    code = main(["synth", str(MINI), "--set", "engine=flow", "--years", "0.5", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("hospsim: error: --set engine=flow: engine: hospsim synth")
    extract = tmp_path / "extract.csv"
    code = main(
        ["backtest", str(extract), "--train-until", "2018-01-01", "--engine", "flow", "--out", str(tmp_path / "b")]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(_lines(err)) == 1
    assert "band of replications" in err and not (tmp_path / "b").exists()


# --- sweeps ------------------------------------------------------------------------------------


def _sweep_flow(tmp_path: Path, capsys) -> Path:
    out = tmp_path / "sweep"
    code = main(["sweep", str(EXPERIMENT), "--engine", "flow", "--out", str(out), "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "hospsim: engine flow is deterministic: one run instead of 3 replications per cell" in captured.err
    assert "9 runs (9 scenario cells x 1 run)" in captured.out
    return out


def test_sweep_flow_runs_each_cell_once(flow_engine, tmp_path, capsys):
    out = _sweep_flow(tmp_path, capsys)
    kpis = pd.read_parquet(out / "kpis.parquet")
    assert len(kpis) == 9 and kpis["replication"].eq(0).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == 1 and manifest["runs"] == 9 and manifest["sessions"][-1]["engine"] == "flow"
    cells = pd.read_csv(out / "cells.csv")
    assert cells["n"].eq(1).all() and set(cells["share_holds"].dropna()) <= {0.0, 1.0}
    assert main(["reproduce", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "reproduced: 9 runs" in capsys.readouterr().out


def test_sweep_flow_cells_show_no_interval(flow_engine, tmp_path, capsys):
    out = tmp_path / "sweep"
    main(["sweep", str(EXPERIMENT), "--engine", "flow", "--out", str(out), "--workers", "1", "--no-progress"])
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.strip().startswith(("on time", "3 months late"))]
    assert len(rows) == 8
    assert all(row.rstrip().endswith(("100%", " 0%")) for row in rows), rows  # no "(21-100%)"


def test_sweep_resume_with_other_kind_is_refused(flow_engine, tmp_path, capsys):
    out = _sweep_flow(tmp_path, capsys)
    code = main(["sweep", str(EXPERIMENT), "--engine", "simpy", "--resume", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(_lines(err)) == 1
    assert "holds runs of the flow engine; a sweep cannot mix flow runs with replications" in err
    assert main(["reproduce", str(out), "--engine", "fast", "--no-progress"]) == 2


def test_sweep_flow_refuses_patients(flow_engine, tmp_path, capsys):
    code = main(["sweep", str(EXPERIMENT), "--engine", "flow", "--patients", "--out", str(tmp_path / "s")])
    assert code == 2 and "--patients: the flow engine has no patients" in capsys.readouterr().err


def test_flow_sweep_folder_reads_plots_reports_exports(flow_engine, tmp_path, capsys):
    pytest.importorskip("openpyxl")
    out = _sweep_flow(tmp_path, capsys)
    assert main(["plot", str(out), "--out", str(tmp_path / "p")]) == 0
    figures = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert {"fan.png", "robustness.png", "forest.png"} <= set(figures)
    assert main(["report", str(out)]) == 0
    assert main(["export", str(out), "--xlsx"]) == 0
    assert (out / "report.html").stat().st_size > 50_000 and (out / "results.xlsx").exists()


def test_experiment_engine_flow(flow_engine, tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXPERIMENT.read_text().replace("config: mini_system.yaml", f"config: {MINI}") + "engine: flow\n")
    assert main(["check", str(exp)]) == 0
    assert (
        "  runs: 9 cells x 1 run (engine flow: deterministic, one run per cell) = 9 runs\n" in capsys.readouterr().out
    )
    out = tmp_path / "s"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert json.loads((out / "manifest.json").read_text())["sessions"][-1]["engine"] == "flow"


# --- compare-engines ----------------------------------------------------------------------------


def test_compare_engines_tables(flow_engine):
    cfg = load_config(MINI)
    cmp = compare_engines(cfg, replications=3, des_engine="simpy")
    flow = flow_module.run_flow(cfg.with_overrides({"replications": 3}))
    assert cmp.kpis["kpi"].tolist() == kpi_names(cfg)
    assert cmp.kpis["flow"].tolist() == pytest.approx(list(flow.kpis.values()), nan_ok=True)
    assert set(cmp.kpis.loc[cmp.kpis["variability_only"], "kpi"]) == flow.variability_kpis
    row = cmp.kpis.set_index("kpi").loc["mean_occupied_beds"]
    assert row["n"] == 3 and bool(row["flow_inside_ci"]) == (row["des_ci_low"] <= row["flow"] <= row["des_ci_high"])
    beds = cmp.des.replications["mean_occupied_beds"]
    assert row["des_mean"] == pytest.approx(beds.mean())
    # Daily: 300 days of beds, delayed, step_up and rehab occupancy; quantiles ordered.
    assert cmp.daily.groupby("series").size().to_dict() == {
        "occupied_beds_mean": 300,
        "delayed_patients_mean": 300,
        "rehab_occupied_mean": 300,
        "step_up_occupied_mean": 300,
    }
    q = cmp.daily[["des_q05", "des_q25", "des_q50", "des_q75", "des_q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    d0 = cmp.daily[(cmp.daily["series"] == "occupied_beds_mean")].set_index("day")
    des0 = cmp.des.daily[cmp.des.daily["day"] == 100]["occupied_beds_mean"]
    assert d0.loc[100, "des_mean"] == pytest.approx(des0.mean())
    assert d0.loc[100, "flow"] == flow.daily.set_index("day").loc[100, "occupied_beds_mean"]
    assert d0["capacity"].eq(45.0).all()
    # Where they part, recomputed over the measured days.
    measured = d0.loc[60:299]
    margin = max(1.0, 0.02 * 45)
    assert cmp.parting.margin_beds == margin
    assert cmp.parting.share_days_des_above == pytest.approx(((measured["des_q50"] - measured["flow"]) > margin).mean())
    assert cmp.parting.flow_share_days_full == flow.kpis["share_days_full"]


def test_compare_engines_one_replication_has_no_ci(flow_engine):
    cmp = compare_engines(load_config(MINI), replications=1, des_engine="simpy")
    assert cmp.kpis["des_ci_low"].isna().all() and cmp.kpis["flow_inside_ci"].isna().all()


def test_compare_engines_cli(flow_engine, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(
        [
            "compare-engines",
            str(MINI),
            "-r",
            "3",
            "--engine",
            "simpy",
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 replications of the DES (simpy) beside one flow run" in captured.out
    assert "share_days_full*" in captured.out and "* only exists under variability" in captured.out
    assert "where they part: on " in captured.out
    kpis = pd.read_csv(out / "compare_kpis.csv")
    assert list(kpis.columns) == [
        "kpi", "des_mean", "des_ci_low", "des_ci_high", "n", "flow", "flow_inside_ci", "variability_only",
    ]  # fmt: skip
    assert len(kpis) == len(kpi_names(load_config(MINI)))
    daily = pd.read_parquet(out / "compare_daily.parquet")
    assert len(daily) == 4 * 300
    assert (out / "compare_engines.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".cmp.*"))  # no temporary folder or lock left beside it


def test_compare_engines_refusals(flow_engine, tmp_path, capsys):
    code = main(["compare-engines", str(MINI), "--engine", "flow", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "invalid choice: 'flow'" in err and len(_lines(err)) == 1
    code = main(["compare-engines", str(MINI), "--set", "acute.beds=-1", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "acute.beds" in err and len(_lines(err)) == 1
    (tmp_path / "file").write_text("x")
    code = main(["compare-engines", str(MINI), "-r", "1", "--engine", "simpy", "--out", str(tmp_path / "file")])
    err = capsys.readouterr().err
    assert code == 2 and "is a file" in err


def test_compare_engines_refuses_an_unavailable_flow_engine(monkeypatch, tmp_path, capsys):
    code = _main_without_flow(
        monkeypatch, ["compare-engines", str(MINI), "--engine", "simpy", "--out", str(tmp_path / "c"), "--no-progress"]
    )
    assert code == 2
    assert capsys.readouterr().err == "hospsim: error: flow engine: numba is not installed\n"
    assert not (tmp_path / "c").exists()


def test_api_run_with_flow(flow_engine, tmp_path, capsys):
    import hospsim

    res = hospsim.run(MINI, replications=4, engine="flow", workers=1, progress=False)
    assert "one run instead of 4 replications" in capsys.readouterr().err
    assert res.replications == 1 and len(res.kpis) == 1 and res.manifest["engine"] == "flow"
    with pytest.raises(hospsim.UserError, match=r"^patients: the flow engine has no patients"):
        hospsim.run(MINI, engine="flow", patients=True, workers=1, progress=False)


def test_flow_daily_csv_reproduces(flow_engine, tmp_path, capsys):
    out, _, _ = _run_flow(tmp_path, capsys, "--daily-format", "csv")
    assert (out / "daily.csv").exists()
    assert main(["reproduce", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "all identical (engine flow)" in capsys.readouterr().out
