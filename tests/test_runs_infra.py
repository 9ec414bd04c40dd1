"""The runs layer's machinery, unit by unit and under faults: the atomic writer, results folders
written manifest last, ``reproduce`` refusing incomplete folders, and the executors (same results
whatever runs them, a task's exception surfacing as itself, workers shut down afterwards)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hospsim.cli import main
from hospsim.config import ConfigError, UserError, config_to_dict, load_config
from hospsim.runs import store
from hospsim.runs.errors import OutputError, ResultsError
from hospsim.runs.executors import DaskExecutor, ProcessExecutor, SerialExecutor, check_backend, executor
from hospsim.runs.experiment import load_experiment
from hospsim.runs.replications import daily_frame, replications_table, run_replications
from hospsim.runs.reproduce import reproduce
from hospsim.runs.store import (
    FLOAT_FORMAT,
    MANIFEST,
    SweepStore,
    atomic_write,
    read_daily,
    read_manifest,
    write_csv,
    write_results,
)
from hospsim.runs.sweep import run_sweep

DATA = Path(__file__).parent / "data"


# --- task functions: module-level so that worker processes can unpickle them ------------------


def draw_sum(seed: int) -> tuple[int, float]:
    """A deterministic, seed-only computation."""
    return seed, float(np.random.default_rng(seed).standard_normal(10_000).sum())


def fail_first(task: tuple[int, str]) -> int:
    """Task 0 fails at once; every other task takes a while and leaves a marker file."""
    index, folder = task
    if index == 0:
        raise ValueError("task 0: bad input")
    time.sleep(0.5)
    (Path(folder) / f"{index}.done").touch()
    return index


# --- the atomic writer -----------------------------------------------------------------------


def test_atomic_write_replaces_the_whole_file(tmp_path: Path):
    path = tmp_path / "kpis.csv"
    path.write_text("a,b\n1,2\n")
    assert atomic_write(path, lambda p: p.write_text("a,b\n3,4\n")) == path
    assert path.read_text() == "a,b\n3,4\n"
    assert sorted(os.listdir(tmp_path)) == ["kpis.csv"]


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, error: BaseException):
    path = tmp_path / "kpis.csv"
    path.write_text("a,b\n1,2\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("a,b\n9,")  # half a file reached the disk before the failure
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "a,b\n1,2\n"
    assert sorted(os.listdir(tmp_path)) == ["kpis.csv"]
    # A file that did not exist yet stays absent.
    with pytest.raises(type(error)):
        atomic_write(tmp_path / "new.csv", half_then_fail)
    assert sorted(os.listdir(tmp_path)) == ["kpis.csv"]


def test_csv_tables_use_the_stored_float_format(tmp_path: Path):
    assert FLOAT_FORMAT == "%.10g"
    table = pd.DataFrame({"kpi": ["a", "b", "c"], "mean": [1 / 3, 2.0, np.nan], "n": [3, 3, 0]})
    write_csv(tmp_path / "summary.csv", table)
    assert (tmp_path / "summary.csv").read_text() == "kpi,mean,n\na,0.3333333333,3\nb,2,3\nc,,0\n"


# --- a run's folder --------------------------------------------------------------------------


def _tables(value: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    summary = pd.DataFrame({"kpi": ["beds"], "mean": [value], "ci_low": [value - 1], "ci_high": [value + 1], "n": [2]})
    reps = pd.DataFrame({"replication": [0, 1], "seed": [11, 12], "beds": [value - 0.5, value + 0.5]})
    daily = pd.DataFrame({"replication": [0, 0, 1, 1], "day": [0, 1, 0, 1], "occupied": [1.0, 2.0, 3.0, value]})
    return summary, reps, daily


def _spy_writes(monkeypatch) -> list[str]:
    written: list[str] = []
    real = store.atomic_write

    def spy(path, write_fn):
        written.append(Path(path).name)
        return real(path, write_fn)

    monkeypatch.setattr(store, "atomic_write", spy)
    return written


def test_a_runs_daily_table_as_arrow_bytes_is_the_led_tables_bytes_for_bytes(monkeypatch):
    """run_table_ipc gives the bytes table_ipc gives of the table led by the identity columns:
    first while it learns the schema, then from it (NaN as null, strings, bools, ints), and
    again for another set of columns."""
    monkeypatch.setattr(store, "_RUN_SCHEMAS", {})
    rng = np.random.default_rng(3)

    def daily(n: int, extra: bool) -> pd.DataFrame:
        x = rng.random(n)
        x[::7] = np.nan
        cols = {
            "day": np.arange(n),
            "date": pd.array([f"2017-04-{d % 28 + 1:02d}" for d in range(n)], dtype="str"),
            "occupied_beds_mean": x,
            "weekend": np.arange(n) % 7 > 4,
            "admissions": rng.integers(0, 50, n),
        }
        if extra:
            cols["boarding_mean"] = np.full(n, np.nan)
        return pd.DataFrame(cols)

    for n, extra in [(40, False), (40, False), (3, False), (12, True), (0, True), (12, True)]:
        ident = {"run_id": f"cell-{n}-r1", "scenario": "gated", "point": n, "replication": 1}
        table = daily(n, extra)
        led = pd.concat([pd.DataFrame(ident, index=table.index), table], axis=1)
        assert store.run_table_ipc(ident, table) == store.table_ipc(led)
        assert store.led_table(ident, table).equals(led)
    assert len(store._RUN_SCHEMAS) == 2


def test_run_folder_is_written_atomically_manifest_last(tmp_path: Path, monkeypatch):
    written = _spy_writes(monkeypatch)
    out = tmp_path / "run"
    paths = write_results(out, *_tables(40.0), {"kind": "run", "tag": 1})
    assert written == ["summary.csv", "replications.csv", "daily.parquet", MANIFEST]
    assert [p.name for p in paths] == written
    assert json.loads((out / MANIFEST).read_text()) == {"kind": "run", "tag": 1}
    assert (out / MANIFEST).read_text().startswith('{\n  "kind": "run"')  # indented, as before
    assert read_daily(out)["occupied"].tolist() == [1.0, 2.0, 3.0, 40.0]
    # Rewritten with a CSV daily table: the Parquet one of the earlier run goes.
    write_results(out, *_tables(41.0), {"kind": "run", "tag": 2}, daily_format="csv")
    assert sorted(os.listdir(out)) == ["daily.csv", "manifest.json", "replications.csv", "summary.csv"]
    assert read_daily(out)["occupied"].tolist() == [1.0, 2.0, 3.0, 41.0]


def test_overwrite_cut_short_keeps_the_old_folder_whole(tmp_path: Path, monkeypatch):
    out = tmp_path / "run"
    write_results(out, *_tables(40.0), {"kind": "run", "tag": 1})
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    real = store.atomic_write

    def disk_full_on_daily(path, write_fn):
        if Path(path).name != "daily.parquet":
            return real(path, write_fn)

        def write_then_fail(tmp):
            write_fn(tmp)
            raise OSError("No space left on device")

        return real(path, write_then_fail)

    monkeypatch.setattr(store, "atomic_write", disk_full_on_daily)
    with pytest.raises(
        OutputError, match="cannot write the results \\(No space left on device\\); the folder is unchanged"
    ):
        write_results(out, *_tables(50.0), {"kind": "run", "tag": 2})
    # The new folder was being built beside the old one: the old one is untouched, byte for byte,
    # and neither the temporary folder nor the lock is left behind.
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert read_manifest(out) == {"kind": "run", "tag": 1}


def test_a_half_built_temporary_folder_is_never_read_as_results(tmp_path: Path, monkeypatch):
    out = tmp_path / "run"
    real = store.atomic_write
    seen: list[Path] = []

    def look_then_write(path, write_fn):
        if Path(path).name == MANIFEST:  # every table written, the manifest not yet
            seen.append(Path(path).parent)
            with pytest.raises(ResultsError, match=r"no manifest\.json"):
                read_manifest(Path(path).parent)
            assert not out.exists()
        return real(path, write_fn)

    monkeypatch.setattr(store, "atomic_write", look_then_write)
    write_results(out, *_tables(40.0), {"kind": "run", "tag": 1})
    assert seen == [tmp_path / f".run.tmp-{os.getpid()}"]
    assert read_manifest(out) == {"kind": "run", "tag": 1}


# --- reproduce refuses what is not a complete results folder ---------------------------------


def _run_manifest() -> dict:
    cfg = load_config(DATA / "mini_system.yaml", ["replications=2", "seed=3"])
    return {"kind": "run", "config": config_to_dict(cfg), "replication_seeds": [1, 2], "versions": {}}


def _no_running(monkeypatch) -> None:
    """Make any simulation fail the test: a refused folder must be refused before anything runs."""

    def boom(*_a, **_k):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr("hospsim.runs.reproduce.run_config", boom)
    monkeypatch.setattr("hospsim.runs.reproduce.execute_run", boom)


@pytest.mark.parametrize(
    "manifest_text, files, expected",
    [
        (None, {"replications.csv": "replication,seed\n"}, "no manifest.json"),
        ('{"kind": "run", "config": {', {}, "unreadable manifest"),
        ("[1, 2]", {}, "unreadable manifest (not a JSON object)"),
        (json.dumps({"kind": "ensemble"}), {}, "unknown kind of results 'ensemble'"),
        (json.dumps({"kind": "run"}), {}, "config: missing"),
        (json.dumps({"kind": "run", "config": {"horizon_days": "long"}}), {}, "manifest.json: config: "),
        (json.dumps(_run_manifest()), {"daily.parquet": ""}, "incomplete results folder: no replications.csv"),
        # Stored tables are read before anything is re-run: a broken one is refused at once.
        (
            json.dumps(_run_manifest()),
            {"replications.csv": "replication,seed\n", "daily.parquet": "PAR1"},
            "daily.parquet: unreadable",
        ),
        (
            json.dumps(_run_manifest()),
            {"replications.csv": "replication\n0\n", "daily.csv": "day\n"},
            "replications.csv: incomplete (no column seed)",
        ),
        (
            json.dumps({**_run_manifest(), "patients": True}),
            {"replications.csv": "replication,seed\n", "daily.csv": "day\n", "patients.parquet": "not parquet"},
            "patients.parquet: unreadable",
        ),
        (json.dumps({"kind": "sweep", "complete": False, "experiment_source": "e.yaml"}), {}, "did not finish"),
        (json.dumps({"kind": "sweep", "complete": True}), {}, "no kpis.parquet"),
        (json.dumps({"kind": "sweep", "complete": True}), {"kpis.parquet": ""}, "experiment: missing"),
    ],
)
def test_reproduce_refuses_an_incomplete_or_unreadable_folder(
    tmp_path: Path, monkeypatch, manifest_text: str | None, files: dict[str, str], expected: str
):
    _no_running(monkeypatch)
    folder = tmp_path / "results"
    folder.mkdir()
    if manifest_text is not None:
        (folder / MANIFEST).write_text(manifest_text)
    for name, text in files.items():
        (folder / name).write_text(text)
    with pytest.raises(ResultsError) as err:
        reproduce(folder)
    assert expected in str(err.value) and str(folder) in str(err.value)
    assert not isinstance(err.value, ConfigError)  # a results problem, not a config one


def test_cli_reports_a_folder_without_manifest_in_one_line(tmp_path: Path, capsys):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "summary.csv").write_text("kpi,mean\n")
    assert main(["reproduce", str(folder), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"hospsim: error: {folder}: no manifest.json")


def test_cli_refuses_an_unfinished_sweep(tmp_path: Path, capsys):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"kind": "sweep", "complete": False, "experiment_source": "x.yaml"}))
    assert main(["reproduce", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"hospsim sweep x.yaml --out {folder} --resume" in err


# --- a sweep's folder ------------------------------------------------------------------------


def _record(run_id: str, value: float) -> dict:
    return {
        "run_id": run_id,
        "scenario": "baseline",
        "point": -1,
        "params": [],
        "replication": 0,
        "seed": 1,
        "kpis": {"beds": np.float64(value)},  # numpy numbers are written as floats
        "monthly": {"month": [1], "beds": [value]},
    }


def test_sweep_store_counts_a_run_only_once_its_record_is_written(tmp_path: Path):
    st = SweepStore(tmp_path)
    st.prepare()
    st.write_run(_record("baseline#r000", 1.5), pd.DataFrame({"day": [0, 1], "beds": [1.0, 2.0]}))
    st.write_run(_record("gated#p001#r000", 2.5), pd.DataFrame({"day": [0, 1], "beds": [3.0, 4.0]}))
    # A run killed between its two files, one whose record is garbage, and stray temp files.
    pd.DataFrame({"day": [0], "beds": [9.0]}).to_parquet(st.runs_dir / "fixed_date_r001.daily.parquet")
    (st.runs_dir / "broken.json").write_text('{"run_id": "bro')
    (st.runs_dir / "x.json.tmp").write_text("{")
    (tmp_path / "kpis.csv.tmp").write_text("a,b")
    assert st.done_ids() == {"baseline#r000", "gated#p001#r000"}
    assert not (st.runs_dir / "broken.json").exists()  # the run will be redone
    st.prepare()
    assert not list(tmp_path.rglob("*.tmp"))
    assert json.loads((st.runs_dir / "gated_p001_r000.json").read_text())["kpis"] == {"beds": 2.5}
    rows = st.stream_daily(["gated#p001#r000", "baseline#r000"], tmp_path / "daily.parquet")
    assert rows == 4
    assert pd.read_parquet(tmp_path / "daily.parquet")["beds"].tolist() == [3.0, 4.0, 1.0, 2.0]


def test_sweep_refuses_a_bad_backend_or_a_used_folder_before_writing(tmp_path: Path):
    loaded = load_experiment(DATA / "mini_experiment.yaml")
    out = tmp_path / "out"
    with pytest.raises(UserError, match="--scheduler: only with --backend dask"):
        run_sweep(loaded, out, backend="process", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(UserError, match="unknown backend 'threads'"):
        run_sweep(loaded, out, backend="threads")
    assert not out.exists()
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"kind": "sweep", "experiment_hash": "other"}))
    with pytest.raises(ResultsError, match="--resume"):
        run_sweep(loaded, out)
    with pytest.raises(ResultsError, match="different experiment"):
        run_sweep(loaded, out, resume=True)
    (out / MANIFEST).write_text("{not json")
    with pytest.raises(ResultsError, match="unreadable manifest"):
        run_sweep(loaded, out, resume=True)
    assert sorted(os.listdir(out)) == [MANIFEST]


def test_resume_needs_the_manifest_and_a_second_writer_refuses(tmp_path: Path):
    """Runs on disk without a manifest cannot be matched to an experiment: resuming would mix an
    old experiment's runs with this one's. A live writer's lock makes a second sweep refuse."""
    loaded = load_experiment(DATA / "mini_experiment.yaml")
    out = tmp_path / "out"
    store = SweepStore(out)
    store.prepare()
    store.write_run(_record("baseline#r000", 1.0), pd.DataFrame({"day": [0], "beds": [1.0]}))
    with pytest.raises(ResultsError, match=f"holds runs but no {MANIFEST}") as err:
        run_sweep(loaded, out, resume=True)
    assert "\n" not in str(err.value)
    other = tmp_path / "other"
    lock = tmp_path / ".other.lock"
    holder = os.getppid()  # a live process other than this one holds it
    lock.write_text(str(holder))
    with pytest.raises(UserError, match=f"pid {holder}"):
        run_sweep(loaded, other)
    assert not other.exists() and lock.read_text() == str(holder)


