"""Results folders on disk: one atomic writer for every file, the manifest, a run's folder and a
sweep's folder.

Every file goes through :func:`atomic_write` (a temporary name in the same folder, fsync, then a
rename), so a reader sees a whole file or the previous one, never half of one. The manifest is
what makes a folder a results folder, and it is written last:

- ``hospsim run``: the whole folder is built in a temporary sibling (``.<name>.tmp-<pid>``, manifest
  last) and renamed into place only when complete; an older folder of that name is first renamed
  aside (``.<name>.old-<pid>``) and deleted after. A kill at any moment leaves the old complete
  folder or the new complete one, never a mix; the one window is the microseconds between the two
  renames, in which the folder is absent (a reader then finds no folder, never a mixed one). A lock
  file beside it (``.<name>.lock``, holding the writer's pid) keeps two writers off one folder; a
  lock whose process is gone is taken over, and leftovers of a killed writer are removed.
- ``hospsim sweep``: each run is written as ``runs/<id>.daily.arrow`` (an Arrow IPC file, made
  by the worker: the parent only writes its bytes, and joining them is cheap) then
  ``runs/<id>.json`` (KPIs and monthly values), the JSON last. A run counts as done only when its JSON exists, so a
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
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .. import __version__
from ..config import Config, config_hash, config_to_dict
from .errors import OutputError, ResultsError

FLOAT_FORMAT = "%.10g"  # plenty for KPIs, and stable text across platforms
MANIFEST = "manifest.json"
CELLS = "cells.csv"  # a sweep's per-cell table (hospsim.analysis.cells)
PATIENTS = "patients.parquet"
RUNS = "runs"
_TMP = ".tmp"
_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "pydantic", "pyyaml")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
# Rows per row group of a sweep's daily.parquet: whole runs are joined until a group holds at
# least this many (one row group per run made the file slow to write and to read).
DAILY_GROUP_ROWS = 32_768


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


def write_parquet_tables(path: Path, tables: Iterable[pa.Table], dictionary: str = "all") -> int:
    """Tables of one schema written one after another into one Parquet file (atomically, one table
    in memory at a time); returns the number of rows. ``dictionary``: ``all`` columns
    dictionary-encoded where it pays (pyarrow's default), or only ``ints and strings`` (floats
    that rarely repeat cost a third of the writing time in a dictionary given up on)."""
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        try:
            for table in tables:
                if writer is None:
                    encode: bool | list[str] = dictionary == "all" or [
                        f.name
                        for f in table.schema
                        if pa.types.is_integer(f.type) or pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                    ]
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd", use_dictionary=encode)
                writer.write_table(table.cast(writer.schema))
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()

    atomic_write(path, write)
    return rows


def table_ipc(table: pd.DataFrame) -> bytes:
    """A table as an Arrow IPC file (lz4 where the library has it), with the schema and pandas
    metadata Parquet would get: a sweep run's daily table, made in the worker."""
    return _arrow_ipc(pa.Table.from_pandas(table, preserve_index=False))


def _arrow_ipc(arrow: pa.Table) -> bytes:
    codec = "lz4" if pa.Codec.is_available("lz4") else None
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, arrow.schema, options=ipc.IpcWriteOptions(compression=codec)) as writer:
        writer.write_table(arrow)
    return bytes(sink.getvalue())


# Schemas (with their pandas metadata) of the run tables this process has made, by their columns'
# names and types: every run of a sweep has the same, which pandas would otherwise work out again
# column by column for each run.
_RUN_SCHEMAS: dict[tuple[tuple[str, str], ...], pa.Schema] = {}


def led_table(ident: dict[str, str | int], daily: pd.DataFrame) -> pd.DataFrame:
    """A run's daily table led by its identity columns (``ident``: one value each)."""
    return pd.concat([pd.DataFrame(ident, index=daily.index), daily], axis=1)


