"""Writing a run's results folder: summary, replications, daily series and the manifest."""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

from .. import __version__
from ..config import Config, config_hash, config_to_dict

FLOAT_FORMAT = "%.10g"  # plenty for KPIs, and stable text across platforms
_PACKAGES = ("numpy", "scipy", "simpy", "pandas", "pyarrow", "pydantic", "pyyaml")


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


def build_manifest(
    cfg: Config,
    config_source: str,
    seeds: list[int],
    started: dt.datetime,
    finished: dt.datetime,
    workers: int,
    events: int,
) -> dict:
    """Everything needed to re-run a result and check it: config, seeds, versions, timings."""
    return {
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
        "simpy_events": events,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "wall_seconds": round((finished - started).total_seconds(), 3),
    }


def write_results(
    out_dir: Path,
    summary: pd.DataFrame,
    replications: pd.DataFrame,
    daily: pd.DataFrame,
    manifest: dict,
    daily_format: str = "parquet",
) -> list[Path]:
    """Write the results folder; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "summary.csv", out_dir / "replications.csv"]
    summary.to_csv(paths[0], index=False, float_format=FLOAT_FORMAT)
    replications.to_csv(paths[1], index=False, float_format=FLOAT_FORMAT)
    if daily_format == "csv":
        daily_path = out_dir / "daily.csv"
        daily.to_csv(daily_path, index=False, float_format=FLOAT_FORMAT)
    else:
        daily_path = out_dir / "daily.parquet"
        daily.to_parquet(daily_path, index=False, compression="zstd")
    stale = out_dir / ("daily.parquet" if daily_format == "csv" else "daily.csv")
    stale.unlink(missing_ok=True)  # never leave another run's daily table beside this one
    paths.append(daily_path)
    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    paths.append(manifest_path)
    return paths


def read_daily(results_dir: Path) -> pd.DataFrame:
    """The daily table of a results folder, whichever format it was written in."""
    pq = results_dir / "daily.parquet"
    return pd.read_parquet(pq) if pq.exists() else pd.read_csv(results_dir / "daily.csv")
