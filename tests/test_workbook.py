"""The Excel workbook of a results folder (`--xlsx` of run and sweep, `hospsim export`): its numbers
equal the folder's tables to the last digit, every column of every sheet is documented, numbers
are numbers with formats, and writing it changes nothing else (reproduce still passes)."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hospsim.analysis.verdicts import BREAKS, HOLDS
from hospsim.cli import main
from hospsim.outputs.workbook import verdict_word

openpyxl = pytest.importorskip("openpyxl", reason="the workbook needs openpyxl (hospsim[xlsx])")

DATA = Path(__file__).parent / "data"
EXPERIMENT = DATA / "mini_experiment.yaml"
SYSTEM = DATA / "mini_system.yaml"


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini experiment swept with `--xlsx` (the workbook at its default place)."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    argv = ["sweep", str(EXPERIMENT), "--out", str(out), "--workers", "1", "--no-progress", "--xlsx"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two replications of the mini system run with `--xlsx`."""
    out = tmp_path_factory.mktemp("run") / "out"
    argv = ["run", str(SYSTEM), "-r", "2", "--out", str(out), "--workers", "1", "--no-progress", "--xlsx"]
    assert main(argv) == 0
    return out


def sheets(path: Path) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None)


def assert_same_numbers(book: pd.DataFrame, csv: pd.DataFrame, columns: list[str]) -> None:
    """Every value of ``columns`` equal to the last digit (an empty cell where the CSV has none)."""
    assert len(book) == len(csv)
    for col in columns:
        a, b = book[col].to_numpy(dtype=float), csv[col].to_numpy(dtype=float)
        same = (a == b) | (pd.isna(a) & pd.isna(b))
        assert same.all(), (col, a[~same][:3], b[~same][:3])


def test_sweep_workbook_equals_the_folder_tables(sweep_dir: Path):
    book = sheets(sweep_dir / "results.xlsx")
    assert list(book) == ["summary", "verdicts", "paired_differences", "cells", "about", "columns"]
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert_same_numbers(book["summary"], summary, ["point", "mean", "ci_low", "ci_high", "n"])
    assert (book["summary"]["kpi"] == summary["kpi"]).all()
    verdicts = pd.read_csv(sweep_dir / "verdicts.csv")
    numbers = ["share_holds", "ci_low", "ci_high", "n", "value_mean", "share_breached_in_some_month"]
    assert_same_numbers(book["verdicts"], verdicts, numbers)
    assert (book["verdicts"]["criterion"] == verdicts["criterion"]).all()
    paired = pd.read_csv(sweep_dir / "paired_differences.csv")
    numbers = ["baseline_mean", "scenario_mean", "difference", "ci_low", "ci_high", "n", "relative_change"]
    assert_same_numbers(book["paired_differences"], paired, numbers)
    cells = pd.read_csv(sweep_dir / "cells.csv")
    numbers = [c for c in cells.columns if c not in ("scenario", "bed_days_kpi")]
    assert_same_numbers(book["cells"], cells, numbers)


def test_sweep_workbook_names_units_and_verdicts(sweep_dir: Path):
    book = sheets(sweep_dir / "results.xlsx")
    s = book["summary"]
    row = s[(s["scenario"] == "baseline") & (s["kpi"] == "mean_occupancy")].iloc[0]
    assert (row["scenario_name"], row["kpi_name"], row["unit"]) == ("Baseline", "Mean occupancy", "share 0–1")
    cell = s[(s["scenario"] == "fixed_date") & (s["point"] == 2)].iloc[0]
    assert cell["param_ic_delay_days"] == 90 and cell["param_ic_growth_achieved"] == 0.5
    assert cell["cell_name"] == "Fixed date: intermediate care 3 months late, intermediate care growth 50% of plan"
    v = book["verdicts"]
    assert set(v["criterion_name"]) == {
        "Acute bed days at most −15% against the baseline",
        "Mean occupancy at most 92%",
        "Waits over 12 h per 1,000 at most +5 per 1,000 against the baseline",
        "All criteria (the whole plan)",
    }
    expected = ["holds" if x >= HOLDS else "breaks" if x < BREAKS else "uncertain" for x in v["share_holds"]]
    assert list(v["verdict"]) == expected
    words = [verdict_word(x) for x in (1.0, HOLDS, HOLDS - 0.01, BREAKS, BREAKS - 0.01, math.nan)]
    assert words == ["holds", "holds", "uncertain", "uncertain", "breaks", "n/a"]


