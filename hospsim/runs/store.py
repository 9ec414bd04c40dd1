"""Results folders on disk: one atomic writer for every file, the manifest, a run's folder and a
sweep's folder.

Every file goes through :func:`atomic_write` (a temporary name in the same folder, fsync, then a
rename), so a reader sees a whole file or the previous one, never half of one. The manifest is
what makes a folder a results folder, and it is written last:

- ``hospsim run``: a stale manifest is removed first, then the tables, then the new manifest, so a
  folder interrupted mid-write has no manifest and every reader refuses it.
- ``hospsim sweep``: each run is written as ``runs/<id>.daily.parquet`` then ``runs/<id>.json``
  (KPIs and monthly values), the JSON last. A run counts as done only when its JSON exists, so a
  sweep killed at any moment (even SIGKILL) leaves no half-written run that a resume would trust,
  and a resume never repeats a finished run (with ``--patients``, ``runs/<id>.patients.parquet``
  is written before the JSON too, and a run without it is redone). The sweep manifest says
  ``complete: false`` until the consolidated tables are all written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..config import Config, config_hash, config_to_dict
from .errors import ResultsError

FLOAT_FORMAT = "%.10g"  # plenty for KPIs, and stable text across platforms
MANIFEST = "manifest.json"
PATIENTS = "patients.parquet"
RUNS = "runs"
_TMP = ".tmp"
_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "pydantic", "pyyaml")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


# --- the atomic writer -----------------------------------------------------------------------


def atomic_write(path: Path, write_fn: Callable[[Path], object]) -> Path:
    """Write ``path`` via ``write_fn(tmp_path)``, fsync, then rename into place: readers see the
    whole new file or the old one. If ``write_fn`` raises, the old file is left as it was and the
    temporary file is removed. Returns ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + _TMP)
    try:
        write_fn(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    # The rename itself reaches the disk only when the folder is synced (POSIX; not possible on Windows).
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_csv(path: Path, table: pd.DataFrame) -> Path:
    """A table as CSV, without index, floats at :data:`FLOAT_FORMAT`."""
    return atomic_write(path, lambda p: table.to_csv(p, index=False, float_format=FLOAT_FORMAT))


def write_parquet(path: Path, table: pd.DataFrame, compression: Literal["snappy", "zstd"] = "snappy") -> Path:
    """A table as Parquet, without index."""
    return atomic_write(path, lambda p: table.to_parquet(p, index=False, compression=compression))


def write_parquet_frames(path: Path, frames: Iterable[pd.DataFrame]) -> int:
    """Tables of one schema as one Parquet file (zstd), one row group each, without ever
    concatenating them in memory; returns the number of rows."""
    return write_parquet_tables(path, (pa.Table.from_pandas(f, preserve_index=False) for f in frames))


def write_parquet_tables(path: Path, tables: Iterable[pa.Table]) -> int:
    """Tables of one schema written one after another into one Parquet file (atomically, one table
    in memory at a time); returns the number of rows."""
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        try:
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()

    atomic_write(path, write)
    return rows


def write_text(path: Path, text: str) -> Path:
    """A text file."""
    return atomic_write(path, lambda p: p.write_text(text))


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """A JSON document, indented (values JSON cannot hold are written as text)."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n")


# --- manifests -------------------------------------------------------------------------------


def package_versions() -> dict[str, str]:
    """Versions of Python, hospsim and the libraries that shape its numbers."""
    versions = {"python": platform.python_version(), "hospsim": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_revision() -> str | None:
    """The git commit hospsim runs from, if it runs from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``out_dir/manifest.json``."""
    return write_json(Path(out_dir) / MANIFEST, manifest)


def read_manifest(results: Path) -> dict[str, Any]:
    """The manifest of a results folder; :class:`ResultsError` when there is none or it is unreadable."""
    path = Path(results) / MANIFEST
    if not path.is_file():
        raise ResultsError(
            f"{results}: no {MANIFEST}: not a hospsim results folder (or one whose writing was cut short)"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ResultsError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: unreadable manifest (not a JSON object)")
    return manifest


def require_finished_sweep(results: Path, manifest: dict[str, Any]) -> None:
    """Refuse a sweep whose manifest does not say it finished: the tables beside it, if any, may be
    an earlier session's and not those of the runs the manifest lists."""
    if manifest.get("complete") is not True:
        raise ResultsError(
            f"{results}: the sweep did not finish; finish it with: hospsim sweep "
            f"{manifest.get('experiment_source', 'EXPERIMENT')} --out {results} --resume"
        )


def build_manifest(
    cfg: Config,
    config_source: str,
    seeds: list[int],
    started: dt.datetime,
    finished: dt.datetime,
    workers: int,
    events: int,
    patients: bool = False,
) -> dict[str, Any]:
    """Everything needed to re-run a result and check it: config, seeds, versions, timings, and
    (``patients: true``) whether the folder holds ``patients.parquet``."""
    manifest = {
        "kind": "run",
        "hospsim_version": __version__,
        "command": sys.argv,
        "config_source": config_source,
        "config_hash": config_hash(cfg),
        "config": config_to_dict(cfg),
        "root_seed": cfg.seed,
        "replications": cfg.replications,
        "replication_seeds": seeds,
        "warmup_days": cfg.warmup_days,
        "horizon_days": cfg.horizon_days,
        "versions": package_versions(),
        "git_revision": git_revision(),
        "platform": platform.platform(),
        "workers": workers,
        "events": events,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "wall_seconds": round((finished - started).total_seconds(), 3),
    }
    if patients:  # only then: manifests of runs without it keep their keys
        manifest["patients"] = True
    return manifest


# --- a run's folder --------------------------------------------------------------------------


def write_results(
    out_dir: Path,
    summary: pd.DataFrame,
    replications: pd.DataFrame,
    daily: pd.DataFrame,
    manifest: dict[str, Any],
    daily_format: str = "parquet",
    patients: list[pd.DataFrame] | None = None,
) -> list[Path]:
    """Write a run's results folder, manifest last; returns the files written. ``patients``: each
    replication's patient table, written as one ``patients.parquet``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Until the new manifest is in place the folder must not pass for a complete (older) result.
    (out_dir / MANIFEST).unlink(missing_ok=True)
    _fsync_dir(out_dir)
    paths = [write_csv(out_dir / "summary.csv", summary), write_csv(out_dir / "replications.csv", replications)]
    if daily_format == "csv":
        paths.append(write_csv(out_dir / "daily.csv", daily))
    else:
        paths.append(write_parquet(out_dir / "daily.parquet", daily, compression="zstd"))
    stale = out_dir / ("daily.parquet" if daily_format == "csv" else "daily.csv")
    stale.unlink(missing_ok=True)  # never leave another run's daily table beside this one
    if patients is not None:
        write_parquet_frames(out_dir / PATIENTS, patients)
        paths.append(out_dir / PATIENTS)
    else:
        (out_dir / PATIENTS).unlink(missing_ok=True)  # nor another run's patients
    paths.append(write_manifest(out_dir, manifest))
    return paths


def read_daily(results_dir: Path) -> pd.DataFrame:
    """The daily table of a results folder, whichever format it was written in."""
    parquet = results_dir / "daily.parquet"
    return pd.read_parquet(parquet) if parquet.exists() else pd.read_csv(results_dir / "daily.csv")


# --- a sweep's folder ------------------------------------------------------------------------


def run_file_stem(run_id: str) -> str:
    """The name of a run's files under ``runs/`` (``gated#p003#r001`` -> ``gated_p003_r001``);
    :func:`~hospsim.runs.experiment.load_experiment` refuses an experiment where two runs share one."""
    return _SAFE.sub("_", run_id)


class SweepStore:
    """Reads and writes the per-run files of a sweep results folder (``<out>/runs/``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.runs_dir = self.out_dir / RUNS

    def prepare(self) -> None:
        """Create the folders and drop temporary files left by a sweep killed while writing."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.out_dir, self.runs_dir):
            for tmp in folder.glob("*" + _TMP):
                tmp.unlink()

    def done_ids(self) -> set[str]:
        """Run ids already on disk; an unreadable run record is deleted so the run is redone."""
        if not self.runs_dir.is_dir():
            return set()
        ids = set()
        for p in self.runs_dir.glob("*.json"):
            try:
                ids.add(json.loads(p.read_text())["run_id"])
            except (ValueError, KeyError, TypeError):
                p.unlink()
        return ids

    def has_runs(self) -> bool:
        """Whether any run is on disk."""
        return self.runs_dir.is_dir() and any(self.runs_dir.glob("*.json"))

    def has_patients(self, run_id: str) -> bool:
        """Whether the run's patient table is on disk."""
        return (self.runs_dir / f"{run_file_stem(run_id)}.patients.parquet").is_file()

    def write_run(self, record: dict[str, Any], daily: pd.DataFrame, patients: pd.DataFrame | None = None) -> None:
        """One finished run: its daily table (and patient table), then its record (which marks it done)."""
        stem = run_file_stem(record["run_id"])
        write_parquet(self.runs_dir / f"{stem}.daily.parquet", daily)
        if patients is not None:
            write_parquet(self.runs_dir / f"{stem}.patients.parquet", patients, compression="zstd")
        # One line, numpy numbers as floats: records are many and read by programs only.
        write_text(self.runs_dir / f"{stem}.json", json.dumps(record, default=float))

    def records(self, run_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The runs' records, in the order given."""
        for rid in run_ids:
            yield json.loads((self.runs_dir / f"{run_file_stem(rid)}.json").read_text())

    def stream_daily(self, run_ids: list[str], target: Path) -> int:
        """Concatenate the runs' daily tables into one Parquet file, one run in memory at a time;
        returns the number of rows."""
        return self._stream(run_ids, "daily", target)

    def stream_patients(self, run_ids: list[str], target: Path) -> int:
        """Concatenate the runs' patient tables into one Parquet file, one run in memory at a time;
        returns the number of rows."""
        return self._stream(run_ids, "patients", target)

    def _stream(self, run_ids: list[str], table_name: str, target: Path) -> int:
        if not run_ids:
            return 0
        files = (self.runs_dir / f"{run_file_stem(rid)}.{table_name}.parquet" for rid in run_ids)
        return write_parquet_tables(target, (pq.read_table(f) for f in files))


def records_to_frames(records: Iterable[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KPI rows and monthly rows of the given run records."""
    kpi_rows, monthly_frames = [], []
    for rec in records:
        ident = {
            "run_id": rec["run_id"],
            "scenario": rec["scenario"],
            "point": rec["point"],
            **{f"param_{k}": v for k, v in rec["params"]},
            "replication": rec["replication"],
            "seed": rec["seed"],
        }
        kpi_rows.append({**ident, **rec["kpis"]})
        m = pd.DataFrame(rec["monthly"])
        for col, val in reversed(list(ident.items())):
            if col in ("run_id", "scenario", "point", "replication"):
                m.insert(0, col, val)
        monthly_frames.append(m)
    kpis = pd.DataFrame(kpi_rows)
    monthly = pd.concat(monthly_frames, ignore_index=True) if monthly_frames else pd.DataFrame()
    return kpis, monthly
