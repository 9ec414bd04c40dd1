"""Running an experiment: every (scenario, sweep point, replication), in parallel, to disk.

Runs go to a process pool (default) or a Dask cluster; the driver writes each result as it
arrives (see :mod:`hospsim.sweep_store`), so memory stays flat and an interrupted sweep resumes
where it stopped. Results depend only on each run's config and seed, never on the executor or
the number of workers, and tables are assembled in run order.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analysis.stats import summarise
from ..analysis.verdicts import monthly_table, paired_differences, verdict_table
from ..config import ConfigError, config_hash, config_to_dict
from ..model.engine import run_model
from ..model.kpis import daily_and_kpis
from .experiment import LoadedExperiment, RunSpec
from .store import FLOAT_FORMAT, git_revision, package_versions
from .sweep_store import SweepStore, atomic_write, records_to_frames

MANIFEST = "manifest.json"


def execute_run(spec: RunSpec) -> tuple[dict, pd.DataFrame]:
    """Simulate one run; returns its record (KPIs, monthly values) and its daily table."""
    start = time.perf_counter()
    rep = run_model(spec.config, spec.seed)
    daily, kpis = daily_and_kpis(spec.config, rep, spec.window)
    monthly = monthly_table(daily, spec.window)
    ident = {"run_id": spec.run_id, "scenario": spec.scenario, "point": spec.point, "replication": spec.replication}
    daily = pd.concat([pd.DataFrame(ident, index=daily.index), daily], axis=1)
    record = {
        "run_id": spec.run_id,
        "scenario": spec.scenario,
        "point": spec.point,
        "params": [list(p) for p in spec.params],
        "replication": spec.replication,
        "seed": spec.seed,
        "kpis": kpis,
        "monthly": monthly.to_dict(orient="list"),
        "events": rep.records.events,
        "wall_seconds": time.perf_counter() - start,
    }
    return record, daily


# --- executors -------------------------------------------------------------------------------


def _serial(specs: list[RunSpec]) -> Iterator[tuple[dict, pd.DataFrame]]:
    for spec in specs:
        yield execute_run(spec)


def _processes(specs: list[RunSpec], workers: int) -> Iterator[tuple[dict, pd.DataFrame]]:
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        futures = [pool.submit(execute_run, s) for s in specs]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(specs: list[RunSpec], workers: int, scheduler: str | None) -> Iterator[tuple[dict, pd.DataFrame]]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError("--backend dask: dask.distributed is not installed (pip install 'hospsim[dask]')") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        )
        client = Client(cluster)
    try:
        futures = [client.submit(execute_run, s, pure=False) for s in specs]
        for fut in dask_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def executor(backend: str, workers: int, scheduler: str | None) -> Callable[[list[RunSpec]], Iterable]:
    """A function that runs specs and yields (record, daily) as each finishes."""
    if backend == "dask":
        return lambda specs: _dask(specs, workers, scheduler)
    if workers <= 1:
        return _serial
    return lambda specs: _processes(specs, workers)


# --- driver ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    out_dir: Path
    runs_total: int
    runs_done_before: int
    verdicts: pd.DataFrame
    summary: pd.DataFrame
    wall_seconds: float


def _manifest(
    loaded: LoadedExperiment,
    previous: dict | None,
    started: dt.datetime,
    backend: str,
    workers: int,
    finished: dt.datetime | None,
    wall: float,
) -> dict:
    cells = [
        {
            "key": v.key,
            "scenario": v.scenario,
            "point": v.point,
            "params": dict(v.params),
            "config_hash": config_hash(v.config),
            "config": config_to_dict(v.config),
        }
        for v in loaded.variants
    ]
    sessions = list(previous.get("sessions", [])) if previous else []
    sessions.append(
        {
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds") if finished else None,
            "wall_seconds": round(wall, 3),
            "backend": backend,
            "workers": workers,
        }
    )
    return {
        "kind": "sweep",
        "experiment_source": loaded.source,
        "experiment": loaded.raw,
        "experiment_hash": loaded.hash,
        "base_config_source": loaded.base_source,
        "root_seed": loaded.experiment.seed,
        "replications": loaded.experiment.replications,
        "replication_seeds": loaded.seeds,
        "cells": cells,
        "runs": len(loaded.variants) * len(loaded.seeds),
        "versions": package_versions(),
        "git_revision": git_revision(),
        "sessions": sessions,
        "complete": finished is not None,
    }


def _write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2, default=str) + "\n"
    atomic_write(path, lambda p: p.write_text(text))


def run_sweep(
    loaded: LoadedExperiment,
    out_dir: Path,
    workers: int = 1,
    backend: str = "process",
    scheduler: str | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run (or finish) every run of an experiment into ``out_dir`` and consolidate the tables.

    ``on_progress(done, total)`` is called at the start and after each run.
    """
    out_dir = Path(out_dir)
    store = SweepStore(out_dir)
    manifest_path = out_dir / MANIFEST
    previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if previous is not None or store.has_runs():
        if not resume:
            raise ConfigError(
                f"{out_dir}: already holds sweep results; add --resume to finish them, or choose another --out"
            )
        if previous is not None and previous.get("experiment_hash") != loaded.hash:
            raise ConfigError(f"{out_dir}: holds results of a different experiment (or it was edited); cannot resume")
    store.prepare()
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    _write_json(manifest_path, _manifest(loaded, previous, started, backend, workers, None, 0.0))

    specs = loaded.runs()
    done = store.done_ids()
    pending = [s for s in specs if s.run_id not in done]
    total = len(specs)
    count = total - len(pending)
    if on_progress:
        on_progress(count, total)
    for record, daily in executor(backend, workers, scheduler)(pending):
        store.write_run(record, daily)
        count += 1
        if on_progress:
            on_progress(count, total)

    summary, verdicts = consolidate(loaded, store, out_dir)
    finished = dt.datetime.now(dt.UTC)
    wall = time.perf_counter() - t0
    _write_json(manifest_path, _manifest(loaded, previous, started, backend, workers, finished, wall))
    return SweepResult(out_dir, total, total - len(pending), verdicts, summary, wall)