def run_table_ipc(ident: dict[str, str | int], daily: pd.DataFrame) -> bytes:
    """``table_ipc(led_table(ident, daily))``, byte for byte, without building that table in
    pandas: the columns go to Arrow one by one (NaN as null, as pandas converts them) under the
    schema the first such table got."""
    key = tuple((name, type(value).__name__) for name, value in ident.items())
    key += tuple((str(name), str(dtype)) for name, dtype in daily.dtypes.items())
    schema = _RUN_SCHEMAS.get(key)
    if schema is None:
        arrow = pa.Table.from_pandas(led_table(ident, daily), preserve_index=False)
        _RUN_SCHEMAS[key] = arrow.schema
        return _arrow_ipc(arrow)
    n = len(daily)
    columns = [  # the identity columns lead: the schema's first fields
        pa.array(np.full(n, value, dtype=object if isinstance(value, str) else np.int64), type=field.type)
        for value, field in zip(ident.values(), schema, strict=False)
    ]
    for name, field in zip(daily.columns, list(schema)[len(ident) :], strict=True):
        values = daily[name]
        data = values.array if values.dtype == object or isinstance(values.dtype, pd.StringDtype) else values.to_numpy()
        columns.append(pa.array(data, type=field.type, from_pandas=True))
    return _arrow_ipc(pa.Table.from_arrays(columns, schema=schema))


def write_parquet_grouped(path: Path, tables: Iterable[pa.Table], group_rows: int) -> int:
    """Tables of one schema as one Parquet file (zstd), whole tables joined into row groups of at
    least ``group_rows`` rows (so one group's tables are in memory at a time); returns the rows."""

    def groups() -> Iterator[pa.Table]:
        pending: list[pa.Table] = []
        rows = 0
        for table in tables:
            if pending and table.schema != pending[0].schema:
                table = table.cast(pending[0].schema)
            pending.append(table)
            rows += table.num_rows
            if rows >= group_rows:
                yield pa.concat_tables(pending)
                pending, rows = [], 0
        if pending:
            yield pa.concat_tables(pending)

    return write_parquet_tables(path, groups(), dictionary="ints and strings")


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
    engine: str = "simpy",
) -> dict[str, Any]:
    """Everything needed to re-run a result and check it: config, seeds, versions, timings, the
    engine that simulated (``hospsim reproduce`` re-runs with it) and (``patients: true``)
    whether the folder holds ``patients.parquet``."""
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
        "engine": engine,
        "events": events,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "wall_seconds": round((finished - started).total_seconds(), 3),
    }
    if patients:  # only then: manifests of runs without it keep their keys
        manifest["patients"] = True
    return manifest


# --- output folders: checked before any work ------------------------------------------------


def os_reason(exc: OSError) -> str:
    """What an operating-system error says, in one line (e.g. "No space left on device")."""
    return exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]


