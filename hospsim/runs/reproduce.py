"""Re-run a results folder from its manifest and check that every number matches."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Config, ConfigError, config_from_dict
from ..config.experiment import Experiment
from .experiment import LoadedExperiment, Variant
from .replications import run_config
from .store import FLOAT_FORMAT, package_versions, read_daily
from .sweep import MANIFEST


@dataclass(frozen=True)
class ReproduceReport:
    kind: str
    checked: int  # runs or replications re-run
    values_compared: int
    mismatches: list[str]
    version_changes: list[str]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _same(a: float, b: float) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def _read_manifest(results: Path) -> dict:
    path = results / MANIFEST
    if not path.exists():
        raise ConfigError(f"{results}: no {MANIFEST}: not a hospsim results folder")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc})") from None


def _version_changes(manifest: dict) -> list[str]:
    now = package_versions()
    then = manifest.get("versions", {})
    return [f"{k}: {then[k]} -> {now.get(k)}" for k in then if now.get(k) != then[k]]


def reproduce(results: Path, workers: int = 1, sample: int | None = None, on_progress=None) -> ReproduceReport:
    """Re-run what ``results`` holds (all runs, or an evenly spread ``sample`` of a sweep's runs)
    and compare every KPI (and, for ``hospsim run``, every daily value) bit for bit."""
    manifest = _read_manifest(results)
    if manifest.get("kind") == "sweep":
        return _reproduce_sweep(results, manifest, workers, sample, on_progress)
    return _reproduce_run(results, manifest, workers, on_progress)


def _reproduce_run(results: Path, manifest: dict, workers: int, on_progress) -> ReproduceReport:
    cfg: Config = config_from_dict(manifest["config"], f"{results / MANIFEST}: config")
    out = run_config(cfg, workers=workers, on_done=on_progress)
    old_daily = read_daily(results)
    mismatches = []
    if out.seeds != manifest["replication_seeds"]:
        mismatches.append("replication seeds differ")
    old = pd.read_csv(results / "replications.csv")
    # Compare as stored: the CSV keeps FLOAT_FORMAT digits, so round-trip the re-run the same way.
    new = pd.read_csv(io.StringIO(out.replications.to_csv(index=False, float_format=FLOAT_FORMAT)))
    compared = 0
    for col in old.columns:
        for i, (a, b) in enumerate(zip(old[col].tolist(), new[col].tolist())):
            compared += 1
            if not _same(a, b):
                mismatches.append(f"replication {i} {col}: stored {a!r}, re-run {b!r}")
    new_daily = out.daily
    if (results / "daily.csv").exists():
        new_daily = pd.read_csv(io.StringIO(out.daily.to_csv(index=False, float_format=FLOAT_FORMAT)))
    for col in old_daily.columns:
        a = old_daily[col].to_numpy()
        b = new_daily[col].to_numpy()
        compared += a.size
        if a.dtype.kind == "f":
            equal = (a == b) | (np.isnan(a) & np.isnan(b.astype(float)))
        else:
            equal = a.astype(str) == b.astype(str)
        if not equal.all():
            mismatches.append(f"daily {col}: {int((~equal).sum())} values differ")
    return ReproduceReport("run", len(out.results), compared, mismatches, _version_changes(manifest))


def loaded_from_manifest(manifest: dict, results: Path) -> LoadedExperiment:
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


def _reproduce_sweep(results: Path, manifest: dict, workers: int, sample: int | None, on_progress) -> ReproduceReport:
    from .sweep import executor

    loaded = loaded_from_manifest(manifest, results)
    specs = loaded.runs()
    if sample is not None and sample < len(specs):
        idx = np.unique(np.linspace(0, len(specs) - 1, sample).round().astype(int))
        specs = [specs[i] for i in idx]
    stored = pd.read_parquet(results / "kpis.parquet").set_index("run_id")
    mismatches: list[str] = []
    compared = 0
    for record, _daily in executor("process", workers, None)(specs):
        rid = record["run_id"]
        if rid not in stored.index:
            mismatches.append(f"{rid}: not in the stored results")
            continue
        row = stored.loc[rid]
        for k, v in record["kpis"].items():
            compared += 1
            if k not in row or not _same(float(row[k]), float(v)):
                mismatches.append(f"{rid} {k}: stored {row.get(k)!r}, re-run {v!r}")
        if on_progress:
            on_progress(record)
    return ReproduceReport("sweep", len(specs), compared, mismatches, _version_changes(manifest))
