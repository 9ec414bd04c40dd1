"""Reading a results folder of ``hospsim run`` or ``hospsim sweep``: its manifest, its cells and
its tables (daily rows read on demand).

Every problem with a folder (missing, no manifest, an unreadable or incomplete file, the wrong
kind) is a one-line :class:`~hospsim.runs.errors.ResultsError` naming the folder or file: a reader
refuses such a folder rather than show part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..analysis.cells import VALUE_COLUMNS, cell_table
from ..config import Config, ConfigError, config_from_dict
from ..config.experiment import BASELINE, Experiment
from .errors import ResultsError
from .flow_cells import FlowCells, read_flow_kpis
from .store import CELLS, MANIFEST, read_manifest, require_finished_sweep

RESUME_HINT = " (has the sweep finished? finish it with `hospsim sweep EXPERIMENT --out DIR --resume`)"
# Columns a reader relies on, per table (a table written by another tool or cut short lacks them).
REQUIRED_COLUMNS = {
    "summary.csv": ("kpi", "mean", "ci_low", "ci_high"),
    "kpis.parquet": ("scenario", "point", "replication"),
    "replications.csv": ("replication",),
    CELLS: ("scenario", "point", *VALUE_COLUMNS),
}


@dataclass(frozen=True)
class Cell:
    """One (scenario, sweep point) of a sweep, or the single config of a run (point -1)."""

    key: str
    scenario: str
    point: int
    params: dict[str, Any]
    config: dict  # resolved config, as in the manifest

    @property
    def start_date(self) -> np.datetime64:
        """Day 0 of the cell's calendar."""
        return np.datetime64(str(self.config["start_date"]), "D")


@dataclass
class Results:
    """A results folder: what it is, its cells and its tables (daily rows read on demand)."""

    path: Path
    kind: str  # "run" | "sweep"
    manifest: dict
    name: str
    cells: list[Cell]
    kpis: pd.DataFrame  # one row per run: scenario, point, replication, KPIs
    summary: pd.DataFrame
    window: tuple[int, int]
    verdicts: pd.DataFrame | None = None
    paired: pd.DataFrame | None = None
    parameters: dict[str, str] = field(default_factory=dict)  # swept name -> config path
    flow: FlowCells | None = None  # a sweep's flow run of each cell (None: not run, or an older folder)
    _daily_cache: dict = field(default_factory=dict, repr=False)
    _config_cache: dict = field(default_factory=dict, repr=False)
    _cell_table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def is_sweep(self) -> bool:
        return self.kind == "sweep"

    @property
    def experiment(self) -> dict:
        """The experiment as recorded in a sweep's manifest (empty for a run)."""
        return self.manifest.get("experiment", {}) if self.is_sweep else {}

    @property
    def replications(self) -> int:
        return int(self.manifest.get("replications") or self.kpis["replication"].nunique())

    def cell(self, scenario: str, point: int = -1) -> Cell:
        """The cell of ``scenario`` at sweep point ``point`` (-1: not swept)."""
        for c in self.cells:
            if c.scenario == scenario and c.point == point:
                return c
        raise ResultsError(f"{self.path}: no cell {scenario!r} at point {point}")

    def config_of(self, cell: Cell) -> Config:
        """The cell's config, validated again from the manifest (so plans are read by the same
        code that ran them)."""
        if cell.key not in self._config_cache:
            source = f"{self.path / MANIFEST} (config of {cell.key})"
            try:
                self._config_cache[cell.key] = config_from_dict(cell.config, source)
            except ConfigError as exc:
                raise ResultsError(str(exc)) from None
        return self._config_cache[cell.key]

    def kpis_of(self, cell: Cell) -> pd.DataFrame:
        """The KPI rows of one cell, by replication."""
        k = self.kpis
        return k[(k["scenario"] == cell.scenario) & (k["point"] == cell.point)].sort_values("replication")

    def cell_table(self) -> pd.DataFrame:
        """A sweep's per-cell table as in its ``cells.csv`` (see :mod:`hospsim.analysis.cells`);
        a folder written before hospsim wrote that file gets it made from its KPIs by the same code."""
        if not self.is_sweep:
            raise ResultsError(f"{self.path}: results of `hospsim run` have no per-cell table")
        if self._cell_table is None:
            path = self.path / CELLS
            if path.exists():
                table = read_table(path)
            else:
                try:
                    exp = Experiment.model_validate(self.experiment)
                except ValidationError as exc:
                    raise ResultsError(f"{self.path / MANIFEST}: unusable experiment ({_first_line(exc)})") from None
                table = cell_table(exp, self.kpis, self.verdicts)
            self._cell_table = table
        return self._cell_table

    def daily(self, cells: Iterable[Cell], columns: Iterable[str]) -> pd.DataFrame:
        """Daily rows of ``cells`` (``scenario, point, replication, day`` and ``columns``)."""
        cells = list(cells)
        want = ["scenario", "point", "replication", "day", *dict.fromkeys(columns)]
        key = (tuple(c.key for c in cells), tuple(want))
        if key not in self._daily_cache:
            self._daily_cache[key] = _read_daily(self, cells, want)
        return self._daily_cache[key]


