"""The sweep's per-cell table: cells.csv agrees with the verdicts, the summary and the paired
differences; the console table reads in display names and fits a terminal; a resumed sweep writes
the same file; reproduce checks it, and shows its progress on stderr."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hospsim.analysis.cells import VALUE_COLUMNS, bed_days_kpi, cell_table
from hospsim.cli import main
from hospsim.config.experiment import ALL_CRITERIA, Experiment
from hospsim.outputs.cells import cells_text, criteria_text
from hospsim.outputs.labels import labels_of
from hospsim.runs.errors import ResultsError
from hospsim.runs.experiment import load_experiment
from hospsim.runs.reproduce import reproduce
from hospsim.runs.results import load_results
from hospsim.runs.sweep import run_sweep

DATA = Path(__file__).parent / "data"
LABELS = {"fixed_date": "Cut on the planned date"}
COLUMNS = ["scenario", "point", "param_ic_delay_days", "param_ic_growth_achieved", *VALUE_COLUMNS]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    """The mini experiment with a bed-day criterion that only full IC growth meets (so the plan
    holds in some cells and not in others) and a display name for a scenario."""
    raw = yaml.safe_load((DATA / "mini_experiment.yaml").read_text())
    raw["config"] = str(DATA / raw["config"])
    raw["criteria"][0]["at_most"] = -0.25
    raw["labels"] = LABELS
    path = tmp_path_factory.mktemp("exp") / "cells_experiment.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def swept(experiment: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "out"
    run_sweep(load_experiment(experiment), out, workers=1)
    return out


def _cells(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "cells.csv")


def test_cells_csv_has_one_row_per_cell_in_run_order(swept: Path):
    cells = _cells(swept)
    assert list(cells.columns) == COLUMNS
    assert list(zip(cells["scenario"], cells["point"])) == [("baseline", -1)] + [
        (s, p) for s in ("fixed_date", "gated") for p in range(4)
    ]
    assert set(cells["n"]) == {3}
    assert set(cells["bed_days_kpi"]) == {"acute_bed_days"}  # the KPI the bed-day criterion tests
    base = cells.iloc[0]
    assert math.isnan(base["bed_days_change"]) and math.isnan(base["share_holds"])
    assert base["bed_days_mean"] == base["bed_days_baseline"]
    # The stricter criterion splits the cells: a test of agreement that could fail.
    assert set(cells["share_holds"].dropna()) == {0.0, 1.0}


def test_share_holding_is_the_verdicts_all_criteria_row(swept: Path):
    cells = _cells(swept).set_index(["scenario", "point"])
    verdicts = pd.read_csv(swept / "verdicts.csv")
    every = verdicts[verdicts["criterion"] == ALL_CRITERIA].set_index(["scenario", "point"])
    assert len(every) == 8
    for key, v in every.iterrows():
        c = cells.loc[key]
        assert (c["share_holds"], c["holds_ci_low"], c["holds_ci_high"]) == (
            v["share_holds"],
            v["ci_low"],
            v["ci_high"],
        )


def test_means_and_bed_days_change_are_the_summary_and_paired_differences(swept: Path):
    cells = _cells(swept).set_index(["scenario", "point"])
    summary = pd.read_csv(swept / "summary.csv").set_index(["scenario", "point", "kpi"])["mean"]
    paired = pd.read_csv(swept / "paired_differences.csv")
    paired = paired[paired["kpi"] == "acute_bed_days"].set_index(["scenario", "point"])
    for (scenario, point), c in cells.iterrows():
        for kpi in ("mean_occupancy", "waits_over_12h_per_1000", "displaced_bed_days", "p_transferred_out"):
            assert c[kpi] == summary[(scenario, point, kpi)], (scenario, point, kpi)
        assert c["bed_days_mean"] == summary[(scenario, point, "acute_bed_days")]
        if scenario == "baseline":
            continue
        p = paired.loc[(scenario, point)]
        assert c["bed_days_change"] == p["relative_change"]
        assert c["bed_days_baseline"] == p["baseline_mean"]
        # The change of the mean: (cell mean - baseline mean) / baseline mean.
        base = summary[("baseline", -1, "acute_bed_days")]
        assert c["bed_days_change"] == pytest.approx((c["bed_days_mean"] - base) / base, rel=1e-8)
        assert c["bed_days_change_ci_low"] == pytest.approx(p["ci_low"] / p["baseline_mean"], rel=1e-8)
        assert c["bed_days_change_ci_low"] < c["bed_days_change"] < c["bed_days_change_ci_high"]
    # Full IC growth saves more than half growth: -26.5% against -22.7% when on time.
    assert round(100 * cells.loc[("fixed_date", 1), "bed_days_change"], 1) == -26.5
    assert round(100 * cells.loc[("fixed_date", 0), "bed_days_change"], 1) == -22.7


def test_bed_days_kpi_is_the_criterion_s_else_bed_days_demanded():
    raw = yaml.safe_load((DATA / "mini_experiment.yaml").read_text())
    names = ["acute_bed_days", "bed_days_demanded", "mean_occupancy"]
    assert bed_days_kpi(Experiment.model_validate(raw), names) == "acute_bed_days"
    raw["criteria"] = [c for c in raw["criteria"] if c["kpi"] != "acute_bed_days"]
    assert bed_days_kpi(Experiment.model_validate(raw), names) == "bed_days_demanded"
    assert bed_days_kpi(Experiment.model_validate(raw), ["mean_occupancy"]) is None


def test_console_table_reads_in_display_names_and_fits_a_terminal(swept: Path):
    res = load_results(swept)
    cells = res.cell_table()
    text = cells_text(cells, labels_of(res.experiment), 3, full_table=swept / "cells.csv")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "Cut on the planned date (fixed_date)" in lines and "Gated" in lines
    assert "all 3 criteria" in text and "acute bed days" in text
    row = next(line for line in lines if line.split()[:4] == ["3", "months", "late", "100%"])
    c = cells[(cells["scenario"] == "fixed_date") & (cells["point"] == 3)].iloc[0]
    assert row.split()[6:] == [
        f"{100 * c['bed_days_change']:+.1f}%",
        f"{100 * c['mean_occupancy']:.1f}%",
        f"{c['waits_over_12h_per_1000']:.1f}",
        "0",
        "0%",
        "100%",
        "(44-100%)",
    ]
    assert sum(line.startswith("  on time ") for line in lines) == 4  # two per scenario


def test_a_large_sweep_shows_the_cells_where_the_plan_holds_most(swept: Path):
    res = load_results(swept)
    text = cells_text(res.cell_table(), labels_of(res.experiment), 3, max_rows=3, full_table="R/cells.csv")
    rows = [line for line in text.splitlines() if line.startswith("  ") and "of plan" in line]
    assert len(rows) == 3 and all("100% (44-100%)" in r for r in rows)
    assert "(2 of 4 cells shown)" in text and "(1 of 4 cells shown)" in text
    assert "Showing the 3 of 8 cells" in text and "every cell: R/cells.csv" in text


def test_without_sweep_or_criteria_scenarios_are_rows(tmp_path: Path):
    raw = yaml.safe_load((DATA / "mini_experiment.yaml").read_text())
    raw["config"] = str(DATA / raw["config"])
    del raw["sweep"], raw["criteria"]
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(raw))
    run_sweep(load_experiment(path), tmp_path / "out", workers=1)
    cells = _cells(tmp_path / "out")
    assert list(cells.columns) == ["scenario", "point", *VALUE_COLUMNS]
    assert list(cells["point"]) == [-1, -1, -1] and cells["share_holds"].isna().all()
    assert set(cells["bed_days_kpi"]) == {"bed_days_demanded"}  # no criterion names one
    lines = cells_text(cells, labels_of(raw), 0).splitlines()
    assert lines[-4].split() == ["Scenario", "vs", "baseline", "occupancy", "per", "1,000", "bed", "days", "out"]
    assert lines[-1].split()[:2] == ["Gated", f"{100 * cells['bed_days_change'].iloc[2]:+.1f}%"]
    assert "Whole plan holds" not in "\n".join(lines)


def test_criteria_lines_count_cells(swept: Path):
    text = criteria_text(pd.read_csv(swept / "verdicts.csv"))
    counts = {line.rsplit(None, 2)[0]: line.rsplit(None, 2)[1:] for line in text.splitlines()[3:]}
    assert counts[ALL_CRITERIA] == ["4", "4"]  # full IC growth holds, half does not
    assert counts["mean_occupancy <= 0.92"] == ["8", "0"]


def test_sweep_command_ends_with_the_cell_table(experiment: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    assert main(["sweep", str(experiment), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "Whole plan holds" in stdout and "Cut on the planned date (fixed_date)" in stdout
    assert f"every cell: {out / 'cells.csv'}" not in stdout  # all 8 cells shown
    assert "cells.csv" in stdout.splitlines()[-1]
    assert stdout.count("\n") < 45  # not a line per criterion and cell (8 x 4 of them)


def test_resumed_sweep_writes_the_same_cells_csv(experiment: Path, swept: Path, tmp_path: Path):
    out = tmp_path / "resumed"

    def stop_after_ten(done: int, _total: int) -> None:
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_experiment(experiment), out, workers=1, on_progress=stop_after_ten)
    assert not (out / "cells.csv").exists()
    run_sweep(load_experiment(experiment), out, workers=1, resume=True)
    assert (out / "cells.csv").read_bytes() == (swept / "cells.csv").read_bytes()


def test_results_without_cells_csv_get_the_same_table(swept: Path, tmp_path: Path):
    old = tmp_path / "old"
    shutil.copytree(swept, old)
    (old / "cells.csv").unlink()  # a folder of a hospsim that did not write it
    made = load_results(old).cell_table()
    assert made.to_csv(index=False, float_format="%.10g") == (swept / "cells.csv").read_text()


def test_cell_table_recomputes_the_verdicts_the_same(swept: Path, experiment: Path):
    kpis = pd.read_parquet(swept / "kpis.parquet")
    exp = load_experiment(experiment).experiment
    remade = cell_table(exp, kpis).to_csv(index=False, float_format="%.10g")
    assert remade == (swept / "cells.csv").read_text()


@pytest.fixture()
def copy_of(swept: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(swept, folder)
    return folder


def test_reproduce_checks_cells_csv(copy_of: Path):
    calls: list[tuple[int, int]] = []
    good = reproduce(copy_of, workers=1, sample=2, on_progress=lambda d, t: calls.append((d, t)))
    assert good.ok and not good.notes
    assert calls == [(0, 2), (1, 2), (2, 2)]
    cells = _cells(copy_of)
    cells.loc[2, "share_holds"] = 0.5  # a tampered verdict
    cells.to_csv(copy_of / "cells.csv", index=False, float_format="%.10g")
    bad = reproduce(copy_of, workers=1, sample=1)
    assert not bad.ok and bad.mismatches == ["cells.csv share_holds: 1 values differ"]
    (copy_of / "cells.csv").unlink()
    old = reproduce(copy_of, workers=1, sample=1)
    assert old.ok and len(old.notes) == 1 and "no cells.csv" in old.notes[0] and "--resume" in old.notes[0]


def test_reproduce_refuses_an_unreadable_cells_csv(copy_of: Path):
    (copy_of / "cells.csv").write_text("scenario,point\nbaseline,-1\n")
    with pytest.raises(ResultsError, match=r"cells.csv: incomplete \(no column n, bed_days_kpi"):
        reproduce(copy_of, workers=1, sample=1)


def test_reproduce_progress_goes_to_stderr_unless_turned_off(swept: Path, capsys):
    assert main(["reproduce", str(swept), "--workers", "1", "--sample", "2"]) == 0
    out, err = capsys.readouterr()
    assert "reproduce: runs" in err and "2/2" in err
    assert "re-runs" not in out and "reproduced: 2 runs" in out
    assert main(["reproduce", str(swept), "--workers", "1", "--sample", "2", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "reproduced: 2 runs" in out


def test_reproduce_of_a_run_reports_each_replication(tmp_path: Path):
    out = tmp_path / "run"
    cfg = str(DATA / "mini_system.yaml")
    assert main(["run", cfg, "-r", "2", "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    calls: list[tuple[int, int]] = []
    assert reproduce(out, workers=1, on_progress=lambda d, t: calls.append((d, t))).ok
    assert calls == [(0, 2), (1, 2), (2, 2)]
