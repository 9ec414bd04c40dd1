"""Running an experiment: every (scenario, sweep point, replication), in parallel, to disk.

Runs go to an executor (:mod:`.executors`: a process pool by default, or a Dask cluster); the
driver writes each result as it arrives (see :mod:`.store`), so memory stays flat and an
interrupted sweep resumes where it stopped. Results depend only on each run's config and seed,
never on the executor or the number of workers, and tables are assembled in run order.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.cells import cell_table
from ..analysis.stats import cell_rows, summarise_groups
from ..analysis.verdicts import monthly_table, paired_differences, verdict_table
from ..config import Config, config_hash, config_to_dict
from ..model.cohort import Candidates, build_candidates
from ..model.draw_key import draw_key
from ..model.engines import (
    ENGINES,
    FLOW,
    SIMPY,
    SWEEP_DEFAULT_ENGINE,
    EngineChoice,
    choose_engine,
    is_des,
    simulate_candidates,
)
from ..model.kpis import daily_and_kpis
from ..model.records import Replication
from ..model.streams import Streams
from .errors import OutputError, ResultsError
from .executors import background_process, check_backend, executor
from .experiment import LoadedExperiment, RunSpec
from .flow_cells import DES_ENGINES, FlowCells, run_flow_cells, write_flow_cells
from .replications import categorical, flow_note, patient_table, prepare_engine, refuse_flow_patients
from .store import (
    CELLS,
    MANIFEST,
    PATIENTS,
    SweepStore,
    folder_lock,
    git_revision,
    led_table,
    os_reason,
    package_versions,
    read_manifest,
    records_to_frames,
    run_table_ipc,
    write_csv,
    write_manifest,
    write_parquet,
)


def execute_run(spec: RunSpec, engine: str | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Simulate one run with ``engine`` (None: its config's); returns its record (KPIs, monthly
    values) and its daily table."""
    record, daily, _patients = _simulate(spec, False, engine)
    return record, led_table(_ident(spec), daily)


def execute_run_task(
    task: tuple[RunSpec, bool, str | None],
) -> tuple[dict[str, Any], bytes, pd.DataFrame | None]:
    """The executor's task for a run ``(spec, patients, engine)``: its record, its daily table as
    the Arrow file the store writes (:func:`~.store.run_table_ipc`: made here, so the parent, which
    shares the cores with the workers, only writes bytes) and, only when ``patients`` is true,
    its patient table (so sweeps without it move no more data)."""
    spec, patients, engine = task
    record, daily, table = _simulate(spec, patients, engine)
    return record, run_table_ipc(_ident(spec), daily), table


def _ident(spec: RunSpec) -> dict[str, str | int]:
    """The identity columns that lead a run's daily table."""
    return {"run_id": spec.run_id, "scenario": spec.scenario, "point": spec.point, "replication": spec.replication}


def _run_patients(spec: RunSpec, rep: Replication) -> pd.DataFrame:
    """The run's patient table, led by the run's identity (ids as one-entry categoricals)."""
    table = patient_table(rep)
    n = len(table)
    ident = {
        "run_id": categorical(np.zeros(n, dtype=np.int32), [spec.run_id]),
        "scenario": categorical(np.zeros(n, dtype=np.int32), [spec.scenario]),
        "point": np.full(n, spec.point, dtype=np.int64),
        "replication": np.full(n, spec.replication, dtype=np.int64),
    }
    return pd.concat([pd.DataFrame(ident), table], axis=1)


class _LastDraw:
    """The candidates of this process's last run, with their seed and draw key: the cells of a
    sweep mostly differ in their plan only, so consecutive runs of one replication (runs are
    handed out replication by replication) simulate the same patients without drawing them again.
    Kept read-only: an engine that wrote to them would fail loudly rather than alter a later run."""

    def __init__(self) -> None:
        self.key: tuple[int, str] | None = None
        self.candidates: Candidates | None = None

    def get(self, cfg: Config, seed: int) -> Candidates:
        key = (seed, draw_key(cfg))
        if key != self.key or self.candidates is None:
            self.candidates = None  # free the last draw before making the next
            # The electives sorted once for all the runs that share the draw.
            cand = build_candidates(cfg, Streams(seed)).with_elective_order()
            for f in fields(cand):
                value = getattr(cand, f.name)
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False
            self.key, self.candidates = key, cand
        return self.candidates