# --- executors -------------------------------------------------------------------------------


def test_executor_choice():
    assert isinstance(executor("process", 1), SerialExecutor)
    assert isinstance(executor("serial", 4), SerialExecutor)
    assert isinstance(executor("process", 2), ProcessExecutor)
    with pytest.raises(UserError, match="--scheduler"):
        executor("process", 2, "tcp://h:1")
    with pytest.raises(UserError, match="unknown backend"):
        check_backend("gpu")


def test_process_and_serial_executors_give_identical_results():
    seeds = list(range(7))
    with executor("serial") as ex:
        serial = list(ex.map_unordered(draw_sum, seeds))
    assert [s for s, _ in serial] == seeds  # serial runs in task order
    with executor("process", 3) as ex:
        parallel = list(ex.map_unordered(draw_sum, seeds))
    assert sorted(parallel) == serial  # exactly equal floats, whatever the order of completion
    assert multiprocessing.active_children() == []


def test_replications_in_order_and_identical_whatever_the_workers():
    cfg = load_config(DATA / "mini_system.yaml", ["replications=4", "seed=3", "horizon_days=120", "warmup_days=20"])
    done: list[int] = []
    one = run_replications(cfg, workers=1)
    two = run_replications(cfg, workers=2, on_done=lambda r: done.append(r.index))
    assert [r.index for r in two] == [0, 1, 2, 3] and sorted(done) == [0, 1, 2, 3]
    assert [r.seed for r in one] == [r.seed for r in two]
    pd.testing.assert_frame_equal(replications_table(one), replications_table(two), check_exact=True)
    pd.testing.assert_frame_equal(daily_frame(one), daily_frame(two), check_exact=True)
    assert replications_table(one)["acute_bed_days"].nunique() == 4  # four different replications


