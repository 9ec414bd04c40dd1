"""The planner's view of every cell of a sweep: one run of the stock-and-flow engine per cell.

A sweep run with a discrete-event engine also runs the flow engine (:mod:`hospsim.model.flow`)
once on each cell's config (baseline, every scenario at every sweep point) over the same KPI
window as the cell's replications, so the report can set "what averages promise" beside the share
of replications in which the plan holds. The flow engine is deterministic: one run per cell, no
seed.

The cells' KPIs go to ``flow_kpis.parquet`` (``scenario``, ``point``, the ``param_*`` columns, then
every KPI), written atomically; the manifest's ``flow`` entry names it with its SHA-256 and the KPIs
that only mean something under variability. A folder whose manifest has that entry and whose table
is missing, unreadable, incomplete or altered is refused (:func:`read_flow_kpis`); a folder
without the entry (``--no-flow``, or written before hospsim had the flow engine) simply has no
flow view.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import Config
from ..model import flow
from ..model.engines import FAST, SIMPY
from .errors import ResultsError
from .executors import Executor
from .experiment import LoadedExperiment
from .store import MANIFEST, write_parquet

FLOW_KPIS = "flow_kpis.parquet"
# The engines whose sweeps get a flow run per cell (a sweep of the flow engine itself needs none).
DES_ENGINES = (SIMPY, FAST)
_IDENTITY = ("scenario", "point")


@dataclass(frozen=True)
class FlowCellSpec:
    """One cell's flow run: its config and the window of its replications' KPIs."""

    scenario: str
    point: int
    params: tuple[tuple[str, Any], ...]
    config: Config
    window: tuple[int, int]


@dataclass(frozen=True)
class FlowCells:
    """The flow runs of a sweep's cells: one row per cell, in the sweep's cell order."""

    table: pd.DataFrame  # scenario, point, param_*, then every KPI
    variability_kpis: frozenset[str]  # KPIs that only have a meaning under variability
    wall_seconds: float = 0.0  # summed over the cells' runs

    def manifest_entry(self, sha256: str) -> dict[str, Any]:
        """What the sweep's manifest says of the table (``flow``)."""
        return {
            "table": FLOW_KPIS,
            "sha256": sha256,
            "cells": len(self.table),
            "variability_kpis": sorted(self.variability_kpis),
            "wall_seconds": round(self.wall_seconds, 3),
        }


def flow_cell_specs(loaded: LoadedExperiment) -> list[FlowCellSpec]:
    """Every cell of the experiment, baseline first, with the window its runs are measured over
    (as :meth:`LoadedExperiment.runs` gives them)."""
    return [FlowCellSpec(v.scenario, v.point, v.params, v.config, loaded.window(v.config)) for v in loaded.variants]


def execute_flow_cell(spec: FlowCellSpec) -> tuple[dict[str, Any], dict[str, float], frozenset[str], float]:
    """The executor's task: run the flow engine on one cell; returns the cell's identity
    (``scenario``, ``point``, ``param_*``; not its config, which need not travel back), the KPIs,
    the variability-only KPI names and the wall time."""
    start = time.perf_counter()
    run = flow.run_flow(spec.config, spec.window)  # through the package: a test may stand a fake in
    ident = {"scenario": spec.scenario, "point": spec.point, **{f"param_{k}": v for k, v in spec.params}}
    return ident, dict(run.kpis), frozenset(run.variability_kpis), time.perf_counter() - start


def run_flow_cells(loaded: LoadedExperiment, ex: Executor) -> FlowCells:
    """Run the flow engine on every cell of ``loaded`` with ``ex``; the table is in cell order
    whatever order the runs finish in."""
    specs = flow_cell_specs(loaded)
    done: dict[tuple[str, int], dict[str, Any]] = {}
    variability: set[str] = set()
    wall = 0.0
    for ident, kpis, var, seconds in ex.map_unordered(execute_flow_cell, specs):
        done[(ident["scenario"], ident["point"])] = {**ident, **kpis}
        variability |= var
        wall += seconds
    table = pd.DataFrame([done[(s.scenario, s.point)] for s in specs])
    params = [c for c in table.columns if c.startswith("param_")]
    rest = [c for c in table.columns if c not in _IDENTITY and c not in params]
    return FlowCells(table[[*_IDENTITY, *params, *rest]], frozenset(variability), wall)


def write_flow_cells(out_dir: Path, cells: FlowCells | None) -> dict[str, Any] | None:
    """Write the cells' table (atomically) and return the manifest's ``flow`` entry; ``None``
    (not run): remove a table an earlier session of the sweep left, and return None."""
    path = Path(out_dir) / FLOW_KPIS
    if cells is None:
        path.unlink(missing_ok=True)
        return None
    write_parquet(path, cells.table)
    return cells.manifest_entry(file_sha256(path))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_flow_kpis(results: Path, manifest: dict[str, Any]) -> FlowCells | None:
    """A sweep folder's flow table, as its manifest lists it; None when the manifest lists none
    (``--no-flow``, or a folder written before the flow engine). A listed table that is missing,
    altered (its SHA-256 differs), unreadable or without its identity columns is a one-line
    :class:`ResultsError`."""
    entry = manifest.get("flow")
    if entry is None:
        return None
    if not isinstance(entry, dict) or entry.get("table") != FLOW_KPIS or not isinstance(entry.get("sha256"), str):
        raise ResultsError(f"{Path(results) / MANIFEST}: flow: incomplete (expected its table and sha256)")
    path = Path(results) / FLOW_KPIS
    if not path.is_file():
        raise ResultsError(f"{results}: missing {FLOW_KPIS} (the manifest lists it)")
    if file_sha256(path) != entry["sha256"]:
        raise ResultsError(f"{path}: altered or corrupt (its SHA-256 is not the one {MANIFEST} records)")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many kinds; all mean the same here
        raise ResultsError(
            f"{path}: unreadable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    missing = [c for c in _IDENTITY if c not in table.columns]
    if missing:
        raise ResultsError(f"{path}: incomplete (no column {', '.join(missing)})")
    return FlowCells(
        table, frozenset(map(str, entry.get("variability_kpis") or ())), float(entry.get("wall_seconds", 0.0))
    )


def compare_flow_cells(stored: FlowCells, loaded: LoadedExperiment, ex: Executor) -> tuple[int, list[str]]:
    """Re-run the flow engine on every cell and compare with ``stored`` value by value, exactly
    (``hospsim reproduce``); returns the values compared and the differences in words."""
    new = run_flow_cells(loaded, ex).table
    old = stored.table
    out = [f"{FLOW_KPIS} {c}: not in the stored table" for c in new.columns if c not in old.columns]
    out += [f"{FLOW_KPIS} {c}: not in the re-run" for c in old.columns if c not in new.columns]
    if len(old) != len(new):
        return 0, [*out, f"{FLOW_KPIS}: stored {len(old)} cells, re-run {len(new)}"]
    compared = 0
    for col in (c for c in old.columns if c in new.columns):
        a, b = old[col].reset_index(drop=True), new[col].reset_index(drop=True)
        same = (a == b) | (a.isna() & b.isna())
        compared += len(a)
        if not same.all():
            out.append(f"{FLOW_KPIS} {col}: {int((~same).sum())} of {len(a)} cells differ")
    return compared, out
