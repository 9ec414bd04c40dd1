"""What averages promise: a flow-engine run of every cell of a DES sweep, stored, checked and
shown beside the share of replications in which the plan holds.

A "promising" flow (:func:`shifted_flow`: the engine's run with some KPIs changed) is built on
purpose where a test needs the averages to disagree with the replications.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hospsim.analysis.verdicts import (
    ALL_CRITERIA,
    NOT_RUN,
    OVERPROMISE,
    UNDERPROMISE,
    flow_verdict_table,
    views_side_by_side,
)
from hospsim.cli import main
from hospsim.config import Config
from hospsim.config.experiment import Experiment
from hospsim.model import flow
from hospsim.model.flow import FlowRun
from hospsim.outputs.cells import cells_text
from hospsim.outputs.labels import labels_of
from hospsim.outputs.plots.robustness import robustness_map
from hospsim.outputs.report import build_report
from hospsim.outputs.tables import flow_verdicts_of, views_of, views_sentence
from hospsim.outputs.workbook import workbook_sheets
from hospsim.runs import sweep as sweep_module
from hospsim.runs.errors import ResultsError
from hospsim.runs.experiment import load_experiment
from hospsim.runs.flow_cells import FLOW_KPIS, file_sha256, read_flow_kpis
from hospsim.runs.reproduce import reproduce
from hospsim.runs.results import load_results
from hospsim.runs.sweep import run_sweep

DATA = Path(__file__).resolve().parent / "data"

# The mini experiment, smaller (5 cells of 3 replications) and with an occupancy bound (79%) the
# replications break in most cells (77-85% occupied) but a flow run at 75% meets.
EXPERIMENT = {
    "name": "flow-cells",
    "config": "mini_system.yaml",
    "replications": 3,
    "seed": 5,
    "window": {"start_day": 200, "end_day": 300},
    "scenarios": yaml.safe_load((DATA / "mini_experiment.yaml").read_text())["scenarios"],
    "sweep": {
        "method": "grid",
        "parameters": {
            "ic_delay_days": {"path": "plan_delivery.ic_delay_days", "values": [0]},
            "ic_growth_achieved": {"path": "plan_delivery.ic_growth_achieved", "values": [0.5, 1.0]},
        },
    },
    "criteria": [
        {"kpi": "acute_bed_days", "compare": "relative_to_baseline", "at_most": -0.15},
        {"kpi": "mean_occupancy", "at_most": 0.79},
        {"kpi": "waits_over_12h_per_1000", "compare": "difference_from_baseline", "at_most": 5},
    ],
}

_ENGINE = flow.run_flow  # the engine, taken before any test stands a shifted one in


def shifted_flow(change: Callable[[Config, dict[str, float]], dict[str, float]]) -> Callable[..., FlowRun]:
    """The flow engine's run with its KPIs changed by ``change(cfg, kpis)``: a flow that promises
    what the replications do not deliver."""

    def run(cfg: Config, window: tuple[int, int] | None = None) -> FlowRun:
        base = _ENGINE(cfg, window)
        return FlowRun(base.daily, change(cfg, dict(base.kpis)), base.variability_kpis, base.final_states, base.steps)

    return run


# A flow that promises what the replications do not deliver: 75% occupied and no 12-hour waits
# in every cell (bed days as the engine has them).
PROMISING = shifted_flow(lambda _cfg, k: {**k, "mean_occupancy": 0.75, "waits_over_12h_per_1000": 0.0})


def _experiment(folder: Path) -> Path:
    shutil.copy(DATA / "mini_system.yaml", folder / "mini_system.yaml")
    path = folder / "flow_cells.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def promised(tmp_path_factory):
    """The experiment swept from the command line with the promising flow: (folder, terminal
    output, the cells and windows the flow engine was run on)."""
    folder = tmp_path_factory.mktemp("flow_cells")
    exp = _experiment(folder)
    calls: list[tuple[str, tuple[int, int] | None]] = []

    def counting(cfg, window=None):
        calls.append((cfg.plan_delivery.model_dump_json(), window))
        return PROMISING(cfg, window)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_flow", counting)
        cap = _Capture()
        with cap:
            assert main(["sweep", str(exp), "--out", str(folder / "out"), "--workers", "1", "--no-progress"]) == 0
    return folder / "out", cap.text, calls


class _Capture:
    """stdout of a block (capsys is function-scoped; the sweep is run once per module)."""

    def __enter__(self):
        import contextlib
        import io

        self._buf = io.StringIO()
        self._ctx = contextlib.redirect_stdout(self._buf)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        self.text = self._buf.getvalue()


# --- the flow runs and their table -----------------------------------------------------------


def test_the_flow_engine_runs_once_per_cell_on_the_cells_window(promised):
    out, _text, calls = promised
    assert len(calls) == 5  # baseline + 2 scenarios x 2 points, once each
    assert {w for _cfg, w in calls} == {(200, 300)}  # the experiment's window, as the replications'
    table = pd.read_parquet(out / FLOW_KPIS)
    assert list(table["scenario"]) == ["baseline", "fixed_date", "fixed_date", "gated", "gated"]
    assert list(table["point"]) == [-1, 0, 1, 0, 1]
    assert list(table.columns[:4]) == ["scenario", "point", "param_ic_delay_days", "param_ic_growth_achieved"]
    assert table["param_ic_growth_achieved"].tolist()[1:] == [0.5, 1.0, 0.5, 1.0]
    assert (table["mean_occupancy"] == 0.75).all()
    kpis = pd.read_parquet(out / "kpis.parquet")
    assert set(kpis.columns) - {"run_id", "replication", "seed"} <= set(table.columns)  # every KPI of the runs


def test_the_flow_table_is_the_engines_run_of_each_cell(promised):
    """The table holds what run_flow returns for the cell's config and window."""
    out, _text, _calls = promised
    loaded = load_experiment(out.parent / "flow_cells.yaml")
    table = pd.read_parquet(out / FLOW_KPIS)
    for i, v in enumerate(loaded.variants):
        run = PROMISING(v.config, (200, 300))
        assert table["acute_bed_days"].iloc[i] == run.kpis["acute_bed_days"]
        assert table["emergency_admissions"].iloc[i] == run.kpis["emergency_admissions"]


