"""Replications of one config: seeds, running them on an executor, and their tables.

Each replication depends only on the config and its own seed, and results are put back in
replication order, so the output is the same bit for bit whatever the number of workers.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ..config import Config, UserError
from ..model.engines import FAST, FLOW, choose_engine, is_des, run_model
from ..model.kpis import daily_and_kpis
from ..model.records import OUTCOME_NAMES, Replication, Visits, final_states
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
    # Patients in each end state (see records.final_states): counts from a DES engine, expected
    # numbers (floats) from the flow engine.
    final_states: Mapping[str, float]
    patients: pd.DataFrame | None = None  # one row per patient, only when asked for


def categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical[str]:
    """Codes (-1: none) as a categorical over ``names``: one small dictionary, not a string a row."""
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=pd.Index(names, dtype=str))


def patient_table(rep: Replication) -> pd.DataFrame:
    """One row per patient who arrived: emergencies in arrival order, then electives in referral
    order. Who they were (kind, group, elective priority, drawn acute LOS, step-up suitability,
    discharge pathway), what happened (outcome, times an elective's booked admission was
    cancelled) and when (days since the start, a referral before it negative; NaN where it did
    not happen). ``service``, ``service_start_days`` and ``service_end_days`` are the first
    community visit (``service_end_days``: when the patient left that place, after any wait in
    it for the next service); the ``visit_*`` list columns give every community visit in order.
    Built column by column in bulk, strings as categoricals."""
    co, rec = rep.cohort, rep.records
    n = len(co)
    # Outcome codes are small integers but need not be contiguous: map them through a lookup table.
    codes = np.array(sorted(OUTCOME_NAMES))
    lookup = np.full(int(codes.max()) + 1, -1, dtype=np.int32)
    lookup[codes] = np.arange(codes.size)
    services = list(co.service_names)
    return pd.DataFrame(
        {
            "patient": np.arange(n, dtype=np.int64),
            "kind": categorical(co.is_elective.astype(np.int32), ["emergency", "elective"]),
            # A patient already in a community service at a census start has no known group.
            "group": categorical(co.group, [*co.group_names, "elective", "census_in_service"]),
            "priority": categorical(co.priority, list(co.priority_names)),
            "arrival_days": co.arrival_days,
            "admit_days": rec.admit_days,
            "fit_days": rec.fit_days,
            "ready_days": rec.ready_days,
            "bed_leave_days": rec.bed_leave_days,
            "service": categorical(rec.service, services),
            "service_start_days": rec.service_start_days,
            "service_end_days": rec.service_end_days,
            "outcome": categorical(lookup[rec.outcome], [OUTCOME_NAMES[int(c)] for c in codes]),
            "times_cancelled": rec.times_cancelled,
            "cancelled_days": _cancellations_by_patient(rec.cancelled_patient, rec.cancellation_days, n),
            "acute_los_days": co.acute_los_days,
            "step_up_suitable": co.step_up_suitable,
            "discharge_service": categorical(co.service, services),
            **_visit_lists(rec.visits, services, n),
        }
    )


def _visit_lists(v: Visits, services: list[str], n: int) -> dict[str, pd.Series]:
    """Each patient's community visits, in order, as list columns (empty for most): the service
    (name), when ready to move in, moved in, ended the stay there and left its place (NaN where
    it had not happened by the end of the run). One pass over all visits, no loop per patient."""
    order = np.lexsort((v.depth, v.patient))  # by patient, then first visit, second, ...
    offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(v.patient, minlength=n))]), pa.int64())

    def lists(values: np.ndarray, kind: pa.DataType) -> pd.Series:
        if not len(v) and kind == pa.string():
            # Empty object arrays would be written as lists of nulls, which a sweep's later runs
            # (lists of names) cannot be appended to: typed empty arrays keep lists of strings.
            return pd.Series([np.array([], dtype=str)] * n, dtype=object)
        return pa.LargeListArray.from_arrays(offsets, pa.array(values[order], kind)).to_pandas()

    return {
        "visit_services": lists(np.asarray(services, dtype=object)[v.service], pa.string()),
        "visit_ready_days": lists(v.ready_days, pa.float64()),
        "visit_start_days": lists(v.start_days, pa.float64()),
        "visit_stay_end_days": lists(v.stay_end_days, pa.float64()),
        "visit_leave_days": lists(v.leave_days, pa.float64()),
    }


def _cancellations_by_patient(patient: np.ndarray, days: np.ndarray, n: int) -> pd.Series:
    """Each patient's cancellation times (an array, empty for most): Parquet stores a list column."""
    order = np.argsort(patient, kind="stable")  # a patient's cancellations stay in time order
    bounds = np.cumsum(np.bincount(patient, minlength=n))[:-1]
    return pd.Series(np.split(days[order], bounds) if n else [], dtype=object)