def consolidate(loaded: LoadedExperiment, store: SweepStore, out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assemble the per-run files into the experiment's tables, in run order."""
    run_ids = [s.run_id for s in loaded.runs()]
    kpis, monthly = records_to_frames(store.records(run_ids))
    kpi_cols = [
        c
        for c in kpis.columns
        if c not in ("run_id", "scenario", "point", "replication", "seed") and not c.startswith("param_")
    ]
    kpis.to_parquet(out_dir / "kpis.parquet", index=False)
    kpis.to_csv(out_dir / "kpis.csv", index=False, float_format=FLOAT_FORMAT)
    monthly.to_parquet(out_dir / "monthly.parquet", index=False)
    store.stream_daily(run_ids, out_dir / "daily.parquet")

    id_cols = ["scenario", "point"] + [c for c in kpis.columns if c.startswith("param_")]
    frames = []
    for _key, group in kpis.groupby(["scenario", "point"], sort=False):
        s = summarise(group, [c for c in kpi_cols if group[c].notna().any()])
        for col in reversed(id_cols):
            s.insert(0, col, group[col].iloc[0])
        frames.append(s)
    summary = pd.concat(frames, ignore_index=True)
    summary.to_csv(out_dir / "summary.csv", index=False, float_format=FLOAT_FORMAT)
    paired = paired_differences(kpis, kpi_cols)
    paired.to_csv(out_dir / "paired_differences.csv", index=False, float_format=FLOAT_FORMAT)
    verdicts = verdict_table(loaded.experiment, kpis, monthly)
    verdicts.to_csv(out_dir / "verdicts.csv", index=False, float_format=FLOAT_FORMAT)
    return summary, verdicts
