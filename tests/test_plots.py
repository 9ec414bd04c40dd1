"""Figures checked on content, not pixels: what each figure draws equals the results tables
(quantiles recomputed from daily.parquet, capacity from beds_capacity, the robustness map from
verdicts.csv, the forest plot from paired_differences.csv), and output files are deterministic."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.text
import numpy as np
import pandas as pd
import pytest

from hospsim.cli import main
from hospsim.config import ConfigError, UserError, load_config
from hospsim.outputs import plots
from hospsim.outputs.errors import OptionError
from hospsim.outputs.labels import Labels, kpi_value, percent
from hospsim.outputs.pathway import acute_routes, onward_words, pathway_order, pathway_steps
from hospsim.outputs.plots.pathway import _curve, _routes, layout
from hospsim.outputs.selection import select_cells
from hospsim.runs.errors import ResultsError
from hospsim.runs.experiment import load_experiment
from hospsim.runs.replications import run_config
from hospsim.runs.results import Results, load_results, on_time_point
from hospsim.runs.store import build_manifest, write_results
from hospsim.runs.sweep import run_sweep

DATA = Path(__file__).parent / "data"
PCTS = [5, 25, 50, 75, 95]


def mini_sweep(tmp_path_factory) -> Path:
    """The mini experiment, run once per test session (shared with test_report.py)."""
    out = tmp_path_factory.getbasetemp() / "hospsim-mini-sweep"
    if not (out / "verdicts.csv").exists():
        shutil.rmtree(out, ignore_errors=True)
        run_sweep(load_experiment(DATA / "mini_experiment.yaml"), out, workers=1)
    return out


def mini_run(tmp_path_factory) -> Path:
    """`hospsim run` of the mini system, 3 replications, once per test session."""
    import datetime as dt

    out = tmp_path_factory.getbasetemp() / "hospsim-mini-run"
    if not (out / "manifest.json").exists():
        cfg = load_config(DATA / "mini_system.yaml", ["replications=3"])
        now = dt.datetime.now(dt.UTC)
        output = run_config(cfg, workers=1)
        manifest = build_manifest(cfg, str(DATA / "mini_system.yaml"), output.seeds, now, now, 1, output.events)
        write_results(out, output.summary, output.replications, output.daily, manifest)
    return out


def elective_sweep(tmp_path_factory) -> Path:
    """The mini system with electives: baseline and a bed cut, 3 replications of 240 days (~2 s)."""
    out = tmp_path_factory.getbasetemp() / "hospsim-mini-electives"
    if not (out / "kpis.parquet").exists():
        shutil.rmtree(out, ignore_errors=True)
        run_sweep(load_experiment(DATA / "mini_electives.yaml"), out, workers=1)
    return out


def chain_sweep(tmp_path_factory) -> Path:
    """The mini chain (acute -> rehab -> home / home care (unlimited) / care home) with two plans,
    2 replications, once per test session (shared with test_report_pathway.py)."""
    out = tmp_path_factory.getbasetemp() / "hospsim-mini-chain"
    if not (out / "kpis.parquet").exists():
        shutil.rmtree(out, ignore_errors=True)
        run_sweep(load_experiment(DATA / "mini_chain_experiment.yaml"), out, workers=1)
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    return mini_sweep(tmp_path_factory)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return mini_run(tmp_path_factory)


@pytest.fixture(scope="module")
def sweep(sweep_dir) -> Results:
    return load_results(sweep_dir)


def daily_of(folder: Path, scenario: str | None = None, point: int | None = None) -> pd.DataFrame:
    d = pd.read_parquet(folder / "daily.parquet")
    if scenario is not None:
        d = d[(d["scenario"] == scenario) & (d["point"] == point)]
    return d


def table(d: pd.DataFrame, column: str) -> pd.DataFrame:
    return d.pivot(index="day", columns="replication", values=column).sort_index()


def band_edges(collection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, lower and upper edge of a fill_between band (from its polygon's vertices)."""
    verts = np.concatenate([p.vertices for p in collection.get_paths()])
    frame = pd.DataFrame(verts, columns=["x", "y"]).groupby("x")["y"]
    return frame.min().index.to_numpy(), frame.min().to_numpy(), frame.max().to_numpy()


def rolling_mean(values: np.ndarray, days: int) -> np.ndarray:
    """Centred ``days``-day mean, over the days there are at the ends (written out, not pandas)."""
    half = days // 2
    return np.array([values[max(0, j - half) : j + half + 1].mean() for j in range(len(values))])