def run_replication(
    cfg: Config, index: int, seed: int, patients: bool = False, engine: str | None = None
) -> ReplicationResult:
    """Simulate one replication with ``engine`` (None: the config's) and measure it (with its
    patient table if ``patients``)."""
    start = time.perf_counter()
    rep = run_model(cfg, seed, engine)
    daily, kpis = daily_and_kpis(cfg, rep)
    daily.insert(0, "replication", index)
    table = None
    if patients:
        table = patient_table(rep)
        table.insert(0, "replication", np.int64(index))
    return ReplicationResult(
        index=index,
        seed=seed,
        kpis=kpis,
        daily=daily,
        events=rep.records.events,
        wall_seconds=time.perf_counter() - start,
        final_states=final_states(rep.records),
        patients=table,
    )


def run_flow_once(cfg: Config) -> ReplicationResult:
    """The flow engine's one run of ``cfg``, as a replication (index 0) of ``hospsim run``: its
    daily table (expected numbers), KPIs, final states, and its time steps as ``events``. It
    draws nothing; ``seed`` is replication 0's, so a results folder of it reads like any other."""
    from ..model.flow import run_flow  # the flow engine's module, loaded only when it runs

    start = time.perf_counter()
    flow = run_flow(cfg)
    daily = flow.daily.copy()
    daily.insert(0, "replication", 0)
    return ReplicationResult(
        index=0,
        seed=replication_seeds(cfg.seed, 1)[0],
        kpis=dict(flow.kpis),
        daily=daily,
        events=flow.steps,
        wall_seconds=time.perf_counter() - start,
        final_states=dict(flow.final_states),
    )


def flow_note(engine: str, replications: int, what: str = "replications") -> str | None:
    """The one line that says the flow engine runs once where ``replications`` were asked for
    (None for a DES engine, or when one was asked for)."""
    if is_des(engine) or replications <= 1:
        return None
    return f"engine {FLOW} is deterministic: one run instead of {replications} {what}"


def refuse_flow_for(engine: str, where: str, needs: str) -> None:
    """Refuse the flow engine, in one line naming ``where`` it was asked for, for a command that
    ``needs`` patients or replications (e.g. ``hospsim synth writes one row per simulated patient``)."""
    if not is_des(engine):
        raise UserError(
            f"{where}: {needs}, which the flow engine (expected numbers, no patients, one run) cannot give; "
            "use simpy or fast"
        )


def refuse_flow_patients(engine: str, patients: bool, where: str = "--patients") -> None:
    """Refuse, in one line, a patient table from the flow engine: a stock-and-flow model moves
    expected numbers between stocks and has no patients."""
    if patients and not is_des(engine):
        raise UserError(
            f"{where}: the flow engine has no patients (it moves expected numbers between stocks); "
            "drop it, or use --engine simpy or fast"
        )


def run_engine(cfg: Config, engine: str | None = None, source: str = "config") -> str:
    """The engine of ``hospsim run`` (and ``calibrate``, ``synth``): ``engine`` (``--engine``) if
    given, else the config's (read from ``source``). One that cannot run here is a one-line
    :class:`~hospsim.model.engines.EngineUnavailable`, raised before anything runs."""
    if engine is not None:
        return choose_engine(engine, f"--engine {engine}").engine
    return choose_engine(cfg.engine, f"{source}: engine").engine