# ---------------------------------------------------------------------------------------------
# Files


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _need(path: Path, hint: str = "") -> Path:
    if not path.exists():
        raise ResultsError(f"{path.parent}: missing {path.name}{hint}")
    return path


def _table(path: Path, hint: str = "") -> pd.DataFrame:
    """A results table (CSV or Parquet); a missing, unreadable or incomplete one is a one-line error."""
    return read_table(_need(path, hint))


def read_table(
    path: Path, read: Callable[[Path], pd.DataFrame] | None = None, columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A stored table, read by ``read`` (default: by its suffix). An unreadable one, or one without
    its required columns or ``columns``, is a one-line :class:`ResultsError`; an empty CSV is an
    empty table (an experiment without criteria has no verdicts) unless ``columns`` are asked for."""
    reader = read or (pd.read_parquet if path.suffix == ".parquet" else pd.read_csv)
    try:
        df = reader(path)
    except pd.errors.EmptyDataError:
        df, required = pd.DataFrame(), columns
    except Exception as exc:  # pandas and pyarrow raise many kinds; all mean the same here
        raise ResultsError(f"{path}: unreadable ({_first_line(exc)})") from None
    else:
        required = (*REQUIRED_COLUMNS.get(path.name, ()), *columns)
    missing = [c for c in dict.fromkeys(required) if c not in df.columns]
    if missing:
        raise ResultsError(f"{path}: incomplete (no column {', '.join(missing)})")
    return df


def _read_daily(res: Results, cells: list[Cell], want: list[str]) -> pd.DataFrame:
    """Daily rows of ``cells``; only the columns wanted are read (sweeps: only the cells' rows)."""
    path = res.path / "daily.parquet"
    if res.kind == "run" and not path.exists():
        path = _need(res.path / "daily.csv")
    try:
        if res.kind == "sweep":
            return _sweep_daily(path, cells, want)
        cols = [c for c in want if c not in ("scenario", "point")]
        d = pd.read_parquet(path, columns=cols) if path.suffix == ".parquet" else pd.read_csv(path, usecols=cols)
    except ResultsError:
        raise
    except Exception as exc:
        raise ResultsError(f"{path}: unreadable ({_first_line(exc)})") from None
    d.insert(0, "point", -1)
    d.insert(0, "scenario", cells[0].scenario)
    return d[want].reset_index(drop=True)


def _sweep_daily(path: Path, cells: list[Cell], want: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    missing = [c for c in want if c not in pq.read_schema(path).names]
    if missing:
        raise ResultsError(f"{path}: incomplete (no column {', '.join(missing)})")
    filters = [[("scenario", "==", c.scenario), ("point", "==", c.point)] for c in cells]
    table = pq.read_table(path, columns=want, filters=filters)
    return table.to_pandas().reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Opening a folder


def load_results(path: str | Path) -> Results:
    """Open a results folder of ``hospsim run`` or ``hospsim sweep``; a bad folder is a
    one-line :class:`ResultsError`."""
    p = Path(path)
    if not p.is_dir():
        raise ResultsError(f"{p}: no such results folder")
    mpath = p / MANIFEST
    if not mpath.exists():
        raise ResultsError(f"{p}: not a results folder of `hospsim run` or `hospsim sweep` (no {MANIFEST})")
    manifest = read_manifest(p)
    kind = manifest.get("kind")
    if kind == "run":
        return _load_run(p, manifest)
    if kind == "sweep":
        return _load_sweep(p, manifest)
    raise ResultsError(f"{mpath}: kind: expected 'run' or 'sweep', got {kind!r}")


def _load_run(p: Path, manifest: dict) -> Results:
    cfg = manifest.get("config")
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise ResultsError(f"{p / MANIFEST}: config: missing")
    if "horizon_days" not in cfg or "start_date" not in cfg:
        raise ResultsError(f"{p / MANIFEST}: config: incomplete (no horizon_days or start_date)")
    name = str(cfg["name"])
    if not (p / "daily.parquet").exists() and not (p / "daily.csv").exists():
        raise ResultsError(f"{p}: missing daily.parquet (or daily.csv)")
    reps = _table(p / "replications.csv")
    if "replication" not in reps.columns:
        raise ResultsError(f"{p / 'replications.csv'}: no replication column")
    reps.insert(0, "point", -1)
    reps.insert(0, "scenario", name)
    summary = _table(p / "summary.csv")
    cell = Cell(key=name, scenario=name, point=-1, params={}, config=cfg)
    window = (int(cfg.get("warmup_days", 0)), int(cfg["horizon_days"]))
    return Results(p, "run", manifest, name, [cell], reps, summary, window)


def _cells(p: Path, manifest: dict) -> list[Cell]:
    entries = manifest.get("cells")
    if not isinstance(entries, list) or not entries:
        raise ResultsError(f"{p / MANIFEST}: cells: missing")
    cells = []
    for i, c in enumerate(entries):
        try:
            cells.append(
                Cell(
                    key=str(c["key"]),
                    scenario=str(c["scenario"]),
                    point=int(c["point"]),
                    params=dict(c.get("params") or {}),
                    config=dict(c["config"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{p / MANIFEST}: cells.{i}: incomplete ({_first_line(exc)})") from None
    return cells


def _sweep_window(p: Path, exp: dict, base: dict) -> tuple[int, int]:
    w = exp.get("window")
    try:
        if w:
            return int(w["start_day"]), int(w["end_day"])
        return int(base.get("warmup_days", 0)), int(base["horizon_days"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsError(f"{p / MANIFEST}: window: incomplete ({_first_line(exc)})") from None


def _load_sweep(p: Path, manifest: dict) -> Results:
    require_finished_sweep(p, manifest)
    kpis = _table(p / "kpis.parquet", RESUME_HINT)
    _need(p / "daily.parquet", RESUME_HINT)
    summary = _table(p / "summary.csv", RESUME_HINT)
    paired = _table(p / "paired_differences.csv", RESUME_HINT)
    verdicts = _table(p / "verdicts.csv", RESUME_HINT)
    exp = manifest.get("experiment") or {}
    cells = _cells(p, manifest)
    window = _sweep_window(p, exp, cells[0].config)
    sweep = exp.get("sweep") or {}
    parameters = {n: str(spec.get("path", n)) for n, spec in (sweep.get("parameters") or {}).items()}
    name = str(exp.get("name", p.name))
    return Results(
        p,
        "sweep",
        manifest,
        name,
        cells,
        kpis,
        summary,
        window,
        verdicts=verdicts,
        paired=paired,
        parameters=parameters,
        flow=read_flow_kpis(p, manifest),
    )


# ---------------------------------------------------------------------------------------------
# The cells of a sweep


def on_time_point(res: Results) -> int:
    """The sweep point at which the plan's intermediate care is delivered on time and in full
    (``plan_delivery`` at its defaults); the first point if there is none."""
    swept = [c for c in res.cells if c.point >= 0]
    for c in sorted(swept, key=lambda c: c.point):
        pdv = c.config.get("plan_delivery") or {}
        if int(pdv.get("ic_delay_days", 0)) == 0 and float(pdv.get("ic_growth_achieved", 1.0)) == 1.0:
            return c.point
    return min((c.point for c in swept), default=-1)


def points(res: Results) -> dict[int, dict[str, Any]]:
    """Sweep point index -> its parameter values."""
    out: dict[int, dict[str, Any]] = {}
    for c in res.cells:
        if c.point >= 0:
            out.setdefault(c.point, c.params)
    return dict(sorted(out.items()))


def scenarios(res: Results) -> list[str]:
    """Scenario names other than the baseline, in the experiment's order."""
    return list(dict.fromkeys(c.scenario for c in res.cells if c.scenario != BASELINE)) if res.is_sweep else []