_LAST_DRAW = _LastDraw()  # per worker process


def _simulate(
    spec: RunSpec, patients: bool, engine: str | None
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame | None]:
    start = time.perf_counter()
    table = None
    if is_des(engine or spec.config.engine):
        rep = simulate_candidates(spec.config, _LAST_DRAW.get(spec.config, spec.seed), engine)
        daily, kpis = daily_and_kpis(spec.config, rep, spec.window)
        events = rep.records.events
        table = _run_patients(spec, rep) if patients else None
    else:  # the deterministic twin: no patients drawn; its time steps stand for events
        from ..model.flow import run_flow

        flow = run_flow(spec.config, spec.window)
        daily, kpis, events = flow.daily, dict(flow.kpis), flow.steps
    monthly = monthly_table(daily, spec.window)
    record = {
        "run_id": spec.run_id,
        "scenario": spec.scenario,
        "point": spec.point,
        "params": [list(p) for p in spec.params],
        "replication": spec.replication,
        "seed": spec.seed,
        "kpis": kpis,
        "monthly": monthly.to_dict(orient="list"),
        "events": events,
        "wall_seconds": time.perf_counter() - start,
    }
    return record, daily, table


@dataclass(frozen=True)
class SweepResult:
    """What a finished sweep returns beside its folder."""

    out_dir: Path
    runs_total: int
    runs_done_before: int
    verdicts: pd.DataFrame
    summary: pd.DataFrame
    wall_seconds: float
    cells: pd.DataFrame  # the per-cell table, as in cells.csv
    flow: FlowCells | None = None  # the flow engine's run of each cell (None: not run)
    engine: str = "simpy"  # the engine of the runs (flow: the cells are the averages themselves)