def test_the_manifest_lists_the_flow_table_with_its_checksum(promised):
    out, _text, _calls = promised
    entry = json.loads((out / "manifest.json").read_text())["flow"]
    assert entry["table"] == FLOW_KPIS and entry["cells"] == 5
    assert entry["sha256"] == file_sha256(out / FLOW_KPIS)
    assert "waits_over_12h_per_1000" in entry["variability_kpis"] and "mean_occupancy" not in entry["variability_kpis"]


# --- the verdicts side by side ---------------------------------------------------------------


def test_flow_says_holds_where_the_replications_break(promised):
    """The promising flow holds in every cell; in the replications, the plan holds in none of 3
    in the fixed-date cut at half the planned growth (83% occupied, bound 79%), in 1 of 3 with the
    planned growth (77-80% occupied), in all 3 in the gated cut at half growth (its gate never
    opens: 67% occupied)."""
    out, _text, _calls = promised
    side = views_of(load_results(out))
    assert side[["scenario", "point", "averages", "variability_only"]].values.tolist() == [
        ["fixed_date", 0, "holds", True],
        ["fixed_date", 1, "holds", True],
        ["gated", 0, "holds", True],
        ["gated", 1, "holds", True],
    ]
    assert side["share_holds"].round(4).tolist() == [0.0, 0.3333, 1.0, 0.3333]
    assert side["disagreement"].tolist() == [OVERPROMISE, OVERPROMISE, "", OVERPROMISE]
    assert views_sentence(side) == (
        "In 3 of 4 cells the averages say the plan holds but it holds in fewer than half of the replications."
    )


