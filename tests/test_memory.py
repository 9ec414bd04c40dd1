"""Memory stays flat: running more replications in one process does not hold more memory, a
process pool hands each result back without keeping it, and a sweep's daily tables go to disk
run by run and are joined one run at a time, never all in memory."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hospsim.model.fast import fast_engine_problem
from hospsim.runs.executors import ProcessExecutor, background_process
from hospsim.runs.experiment import load_experiment
from hospsim.runs.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
# Peak memory may grow by this much from the 3rd to the 20th replication. Measured (default
# footprint, 30 days: about 15,000 patients a replication): 2 MB without a leak, 33 MB when
# every finished replication is kept alive (the control below).
GROWTH_LIMIT_MB = 15.0

SERIAL = """
import json, sys
import hospsim.runs.replications as runs
from hospsim.config import default_config_path, load_config
from hospsim.model.streams import replication_seeds

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

kept = []
if sys.argv[1] == "leak":  # the control: every finished replication stays alive
    real = runs.run_model
    def leaky(*args):
        kept.append(real(*args))
        return kept[-1]
    runs.run_model = leaky
cfg = load_config(default_config_path(), ["horizon_days=30", "warmup_days=10", f"engine={sys.argv[2]}"])
peaks, patients = {}, 0
for i, seed in enumerate(replication_seeds(3, 20)):
    result = runs.replication_task(runs.ReplicationTask(cfg, i, seed))
    patients = sum(result.final_states.values())
    peaks[i + 1] = peak_mb()
print(json.dumps({"after_3": peaks[3], "after_20": peaks[20], "patients": patients}))
"""


def serial_peaks(mode: str, engine: str) -> dict[str, float]:
    """Peak memory after the 3rd and the 20th of 20 replications run one after another in one
    fresh process (``mode`` "leak": keeping each finished replication alive)."""
    # Without test coverage (CI): its tracer keeps data of its own, and makes SimPy slower.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    out = subprocess.run(
        [sys.executable, "-c", SERIAL, mode, engine],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    peaks: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return peaks


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc (Linux)")
@pytest.mark.parametrize("engine", ["simpy", "fast"])
def test_peak_memory_does_not_grow_with_the_number_of_replications(engine):
    if engine == "fast" and fast_engine_problem() is not None:
        pytest.skip(str(fast_engine_problem()))
    flat = serial_peaks("flat", engine)
    assert flat["patients"] > 10_000  # small, but not tiny
    assert flat["after_20"] - flat["after_3"] < GROWTH_LIMIT_MB, flat
    # The measure can see a leak: the same runs, each kept alive, grow past the limit.
    leak = serial_peaks("leak", engine)
    assert leak["after_20"] - leak["after_3"] > GROWTH_LIMIT_MB, leak


def test_a_process_pool_keeps_no_result_it_handed_back():
    """A future holds its result: the pool must drop each one as it hands it back, or a sweep
    keeps every run's tables until it ends."""
    alive = []
    with ProcessExecutor(2) as ex:
        for result in ex.map_unordered(np.zeros, [200_000] * 4):
            alive.append(weakref.ref(result))
            del result
            gc.collect()
            # Every result but the last handed back is gone already, while the pool still runs.
            assert [ref() is None for ref in alive[:-1]] == [True] * (len(alive) - 1)
    assert len(alive) == 4


def test_a_sweeps_daily_tables_are_streamed_run_by_run(tmp_path, monkeypatch):
    """Each run's daily table is written when the run finishes; the sweep's daily.parquet is
    joined from them a few whole runs at a time (row groups of at least DAILY_GROUP_ROWS rows,
    here 2 runs' worth), in run order."""
    loaded = load_experiment(ROOT / "tests" / "data" / "mini_experiment.yaml")
    monkeypatch.setattr("hospsim.runs.store.DAILY_GROUP_ROWS", loaded.variants[0].config.horizon_days + 1)
    out = tmp_path / "sweep"
    run_sweep(loaded, out, workers=1, engine="simpy")
    runs = loaded.runs()
    assert len(list((out / "runs").glob("*.daily.arrow"))) == len(runs)
    daily = pq.ParquetFile(out / "daily.parquet")
    days = daily.metadata.num_rows // len(runs)
    assert daily.metadata.num_row_groups == -(-len(runs) // 2)
    assert daily.metadata.row_group(0).num_rows == 2 * days
    run_ids = daily.read(columns=["run_id"]).column(0).to_pylist()
    assert run_ids == [s.run_id for s in runs for _ in range(days)]


def test_a_big_sweeps_daily_table_is_joined_in_another_process_to_the_same_file(tmp_path, monkeypatch):
    """From _DAILY_APART_RUNS runs on, the daily tables are joined by a spawned process while the
    summaries are computed: the same daily.parquet and tables as joined in this process."""
    loaded = load_experiment(ROOT / "tests" / "data" / "mini_experiment.yaml")
    run_sweep(loaded, tmp_path / "here", workers=1, engine="simpy")
    started = []

    def counted():
        started.append(1)
        return background_process()

    monkeypatch.setattr("hospsim.runs.sweep._DAILY_APART_RUNS", 1)
    monkeypatch.setattr("hospsim.runs.sweep.background_process", counted)
    run_sweep(loaded, tmp_path / "apart", workers=1, engine="simpy")
    assert started == [1]
    for name in ("daily.parquet", "kpis.parquet", "monthly.parquet"):
        here, apart = pd.read_parquet(tmp_path / "here" / name), pd.read_parquet(tmp_path / "apart" / name)
        pd.testing.assert_frame_equal(here, apart, check_exact=True)
    assert (tmp_path / "here" / "verdicts.csv").read_bytes() == (tmp_path / "apart" / "verdicts.csv").read_bytes()


FREED = """
import sys
import numpy as np
from hospsim.runs.executors import keep_freed_memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "keep":
    keep_freed_memory()
before = rss_mb()
a = np.ones(200 * 2**20 // 8)  # 200 MB, every page touched
del a
print(rss_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_a_process_that_keeps_freed_memory_keeps_it_and_others_hand_it_back():
    def held_mb(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", FREED, mode], capture_output=True, text=True, check=True)
        return float(out.stdout)

    assert held_mb("keep") > 150  # kept for the next run: no fresh pages to touch again
    assert held_mb("default") < 50  # glibc's default: a large array goes back to the system


def test_the_command_keeps_freed_memory_and_the_library_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    import hospsim.cli
    import hospsim.runs.executors

    calls: list[int] = []
    monkeypatch.setattr(hospsim.runs.executors, "keep_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(sys, "argv", ["hospsim"])
    hospsim.cli.main()  # the command's own process (prints the help: no command given)
    assert calls == [1]
    hospsim.cli.main([])  # a caller's process: left alone
    assert calls == [1]
