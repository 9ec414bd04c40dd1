"""Replications: seeds, executors and collection of results.

Each replication depends only on the config and its own seed, and results are put back in
replication order, so the output is the same bit for bit whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import pandas as pd

from ..analysis.stats import summarise
from ..config import Config
from ..model.engine import run_model
from ..model.kpis import daily_and_kpis
from ..model.streams import replication_seeds


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


def run_replications(
    cfg: Config,
    workers: int = 1,
    on_done: Callable[[ReplicationResult], None] | None = None,
) -> list[ReplicationResult]:
    """Run ``cfg.replications`` replications seeded from ``cfg.seed``, in replication order.

    ``workers > 1`` runs them in separate processes; ``on_done`` is called as each finishes
    (for progress reporting), in completion order.
    """
    seeds = replication_seeds(cfg.seed, cfg.replications)
    results: list[ReplicationResult] = []
    if workers <= 1 or cfg.replications == 1:
        for i, seed in enumerate(seeds):
            res = run_replication(cfg, i, seed)
            results.append(res)
            if on_done:
                on_done(res)
        return results
    # 'spawn' keeps workers clean of the parent's threads (progress bar) on every platform.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, cfg.replications), mp_context=ctx) as pool:
        futures = [pool.submit(run_replication, cfg, i, seed) for i, seed in enumerate(seeds)]
        for fut in as_completed(futures):
            res = fut.result()
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


def run_config(cfg: Config, workers: int = 1, on_done: Callable[[ReplicationResult], None] | None = None) -> RunOutput:
    """Run all replications of ``cfg`` and summarise them."""
    results = run_replications(cfg, workers=workers, on_done=on_done)
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