def test_the_terminal_table_shows_what_averages_promise(promised):
    _out, text, _calls = promised
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.rstrip().endswith("Averages"))
    assert lines[head + 1].rstrip().endswith("(95% CI)  promise")
    rows = [line for line in lines[head + 3 :] if line.startswith("  ") and "%" in line]
    assert len(rows) == 4 and all(r.rstrip().endswith("holds*") for r in rows)
    assert "0% (0-56%)  holds*" in rows[0]  # the fixed-date cut: none of 3 replications, averages hold
    flat = " ".join(text.split())
    assert (
        "In 3 of 4 cells the averages say the plan holds but it holds in fewer than half of the replications." in flat
    )
    assert "* The averages' verdict rests on waits over 12 h per 1,000, which only exists under variability" in flat


def test_the_report_says_where_the_two_views_part_company(promised):
    out, _text, _calls = promised
    html = build_report(load_results(out))
    flat = " ".join(html.split())
    assert "<h3>What averages promise</h3>" in html
    assert (
        "In 3 of 4 cells the averages say the plan holds but it holds in fewer than half of the replications." in flat
    )
    assert "averages say it holds; it holds in under 50% of replications" in flat
    assert flat.count('<small class="averages">averages: holds*</small>') == 4  # one per grid cell
    assert "which only exists under variability" in flat


def test_the_workbook_puts_the_averages_beside_the_share(promised):
    out, _text, _calls = promised
    sheets = {s.name: s for s in workbook_sheets(load_results(out))}
    v = sheets["verdicts"].table
    cols = list(v.columns)
    assert cols.index("what_averages_promise") == cols.index("ci_high") + 1
    occupancy = v[v["kpi"] == "mean_occupancy"]
    assert occupancy["what_averages_promise"].tolist() == ["holds"] * 4
    assert occupancy["averages_value"].tolist() == [0.75] * 4
    assert occupancy["averages_variability_only"].tolist() == ["no"] * 4
    waits = v[v["kpi"] == "waits_over_12h_per_1000"]
    assert waits["averages_variability_only"].tolist() == ["yes"] * 4
    about = dict(sheets["about"].table.itertuples(index=False, name=None))
    assert about["what averages promise"] == f"one stock-and-flow run per cell (5 cells, {FLOW_KPIS})"
    assert about["the two views"].startswith("In 3 of 4 cells the averages say the plan holds")


def test_the_robustness_map_marks_the_cells_the_averages_pass(promised):
    out, _text, _calls = promised
    fig = robustness_map(load_results(out))
    marks = {c.get_gid(): c.get_offsets().tolist() for ax in fig.axes for c in ax.collections if c.get_gid()}
    # One column (IC on time), two rows (50%, 100% of the planned growth): the marker in each
    # cell's top-right corner.
    assert marks["robust-fixed_date-averages"] == [[0.32, 0.32], [0.32, 1.32]]
    assert marks["robust-gated-averages"] == [[0.32, 0.32], [0.32, 1.32]]


def test_reproduce_re_runs_the_flow_table_bit_for_bit(promised, monkeypatch):
    out, _text, _calls = promised
    monkeypatch.setattr(flow, "run_flow", PROMISING)
    report = reproduce(out, workers=1, sample=1)
    assert report.ok, report.mismatches
    assert not any("flow" in n for n in report.notes)