def test_a_failing_task_raises_its_exception_and_the_pool_shuts_down(tmp_path: Path):
    tasks = [(i, str(tmp_path)) for i in range(12)]
    ex = executor("process", 2)
    with pytest.raises(ValueError, match="task 0: bad input"), ex:
        list(ex.map_unordered(fail_first, tasks))
    assert isinstance(ex, ProcessExecutor) and ex._pool is None
    assert multiprocessing.active_children() == []
    # Work already handed to a worker finishes; the rest was cancelled.
    assert len(list(tmp_path.glob("*.done"))) <= 5
    with pytest.raises(ValueError, match="task 0: bad input"), executor("serial") as serial:
        list(serial.map_unordered(fail_first, tasks))


def test_interrupt_while_collecting_cancels_pending_work(tmp_path: Path):
    tasks = [(i, str(tmp_path)) for i in range(1, 13)]
    with pytest.raises(KeyboardInterrupt), executor("process", 2) as ex:
        for _ in ex.map_unordered(fail_first, tasks):
            raise KeyboardInterrupt  # Ctrl-C while the first result is being saved
    assert multiprocessing.active_children() == []
    assert 1 <= len(list(tmp_path.glob("*.done"))) <= 6


def test_dask_backend_without_dask_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch):
    """Dask is an extra ([dask], not [test]): without it, --backend dask says how to install it."""
    monkeypatch.setitem(sys.modules, "dask", None)  # `import dask...` raises ImportError
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(
        UserError, match=r"^--backend dask: dask.distributed is not installed \(pip install 'hospsim\[dask\]'\)$"
    ):
        check_backend("dask")


