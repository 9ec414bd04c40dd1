"""A sweep's results folder: one file per finished run, then consolidated tables.

Each run is written as ``runs/<id>.daily.parquet`` then ``runs/<id>.json`` (KPIs and monthly
values), each to a temporary name and renamed into place, and the JSON last. A run counts as done
only when its JSON exists, so a sweep killed at any moment (even SIGKILL) leaves no half-written
run that a resume would trust, and a resume never repeats a finished run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

RUNS = "runs"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _file_stem(run_id: str) -> str:
    return _SAFE.sub("_", run_id)


def atomic_write(path: Path, write) -> None:
    """Write via ``write(tmp_path)``, sync, then rename into place: readers see all or nothing."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SweepStore:
    """Reads and writes the per-run files of a sweep results folder."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.runs_dir = self.out_dir / RUNS

    def prepare(self) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.runs_dir.glob("*.tmp"):
            tmp.unlink()  # left by a run killed while writing

    def done_ids(self) -> set[str]:
        if not self.runs_dir.is_dir():
            return set()
        ids = set()
        for p in self.runs_dir.glob("*.json"):
            try:
                ids.add(json.loads(p.read_text())["run_id"])
            except (ValueError, KeyError):
                p.unlink()  # unreadable: the run will be redone
        return ids

    def has_runs(self) -> bool:
        return self.runs_dir.is_dir() and any(self.runs_dir.glob("*.json"))

    def write_run(self, record: dict, daily: pd.DataFrame) -> None:
        stem = _file_stem(record["run_id"])
        atomic_write(self.runs_dir / f"{stem}.daily.parquet", lambda p: daily.to_parquet(p, index=False))
        text = json.dumps(record, default=float)
        atomic_write(self.runs_dir / f"{stem}.json", lambda p: p.write_text(text))

    def records(self, run_ids: list[str]) -> Iterator[dict]:
        for rid in run_ids:
            yield json.loads((self.runs_dir / f"{_file_stem(rid)}.json").read_text())

    def stream_daily(self, run_ids: list[str], target: Path) -> int:
        """Concatenate the runs' daily tables into one Parquet file, one run in memory at a time."""
        writer = None
        rows = 0
        tmp = target.with_name(target.name + ".tmp")
        try:
            for rid in run_ids:
                table = pq.read_table(self.runs_dir / f"{_file_stem(rid)}.daily.parquet")
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is not None:
            os.replace(tmp, target)
        return rows


def records_to_frames(records: Iterator[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
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
