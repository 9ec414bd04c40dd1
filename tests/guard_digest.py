"""Content digests of results tables, for the bit-for-bit guard (tests/test_guard.py).

A Parquet file's bytes carry library versions in its metadata, so tables are compared by a digest
of their content: column names, dtypes and every value's exact bytes. CSV files are compared by
their bytes (hospsim writes them with a fixed float format).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd


def frame_digest(df: pd.DataFrame) -> str:
    """SHA-256 of a table's columns, kinds and exact values."""
    h = hashlib.sha256()
    for col in df.columns:
        values = df[col].to_numpy()
        kind = values.dtype.kind
        h.update(f"{col}|{kind}|".encode())
        if kind in "fiub":
            h.update(
                np.ascontiguousarray(
                    values.astype({"f": np.float64, "i": np.int64, "u": np.uint64, "b": np.bool_}[kind])
                ).tobytes()
            )
        else:
            h.update("\x1f".join(map(str, values.tolist())).encode())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """Digest of a results file: bytes for text files, content for Parquet."""
    if path.suffix == ".parquet":
        return frame_digest(pd.read_parquet(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exact_values(kpis: dict[str, float]) -> list[list]:
    """KPI names and values in output order, as JSON (repr round-trips floats exactly; NaN as null)."""
    return [[k, None if math.isnan(float(v)) else float(v)] for k, v in kpis.items()]


def make_reference(run_dir: Path, sweep_dir: Path, out: Path) -> None:
    """Write the guard's reference digests from a run folder and a sweep folder."""
    ref: dict = {"run": {}, "sweep": {}, "sweep_runs": {}}
    for name in ("replications.csv", "summary.csv", "daily.parquet"):
        ref["run"][name] = file_digest(run_dir / name)
    for name in (
        "kpis.csv",
        "kpis.parquet",
        "summary.csv",
        "verdicts.csv",
        "paired_differences.csv",
        "monthly.parquet",
        "daily.parquet",
    ):
        ref["sweep"][name] = file_digest(sweep_dir / name)
    for p in sorted((sweep_dir / "runs").glob("*.json")):
        rec = json.loads(p.read_text())
        daily = pd.read_parquet(p.with_name(p.name[: -len(".json")] + ".daily.parquet"))
        ref["sweep_runs"][rec["run_id"]] = {
            "kpis": exact_values(rec["kpis"]),
            "monthly": frame_digest(pd.DataFrame(rec["monthly"])),
            "daily": frame_digest(daily),
        }
    out.write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    import sys

    make_reference(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