def test_reproduce_finds_a_changed_flow_value(promised, tmp_path, monkeypatch):
    out, _text, _calls = promised
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    table = pd.read_parquet(copy / FLOW_KPIS)
    table.loc[2, "acute_bed_days"] += 1.0
    table.to_parquet(copy / FLOW_KPIS, index=False)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["flow"]["sha256"] = file_sha256(copy / FLOW_KPIS)  # a consistent folder, another engine's numbers
    (copy / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(flow, "run_flow", PROMISING)
    report = reproduce(copy, workers=1, sample=1)
    assert report.mismatches == [f"{FLOW_KPIS} acute_bed_days: 1 of 5 cells differ"]


# --- refused folders, older folders, --no-flow -----------------------------------------------


def _copy(out: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    return copy


def test_a_folder_missing_its_flow_table_is_refused(promised, tmp_path, capsys):
    copy = _copy(promised[0], tmp_path)
    (copy / FLOW_KPIS).unlink()
    with pytest.raises(ResultsError, match=rf"copy: missing {FLOW_KPIS} \(the manifest lists it\)$"):
        load_results(copy)
    assert main(["report", str(copy), "--out", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(ResultsError, match=f"missing {FLOW_KPIS}"):
        reproduce(copy, workers=1)  # before anything runs


def test_a_folder_with_an_altered_flow_table_is_refused(promised, tmp_path):
    copy = _copy(promised[0], tmp_path)
    data = bytearray((copy / FLOW_KPIS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / FLOW_KPIS).write_bytes(bytes(data))
    with pytest.raises(ResultsError, match=r"flow_kpis.parquet: altered or corrupt \(its SHA-256 is not the one"):
        load_results(copy)
    with pytest.raises(ResultsError, match="altered or corrupt"):
        reproduce(copy, workers=1)


def test_a_manifest_with_an_incomplete_flow_entry_is_refused(promised, tmp_path):
    copy = _copy(promised[0], tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["flow"]["sha256"]
    with pytest.raises(ResultsError, match=r"manifest.json: flow: incomplete"):
        read_flow_kpis(copy, manifest)


def test_an_older_folder_without_flow_runs_says_not_run(promised, tmp_path):
    """A folder written before the flow engine: no table, no manifest entry."""
    copy = _copy(promised[0], tmp_path)
    (copy / FLOW_KPIS).unlink()
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["flow"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    res = load_results(copy)
    assert res.flow is None and flow_verdicts_of(res) is None
    assert views_of(res)["averages"].tolist() == [NOT_RUN] * 4
    html = " ".join(build_report(res).split())
    assert "What averages promise was not worked out for this sweep" in html
    assert html.count('<small class="averages">averages: not run</small>') == 4
    sheets = {s.name: s for s in workbook_sheets(res)}
    assert sheets["verdicts"].table["what_averages_promise"].unique().tolist() == [NOT_RUN]
    marks = [c.get_gid() for ax in robustness_map(res).axes for c in ax.collections]
    assert not any(g and g.endswith("-averages") for g in marks)
    report = reproduce(copy, workers=1, sample=1)
    assert report.ok and report.notes == ["no flow_kpis.parquet in this folder: no flow run per cell to check"]


def test_no_flow_skips_it_and_a_resume_adds_it(tmp_path, capsys, monkeypatch):
    exp = _experiment(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress", "--no-flow"]) == 0
    text = capsys.readouterr().out
    assert not (out / FLOW_KPIS).exists() and "flow" not in json.loads((out / "manifest.json").read_text())
    assert "What averages promise was not worked out for this sweep" in " ".join(text.split())
    assert sum(line.rstrip().endswith("not run") for line in text.splitlines()) == 4
    monkeypatch.setattr(flow, "run_flow", PROMISING)
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress", "--resume"]) == 0
    assert "15 runs (5 scenario cells x 3 replications), 15 already done" in capsys.readouterr().out
    assert read_flow_kpis(out, json.loads((out / "manifest.json").read_text())) is not None
    assert load_results(out).flow is not None
    # And back: a session with --no-flow removes the table and its entry (the folder says what it holds).
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--no-progress", "--resume", "--no-flow"]) == 0
    assert not (out / FLOW_KPIS).exists() and load_results(out).flow is None


def test_an_interrupted_sweep_resumes_to_a_complete_folder_with_its_flow_table(tmp_path, monkeypatch):
    loaded = load_experiment(_experiment(tmp_path))
    out = tmp_path / "out"
    real = sweep_module._simulate
    calls = {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sweep_module, "_simulate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(loaded, out, workers=1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and "flow" not in manifest and not (out / FLOW_KPIS).exists()
    monkeypatch.setattr(sweep_module, "_simulate", real)
    result = run_sweep(loaded, out, workers=1, resume=True)
    assert result.runs_done_before == 5 and result.flow is not None and len(result.flow.table) == 5
    res = load_results(out)
    assert res.manifest["complete"] is True and res.flow is not None
    assert pd.read_parquet(out / FLOW_KPIS).equals(result.flow.table)


# --- the verdicts, on hand-made tables -------------------------------------------------------


def _exp(*criteria: dict) -> Experiment:
    raw = {"name": "e", "config": "c.yaml", "scenarios": {"cut": {}}, "criteria": list(criteria)}
    return Experiment.model_validate(raw)


def _flow(rows: list[tuple[str, int, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["scenario", "point", "acute_bed_days", "mean_occupancy", "p_wait_over_4h"])


def test_flow_verdicts_compare_with_the_flow_baseline():
    exp = _exp(
        {"kpi": "acute_bed_days", "compare": "relative_to_baseline", "at_most": -0.2},
        {"kpi": "mean_occupancy", "at_most": 0.85},
        {"kpi": "p_wait_over_4h", "compare": "difference_from_baseline", "at_most": 0.01},
    )
    table = _flow([("baseline", -1, 1000.0, 0.9, 0.1), ("cut", 0, 750.0, 0.84, 0.1), ("cut", 1, 850.0, 0.80, 0.0)])
    fv = flow_verdict_table(exp, table, frozenset({"p_wait_over_4h"}))
    assert fv["flow_value"].round(6).tolist()[:3] == [-0.25, 0.84, 0.0]
    assert fv["flow_holds"].tolist() == [True, True, True, True, False, True, True, False]
    assert fv["variability_only"].tolist() == [False, False, True, True, False, False, True, False]
    assert fv["criterion"].tolist()[3] == ALL_CRITERIA


def test_a_verdict_failing_only_on_a_variability_kpi_rests_on_it():
    exp = _exp({"kpi": "mean_occupancy", "at_most": 0.85}, {"kpi": "p_wait_over_4h", "at_most": 0.05})
    table = _flow([("baseline", -1, 1000.0, 0.9, 0.1), ("cut", 0, 900.0, 0.80, 0.2), ("cut", 1, 900.0, 0.95, 0.2)])
    fv = flow_verdict_table(exp, table, frozenset({"p_wait_over_4h"}))
    overall = fv[fv["criterion"] == ALL_CRITERIA]
    assert overall["flow_holds"].tolist() == [False, False]
    assert overall["variability_only"].tolist() == [True, False]  # the second fails on occupancy too


def test_views_side_by_side_name_where_they_part_company():
    exp = _exp({"kpi": "mean_occupancy", "at_most": 0.85})
    table = _flow([("baseline", -1, 0, 0.9, 0), ("s", 0, 0, 0.8, 0), ("s", 1, 0, 0.9, 0), ("s", 2, 0, 0.8, 0)])
    fv = flow_verdict_table(exp, table)
    verdicts = pd.DataFrame(
        {
            "scenario": ["s"] * 3,
            "point": [0, 1, 2],
            "criterion": [ALL_CRITERIA] * 3,
            "share_holds": [0.3, 0.95, 0.7],
            "ci_low": [0.1, 0.8, 0.5],
            "ci_high": [0.5, 1.0, 0.9],
            "n": [10, 10, 10],
        }
    )
    side = views_side_by_side(verdicts, fv)
    assert side["averages"].tolist() == ["holds", "fails", "holds"]
    assert side["disagreement"].tolist() == [OVERPROMISE, UNDERPROMISE, ""]
    assert views_sentence(side) == (
        "In 1 of 3 cells the averages say the plan holds but it holds in fewer than half of the replications. "
        "In 1 of 3 cells the averages say the plan fails but it holds in at least 90% of the replications."
    )
    agree = views_side_by_side(verdicts.assign(share_holds=[0.6, 0.5, 0.9]), fv)
    assert views_sentence(agree).startswith("In none of the 3 cells do the two views part company")
    assert views_side_by_side(verdicts, None)["averages"].tolist() == [NOT_RUN] * 3


def test_cells_text_without_views_is_unchanged(promised):
    out, _text, _calls = promised
    res = load_results(out)
    plain = cells_text(res.cell_table(), labels_of(res.experiment), 3)
    assert "Averages" not in plain and "holds*" not in plain