def test_dask_executor_same_results_and_errors(tmp_path: Path):
    pytest.importorskip("dask.distributed", reason="needs Dask: pip install '.[dask]' (CI installs it)")
    seeds = list(range(5))
    ex = executor("dask", 2)
    assert isinstance(ex, DaskExecutor)
    with ex:
        results = sorted(ex.map_unordered(draw_sum, seeds))
        assert results == [draw_sum(s) for s in seeds]
        with pytest.raises(ValueError, match="task 0: bad input"):
            list(ex.map_unordered(fail_first, [(i, str(tmp_path)) for i in range(4)]))
    assert ex._client is None and ex._cluster is None


def test_sweep_store_joins_daily_tables_of_both_formats_in_row_groups_of_whole_runs(tmp_path: Path, monkeypatch):
    """A sweep begun by a hospsim that wrote each run's daily table as Parquet and resumed by one
    that writes Arrow files is joined whole; whole runs share a row group up to the size set."""
    st = SweepStore(tmp_path)
    st.prepare()
    for i in range(5):
        st.write_run(_record(f"gated#p00{i}#r000", float(i)), pd.DataFrame({"day": [0, 1, 2], "beds": [i, i, i + 0.5]}))
    (st.runs_dir / "gated_p001_r000.daily.arrow").unlink()
    pd.DataFrame({"day": [0, 1, 2], "beds": [1.0, 1.0, 1.5]}).to_parquet(st.runs_dir / "gated_p001_r000.daily.parquet")
    monkeypatch.setattr(store, "DAILY_GROUP_ROWS", 6)
    ids = [f"gated#p00{i}#r000" for i in (4, 1, 0, 3, 2)]
    assert st.stream_daily(ids, tmp_path / "daily.parquet") == 15
    daily = pq.ParquetFile(tmp_path / "daily.parquet")
    assert [daily.metadata.row_group(g).num_rows for g in range(daily.num_row_groups)] == [6, 6, 3]
    assert pd.read_parquet(tmp_path / "daily.parquet")["beds"].tolist() == [
        4.0, 4.0, 4.5, 1.0, 1.0, 1.5, 0.0, 0.0, 0.5, 3.0, 3.0, 3.5, 2.0, 2.0, 2.5,
    ]  # fmt: skip


def test_records_to_frames_joins_monthly_values_as_the_per_run_tables_would():
    """The monthly table is made from the runs' columns at once; runs whose columns differ are
    joined table by table, with gaps as NaN."""
    same = [_record("baseline#r000", 1.0), _record("gated#p001#r000", 2.0)]
    same[1]["monthly"] = {"month": [1, 2], "beds": [2.0, 3.0]}
    kpis, monthly = store.records_to_frames(same)
    assert kpis["beds"].tolist() == [1.0, 2.0]
    assert monthly.columns.tolist() == ["run_id", "scenario", "point", "replication", "month", "beds"]
    assert monthly["run_id"].tolist() == ["baseline#r000", "gated#p001#r000", "gated#p001#r000"]
    assert monthly["beds"].tolist() == [1.0, 2.0, 3.0] and monthly["month"].dtype == np.int64
    other = [*same, {**_record("gated#p002#r000", 4.0), "monthly": {"month": [1], "cases": [7]}}]
    _kpis, monthly = store.records_to_frames(other)
    assert monthly.columns.tolist()[-2:] == ["beds", "cases"]
    assert monthly["cases"].isna().tolist() == [True, True, True, False]