def check_output_dir(path: str | Path, *, beside: bool = False) -> Path:
    """Check, before any simulation, that ``path`` is or can become a writable folder: not an
    existing file, not under a file, creatable, and a file can be written in it (tried, then
    cleaned up: the probe file and any folder the check created are removed). ``beside``: its
    parent must be writable too (``hospsim run`` swaps the folder in beside its old one and takes a
    lock file there). Returns ``path``; a problem is a one-line :class:`OutputError`."""
    if str(path).strip() == "":
        raise OutputError("--out: empty path; name a folder")
    p = Path(path)
    full = Path(os.path.abspath(p))
    cwd = Path.cwd()
    if beside and (full == cwd or full in cwd.parents):
        raise OutputError(f"{p}: is the current folder or holds it; name a folder of its own")
    for folder in (full, *full.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "is a file" if folder == full else f"is under {folder}, which is a file"
                raise OutputError(f"{p}: {where}, not a folder")
            break
    created: list[Path] = []
    try:
        for folder in reversed((full, *full.parents)):
            if not folder.exists():
                folder.mkdir()
                created.append(folder)
        for folder in (full, full.parent) if beside else (full,):
            fd, probe = tempfile.mkstemp(prefix=".hospsim-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{p}: cannot write there ({exc.strerror or exc})") from None
    finally:
        for folder in reversed(created):
            with suppress(OSError):
                folder.rmdir()
    return p


# --- a run's folder --------------------------------------------------------------------------


def _lock_holder(lock: Path) -> int | None:
    """The pid in a lock file, or None if it holds none (yet)."""
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # cannot tell cheaply: never take over another's lock
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@contextmanager
def folder_lock(out_dir: Path) -> Iterator[Path]:
    """Hold ``.<name>.lock`` beside ``out_dir`` (created with O_EXCL, holding this pid) while the
    folder is written. Another live writer's lock is a one-line :class:`OutputError` naming its
    pid; a lock whose process is dead (a writer killed) is taken over. (Two processes taking over
    one stale lock at the same instant could both succeed; that needs a writer killed and two
    starting within microseconds.)"""
    out_dir = Path(os.path.abspath(out_dir))
    lock = out_dir.parent / f".{out_dir.name}.lock"
    for _attempt in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _lock_holder(lock)
            if pid is None:
                try:
                    young = time.time() - lock.stat().st_mtime < 10
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                if young:  # just created, its pid not yet written
                    raise OutputError(f"{out_dir}: another hospsim is writing it (lock {lock})") from None
            elif pid != os.getpid() and _alive(pid):
                raise OutputError(
                    f"{out_dir}: another hospsim (pid {pid}) is writing it; wait for it to finish, "
                    f"or delete {lock} if that process is not hospsim"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its writer is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        break
    else:
        raise OutputError(f"{out_dir}: could not take the lock {lock}")
    try:
        yield lock
    finally:
        if _lock_holder(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def _remove_leftovers(out_dir: Path) -> None:
    """Temporary and set-aside folders of writers killed before they finished (under the lock, so
    none is in use)."""
    for pattern in (f".{out_dir.name}.tmp-*", f".{out_dir.name}.old-*"):
        for leftover in out_dir.parent.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)


def write_results(
    out_dir: Path,
    summary: pd.DataFrame,
    replications: pd.DataFrame,
    daily: pd.DataFrame,
    manifest: dict[str, Any],
    daily_format: str = "parquet",
    patients: list[pd.DataFrame] | None = None,
    lock: bool = True,
) -> list[Path]:
    """Write a run's results folder whole (:func:`write_folder_whole`, manifest last). Returns the
    files written (at their final place). ``patients``: each replication's patient table, written
    as one ``patients.parquet``. ``lock=False``: the caller already holds :func:`folder_lock`
    (``hospsim run`` holds it from before simulating)."""

    def write(tmp: Path) -> list[Path]:
        return _write_run_files(tmp, summary, replications, daily, manifest, daily_format, patients)

    return write_folder_whole(out_dir, write, "the results", lock)


def write_folder_whole(out_dir: Path, write: Callable[[Path], list[Path]], what: str, lock: bool = True) -> list[Path]:
    """Write a folder whole: ``write(tmp)`` fills ``.<name>.tmp-<pid>`` beside it, which is then
    renamed into place, an older folder of that name renamed aside and deleted; under the lock
    ``.<name>.lock`` (unless ``lock=False``: the caller holds it). Returns the files at their final
    place; a disk problem is one :class:`OutputError` line naming ``what``, the old folder (if
    any) unchanged."""
    given = Path(out_dir)
    out_dir = Path(os.path.abspath(given))  # `--out .`: its siblings are those of the real name
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: is a file, not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir) if lock else nullcontext():
        _remove_leftovers(out_dir)
        tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
        tmp.mkdir()
        try:
            names = [p.name for p in write(tmp)]
            _fsync_dir(tmp)
            _swap_in(tmp, out_dir)
        except OSError as exc:
            # A full disk, a file size limit, a folder gone read-only: the user's to fix, and the
            # old folder (if any) is untouched.
            shutil.rmtree(tmp, ignore_errors=True)
            raise OutputError(f"{out_dir}: cannot write {what} ({os_reason(exc)}); the folder is unchanged") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return [given / name for name in names]


def _write_run_files(
    folder: Path,
    summary: pd.DataFrame,
    replications: pd.DataFrame,
    daily: pd.DataFrame,
    manifest: dict[str, Any],
    daily_format: str,
    patients: list[pd.DataFrame] | None,
) -> list[Path]:
    paths = [write_csv(folder / "summary.csv", summary), write_csv(folder / "replications.csv", replications)]
    if daily_format == "csv":
        paths.append(write_csv(folder / "daily.csv", daily))
    else:
        paths.append(write_parquet(folder / "daily.parquet", daily, compression="zstd"))
    if patients is not None:
        write_parquet_frames(folder / PATIENTS, patients)
        paths.append(folder / PATIENTS)
    paths.append(write_manifest(folder, manifest))  # last: the folder is complete
    return paths


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Rename the complete ``tmp`` to ``out_dir``; an existing ``out_dir`` is renamed aside first
    and deleted after. Between the two renames (microseconds) ``out_dir`` does not exist."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except BaseException:
        if old is not None:
            os.rename(old, out_dir)  # put the old folder back
        raise
    _fsync_dir(out_dir.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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

    def write_run(
        self, record: dict[str, Any], daily: pd.DataFrame | bytes, patients: pd.DataFrame | None = None
    ) -> None:
        """One finished run: its daily table (a table, or :func:`table_ipc`'s bytes of it; and its
        patient table), then its record (which marks it done)."""
        stem = run_file_stem(record["run_id"])
        data = daily if isinstance(daily, bytes) else table_ipc(daily)
        atomic_write(self.runs_dir / f"{stem}.daily.arrow", lambda p: p.write_bytes(data))
        if patients is not None:
            write_parquet(self.runs_dir / f"{stem}.patients.parquet", patients, compression="zstd")
        # One line, numpy numbers as floats: records are many and read by programs only.
        write_text(self.runs_dir / f"{stem}.json", json.dumps(record, default=float))

    def records(self, run_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The runs' records, in the order given."""
        for rid in run_ids:
            yield json.loads((self.runs_dir / f"{run_file_stem(rid)}.json").read_text())

    def stream_daily(self, run_ids: list[str], target: Path) -> int:
        """Concatenate the runs' daily tables into one Parquet file, in row groups of whole runs
        (:data:`DAILY_GROUP_ROWS`), one group in memory at a time; returns the number of rows."""
        if not run_ids:
            return 0
        with ThreadPoolExecutor(max_workers=1) as reader:
            return write_parquet_grouped(target, _read_ahead(reader, self._daily, run_ids), DAILY_GROUP_ROWS)

    def _daily(self, run_id: str) -> pa.Table:
        """A run's daily table: its Arrow file, or the Parquet file of a sweep begun by a hospsim
        that wrote those (resumed by this one)."""
        stem = run_file_stem(run_id)
        arrow = self.runs_dir / f"{stem}.daily.arrow"
        if arrow.is_file():
            with pa.OSFile(str(arrow)) as source:  # read whole: nothing stays mapped
                return ipc.open_file(source).read_all()
        return pq.read_table(self.runs_dir / f"{stem}.daily.parquet")

    def stream_patients(self, run_ids: list[str], target: Path) -> int:
        """Concatenate the runs' patient tables into one Parquet file, one run in memory at a time;
        returns the number of rows."""
        return self._stream(run_ids, "patients", target)

    def _stream(self, run_ids: list[str], table_name: str, target: Path) -> int:
        if not run_ids:
            return 0
        files = (self.runs_dir / f"{run_file_stem(rid)}.{table_name}.parquet" for rid in run_ids)
        return write_parquet_tables(target, (pq.read_table(f) for f in files))


def _read_ahead(pool: ThreadPoolExecutor, read: Callable[[str], pa.Table], keys: list[str]) -> Iterator[pa.Table]:
    """``read(key)`` of each key, in order, the next :data:`_READ_AHEAD` read in advance in
    ``pool``: reading and decompressing an Arrow file releases the GIL, so it overlaps the
    encoding of the Parquet file (a whole core's work)."""
    pending: deque[Future[pa.Table]] = deque()
    for key in keys:
        pending.append(pool.submit(read, key))
        if len(pending) > _READ_AHEAD:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


_READ_AHEAD = 8  # a run's daily table is ~0.5 MB in memory


def records_to_frames(records: Iterable[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KPI rows and monthly rows of the given run records."""
    kpi_rows, monthly = [], []
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
        monthly.append(({k: ident[k] for k in _MONTHLY_IDENT}, rec["monthly"]))
    return pd.DataFrame(kpi_rows), _monthly_frame(monthly)


_MONTHLY_IDENT = ("run_id", "scenario", "point", "replication")


def _monthly_frame(runs: list[tuple[dict[str, Any], dict[str, list[Any]]]]) -> pd.DataFrame:
    """The runs' monthly values, each run's rows led by its identity, as one table: the columns
    joined as lists and made into a table once (10,000 small tables joined took seconds), which
    gives the table joining them gives when every run has the same columns."""
    if not runs:
        return pd.DataFrame()
    names = list(runs[0][1])
    if any(list(values) != names for _ident, values in runs):
        frames = []
        for ident, values in runs:
            m = pd.DataFrame(values)
            for col, val in reversed(ident.items()):
                m.insert(0, col, val)
            frames.append(m)
        return pd.concat(frames, ignore_index=True)
    columns: dict[str, list[Any]] = {name: [] for name in (*_MONTHLY_IDENT, *names)}
    for ident, values in runs:
        n = len(values[names[0]]) if names else 0
        for col, val in ident.items():
            columns[col].extend([val] * n)
        for name in names:
            columns[name].extend(values[name])
    return pd.DataFrame(columns)