def _manifest(
    loaded: LoadedExperiment,
    previous: dict[str, Any] | None,
    started: dt.datetime,
    backend: str,
    workers: int,
    finished: dt.datetime | None,
    wall: float,
    patients: bool = False,
    engine: str = "simpy",
) -> dict[str, Any]:
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
            "engine": engine,
        }
    )
    manifest = {
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
    if patients:  # only then: manifests of sweeps without it keep their keys
        manifest["patients"] = True
    return manifest


def _previous_manifest(loaded: LoadedExperiment, store: SweepStore, resume: bool) -> dict[str, Any] | None:
    """The manifest of the sweep ``--resume`` finishes, or None for a fresh folder; refuses a
    folder that holds results unless resuming the same experiment."""
    previous = read_manifest(store.out_dir) if (store.out_dir / MANIFEST).exists() else None
    if previous is not None or store.has_runs():
        if not resume:
            raise ResultsError(
                f"{store.out_dir}: already holds sweep results; add --resume to finish them, or choose another --out"
            )
        if previous is None:
            # Without the manifest nothing says which experiment the runs on disk belong to.
            raise ResultsError(
                f"{store.out_dir}: holds runs but no {MANIFEST}, so they cannot be matched to this experiment; "
                "cannot resume (choose another --out)"
            )
        if previous is not None and previous.get("experiment_hash") != loaded.hash:
            raise ResultsError(
                f"{store.out_dir}: holds results of a different experiment (or it was edited); cannot resume"
            )
    return previous


def _refuse_other_kind(previous: dict[str, Any] | None, engine: str, out_dir: Path) -> None:
    """A sweep is resumed by an engine of the kind that started it (:func:`is_des`): the flow
    engine's runs are expected numbers, one per cell, and cannot be mixed with replications."""
    sessions = (previous or {}).get("sessions") or []
    before = [str(s.get("engine", SIMPY)) for s in sessions if isinstance(s, dict)]
    other = [b for b in before if b in ENGINES and is_des(b) != is_des(engine)]
    if other:
        raise ResultsError(
            f"{out_dir}: holds runs of the {other[-1]} engine; a sweep cannot mix flow runs with replications "
            f"of the DES: resume it with --engine {other[-1]}, or choose another --out"
        )


def sweep_engine(loaded: LoadedExperiment, engine: str | None = None) -> EngineChoice:
    """The engine every run of a sweep uses: ``engine`` (``--engine``), else the experiment's
    ``engine``, else the base config's if it names one, else :data:`SWEEP_DEFAULT_ENGINE` (which
    gives way to ``simpy``, with a note, where it cannot run). An engine asked for in one of those
    places that cannot run here is a one-line :class:`~hospsim.model.engines.EngineUnavailable`."""
    if engine is not None:
        return choose_engine(engine, f"--engine {engine}")
    if loaded.experiment.engine is not None:
        return choose_engine(loaded.experiment.engine, f"{loaded.source}: engine")
    base = loaded.variants[0].config
    if "engine" in base.model_fields_set:  # written in the base config, not its default
        return choose_engine(base.engine, f"{loaded.base_source}: engine")
    return choose_engine(None, "", default=SWEEP_DEFAULT_ENGINE)


def announce(choice: EngineChoice) -> str:
    """The chosen engine; tells the user on stderr, in one line, when the default one could not
    run here and ``simpy`` stands in."""
    if choice.fallback_note:
        print(f"hospsim: {choice.fallback_note}", file=sys.stderr)
    return choice.engine


def run_sweep(
    loaded: LoadedExperiment,
    out_dir: Path,
    workers: int = 1,
    backend: str = "process",
    scheduler: str | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    patients: bool = False,
    engine: str | None = None,
    flow: bool = True,
) -> SweepResult:
    """Run (or finish) every run of an experiment into ``out_dir`` and consolidate the tables.

    ``on_progress(done, total)`` is called at the start and after each run. ``patients`` also
    writes ``patients.parquet``; a resumed sweep keeps it if the sweep was started with it.
    ``engine``: the engine asked for (``--engine``; None: see :func:`sweep_engine`), recorded in
    the manifest's session. ``flow``: with a discrete-event engine, also run the flow engine once
    per cell (:mod:`.flow_cells`; ``--no-flow``: not).
    """
    check_backend(backend, scheduler)  # before anything is written
    chosen = announce(sweep_engine(loaded, engine))
    if not is_des(chosen):  # the flow engine: each cell once
        refuse_flow_patients(chosen, patients)
        note = flow_note(chosen, loaded.experiment.replications, "replications per cell")
        if note:
            print(f"hospsim: {note}", file=sys.stderr)
        loaded = loaded.run_once()
    prepare_engine(chosen)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):  # a second writer refuses instead of mixing its runs in
        try:
            return _run_sweep(loaded, out_dir, workers, backend, scheduler, resume, on_progress, patients, chosen, flow)
        except OSError as exc:
            # A full disk or a file size limit: every run written so far is whole (atomic files),
            # and the manifest still says the sweep did not finish.
            raise OutputError(
                f"{out_dir}: cannot write the results ({os_reason(exc)}); make room, then finish with "
                f"hospsim sweep {loaded.source} --out {out_dir} --resume"
            ) from None


def _run_sweep(
    loaded: LoadedExperiment,
    out_dir: Path,
    workers: int,
    backend: str,
    scheduler: str | None,
    resume: bool,
    on_progress: Callable[[int, int], None] | None,
    patients: bool,
    engine: str,
    flow: bool = True,
) -> SweepResult:
    store = SweepStore(out_dir)
    previous = _previous_manifest(loaded, store, resume)
    _refuse_other_kind(previous, engine, out_dir)
    patients = patients or bool(previous and previous.get("patients"))
    store.prepare()
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    write_manifest(out_dir, _manifest(loaded, previous, started, backend, workers, None, 0.0, patients, engine))

    specs = loaded.runs()
    done = store.done_ids()
    if patients:  # a run finished without its patient table is run again (same seed, same numbers)
        done = {rid for rid in done if store.has_patients(rid)}
    # Replication by replication: consecutive runs share their patients (see _LastDraw); the
    # tables are assembled in run order whatever order the runs finish in.
    pending = sorted((s for s in specs if s.run_id not in done), key=lambda s: s.replication)
    total = len(specs)
    count = total - len(pending)
    if on_progress:
        on_progress(count, total)
    with_flow = flow and engine in DES_ENGINES
    if with_flow:
        prepare_engine(FLOW)  # compiled here once, not in every worker
    with executor(backend, workers, scheduler) as ex:
        # The planner's view first: deterministic and cheap (one run per cell), and any problem
        # with it shows before the replications run. Run again in full by every session.
        flow_cells = run_flow_cells(loaded, ex) if with_flow else None
        for record, daily, table in ex.map_unordered(execute_run_task, [(s, patients, engine) for s in pending]):
            store.write_run(record, daily, table)
            count += 1
            if on_progress:
                on_progress(count, total)

    summary, verdicts, cells = consolidate(loaded, store, out_dir, patients)
    flow_entry = write_flow_cells(out_dir, flow_cells)  # or removes an earlier session's
    finished = dt.datetime.now(dt.UTC)
    wall = time.perf_counter() - t0
    manifest = _manifest(loaded, previous, started, backend, workers, finished, wall, patients, engine)
    if flow_entry is not None:  # only then: manifests of sweeps without it keep their keys
        manifest["flow"] = flow_entry
    write_manifest(out_dir, manifest)
    return SweepResult(out_dir, total, total - len(pending), verdicts, summary, wall, cells, flow_cells, engine)


