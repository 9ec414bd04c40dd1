"""Replications of one config: seeds, running them on an executor, and their tables.

Each replication depends only on the config and its own seed, and results are put back in
replication order, so the output is the same bit for bit whatever the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..analysis.stats import summarise
from ..config import Config
from ..model.engine import run_model
from ..model.kpis import daily_and_kpis
from ..model.streams import replication_seeds
from .executors import executor


@dataclass(frozen=True)
class ReplicationResult:
    """Outputs of one replication."""

    index: int
    seed: int
    kpis: dict[str, float]
    daily: pd.DataFrame
    events: int
    wall_seconds: float


def run_replication(cfg: Config, index: int, seed: int) -> ReplicationResult:
    """Simulate one replication and measure it."""
    start = time.perf_counter()
    rep = run_model(cfg, seed)
    daily, kpis = daily_and_kpis(cfg, rep)
    daily.insert(0, "replication", index)
    return ReplicationResult(
        index=index,
        seed=seed,
        kpis=kpis,
        daily=daily,
        events=rep.records.events,
        wall_seconds=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class ReplicationTask:
    """What one worker needs for one replication."""

    config: Config
    index: int
    seed: int


def replication_task(task: ReplicationTask) -> ReplicationResult:
    """The executor's task function (module-level, so workers can unpickle it)."""
    return run_replication(task.config, task.index, task.seed)


def run_replications(
    cfg: Config,
    workers: int = 1,
    on_done: Callable[[ReplicationResult], None] | None = None,
    backend: str = "process",
    scheduler: str | None = None,
) -> list[ReplicationResult]:
    """Run ``cfg.replications`` replications seeded from ``cfg.seed``; returns them in replication
    order whatever the number of workers or the backend (see :func:`.executors.executor`).

    ``on_done`` is called as each finishes (for progress reporting), in completion order.
    """
    seeds = replication_seeds(cfg.seed, cfg.replications)
    tasks = [ReplicationTask(cfg, i, seed) for i, seed in enumerate(seeds)]
    results: list[ReplicationResult] = []
    with executor(backend, min(workers, len(tasks)), scheduler) as ex:
        for res in ex.map_unordered(replication_task, tasks):
            results.append(res)
            if on_done:
                on_done(res)
    return sorted(results, key=lambda r: r.index)


def replications_table(results: list[ReplicationResult]) -> pd.DataFrame:
    """One row per replication: ``replication, seed`` then every KPI."""
    rows = [{"replication": r.index, "seed": r.seed, **r.kpis} for r in results]
    return pd.DataFrame(rows)


def daily_frame(results: list[ReplicationResult]) -> pd.DataFrame:
    """All replications' daily rows, stacked in replication order."""
    return pd.concat([r.daily for r in results], ignore_index=True)


@dataclass(frozen=True)
class RunOutput:
    """A finished run of one config: tables plus what the manifest needs."""

    results: list[ReplicationResult]
    summary: pd.DataFrame
    replications: pd.DataFrame
    daily: pd.DataFrame
    seeds: list[int]
    events: int


def run_config(
    cfg: Config,
    workers: int = 1,
    on_done: Callable[[ReplicationResult], None] | None = None,
    backend: str = "process",
    scheduler: str | None = None,
) -> RunOutput:
    """Run all replications of ``cfg`` and summarise them."""
    results = run_replications(cfg, workers=workers, on_done=on_done, backend=backend, scheduler=scheduler)
    reps = replications_table(results)
    kpi_names = list(results[0].kpis)
    return RunOutput(
        results=results,
        summary=summarise(reps, kpi_names),
        replications=reps,
        daily=daily_frame(results),
        seeds=[r.seed for r in results],
        events=sum(r.events for r in results),
    )
