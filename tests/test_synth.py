"""Synthetic extracts (hospsim.runs.synth, `hospsim synth`): the acute spells of a replication in
the extract format, read back by read_extract to the records' numbers."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hospsim import cli
from hospsim.config import ConfigError, load_config
from hospsim.config.extract import COLUMN_NAMES, example_extract_path, read_extract
from hospsim.model.engine import run_model
from hospsim.model.records import ADMITTED, AVOIDED, FROM_ACUTE
from hospsim.model.streams import replication_seeds
from hospsim.runs.errors import OutputError
from hospsim.runs.synth import extract_period, synth_config, synth_extract, write_extract

DATA = Path(__file__).parent / "data"
YEARS = 1.0
SEED = 11
# The mini chain (assessments, a rehab unit that blocks acute beds, onward moves) with electives
# and step-up care, so that every kind of patient that is not a row occurs too.
OVERRIDES = {
    "demand.elective": {"per_weekday": 2, "referrals_per_week": 10, "los": {"dist": "gamma", "mean_days": 3, "cv": 0.8}},
    "groups.frail.step_up_share": 0.3,
    "services.step_up": {"kind": "step_up", "capacity": 2, "los": {"dist": "fixed", "mean_days": 5}},
}  # fmt: skip
# How the shipped example extract was made (docs/extract-format.md shows this command).
EXAMPLE_ARGS = [
    "--years", "0.1",
    "--set", "demand.emergency.per_day=5", "--set", "acute.beds=32", "--set", "acute.escalation.beds=1",
    "--set", "demand.elective.per_weekday=1", "--set", "demand.elective.referrals_per_week=5",
    "--set", "demand.elective.initial_list.patients=43", "--set", "services.step_up.capacity=1",
    "--set", "services.home_support.capacity=3", "--set", "services.rehab_bed.capacity=6",
    "--set", "services.care_home.capacity=6",
]  # fmt: skip


@pytest.fixture(scope="module")
def cfg():
    return load_config(DATA / "mini_chain.yaml", []).with_overrides(OVERRIDES)


@pytest.fixture(scope="module")
def extract_df(cfg):
    return synth_extract(cfg, YEARS, SEED)


@pytest.fixture(scope="module")
def records(cfg):
    """The replication the extract comes from, run here on its own."""
    run_cfg = synth_config(cfg, YEARS)
    return run_cfg, run_model(run_cfg, replication_seeds(SEED, 1)[0])


@pytest.fixture(scope="module")
def files(extract_df, tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    return write_extract(extract_df, folder / "x.parquet"), write_extract(extract_df, folder / "x.csv")


def test_the_run_is_the_warm_up_then_the_years(cfg):
    run_cfg = synth_config(cfg, 2.5)
    assert (run_cfg.warmup_days, run_cfg.horizon_days) == (60, 60 + 913)  # round(2.5 x 365.25)
    assert extract_period(cfg, 2.5) == (dt.date(2017, 5, 31), dt.date(2017, 4, 1) + dt.timedelta(days=973))
    with pytest.raises(ConfigError, match=r"^--years: must be more than 0 and at most 100, got 0$"):
        synth_config(cfg, 0)
    with pytest.raises(ConfigError, match=r"^--years: 0.001 years is less than a day$"):
        synth_config(cfg, 0.001)


def in_window(run_cfg, rep) -> np.ndarray:
    rec = rep.records
    return (rec.outcome == ADMITTED) & (rec.admit_days >= run_cfg.warmup_days) & (rec.admit_days < run_cfg.horizon_days)


def test_rows_are_the_acute_spells_admitted_in_the_period(extract_df, records):
    run_cfg, rep = records
    rec, co = rep.records, rep.cohort
    rows = in_window(run_cfg, rep)
    assert list(extract_df.columns) == list(COLUMN_NAMES)
    assert len(extract_df) == int(rows.sum()) > 2000
    elective = co.is_elective[rows]
    counts = extract_df["admission_method"].value_counts()
    assert (counts["emergency"], counts["elective"]) == (int((~elective).sum()), int(elective.sum()))
    assert counts["elective"] > 100
    assert int((rec.outcome == AVOIDED).sum()) > 50  # diverted to step-up: not rows
    assert extract_df["episode_id"].iloc[[0, 1, -1]].tolist() == ["E000001", "E000002", f"E{len(extract_df):06d}"]
    assert extract_df["admission_datetime"].is_monotonic_increasing
    assert extract_df["admission_datetime"].min() >= pd.Timestamp("2017-05-31")
    assert extract_df["admission_datetime"].max() < pd.Timestamp(dt.date(2017, 4, 1) + dt.timedelta(days=60 + 365))
    assert set(extract_df.loc[extract_df["admission_method"] == "elective", "group"]) == {"elective"}
    assert set(extract_df["group"]) == {"frail", "other", "elective"}


def test_read_back_the_extract_gives_the_records_numbers(files, records):
    run_cfg, rep = records
    rec = rep.records
    rows = np.flatnonzero(in_window(run_cfg, rep))
    for path in files:
        e = read_extract(path)
        ep = e.episodes
        assert (e.start_date, e.end_date) == (dt.date(2017, 5, 31), dt.date(2018, 5, 31))
        # Acute LOS (admission to leaving the bed) of the discharged, to the second.
        gone = rows[~np.isnan(rec.bed_leave_days[rows])]
        los = rec.bed_leave_days[gone] - rec.admit_days[gone]
        read_los = (ep["discharge_days"] - ep["admission_days"]).dropna()
        assert len(read_los) == gone.size
        assert abs(read_los.mean() - los.mean()) * 86400 < 1
        # Still in a bed at the end: no discharge.
        assert int(ep["discharge_datetime"].isna().sum()) == int(np.isnan(rec.bed_leave_days[rows]).sum()) > 10
        # Medically fit to discharge (the delay), to the second.
        fit = ~np.isnan(rec.fit_days[gone])
        delay = (ep["discharge_days"] - ep["medically_fit_days"]).dropna()
        assert abs(delay.mean() - (rec.bed_leave_days[gone] - rec.fit_days[gone])[fit].mean()) * 86400 < 1
        assert delay.max() > 1  # the rehab unit blocks acute beds
        # Pathway shares of the discharged: each first community visit from a bed, the rest home.
        v = rec.visits
        first = (v.origin == FROM_ACUTE) & (v.depth == 0)
        moved_on = first & np.isin(v.patient, gone)
        names = pd.Series(np.array(rep.cohort.service_names)[v.service[moved_on]])
        expected = {"home": gone.size - int(moved_on.sum()), **names.value_counts().to_dict()}
        shares = ep.loc[ep["discharge_datetime"].notna(), "discharge_pathway"].value_counts()
        assert shares.to_dict() == expected
        assert set(expected) == {"home", "rehab"} and expected["rehab"] > 200
        # Still in a bed: the pathway is known once referred (medically fit), else empty.
        waiting = first & np.isin(v.patient, rows[np.isnan(rec.bed_leave_days[rows])])
        in_bed = ep[ep["discharge_datetime"].isna()]
        assert int(in_bed["discharge_pathway"].notna().sum()) == int(waiting.sum())
        # Community stays (service start to leaving its place) of the first visit, to the second.
        moved = moved_on & ~np.isnan(v.leave_days)
        stay = (ep["service_end_days"] - ep["service_start_days"]).dropna()
        assert len(stay) == int(moved.sum()) > 50
        assert abs(stay.mean() - (v.leave_days[moved] - v.start_days[moved]).mean()) * 86400 < 1


def test_csv_and_parquet_give_the_same_extract(files):
    parquet, csv = (read_extract(p) for p in files)
    pd.testing.assert_frame_equal(parquet.episodes, csv.episodes)
    assert (parquet.start_date, parquet.end_date, parquet.defaults_used) == (csv.start_date, csv.end_date, ())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_data(cfg, extract_df, files, tmp_path):
    again = write_extract(synth_extract(cfg, YEARS, SEED), tmp_path / "again.parquet")
    assert digest(again) == digest(files[0])
    other = synth_extract(cfg, YEARS, SEED + 1)
    first = other["admission_datetime"].head(20).to_numpy()
    assert np.count_nonzero(first != extract_df["admission_datetime"].head(20).to_numpy()) == 20
    assert other["episode_id"].iloc[-1] != extract_df["episode_id"].iloc[-1]


def test_write_extract_refuses_to_overwrite_without_force(extract_df, tmp_path):
    path = write_extract(extract_df.head(3), tmp_path / "x.csv")
    before = path.read_bytes()
    with pytest.raises(OutputError, match=r"already exists; hospsim synth overwrites nothing without --force$"):
        write_extract(extract_df, path)
    assert path.read_bytes() == before
    write_extract(extract_df.head(5), path, force=True)
    assert len(read_extract(path).episodes) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]  # no temporary file left
    with pytest.raises(OutputError, match=r"expected a .parquet or .csv file name$"):
        write_extract(extract_df, tmp_path / "x.xlsx")
    nested = write_extract(extract_df.head(2), tmp_path / "new" / "folder" / "x.parquet")
    assert len(read_extract(nested).episodes) == 2


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hospsim", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_the_synth_command(tmp_path, capsys, monkeypatch):
    config = str(DATA / "mini_system.yaml")
    done = run_cli("synth", config, "--years", "1", "--seed", "3", "--out", "x.parquet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    e = read_extract(tmp_path / "x.parquet")
    n = len(e.episodes)
    still = int(e.episodes["discharge_datetime"].isna().sum())
    assert done.stdout == (
        f"x.parquet: {n:,} acute spells ({n:,} emergency, 0 elective; {still} still in hospital at the end) "
        f"admitted 31 May 2017 to 30 May 2018, from one replication of {config} (seed 3)\n"
    )
    expected = synth_extract(load_config(DATA / "mini_system.yaml", []), 1, 3)
    assert len(expected) == n and expected["episode_id"].iloc[-1] == e.episodes["episode_id"].iloc[-1]
    before = (tmp_path / "x.parquet").read_bytes()
    bad = {
        ("--out", "x.parquet"): "hospsim: error: --out x.parquet: already exists; hospsim synth overwrites nothing without --force\n",
        ("--out", "y.xlsx"): "hospsim: error: --out y.xlsx: expected a .parquet or .csv file name\n",
        ("--out", "y.csv", "--years", "0"): "hospsim: error: argument --years: expected a number of years above 0 and at most 100, got '0' (see hospsim synth --help)\n",
        ("--out", "y.csv", "--years", "nan"): "hospsim: error: argument --years: expected a number of years above 0 and at most 100, got 'nan' (see hospsim synth --help)\n",
        ("--out", "y.csv", "--set", "acute.beds=-1"): None,
    }  # fmt: skip
    # The refusals in this process (the command above crossed the process boundary): the same
    # main(), a fraction of the time.
    monkeypatch.chdir(tmp_path)
    for args, message in bad.items():
        years = () if "--years" in args else ("--years", "1")
        code = cli.main(["synth", config, *years, *args])
        out, err = capsys.readouterr()
        assert code == 2, args
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("hospsim: error: ")
        if message is not None:
            assert err == message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]  # nothing else written
    assert (tmp_path / "x.parquet").read_bytes() == before
    done = run_cli("synth", config, "--years", "0.5", "--out", "x.parquet", "--force", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "x.parquet").read_bytes() != before


def test_the_shipped_example_is_what_its_documented_command_writes(tmp_path):
    """docs/extract-format.md shows the command; regenerate the file with it after a model change."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "extract-format.md").read_text()
    command = doc.split("```bash\nhospsim synth --years 0.1", 1)[1].split("```", 1)[0]
    assert ["--years", "0.1", *command.replace("\\\n", " ").split()] == [
        *EXAMPLE_ARGS[:2],
        "--out",
        "example_extract.csv",
        *EXAMPLE_ARGS[2:],
    ]
    out = tmp_path / "example_extract.csv"
    assert cli.main(["synth", *EXAMPLE_ARGS, "--out", str(out)]) == 0
    assert out.read_bytes() == example_extract_path().read_bytes(), (
        "hospsim/data/example_extract.csv is out of date: rerun the command in docs/extract-format.md"
    )