def consolidate(
    loaded: LoadedExperiment, store: SweepStore, out_dir: Path, patients: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assemble the per-run files into the experiment's tables, in run order (``patients``: the
    patient tables too); returns the summary, the verdicts and the per-cell table. All are written
    before the manifest says the sweep is complete."""
    run_ids = [s.run_id for s in loaded.runs()]
    if len(run_ids) < _DAILY_APART_RUNS:
        kpis, monthly = _run_tables(store, out_dir, run_ids)
        store.stream_daily(run_ids, out_dir / "daily.parquet")
        return _tables(loaded, store, out_dir, patients, run_ids, kpis, monthly)
    # A big sweep's daily tables are joined in another process, from the start, while the records
    # are read and the summaries computed here: the workers are done, so the second core is free.
    with background_process() as pool:
        daily = pool.submit(store.stream_daily, run_ids, out_dir / "daily.parquet")
        kpis, monthly = _run_tables(store, out_dir, run_ids)
        summary, verdicts, cells = _tables(loaded, store, out_dir, patients, run_ids, kpis, monthly)
        daily.result()
    return summary, verdicts, cells


def _run_tables(store: SweepStore, out_dir: Path, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs' KPI and monthly tables, from their records, written; returns them."""
    kpis, monthly = records_to_frames(store.records(run_ids))
    write_parquet(out_dir / "kpis.parquet", kpis)
    write_csv(out_dir / "kpis.csv", kpis)
    write_parquet(out_dir / "monthly.parquet", monthly)
    return kpis, monthly


# From this many runs on, joining the daily tables (~1 ms a run) is worth starting a process for.
_DAILY_APART_RUNS = 2000


def _tables(
    loaded: LoadedExperiment,
    store: SweepStore,
    out_dir: Path,
    patients: bool,
    run_ids: list[str],
    kpis: pd.DataFrame,
    monthly: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The patient table (if asked) and the summary, paired differences, verdicts and per-cell
    tables of a sweep, written; returns the summary, the verdicts and the per-cell table."""
    kpi_cols = [
        c
        for c in kpis.columns
        if c not in ("run_id", "scenario", "point", "replication", "seed") and not c.startswith("param_")
    ]
    if patients:
        store.stream_patients(run_ids, out_dir / PATIENTS)
    else:
        (out_dir / PATIENTS).unlink(missing_ok=True)

    id_cols = ["scenario", "point"] + [c for c in kpis.columns if c.startswith("param_")]
    summary = summarise_groups(kpis, cell_rows(kpis).values(), kpi_cols, id_cols)
    write_csv(out_dir / "summary.csv", summary)
    write_csv(out_dir / "paired_differences.csv", paired_differences(kpis, kpi_cols))
    verdicts = verdict_table(loaded.experiment, kpis, monthly)
    write_csv(out_dir / "verdicts.csv", verdicts)
    cells = cell_table(loaded.experiment, kpis, verdicts)
    write_csv(out_dir / CELLS, cells)
    return summary, verdicts, cells