def test_every_column_of_every_sheet_is_documented(sweep_dir: Path, run_dir: Path):
    for folder in (sweep_dir, run_dir):
        book = sheets(folder / "results.xlsx")
        doc = book["columns"]
        documented = list(zip(doc["sheet"], doc["column"]))
        present = [(name, str(col)) for name, table in book.items() for col in table.columns]
        assert documented == present  # each once, in sheet order, none that is not there
        assert doc["meaning"].str.len().min() > 5 and doc["unit"].notna().all()
    units = doc.set_index(["sheet", "column"])["unit"]
    assert units[("summary", "n")] == "replications"


def test_numbers_are_numbers_with_formats_and_a_frozen_header(sweep_dir: Path):
    wb = openpyxl.load_workbook(sweep_dir / "results.xlsx")
    ws = wb["summary"]
    header = [c.value for c in ws[1]]
    formats = {}
    for row in ws.iter_rows(min_row=2):
        kpi = row[header.index("kpi")].value
        mean = row[header.index("mean")]
        assert mean.data_type == "n" and isinstance(mean.value, (int, float))
        formats[kpi] = mean.number_format
    assert formats["mean_occupancy"] == "0.0%"
    assert formats["acute_bed_days"] == "#,##0"
    assert formats["emergency_admissions"] == "#,##0.0"
    for name in wb.sheetnames:
        sheet = wb[name]
        assert sheet.freeze_panes == "A2", name
        assert all(c.font.b for c in sheet[1]), name
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row), name  # no formulas
        assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in sheet[1]), name
    verdicts = wb["verdicts"]
    share = [c.value for c in verdicts[1]].index("share_holds") + 1
    assert verdicts.cell(row=2, column=share).number_format == "0.0%"