def assert_fan(fig, gid: str, values: pd.DataFrame, wide: bool = True, median_days: int = 0) -> None:
    """The median line and the bands of ``gid`` equal the quantiles of ``values`` (day x rep);
    with ``median_days``, the line is the centred rolling mean of the daily median."""
    q = np.percentile(values.to_numpy(dtype=float), PCTS, axis=1)
    assert np.all(np.diff(q, axis=0) >= 0)  # 5% <= 25% <= median <= 75% <= 95%
    median = plots.find(fig, f"{gid}-median")
    expected = rolling_mean(q[2], median_days) if median_days > 1 else q[2]
    np.testing.assert_allclose(median.get_ydata(), expected, rtol=1e-12, atol=1e-9)
    bands = [("band50", 1, 3)] + ([("band90", 0, 4)] if wide else [])
    for name, lo, hi in bands:
        x, low, high = band_edges(plots.find(fig, f"{gid}-{name}"))
        assert len(x) == values.shape[0]
        np.testing.assert_allclose(low, q[lo], rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(high, q[hi], rtol=1e-12, atol=1e-9)
        assert np.all(low <= q[2] + 1e-9)
        assert np.all(high >= q[2] - 1e-9)


# --- choosing cells --------------------------------------------------------------------------


def test_default_cells_are_baseline_and_each_scenario_on_time(sweep):
    assert sweep.kind == "sweep" and sweep.window == (200, 300)
    assert on_time_point(sweep) == 1  # ic_delay_days=0, ic_growth_achieved=1.0
    cells = select_cells(sweep)
    assert [(c.scenario, c.point) for c in cells] == [("baseline", -1), ("fixed_date", 1), ("gated", 1)]
    assert [c.key for c in select_cells(sweep, ["gated"], 2)] == ["baseline", "gated#p002"]


# --- fan chart -------------------------------------------------------------------------------


def test_fan_chart_bands_capacity_and_events_match_the_tables(sweep, sweep_dir):
    cells = select_cells(sweep)
    fig = plots.fan_chart(sweep, cells)
    kpis = pd.read_parquet(sweep_dir / "kpis.parquet")
    for i, cell in enumerate(cells):
        d = daily_of(sweep_dir, cell.scenario, cell.point)
        assert_fan(fig, f"fan-{i}", table(d, "occupied_beds_mean"), median_days=plots.SMOOTH_DAYS)
        cap = table(d, "beds_capacity")
        assert (cap.nunique(axis=1) == 1).all()  # same schedule in every replication here
        line = plots.find(fig, f"fan-{i}-capacity")
        assert line.get_drawstyle() == "steps-post"
        np.testing.assert_array_equal(line.get_ydata(), cap[0].to_numpy())
        np.testing.assert_allclose(plots.find(fig, f"fan-{i}-cap85").get_ydata(), 0.85 * cap[0].to_numpy())
        np.testing.assert_allclose(plots.find(fig, f"fan-{i}-cap92").get_ydata(), 0.92 * cap[0].to_numpy())
        # x is the calendar: day 0 is the config's start date
        x = np.asarray(line.get_xdata())
        assert x[0] == np.datetime64("2017-04-01") and len(x) == 300
        texts = [t.get_text() for t in fig.axes[i].texts]
        if cell.scenario == "baseline":
            assert not any("beds cut" in t for t in texts)
        else:
            assert "beds cut: 45 \u2192 36" in texts  # the plan's cut on day 150
            assert np.flatnonzero(np.diff(cap[0].to_numpy()))[0] + 1 == 150
        # gate openings: one marker per replication at gate_acute_beds_open_day
        markers = [ln for ln in fig.axes[i].lines if ln.get_marker() == "^"]
        open_days = kpis[(kpis["scenario"] == cell.scenario) & (kpis["point"] == cell.point)]
        open_days = open_days.get("gate_acute_beds_open_day", pd.Series(dtype=float)).dropna()
        if cell.scenario == "gated":
            assert len(markers) == 1 and len(open_days) == 3
            expected = np.datetime64("2017-04-01") + open_days.to_numpy().astype(int).astype("timedelta64[D]")
            np.testing.assert_array_equal(np.asarray(markers[0].get_xdata()), expected)
        else:
            assert not markers and open_days.empty
    # display names, not slugs: the shared sweep point once in the title, scenarios by name
    assert fig._suptitle.get_text() == (
        "Acute beds occupied\nIntermediate care on time, intermediate care growth 100% of plan; 3 replications"
    )
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Baseline", "Fixed date", "Gated"]


def test_bed_events_group_a_ramp_and_tell_replications_apart():
    days = pd.Index(range(10), name="day")
    same = pd.DataFrame({0: [5, 5, 4, 3, 3, 3, 3, 3, 3, 3], 1: [5, 5, 4, 3, 3, 3, 3, 3, 3, 3]}, index=days)
    (ev,) = plots.bed_events(same)
    assert (ev.first_day, ev.last_day, ev.before, ev.after, ev.replication) == (2, 3, 5, 3, None)
    varied = pd.DataFrame({0: [5, 5, 3, 3, 3, 3, 3, 3, 3, 3], 1: [5, 5, 5, 5, 5, 5, 3, 3, 3, 3]}, index=days)
    evs = plots.bed_events(varied)
    assert [(e.replication, e.first_day) for e in evs] == [(0, 2), (1, 6)]


def test_fan_chart_of_a_run_folder(run_dir):
    res = load_results(run_dir)
    assert res.kind == "run" and res.window == (60, 300)
    fig = plots.fan_chart(res, smooth_days=0)
    d = pd.read_parquet(run_dir / "daily.parquet")
    assert_fan(fig, "fan-0", table(d, "occupied_beds_mean"))
    np.testing.assert_array_equal(plots.find(fig, "fan-0-capacity").get_ydata(), table(d, "beds_capacity")[0])


# --- delays, services, exceedance ------------------------------------------------------------


def test_delays_chart_matches_daily_and_weekly_totals(sweep, sweep_dir):
    cells = select_cells(sweep)
    fig = plots.delays_chart(sweep, cells)
    for i, cell in enumerate(cells):
        d = daily_of(sweep_dir, cell.scenario, cell.point)
        assert_fan(fig, f"delays-delayed-{i}", table(d, "delayed_patients_mean"), wide=False)
        for tag, col in (("wait4", "waits_over_4h"), ("wait12", "waits_over_12h")):
            t = table(d, col)
            weeks = t.iloc[: len(t) // 7 * 7].groupby(np.arange(len(t) // 7 * 7) // 7).sum()
            assert_fan(fig, f"delays-{tag}-{i}", weeks, wide=False)
            x = np.asarray(plots.find(fig, f"delays-{tag}-{i}-median").get_xdata())
            assert x[1] - x[0] == np.timedelta64(7, "D")


def test_services_chart_occupancy_capacity_and_waiting_list(sweep, sweep_dir):
    cells = select_cells(sweep)
    fig = plots.services_chart(sweep, cells)
    for i, cell in enumerate(cells):
        d = daily_of(sweep_dir, cell.scenario, cell.point)
        for svc in ("step_up", "rehab"):
            assert_fan(fig, f"svc-{svc}-{i}", table(d, f"{svc}_occupied_mean"))
            cap = table(d, f"{svc}_capacity")
            np.testing.assert_array_equal(plots.find(fig, f"svc-{svc}-{i}-capacity").get_ydata(), cap[0])
        assert_fan(fig, f"queue-rehab-{i}", table(d, "rehab_queue_mean"), wide=False)
    # the plan's rehab ramp 16 -> 22 shows in the scenarios' capacity line
    assert plots.find(fig, "svc-rehab-1-capacity").get_ydata().max() == 22
    assert plots.find(fig, "svc-rehab-0-capacity").get_ydata().max() == 16


def test_exceedance_curve_agrees_with_the_kpis(sweep, sweep_dir, run_dir):
    kpis = pd.read_parquet(sweep_dir / "kpis.parquet")
    cells = select_cells(sweep)
    fig = plots.exceedance_chart(sweep, cells)
    for i, cell in enumerate(cells):
        line = plots.find(fig, f"exceed-{i}")
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        k = kpis[(kpis["scenario"] == cell.scenario) & (kpis["point"] == cell.point)]
        for level, kpi in ((85, "share_days_over_85pct"), (92, "share_days_over_92pct")):
            j = int(np.argmin(np.abs(x - level)))
            assert y[j] == pytest.approx(100 * k[kpi].mean(), abs=1e-9)
        assert np.all(np.diff(y) <= 1e-12)  # share above a level never rises with the level
    res = load_results(run_dir)
    reps = pd.read_csv(run_dir / "replications.csv")
    line = plots.find(plots.exceedance_chart(res), "exceed-0")
    j = int(np.argmin(np.abs(np.asarray(line.get_xdata()) - 85)))
    # replications.csv keeps 10 significant digits
    assert line.get_ydata()[j] == pytest.approx(100 * reps["share_days_over_85pct"].mean(), rel=1e-9)


# --- the elective waiting list ----------------------------------------------------------------


def monthly_median(d: pd.DataFrame, num: str, den: str, scale: float = 1.0) -> pd.Series:
    """Per calendar month of ``date``: the median across replications of sum(num) / sum(den)."""
    month = pd.to_datetime(d["date"]).dt.to_period("M").rename("month")
    sums = d.groupby([month, d["replication"]])[[num, den]].sum()
    ratio = scale * sums[num] / sums[den].where(sums[den] > 0)
    return ratio.groupby(level="month").median()


def test_waiting_list_figure_matches_daily(tmp_path_factory):
    folder = elective_sweep(tmp_path_factory)
    res = load_results(folder)
    cells = select_cells(res)
    assert [c.key for c in cells] == ["baseline", "bed_cut"]
    fig = plots.waiting_list_chart(res, cells)
    for i, cell in enumerate(cells):
        d = daily_of(folder, cell.scenario, cell.point)
        assert_fan(fig, f"wl-list-{i}", table(d, "elective_waiting_list"))
        for tag, num, den, scale in (
            ("share", "elective_waiting_over_18_weeks", "elective_waiting_list", 1.0),
            ("cancel", "elective_cancellations", "elective_booked", 1000.0),
        ):
            expected = monthly_median(d, num, den, scale)
            line = plots.find(fig, f"wl-{tag}-{i}-median")
            assert line.get_drawstyle() == "steps-post"
            y = np.asarray(line.get_ydata(), dtype=float)
            np.testing.assert_allclose(y[:-1], expected.to_numpy(), rtol=1e-12)
            assert y[-1] == y[-2]  # the last month drawn to its end
            x = np.asarray(line.get_xdata()).astype("datetime64[D]")
            starts = expected.index.to_timestamp().to_numpy().astype("datetime64[D]")
            np.testing.assert_array_equal(x[:-1], starts)
            assert x[0] == np.datetime64("2017-04-01") and x[-1] == np.datetime64("2017-12-01")
    # the list grows after the plan's bed cut, and more of it waits over 18 weeks
    base, cut = (plots.find(fig, f"wl-list-{i}-median").get_ydata() for i in (0, 1))
    assert cut[-1] > base[-1]
    standard = plots.find(fig, "wl-standard")
    assert list(standard.get_ydata()) == [0.08, 0.08]
    share_ax = fig.axes[1]
    assert "18-week standard: 92% within 18 weeks" in [t.get_text() for t in share_ax.texts]
    assert share_ax.get_ylabel() == "share waiting over 18 weeks"
    assert share_ax.yaxis.get_major_formatter()(0.08, 0) == "8%"
    assert fig.axes[0].get_ylabel() == "patients on the list"
    assert "beds cut: 45 \u2192 36" in [t.get_text() for t in fig.axes[0].texts]
    assert fig._suptitle.get_text() == "Elective waiting list\n3 replications"


def test_waiting_list_without_electives_is_not_drawn(sweep, run_dir, tmp_path):
    # not offered: `--what all` and the report leave it out, `--what waiting_list` says why
    assert "waiting_list" not in plots.available(sweep)
    with pytest.raises(OptionError, match="no elective demand"):
        plots.parse_what(["waiting_list"], load_results(run_dir))
    # drawn directly: a figure that says so, no empty frames
    fig = plots.waiting_list_chart(sweep)
    assert not fig.axes
    assert fig.texts[0].get_text().startswith("No elective demand (demand.elective)")


# --- robustness map and forest plot ----------------------------------------------------------


def test_robustness_map_equals_verdicts(sweep, sweep_dir):
    verdicts = pd.read_csv(sweep_dir / "verdicts.csv")
    fig = plots.robustness_map(sweep)
    allv = verdicts[verdicts["criterion"] == "all criteria"]
    for scen in ("fixed_date", "gated"):
        mesh = plots.find(fig, f"robust-{scen}")
        g = allv[allv["scenario"] == scen].pivot(
            index="param_ic_growth_achieved", columns="param_ic_delay_days", values="share_holds"
        )
        np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(g.shape), g.to_numpy())
    # axes in the units the question is asked in: months late, % of the planned growth
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["Intermediate care (months late)"] * 2
    assert fig.axes[0].get_ylabel() == "Intermediate care growth (% of plan achieved)"


def test_robustness_map_orientation_with_distinct_shares(sweep):
    """Shares that differ by cell land where they belong: x = first parameter, y = second."""
    res = load_results(sweep.path)
    v = res.verdicts.copy()
    v["share_holds"] = v["share_holds"].astype(float)
    rows = v["criterion"] == "all criteria"
    v.loc[rows, "share_holds"] = (v.loc[rows, "point"] + 1) / 10 + (v.loc[rows, "scenario"] == "gated") * 0.5
    res.verdicts = v
    fig = plots.robustness_map(res)
    mesh = np.asarray(plots.find(fig, "robust-fixed_date").get_array()).reshape(2, 2)
    # points: 0 (delay 0, growth 0.5), 1 (0, 1.0), 2 (90, 0.5), 3 (90, 1.0); rows = growth, cols = delay
    np.testing.assert_allclose(mesh, [[0.1, 0.3], [0.2, 0.4]])
    gated = np.asarray(plots.find(fig, "robust-gated").get_array()).reshape(2, 2)
    np.testing.assert_allclose(gated, [[0.6, 0.8], [0.7, 0.9]])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "3"]  # 90 days: 3 months late
    assert [t.get_text() for t in ax.get_yticklabels()] == ["50%", "100%"]
    # only gated's 0.9 (3 months late, in full: top right) holds in 90%: outlined along its 4 edges
    with pytest.raises(KeyError):
        plots.find(fig, "robust-fixed_date-holds")
    segments = plots.find(fig, "robust-gated-holds").get_segments()
    assert sorted(tuple(map(tuple, s.round(6))) for s in segments) == [
        ((0.5, 0.5), (0.5, 1.5)),
        ((0.5, 0.5), (1.5, 0.5)),
        ((0.5, 1.5), (1.5, 1.5)),
        ((1.5, 0.5), (1.5, 1.5)),
    ]
    # every label sits at a cell's centre, clear of the outline on the cell edges
    for t in fig.axes[1].texts:
        x, y = t.get_position()
        assert abs(x - round(x)) <= 0.2 and abs(y - round(y)) <= 0.2
    assert [ax.get_title(loc="right") for ax in fig.axes[:2]] == [
        "0 of 4 cells hold (\u2265 90%)",
        "1 of 4 cells hold (\u2265 90%)",
    ]