def prepare_engine(engine: str) -> None:
    """Before the runs: load the compiled engine in this process (compiling it once per
    installation), so that workers find it cached rather than each compiling it; says so on
    stderr when that takes more than a moment."""
    if engine == FAST:
        from ..model.fast import warm_up  # numba is loaded only when a compiled engine is used
    elif engine == FLOW:
        from ..model.flow import warm_up
    else:
        return
    note = threading.Timer(
        2.0,
        lambda: print(
            f"hospsim: compiling the {engine} engine (once per installation, about a minute)", file=sys.stderr
        ),
    )
    note.start()
    try:
        warm_up()
    finally:
        note.cancel()


@dataclass(frozen=True)
class ReplicationTask:
    """What one worker needs for one replication."""

    config: Config
    index: int
    seed: int
    patients: bool = False  # return the patient table too (big: only when asked)
    engine: str | None = None  # None: the config's


def replication_task(task: ReplicationTask) -> ReplicationResult:
    """The executor's task function (module-level, so workers can unpickle it)."""
    return run_replication(task.config, task.index, task.seed, task.patients, task.engine)


def run_replications(
    cfg: Config,
    workers: int = 1,
    on_done: Callable[[ReplicationResult], None] | None = None,
    backend: str = "process",
    scheduler: str | None = None,
    patients: bool = False,
    engine: str | None = None,
) -> list[ReplicationResult]:
    """Run ``cfg.replications`` replications seeded from ``cfg.seed`` with ``engine`` (None: the
    config's); returns them in replication order whatever the number of workers or the backend
    (see :func:`.executors.executor`).

    ``on_done`` is called as each finishes (for progress reporting), in completion order;
    ``patients`` makes each replication return its patient table. The flow engine (see
    :func:`~hospsim.model.engines.is_des`) runs once, in this process, whatever ``cfg.replications``.
    """
    name = engine or cfg.engine
    if not is_des(name):
        refuse_flow_patients(name, patients, "patients")
        flow = run_flow_once(cfg)
        if on_done:
            on_done(flow)
        return [flow]
    seeds = replication_seeds(cfg.seed, cfg.replications)
    prepare_engine(name)
    tasks = [ReplicationTask(cfg, i, seed, patients, engine) for i, seed in enumerate(seeds)]
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
    engine: str = "simpy"  # the engine that simulated them

    @property
    def final_states(self) -> dict[str, float]:
        """Patients in each end state, over all replications (expected numbers for ``flow``)."""
        total: dict[str, float] = {}
        for r in self.results:
            for state, count in r.final_states.items():
                total[state] = total.get(state, 0) + count
        return total

    @property
    def patients(self) -> list[pd.DataFrame] | None:
        """Each replication's patient table, in replication order (None: not asked for); kept
        apart so that writing them never holds a second, concatenated copy."""
        tables = [r.patients for r in self.results if r.patients is not None]
        return tables if tables else None


def run_config(
    cfg: Config,
    workers: int = 1,
    on_done: Callable[[ReplicationResult], None] | None = None,
    backend: str = "process",
    scheduler: str | None = None,
    patients: bool = False,
    engine: str | None = None,
) -> RunOutput:
    """Run all replications of ``cfg`` with ``engine`` (None: the config's) and summarise them
    (``patients``: keep each replication's patient table, see :func:`patient_table`)."""
    from ..analysis.stats import summarise  # the parent's work: workers import only the task's path

    results = run_replications(
        cfg, workers=workers, on_done=on_done, backend=backend, scheduler=scheduler, patients=patients, engine=engine
    )
    reps = replications_table(results)
    kpi_names = list(results[0].kpis)
    return RunOutput(
        results=results,
        summary=summarise(reps, kpi_names),
        replications=reps,
        daily=daily_frame(results),
        seeds=[r.seed for r in results],
        events=sum(r.events for r in results),
        engine=engine or cfg.engine,
    )