def test_text_that_looks_like_a_formula_stays_text(sweep_dir: Path, tmp_path: Path):
    import json

    folder = tmp_path / "labelled"
    shutil.copytree(sweep_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["experiment"]["labels"] = {"fixed_date": "=1+1", "gated": "bad\x01name"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["export", str(folder), "--xlsx", "--force"]) == 0
    ws = openpyxl.load_workbook(folder / "results.xlsx")["summary"]
    names = {c.value: c.data_type for c in ws["B"][1:]}
    assert names == {"Baseline": "s", "=1+1": "s", "badname": "s"}


def test_about_sheet_says_what_the_folder_is(sweep_dir: Path, run_dir: Path):
    import json

    about = sheets(run_dir / "results.xlsx")["about"].set_index("item")["value"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert about["config hash (SHA-256)"] == manifest["config_hash"]
    assert about["root seed"] == manifest["root_seed"] and about["replications"] == 2
    assert about["created"] == manifest["finished_at"]
    assert about["command"] == " ".join(["hospsim", *manifest["command"][1:]])
    assert about["sheets"] == "summary, about, columns"
    assert "no criteria" in about["no verdicts sheet"]
    about = sheets(sweep_dir / "results.xlsx")["about"].set_index("item")["value"]
    assert about["window"] == "days 200 to 299: 18 Oct 2017 to 25 Jan 2018"
    assert about["cells"] == 9 and about["criteria"] == 3 and about["root seed"] == 5


def test_run_workbook_equals_summary_csv(run_dir: Path):
    book = sheets(run_dir / "results.xlsx")
    assert list(book) == ["summary", "about", "columns"]
    summary = pd.read_csv(run_dir / "summary.csv")
    assert_same_numbers(book["summary"], summary, ["mean", "ci_low", "ci_high", "n"])
    assert list(book["summary"]["kpi"]) == list(summary["kpi"])


def test_reproduce_passes_with_the_workbook_in_the_folder(sweep_dir: Path, run_dir: Path):
    assert main(["reproduce", str(run_dir), "--workers", "1", "--no-progress"]) == 0
    assert main(["reproduce", str(sweep_dir), "--sample", "2", "--workers", "1", "--no-progress"]) == 0


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_writes_the_same_bytes_and_changes_nothing_else(
    sweep_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "copy"
    shutil.copytree(sweep_dir, folder)
    (folder / "results.xlsx").unlink()
    before = _files(folder)
    assert main(["export", str(folder), "--xlsx"]) == 0
    assert f"workbook written to {folder / 'results.xlsx'}" in capsys.readouterr().out
    after = _files(folder)
    book = after.pop("results.xlsx")
    assert after == before
    assert main(["export", str(folder), "--xlsx", str(tmp_path / "again.xlsx")]) == 0
    assert (tmp_path / "again.xlsx").read_bytes() == book  # the same folder, the same bytes
    ours, theirs = sheets(folder / "results.xlsx"), sheets(sweep_dir / "results.xlsx")
    for name in ("summary", "verdicts", "paired_differences", "cells", "columns"):  # `about` names the folder
        pd.testing.assert_frame_equal(ours[name], theirs[name])


def test_export_never_overwrites_without_force(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"mine")
    assert main(["export", str(run_dir), "--xlsx", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert target.read_bytes() == b"mine"
    assert main(["export", str(run_dir), "--xlsx", str(target), "--force"]) == 0
    assert target.read_bytes() == (run_dir / "results.xlsx").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_export_refuses_an_incomplete_folder_in_one_line(sweep_dir: Path, tmp_path: Path):
    folder = tmp_path / "broken"
    shutil.copytree(sweep_dir, folder)
    (folder / "results.xlsx").unlink()
    (folder / "verdicts.csv").unlink()
    res = subprocess.run(
        [sys.executable, "-m", "hospsim", "export", str(folder), "--xlsx"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and f"{folder}: missing verdicts.csv" in res.stderr
    assert not (folder / "results.xlsx").exists()


def test_run_refuses_an_existing_workbook_before_simulating(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"mine")
    out = tmp_path / "out"
    assert main(["run", str(SYSTEM), "-r", "1", "--out", str(out), "--no-progress", "--xlsx", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert not out.exists() and target.read_bytes() == b"mine"


def test_a_workbook_path_ends_in_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # `run --xlsx CONFIG` would otherwise take the config for the workbook to write
    assert main(["run", "--xlsx", str(SYSTEM), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a workbook's name (it ends in .xlsx)" in err
    assert not (tmp_path / "out").exists()


def test_without_openpyxl_one_line_says_how_to_install(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl raises ImportError
    assert main(["export", str(run_dir), "--xlsx", "--force"]) == 2
    assert "pip install 'hospsim[xlsx]'" in capsys.readouterr().err


def test_api_to_xlsx_writes_the_same_workbook(run_dir: Path, tmp_path: Path):
    import hospsim

    res = hospsim.load_results(run_dir)
    path = res.to_xlsx(tmp_path / "api.xlsx")
    assert path.read_bytes() == (run_dir / "results.xlsx").read_bytes()
    with pytest.raises(hospsim.UserError, match="already exists"):
        res.to_xlsx(tmp_path / "api.xlsx")
    assert not math.isnan(pd.read_excel(path, sheet_name="summary")["mean"].iloc[0])


def test_a_sweep_without_criteria_has_no_verdicts_sheet_and_says_why(tmp_path: Path):
    import yaml

    raw = yaml.safe_load(EXPERIMENT.read_text())
    raw.update(config=str(SYSTEM), criteria=[], name="no-criteria")
    del raw["sweep"]
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress", "--xlsx"]) == 0
    book = sheets(out / "results.xlsx")
    assert list(book) == ["summary", "paired_differences", "cells", "about", "columns"]
    about = book["about"].set_index("item")["value"]
    assert about["no verdicts sheet"] == "the experiment has no criteria" and about["criteria"] == 0
    assert "param_ic_delay_days" not in book["summary"].columns  # nothing swept
    assert set(book["cells"]["cell_name"]) == {"Baseline", "Fixed date", "Gated"}
    assert_same_numbers(book["summary"], pd.read_csv(out / "summary.csv"), ["mean", "ci_low", "ci_high"])


def test_results_in_memory_need_a_path_and_are_not_rounded(tmp_path: Path):
    import hospsim

    res = hospsim.run(SYSTEM, replications=1, workers=1, progress=False)
    with pytest.raises(hospsim.UserError, match="in memory only"):
        res.to_xlsx()
    book = sheets(res.to_xlsx(tmp_path / "memory.xlsx"))
    # 16 significant digits (openpyxl's; Excel shows 15), more than the CSV tables' 10.
    for col in ("mean", "ci_low", "ci_high"):
        np.testing.assert_allclose(book["summary"][col], res.summary[col], rtol=1e-15, atol=0)
    assert not np.allclose(res.summary["mean"], res.summary["mean"].map(lambda x: float(f"{x:.10g}")), rtol=1e-12)
    assert book["about"].set_index("item")["value"]["results folder"].endswith("(not saved)")