def test_forest_plot_equals_paired_differences(sweep, sweep_dir):
    paired = pd.read_csv(sweep_dir / "paired_differences.csv")
    fig = plots.forest_plot(sweep)
    data = plots.forest_data(sweep)
    assert list(dict.fromkeys(data["kpi"]))[:3] == ["acute_bed_days", "mean_occupancy", "waits_over_12h_per_1000"]
    assert list(dict.fromkeys(data.loc[data["criterion"], "kpi"]))[:3] == list(dict.fromkeys(data["kpi"]))[:3]
    for i, scen in enumerate(["fixed_date", "gated"]):
        container = next(c for c in fig.axes[0].containers if c.lines[0].get_gid() == f"forest-{i}")
        x = np.asarray(container.lines[0].get_xdata())
        p = paired[(paired["scenario"] == scen) & (paired["point"] == 1)].set_index("kpi")
        shown = data[(data["scenario"] == scen) & data["relative"]]
        expected = (p.loc[shown["kpi"], "difference"] / p.loc[shown["kpi"], "baseline_mean"].abs()).to_numpy()
        np.testing.assert_allclose(x, 100 * expected)
        np.testing.assert_allclose(x, 100 * p.loc[shown["kpi"], "relative_change"].to_numpy())
        segs = container.lines[2][0].get_segments()
        lows = np.array([s[0][0] for s in segs])
        highs = np.array([s[1][0] for s in segs])
        b = p.loc[shown["kpi"], "baseline_mean"].abs().to_numpy()
        np.testing.assert_allclose(lows, 100 * p.loc[shown["kpi"], "ci_low"].to_numpy() / b)
        np.testing.assert_allclose(highs, 100 * p.loc[shown["kpi"], "ci_high"].to_numpy() / b)
    # elective_cancellations is 0 at baseline: no relative change, so in the table, in absolute terms
    cells = plots.find(fig, "forest-absolute").get_celld()
    assert "Elective cancellations" in [c.get_text().get_text() for (r, col), c in cells.items() if col == 0]


