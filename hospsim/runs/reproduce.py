"""Re-run a results folder from its manifest and check that every number matches.

A folder that is not a complete results folder (no manifest, an unreadable one, a sweep that did
not finish, a table missing) is refused with :class:`ResultsError` before anything runs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..analysis.cells import cell_table
from ..config import Config, ConfigError, config_from_dict
from ..config.experiment import Experiment
from ..model.engines import ENGINES, FLOW, SIMPY, EngineChoice, choose_engine, is_des
from .errors import ResultsError
from .executors import Executor, executor
from .experiment import LoadedExperiment, RunSpec, Variant
from .flow_cells import compare_flow_cells, read_flow_kpis
from .replications import run_config
from .results import read_table
from .store import (
    CELLS,
    FLOAT_FORMAT,
    MANIFEST,
    PATIENTS,
    package_versions,
    read_daily,
    read_manifest,
    require_finished_sweep,
)
from .sweep import announce, execute_run, execute_run_task

# ``on_progress(done, total)``: runs (or replications) re-run so far, called at the start and
# after each one, as a sweep reports its progress.
Progress = Callable[[int, int], None] | None


@dataclass(frozen=True)
class ReproduceReport:
    """What a re-run found: how much was compared and every difference."""

    kind: str
    checked: int  # runs or replications re-run
    values_compared: int
    mismatches: list[str]
    version_changes: list[str]
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why
    engine: str = SIMPY  # the engine that re-ran them

    @property
    def ok(self) -> bool:
        """True when every value re-ran identically."""
        return not self.mismatches


def _same(a: float, b: float) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def _version_changes(manifest: dict[str, Any]) -> list[str]:
    now = package_versions()
    then = manifest.get("versions", {})
    return [f"{k}: {then[k]} -> {now.get(k)}" for k in then if now.get(k) != then[k]]


def reproduce(
    results: Path,
    workers: int = 1,
    sample: int | None = None,
    on_progress: Progress = None,
    backend: str = "process",
    scheduler: str | None = None,
    engine: str | None = None,
) -> ReproduceReport:
    """Re-run what ``results`` holds (all runs, or an evenly spread ``sample`` of a sweep's runs)
    and compare every KPI (and, for ``hospsim run``, every daily value) bit for bit, and every
    value of ``patients.parquet`` when the folder holds one.

    ``engine``: the engine that re-runs them (None: the one that made them, see
    :func:`recorded_engine`); re-running with the other engine cross-checks the two.
    A sweep's ``cells.csv`` is made again from its stored KPIs and compared value by value.
    ``on_progress(done, total)`` is called at the start and after each run or replication.
    Raises :class:`ResultsError` for a folder that is not a complete, readable results folder.
    """
    results = Path(results)
    manifest = read_manifest(results)
    kind = manifest.get("kind", "run")
    if kind not in ("run", "sweep"):
        raise ResultsError(f"{results / MANIFEST}: kind: unknown kind of results {kind!r}")
    chosen = announce(reproduce_engine(manifest, engine, f"{results / MANIFEST}: engine"))
    if kind == "sweep":
        return _reproduce_sweep(results, manifest, workers, sample, on_progress, backend, scheduler, chosen)
    return _reproduce_run(results, manifest, workers, on_progress, backend, scheduler, chosen)


def recorded_engine(manifest: dict[str, Any]) -> str:
    """The engine that made a results folder: a run's, or a sweep's last session's (``simpy`` for
    folders written before there were two)."""
    if manifest.get("kind") == "sweep":
        sessions = manifest.get("sessions") or [{}]
        last = sessions[-1] if isinstance(sessions[-1], dict) else {}
        return str(last.get("engine", SIMPY))
    return str(manifest.get("engine", SIMPY))


def reproduce_engine(manifest: dict[str, Any], engine: str | None = None, where: str = "engine") -> EngineChoice:
    """The engine of a re-run: ``engine`` (``--engine``) if given, else the one that made the
    results (a DES engine gives way to ``simpy``, with a note, where it cannot run here; the flow
    engine is refused, naming ``where``). The two kinds (:func:`~hospsim.model.engines.is_des`)
    cannot stand in for each other: a DES folder re-run with flow, or a flow folder with a DES
    engine, is refused in one line before anything runs."""
    recorded = recorded_engine(manifest)
    if recorded not in ENGINES:
        raise ResultsError(f"{where}: unknown engine {recorded!r} (choose from {', '.join(ENGINES)})")
    if engine is not None:
        if is_des(engine) != is_des(recorded):
            raise ResultsError(_other_kind(engine, recorded))
        return choose_engine(engine, f"--engine {engine}")
    return choose_engine(None, where, default=recorded)


def _other_kind(engine: str, recorded: str) -> str:
    """Why ``--engine engine`` cannot reproduce a folder made by ``recorded``, in one line."""
    if is_des(recorded):
        return (
            f"--engine {engine}: these results were made by the {recorded} engine (replications of patients); "
            f"the flow engine gives expected numbers, not the same results: reproduce them with simpy or fast"
        )
    return (
        f"--engine {engine}: these results were made by the {FLOW} engine (one deterministic run); "
        f"a flow folder can only be reproduced with --engine {FLOW}"
    )


def _require(results: Path, *names: str) -> None:
    for name in names:
        if not (results / name).is_file():
            raise ResultsError(f"{results}: incomplete results folder: no {name}")


def _has_patients(results: Path, manifest: dict[str, Any]) -> bool:
    """Whether the folder holds a patient table to check (refused when the manifest says it
    should and it is missing, or when it is unreadable - checked by its schema, without loading it)."""
    if manifest.get("patients"):
        _require(results, PATIENTS)
    path = results / PATIENTS
    if not path.is_file():
        return False
    read_table(path, lambda p: pq.read_schema(p).empty_table().to_pandas())
    return True


def _run_config(results: Path, manifest: dict[str, Any]) -> Config:
    try:
        return config_from_dict(manifest["config"], f"{results / MANIFEST}: config")
    except KeyError:
        raise ResultsError(f"{results / MANIFEST}: config: missing") from None
    except ConfigError as exc:
        raise ResultsError(str(exc)) from None


def _reproduce_run(
    results: Path,
    manifest: dict[str, Any],
    workers: int,
    on_progress: Progress,
    backend: str,
    scheduler: str | None,
    engine: str,
) -> ReproduceReport:
    cfg = _run_config(results, manifest)
    daily_name = "daily.parquet" if (results / "daily.parquet").exists() else "daily.csv"  # as read_daily
    _require(results, "replications.csv", daily_name)
    patients = _has_patients(results, manifest)
    old = read_table(results / "replications.csv", columns=("replication", "seed"))
    old_daily = read_table(results / daily_name, lambda _path: read_daily(results))
    out = run_config(
        cfg,
        workers=workers,
        on_done=_counter(on_progress, int(cfg.replications) if is_des(engine) else 1),
        backend=backend,
        scheduler=scheduler,
        patients=patients,
        engine=engine,
    )
    mismatches = []
    if out.seeds != manifest.get("replication_seeds"):
        mismatches.append("replication seeds differ")
    # Compare as stored: the CSV keeps FLOAT_FORMAT digits, so round-trip the re-run the same way.
    new = pd.read_csv(io.StringIO(out.replications.to_csv(index=False, float_format=FLOAT_FORMAT)))
    compared = 0
    for col in old.columns:
        for i, (a, b) in enumerate(zip(old[col].tolist(), new[col].tolist())):
            compared += 1
            if not _same(a, b):
                mismatches.append(f"replication {i} {col}: stored {a!r}, re-run {b!r}")
    new_daily = out.daily
    if daily_name == "daily.csv":
        new_daily = pd.read_csv(io.StringIO(out.daily.to_csv(index=False, float_format=FLOAT_FORMAT)))
    compared += _compare_table("daily", old_daily, new_daily, mismatches)
    if patients and out.patients is not None:
        new_patients = pd.concat(out.patients, ignore_index=True)
        compared += _compare_table("patients", pd.read_parquet(results / PATIENTS), new_patients, mismatches)
    return ReproduceReport("run", len(out.results), compared, mismatches, _version_changes(manifest), engine=engine)


def _counter(on_progress: Progress, total: int) -> Callable[[Any], None] | None:
    """A per-replication callback that reports ``(done, total)`` to ``on_progress`` (and reports
    ``(0, total)`` now)."""
    if on_progress is None:
        return None
    report = on_progress
    done = 0
    report(0, total)

    def one(_result: Any) -> None:
        nonlocal done
        done += 1
        report(done, total)

    return one


def _compare_table(label: str, old: pd.DataFrame, new: pd.DataFrame, mismatches: list[str]) -> int:
    """Compare two tables (daily, patients) column by column, exactly, appending differences;
    returns values compared."""
    compared = 0
    for col in new.columns.difference(old.columns):
        mismatches.append(f"{label} {col}: not in the stored table")
    for col in old.columns:
        if col not in new.columns:
            mismatches.append(f"{label} {col}: not in the re-run")
            continue
        a = old[col].to_numpy()
        b = new[col].to_numpy()
        compared += a.size
        if a.shape != b.shape:
            mismatches.append(f"{label} {col}: stored {a.size} values, re-run {b.size}")
            continue
        if a.dtype.kind == "f":
            equal = (a == b) | (np.isnan(a) & np.isnan(b.astype(float)))
        elif a.size and isinstance(a[0], np.ndarray):  # a list column (cancellation times, visits)
            equal = np.fromiter((_same_list(x, y) for x, y in zip(a, b, strict=True)), bool, a.size)
        else:
            equal = a.astype(str) == b.astype(str)
        if not equal.all():
            mismatches.append(f"{label} {col}: {int((~equal).sum())} values differ")
    return compared


def _same_list(a: np.ndarray, b: np.ndarray) -> bool:
    """Two values of a list column equal, NaN equal to NaN (a visit not finished by the end)."""
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"))


def loaded_from_manifest(manifest: dict[str, Any], results: Path) -> LoadedExperiment:
    """The experiment as it was run, rebuilt from the manifest alone (configs included)."""
    exp = Experiment.model_validate(manifest["experiment"])
    variants = [
        Variant(
            c["scenario"],
            c["point"],
            tuple(c["params"].items()),
            config_from_dict(c["config"], f"{results}: manifest cell {c['key']}"),
        )
        for c in manifest["cells"]
    ]
    return LoadedExperiment(
        exp,
        manifest["experiment_source"],
        manifest["experiment"],
        {},
        manifest["base_config_source"],
        variants,
        list(manifest["replication_seeds"]),
    )


def _loaded_sweep(results: Path, manifest: dict[str, Any]) -> LoadedExperiment:
    """The sweep's experiment, refusing an unfinished sweep or an unusable manifest."""
    require_finished_sweep(results, manifest)
    _require(results, "kpis.parquet")
    try:
        return loaded_from_manifest(manifest, results)
    except KeyError as exc:
        raise ResultsError(f"{results / MANIFEST}: {exc.args[0]}: missing") from None
    except (ConfigError, TypeError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResultsError(f"{results / MANIFEST}: unusable experiment ({first})") from None


def _rerun(
    ex: Executor, specs: list[RunSpec], patients: bool, engine: str
) -> Iterator[tuple[dict[str, Any], pd.DataFrame | None]]:
    """Each run's record and (only when asked, as the workers then send more) its patient table."""
    if patients:
        for record, _daily, table in ex.map_unordered(execute_run_task, [(s, True, engine) for s in specs]):
            yield record, table
    else:
        for record, _daily_table in ex.map_unordered(partial(execute_run, engine=engine), specs):
            yield record, None


def _reproduce_sweep(
    results: Path,
    manifest: dict[str, Any],
    workers: int,
    sample: int | None,
    on_progress: Progress,
    backend: str,
    scheduler: str | None,
    engine: str,
) -> ReproduceReport:
    loaded = _loaded_sweep(results, manifest)
    specs = loaded.runs()
    if sample is not None and sample < len(specs):
        idx = np.unique(np.linspace(0, len(specs) - 1, sample).round().astype(int))
        specs = [specs[i] for i in idx]
    kpis = read_table(results / "kpis.parquet", columns=("run_id",))
    stored = kpis.set_index("run_id")
    patients = _has_patients(results, manifest)
    mismatches: list[str] = []
    notes: list[str] = []
    stored_cells = _stored_cells(results, loaded, notes)  # refused before anything runs if unreadable
    stored_flow = read_flow_kpis(results, manifest)  # likewise
    if stored_flow is None:
        notes.append("no flow_kpis.parquet in this folder: no flow run per cell to check")
    compared = 0
    if on_progress:
        on_progress(0, len(specs))
    with executor(backend, workers, scheduler) as ex:
        for done, (record, table) in enumerate(_rerun(ex, specs, patients, engine), start=1):
            compared += _compare_run(results, stored, record, table, mismatches)
            if on_progress:
                on_progress(done, len(specs))
        if stored_flow is not None:  # every cell, even with --sample: one cheap run each
            flow_compared, flow_mismatches = compare_flow_cells(stored_flow, loaded, ex)
            compared += flow_compared
            mismatches += flow_mismatches
    if stored_cells is not None:  # after the runs: a differing KPI is the news, cells.csv follows from it
        remade = cell_table(loaded.experiment, kpis).to_csv(index=False, float_format=FLOAT_FORMAT)
        compared += _compare_table(CELLS, stored_cells, pd.read_csv(io.StringIO(remade)), mismatches)
    return ReproduceReport("sweep", len(specs), compared, mismatches, _version_changes(manifest), notes, engine)


def _compare_run(
    results: Path, stored: pd.DataFrame, record: dict[str, Any], table: pd.DataFrame | None, mismatches: list[str]
) -> int:
    """Compare a re-run's KPIs (and patient table) with the stored ones; returns values compared."""
    rid = record["run_id"]
    if rid not in stored.index:
        mismatches.append(f"{rid}: not in the stored results")
        return 0
    row = stored.loc[rid]
    compared = 0
    for k, v in record["kpis"].items():
        compared += 1
        if k not in row or not _same(float(row[k]), float(v)):
            mismatches.append(f"{rid} {k}: stored {row.get(k)!r}, re-run {v!r}")
    if table is not None:
        # Only this run's rows are read: the whole table may not fit in memory.
        old = pd.read_parquet(results / PATIENTS, filters=[("run_id", "==", rid)])
        compared += _compare_table(f"{rid} patients", old, table, mismatches)
    return compared


def _stored_cells(results: Path, loaded: LoadedExperiment, notes: list[str]) -> pd.DataFrame | None:
    """The stored ``cells.csv``, made again from the stored KPIs and compared after the re-runs;
    None, with a note, for a folder of a hospsim that did not write it."""
    path = results / CELLS
    if not path.is_file():
        notes.append(
            f"no {CELLS} (written by an earlier hospsim): not checked; "
            f"`hospsim sweep {loaded.source} --out {results} --resume` adds it"
        )
        return None
    return read_table(path)