# --- files and the command -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_files_are_deterministic(sweep, tmp_path, fmt):
    a = plots.save(plots.robustness_map(sweep), tmp_path / f"a.{fmt}", fmt)
    b = plots.save(plots.robustness_map(sweep), tmp_path / f"b.{fmt}", fmt)
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size > 1000
    if fmt == "svg":
        text = a.read_text()
        assert "<dc:date>" not in text and "Matplotlib v" not in text


def test_fan_png_is_deterministic(run_dir, tmp_path):
    res = load_results(run_dir)
    paths = [plots.save(plots.fan_chart(res), tmp_path / f"{n}.png", "png") for n in "ab"]
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_plot_command_writes_every_figure(sweep_dir, run_dir, tmp_path, capsys):
    assert main(["plot", str(sweep_dir), "--out", str(tmp_path / "s")]) == 0
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    # no electives, no chain of services
    assert names == sorted(f"{n}.png" for n in plots.FIGURES if n not in ("waiting_list", "pathway"))
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "r"), "--format", "svg"]) == 0
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(
        f"{n}.svg" for n in ("fan", "delays", "services", "exceedance")
    )
    assert (
        main(
            [
                "plot",
                str(sweep_dir),
                "--what",
                "fan",
                "--scenario",
                "gated",
                "--point",
                "3",
                "--out",
                str(tmp_path / "g"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert str(tmp_path / "g" / "fan.png") in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["NOPE"], "no such results folder"),
        (["RUN", "--what", "robustness"], "only for results of `hospsim sweep`"),
        (["SWEEP", "--point", "9"], "--point 9: no such sweep point"),
        (["SWEEP", "--scenario", "nope"], "--scenario nope: no such scenario"),
        (["SWEEP", "--what", "pie"], "--what pie: unknown figure"),
        (["SWEEP", "--what", "robustness", "--criterion", "nope"], "--criterion nope"),
        (["EMPTY"], "not a results folder"),
    ],
)
def test_plot_errors_are_one_line(sweep_dir, run_dir, tmp_path, capsys, args, message):
    folders = {"NOPE": str(tmp_path / "nope"), "RUN": str(run_dir), "SWEEP": str(sweep_dir), "EMPTY": str(tmp_path)}
    code = main(["plot", *[folders.get(a, a) for a in args], "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("hospsim: error: ") and message in err and err.count("\n") == 1


def test_unfinished_sweep_is_a_one_line_error(sweep_dir, tmp_path, capsys):
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(sweep_dir / "manifest.json", half / "manifest.json")
    assert main(["plot", str(half)]) == 2
    err = capsys.readouterr().err
    assert "missing kpis.parquet" in err and "--resume" in err and err.count("\n") == 1


def test_run_folder_with_csv_daily(run_dir, tmp_path):
    folder = tmp_path / "csv"
    shutil.copytree(run_dir, folder)
    pd.read_parquet(folder / "daily.parquet").to_csv(folder / "daily.csv", index=False)
    (folder / "daily.parquet").unlink()
    res = load_results(folder)
    fig = plots.fan_chart(res, smooth_days=0)
    d = pd.read_parquet(run_dir / "daily.parquet")
    assert_fan(fig, "fan-0", table(d, "occupied_beds_mean"))


def test_dates_axis_uses_calendar_dates(sweep):
    fig = plots.fan_chart(sweep, select_cells(sweep)[:1])
    lo, hi = fig.axes[0].get_xlim()
    assert mdates.num2date(lo).year == 2017 and mdates.num2date(hi).year == 2018


# --- error kinds: the folder (ResultsError) or the options (OptionError), never ConfigError ----


def break_folder(how: str, run_dir: Path, sweep_dir: Path, dest: Path) -> tuple[Path, str]:
    """A copy of a results folder broken in one way, and what its error message says."""
    source = sweep_dir if how.startswith("sweep") else run_dir
    shutil.copytree(source, dest)
    if how == "bad-json":
        (dest / "manifest.json").write_text("{not json")
        return dest, "unreadable manifest"
    if how == "wrong-kind":
        (dest / "manifest.json").write_text(json.dumps({"kind": "calibration"}))
        return dest, "kind: expected 'run' or 'sweep'"
    if how == "truncated-daily":
        data = (dest / "daily.parquet").read_bytes()
        (dest / "daily.parquet").write_bytes(data[: len(data) // 2])
        return dest, "daily.parquet: unreadable"
    if how == "no-replication-column":
        reps = pd.read_csv(dest / "replications.csv").drop(columns="replication")
        reps.to_csv(dest / "replications.csv", index=False)
        return dest, "replications.csv: incomplete (no column replication)"
    if how == "sweep-truncated-kpis":
        data = (dest / "kpis.parquet").read_bytes()
        (dest / "kpis.parquet").write_bytes(data[:100])
        return dest, "kpis.parquet: unreadable"
    if how == "sweep-unfinished":
        manifest = json.loads((dest / "manifest.json").read_text())
        manifest["complete"] = False
        (dest / "manifest.json").write_text(json.dumps(manifest))
        return dest, "the sweep did not finish"
    if how == "sweep-bad-cell-config":
        manifest = json.loads((dest / "manifest.json").read_text())
        manifest["cells"][0]["config"]["acute"]["beds"] = -5
        (dest / "manifest.json").write_text(json.dumps(manifest))
        return dest, "config of baseline"
    raise AssertionError(how)


BROKEN = [
    "bad-json", "wrong-kind", "truncated-daily", "no-replication-column", "sweep-truncated-kpis", "sweep-unfinished",
]  # fmt: skip


@pytest.mark.parametrize("how", BROKEN)
def test_broken_folder_is_a_results_error(run_dir, sweep_dir, tmp_path, how):
    folder, message = break_folder(how, run_dir, sweep_dir, tmp_path / how)
    with pytest.raises(ResultsError, match=re.escape(message)) as caught:
        plots.write_plots(load_results(folder), tmp_path / "out")
    assert isinstance(caught.value, UserError) and not isinstance(caught.value, ConfigError)


@pytest.mark.parametrize("how", BROKEN)
def test_plot_of_a_broken_folder_is_one_line(run_dir, sweep_dir, tmp_path, capsys, how):
    folder, message = break_folder(how, run_dir, sweep_dir, tmp_path / how)
    assert main(["plot", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hospsim: error: ") and message in err and err.count("\n") == 1


def test_options_are_option_errors(sweep, run_dir, tmp_path):
    run = load_results(run_dir)
    cases = [
        (lambda: plots.write_plots(sweep, tmp_path, ["pie"]), "--what pie: unknown figure"),
        (lambda: plots.write_plots(sweep, tmp_path, fmt="bmp"), "--format bmp"),
        (lambda: plots.write_plots(run, tmp_path, ["forest"]), "only for results of `hospsim sweep`"),
        (lambda: select_cells(sweep, ["nope"]), "--scenario nope"),
        (lambda: select_cells(sweep, point=9), "--point 9"),
        (lambda: plots.robustness_map(sweep, "nope"), "--criterion nope"),
    ]
    for call, message in cases:
        with pytest.raises(OptionError, match=re.escape(message)):
            call()
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(OptionError, match="cannot create the folder"):
        plots.write_plots(sweep, blocked / "plots", ["fan"])


def test_a_cell_config_that_no_longer_validates_is_a_results_error(run_dir, sweep_dir, tmp_path):
    folder, message = break_folder("sweep-bad-cell-config", run_dir, sweep_dir, tmp_path / "cfg")
    res = load_results(folder)
    with pytest.raises(ResultsError, match=re.escape(message)):
        res.config_of(res.cells[0])


# --- the figure registry ---------------------------------------------------------------------


def test_registry_lists_every_figure_once(sweep, run_dir):
    assert plots.FIGURES == (
        "fan", "delays", "waiting_list", "services", "pathway", "exceedance", "robustness", "forest",
    )  # fmt: skip
    assert {"robustness", "forest"} == plots.SWEEP_ONLY
    for name, spec in plots.REGISTRY.items():
        assert spec.title and spec.caption and callable(spec.draw), name
    # the mini folders have no electives, so no waiting list, and no chain of services
    assert plots.available(sweep) == [n for n in plots.FIGURES if n not in ("waiting_list", "pathway")]
    assert plots.available(load_results(run_dir)) == ["fan", "delays", "services", "exceedance"]


def test_waiting_list_is_in_the_registry_and_plot_command(tmp_path_factory, tmp_path, capsys):
    folder = elective_sweep(tmp_path_factory)
    res = load_results(folder)
    assert plots.REGISTRY["waiting_list"].title == "Elective waiting list"
    assert "waiting_list" in plots.available(res)
    assert plots.parse_what(["all"], res)[:3] == ["fan", "delays", "waiting_list"]
    assert plots.parse_what(["waiting_list,fan"], res) == ["waiting_list", "fan"]
    assert main(["plot", str(folder), "--what", "waiting_list", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "waiting_list.png").stat().st_size > 1000
    assert str(tmp_path / "waiting_list.png") in capsys.readouterr().out


def test_a_new_figure_is_one_registry_entry(sweep, tmp_path, monkeypatch):
    """A figure module plus one entry: --what, ``all`` and write_plots pick it up."""
    seen = []

    def draw(res, choice):
        seen.append(([c.key for c in choice.cells], choice.point, choice.criterion))
        fig = plots.common.new_figure(2, 2)
        fig.subplots().plot([0, 1], [0, 1], gid="extra-line")
        return fig

    spec = plots.FigureSpec(draw=draw, title="Extra", caption="An extra figure.")
    monkeypatch.setitem(plots.REGISTRY, "extra", spec)
    monkeypatch.setattr(plots, "FIGURES", tuple(plots.REGISTRY))
    assert plots.parse_what(["fan,extra"], sweep) == ["fan", "extra"]
    assert "extra" in plots.available(sweep)
    (path,) = plots.write_plots(sweep, tmp_path, ["extra"], "svg", ["gated"], 2)
    assert path.name == "extra.svg" and path.stat().st_size > 0
    assert seen == [(["baseline", "gated#p002"], 2, plots.ALL_CRITERIA)]


# --- figures a board can read -----------------------------------------------------------------

LABELS = {
    "mini-exp": "Mini plan",
    "fixed_date": "Cut on the planned date",
    "gated": "Cut once rehab is there",
    "ic_delay_days": "Rehab delay",
    "mean_occupancy": "Bed occupancy",
}


def labelled(sweep_dir: Path) -> Results:
    """The mini sweep as if its experiment gave display names (``labels:``)."""
    res = load_results(sweep_dir)
    res.manifest["experiment"]["labels"] = dict(LABELS)
    return res


def all_text(fig) -> list[str]:
    """Every piece of text a reader sees in a figure (titles, labels, ticks, legends, notes)."""
    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


def test_titles_legends_and_axes_use_the_experiments_display_names(sweep_dir):
    res = labelled(sweep_dir)
    fan = plots.fan_chart(res)
    assert fan._suptitle.get_text().startswith("Mini plan: Acute beds occupied\nRehab delay on time, ")
    assert [ax.get_title(loc="left") for ax in fan.axes] == ["Baseline", LABELS["fixed_date"], LABELS["gated"]]
    robust = plots.robustness_map(res)
    assert robust.axes[0].get_xlabel() == "Rehab delay (months late)"
    assert [ax.get_title(loc="left").strip() for ax in robust.axes[:2]] == [
        "Cut on the planned date",
        "Cut once rehab is there",
    ]
    forest = plots.forest_plot(res)
    legend = [t.get_text() for t in forest.axes[0].get_legend().get_texts()]
    assert legend[:2] == ["Cut on the planned date", "Cut once rehab is there"]
    ticks = [t.get_text() for t in forest.axes[0].get_yticklabels()]
    assert ticks[1].startswith("Bed occupancy\n(baseline ") and ticks[1].endswith("%)")
    # no code name anywhere a reader looks, in any figure
    slugs = ("fixed_date", "gated", "ic_delay_days", "ic_growth_achieved", "mini-exp", "_")
    for name in plots.available(res):
        texts = all_text(plots.make_figure(res, name, select_cells(res)))
        assert not [t for t in texts if any(slug in t for slug in slugs)], name


def zeroed(res: Results, columns: list[str], scenarios: set[str] | None = None) -> Results:
    """``res`` whose daily ``columns`` read 0 (in ``scenarios``, or everywhere): nobody waited."""
    read = res.daily

    def daily(cells, cols):
        d = read(cells, cols).copy()
        rows = d["scenario"].isin(scenarios) if scenarios else slice(None)
        d.loc[rows, [c for c in columns if c in d.columns]] = 0.0
        return d

    res.daily = daily  # type: ignore[method-assign]
    return res


def test_a_panel_where_nobody_waits_says_none_in_any_replication(sweep_dir):
    res = zeroed(load_results(sweep_dir), ["waits_over_4h", "waits_over_12h", "rehab_queue_mean"])
    fig = plots.delays_chart(res)
    delayed, wait4, wait12 = fig.axes
    for ax in (wait4, wait12):
        (note,) = [t for t in ax.texts if t.get_gid() == "none"]
        assert note.get_text().startswith(plots.NONE_TEXT + "\n")
        assert note.get_text().endswith("for a bed, on any day, in any scenario shown")
        assert not ax.lines and list(ax.get_yticks()) == []  # no empty frame with a scale
    assert "over 4 hours" in wait4.texts[0].get_text() and "over 12 hours" in wait12.texts[0].get_text()
    assert not [t for t in delayed.texts if t.get_gid() == "none"]  # delayed patients were drawn
    services = plots.services_chart(res)
    rehab_queue = next(ax for ax in services.axes if ax.get_title(loc="left") == "Rehab: waiting list")
    assert rehab_queue.texts[0].get_text().startswith(plots.NONE_TEXT)


def test_cells_with_none_are_named_when_others_have_some(sweep_dir):
    res = zeroed(load_results(sweep_dir), ["delayed_patients_mean"], {"baseline", "gated"})
    delayed = plots.delays_chart(res).axes[0]
    (note,) = [t for t in delayed.texts if t.get_gid() == "none-note"]
    assert note.get_text() == f"{plots.NONE_TEXT}: Baseline, Gated"
    assert plots.find(delayed.figure, "delays-delayed-1-median")  # fixed_date still drawn


def test_every_date_tick_carries_its_year(sweep, tmp_path_factory):
    res_wl = load_results(elective_sweep(tmp_path_factory))
    figures = [plots.fan_chart(sweep), plots.delays_chart(sweep), plots.services_chart(sweep)]
    figures.append(plots.waiting_list_chart(res_wl))
    checked = 0
    for fig in figures:
        fig.canvas.draw()
        for ax in fig.axes:
            if isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter):
                labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
                assert all(re.search(r"\b20\d\d\b", t) for t in labels), labels
                checked += bool(labels)
    assert checked >= 5  # the bottom axes of each figure (two columns in services)
    # a span under a year ticks by month: "Jul 2017", not "Jul"
    labels = [t.get_text() for t in figures[0].axes[-1].get_xticklabels() if t.get_text()]
    assert "Jul 2017" in labels or "Oct 2017" in labels, labels


def test_fan_median_is_a_stated_rolling_mean(sweep, sweep_dir):
    cells = select_cells(sweep)[:1]
    d = daily_of(sweep_dir, "baseline", -1)
    daily_median = np.median(table(d, "occupied_beds_mean").to_numpy(), axis=1)
    smooth = plots.find(plots.fan_chart(sweep, cells, smooth_days=7), "fan-0-median").get_ydata()
    raw = plots.find(plots.fan_chart(sweep, cells, smooth_days=0), "fan-0-median").get_ydata()
    np.testing.assert_allclose(raw, daily_median)
    np.testing.assert_allclose(smooth[3:-3], np.convolve(daily_median, np.ones(7) / 7, mode="valid"))
    assert smooth[0] == pytest.approx(daily_median[:4].mean())  # the first day: days 0-3
    assert np.std(np.diff(smooth)) < np.std(np.diff(raw)) / 2  # the weekly zig-zag is gone
    legend = [t.get_text() for t in plots.fan_chart(sweep, cells).legends[0].get_texts()]
    assert "7-day rolling mean of the daily median" in legend
    legend = [t.get_text() for t in plots.fan_chart(sweep, cells, smooth_days=0).legends[0].get_texts()]
    assert "median (daily)" in legend


def test_plot_command_smooth_days(sweep_dir, tmp_path, capsys):
    from hospsim.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["plot", str(sweep_dir)]).smooth_days == plots.SMOOTH_DAYS
    assert parse(["plot", str(sweep_dir), "--smooth-days", "0"]).smooth_days == 0
    assert main(["plot", str(sweep_dir), "--what", "fan", "--smooth-days", "0", "--out", str(tmp_path)]) == 0
    for bad in ("-1", "92", "7.5"):
        assert main(["plot", str(sweep_dir), "--what", "fan", "--smooth-days", bad, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("hospsim: error: argument --smooth-days") and err.count("\n") == 1


def test_forest_keeps_tiny_baselines_out_of_the_x_range(sweep_dir):
    res = load_results(sweep_dir)
    p = res.paired.copy()
    # a KPI rare at baseline: its 95% CI spans -300%..+250% of the baseline mean
    rare = p["kpi"] == "mean_wait_hours"
    p.loc[rare, ["baseline_mean", "difference", "ci_low", "ci_high"]] = [0.02, -0.01, -0.06, 0.05]
    res.paired = p
    data = plots.forest_data(res)
    assert not data.loc[data["kpi"] == "mean_wait_hours", "relative"].any()
    fig = plots.forest_plot(res)
    ax = fig.axes[0]
    ticks = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert "Mean wait for a bed" not in ticks
    assert ticks[:2] == ["Acute bed days", "Mean occupancy"]  # the criteria first, in bold
    assert [t.get_fontweight() for t in ax.get_yticklabels()][:2] == ["bold", "bold"]
    shown = data[data["relative"]]
    lo, hi = ax.get_xlim()
    assert lo > 100 * shown["rel_low"].min() - 50 and hi < max(100 * shown["rel_high"].max(), 0) + 50
    assert lo > -300  # not stretched by the rare KPI's -300%
    cells = plots.find(fig, "forest-absolute").get_celld()
    row = next(r for (r, c), cell in cells.items() if c == 0 and cell.get_text().get_text() == "Mean wait for a bed")
    assert cells[(row, 1)].get_text().get_text() == "0.02 hours"
    assert cells[(row, 2)].get_text().get_text() == "\u22120.01 hours\n95% CI \u22120.06 to +0.05"


def test_holding_edges_outline_the_cells_that_hold():
    z = np.array([[0.95, 0.2], [0.9, 0.91]])  # rows: y, columns: x
    edges = plots.robustness.holding_edges(z)
    assert len(edges) == 8  # an L of three cells: 8 unit edges around it
    assert ((0.5, -0.5), (0.5, 0.5)) in edges  # between (0, 0) holding and (0, 1) not
    assert plots.robustness.holding_edges(np.array([[0.5, np.nan]])) == []


def test_sampled_sweep_ticks_at_whole_months_and_round_percentages(sweep_dir):
    res = load_results(sweep_dir)
    res.manifest["experiment"]["sweep"]["method"] = "lhs"  # drawn as sampled points
    fig = plots.robustness_map(res)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    np.testing.assert_allclose(ax.get_xticks(), np.arange(4) * 365.25 / 12)  # ticks in days, read in months
    assert all(t.get_text().endswith("0%") for t in ax.get_yticklabels())
    assert ax.get_title(loc="right").endswith("points hold (\u2265 90%)")


def test_waiting_list_panels_with_none_say_so(tmp_path_factory):
    res = load_results(elective_sweep(tmp_path_factory))
    zeroed(res, ["elective_cancellations", "elective_waiting_over_18_weeks"])
    fig = plots.waiting_list_chart(res)
    _list, share, cancel = fig.axes
    assert [t.get_text() for t in share.texts if t.get_gid() == "none"] == [
        f"{plots.NONE_TEXT}\nNobody on the list waited over 18 weeks, in any month or scenario shown"
    ]
    assert [t.get_text() for t in cancel.texts if t.get_gid() == "none"] == [
        f"{plots.NONE_TEXT}\nNo booked elective admission was cancelled, in any month or scenario shown"
    ]
    with pytest.raises(KeyError):
        plots.find(fig, "wl-cancel-0-median")  # nothing drawn under the message
    assert plots.find(fig, "wl-list-1-median")  # the list itself is still drawn


# --- a chain of services (onward routes, blocking, unlimited capacity) ------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> tuple[Results, Path]:
    folder = chain_sweep(tmp_path_factory)
    return load_results(folder), folder


def axis_titles(fig) -> list[str]:
    return [ax.get_title(loc="left") for ax in fig.axes]


def test_services_chart_of_a_chain(chain, sweep):
    res, folder = chain
    cells = select_cells(res)
    assert [c.scenario for c in cells] == ["baseline", "more_care_home", "rehab_shift"]
    fig = plots.services_chart(res, cells)
    titles = axis_titles(fig)
    # In the order patients reach them (the config lists care_home, home_care, rehab), each
    # titled with where its patients go next.
    assert titles[0::2] == [
        "Rehab \u2192 home 60%, home care 25%, care home 15%\noccupied, blocked, capacity",
        "Care home: occupied places and capacity",
        "Home care: places in use (no capacity limit)",
    ]
    assert titles[1::2] == ["Rehab: waiting list", "Care home: waiting list", "Home care: no waiting list"]
    assert "Capacity unlimited: nobody waits for a place." in fig.axes[5].texts[0].get_text()
    for i, cell in enumerate(cells):
        d = daily_of(folder, cell.scenario, cell.point)
        assert_fan(fig, f"svc-rehab-{i}", table(d, "rehab_occupied_mean"))
        blocked = table(d, "rehab_blocked_mean")
        line = plots.find(fig, f"svc-rehab-{i}-blocked-median").get_ydata()
        np.testing.assert_allclose(line, np.median(blocked.to_numpy(), axis=1), rtol=1e-12)
        assert line.max() > 1  # patients are blocked in rehab
        _, low, high = band_edges(plots.find(fig, f"svc-rehab-{i}-blocked-area"))
        assert np.all(low == 0) and np.allclose(high, line)
        np.testing.assert_array_equal(
            plots.find(fig, f"svc-care_home-{i}-capacity").get_ydata(), table(d, "care_home_capacity")[0]
        )
        assert "home_care_capacity" not in d.columns  # unlimited: no capacity, no line
        with pytest.raises(KeyError):
            plots.find(fig, f"svc-home_care-{i}-capacity")
        with pytest.raises(KeyError):  # only a service that sends patients on has blocked patients
            plots.find(fig, f"svc-care_home-{i}-blocked-median")
    assert plots.find(fig, "svc-care_home-1-capacity").get_ydata().max() == 12
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "of which blocked: finished their stay, waiting to move on (median, hatched)" in legend
    # without a chain: the config's order, and no word of blocking
    plain = plots.services_chart(sweep, select_cells(sweep))
    assert axis_titles(plain)[0::2] == ["Step up: occupied places and capacity", "Rehab: occupied places and capacity"]
    assert not [t for t in plain.legends[0].get_texts() if "blocked" in t.get_text()]


def test_fan_chart_of_a_chain_shows_blocking_under_each_cell(chain):
    res, folder = chain
    cells = select_cells(res)
    fig = plots.fan_chart(res, cells)
    assert len(fig.axes) == 2 * len(cells)  # each cell: acute beds, then delayed against blocked
    assert axis_titles(fig)[1] == "Baseline: delayed in acute beds, and blocked in rehab"
    for i, cell in enumerate(cells):
        d = daily_of(folder, cell.scenario, cell.point)
        assert_fan(fig, f"fan-{i}", table(d, "occupied_beds_mean"), median_days=7)
        assert_fan(fig, f"fan-{i}-delayed", table(d, "delayed_patients_mean"), wide=False, median_days=7)
        # patients blocked in community services: the sum over services that send patients on
        assert_fan(fig, f"fan-{i}-blocked", table(d, "rehab_blocked_mean"), wide=False, median_days=7)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "lower panel: medically fit patients delayed in acute beds" in legend


def test_fan_chart_without_a_chain_has_one_panel_per_cell(sweep):
    fig = plots.fan_chart(sweep, select_cells(sweep))
    assert len(fig.axes) == 3
    assert not [t for t in fig.legends[0].get_texts() if "lower panel" in t.get_text()]
    with pytest.raises(KeyError):
        plots.find(fig, "fan-0-blocked-median")


def node_text(fig, i: int, place: str) -> str:
    return plots.find(fig, f"pathway-{i}-node-{place}").get_text()


def test_pathway_figure_shows_shares_capacity_and_results(chain):
    res, _folder = chain
    cells = select_cells(res)
    assert "pathway" in plots.available(res)
    fig = plots.pathway_chart(res, cells)
    kpis = res.kpis
    for i, cell in enumerate(cells):
        k = kpis[(kpis["scenario"] == cell.scenario) & (kpis["point"] == cell.point)].mean(numeric_only=True)
        share = k["rehab_blocked_share"]
        assert 0.01 < share < 0.5 and k["rehab_mean_blocked"] > 0.5  # patients are blocked in rehab
        assert node_text(fig, i, "rehab").split("\n") == [
            "Rehab",
            "16 places",
            f"{kpi_value('rehab_mean_occupied', k['rehab_mean_occupied'])} occupied",
            f"{kpi_value('rehab_mean_blocked', k['rehab_mean_blocked'])} blocked ({percent(share)})",
            f"{percent(k['rehab_p_wait'])} waited",
        ]
        assert node_text(fig, i, "home_care").split("\n")[1:] == [
            "unlimited places",
            f"{kpi_value('home_care_mean_occupied', k['home_care_mean_occupied'])} occupied",
            "nobody waits",
        ]
        assert node_text(fig, i, "acute").split("\n") == [
            "Acute beds",
            "45 beds",
            f"{kpi_value('mean_occupied_beds', k['mean_occupied_beds'])} occupied",
            f"{kpi_value('mean_delayed_patients', k['mean_delayed_patients'])} delayed",
        ]
        assert node_text(fig, i, "home") == "Home"
        # 40% of the frail group (40% of emergencies) go to rehab: 16% of discharges
        assert plots.find(fig, f"pathway-{i}-route-acute-rehab").get_text() == "16%"
        assert plots.find(fig, f"pathway-{i}-route-acute-home").get_text() == "84%"
        assert plots.find(fig, f"pathway-{i}-route-rehab-care_home").get_text() == "15%"
        assert plots.find(fig, f"pathway-{i}-route-care_home-home").get_text() == "100%"
    assert node_text(fig, 1, "care_home").split("\n")[1] == "12 places"  # more care home
    # the plan's shift of rehab's mix: from the config's share to the new one
    assert plots.find(fig, "pathway-2-route-rehab-home").get_text() == "60% \u2192 45%"
    assert plots.find(fig, "pathway-2-route-rehab-home_care").get_text() == "25% \u2192 40%"
    assert plots.find(fig, "pathway-0-route-rehab-home").get_text() == "60%"


def test_pathway_figure_needs_a_chain(run_dir, tmp_path):
    res = load_results(run_dir)
    assert "pathway" not in plots.available(res)
    with pytest.raises(
        OptionError, match="--what pathway: only for a config whose community services send patients on"
    ):
        plots.parse_what(["pathway"], res)


def test_pathway_order_and_layout_of_a_network():
    # home care sends a tenth back to rehab: a cycle through an unlimited service is allowed
    cfg = load_config(DATA / "mini_chain.yaml", ["services.home_care.pathways={home: 0.9, rehab: 0.1}"])
    assert list(cfg.services) == ["care_home", "home_care", "rehab"]
    assert pathway_steps(cfg) == {"care_home": 2, "home_care": 2, "rehab": 1}
    assert pathway_order(cfg) == ["rehab", "care_home", "home_care"]
    assert [(r.target, round(r.share, 6)) for r in acute_routes(cfg)] == [("home", 0.84), ("rehab", 0.16)]
    assert onward_words(cfg, "home_care", Labels()) == "home 90%, rehab 10%"
    assert onward_words(cfg, "rehab", Labels({"care_home": "Care homes (D2A)"})) == (
        "home 60%, home care 25%, Care homes (D2A) 15%"
    )
    at = layout(cfg)
    assert at["acute"] == (0.0, 0.0) and at["rehab"] == (1.0, 0.0) and at["home"] == (3.0, 0.0)
    assert at["care_home"] == (2.0, 0.5) and at["home_care"] == (2.0, -0.5)  # one column, pathway order
    curves = {(r.source, r.target): _curve(r, at) for r in _routes(cfg)}
    assert curves[("rehab", "care_home")].rad == 0  # next column: straight
    assert curves[("home_care", "rehab")].label[1] > 0.5  # back along the chain: above every place
    assert curves[("rehab", "home")].label[1] < -0.5  # skipping a column: below every place
    # routes to home nest: the longer one bends lower
    assert curves[("acute", "home")].label[1] < curves[("rehab", "home")].label[1]
