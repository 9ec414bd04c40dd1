"""Synthetic episode extracts: a simulated hospital's acute spells in the extract format
(:mod:`hospsim.config.extract`), a stand-in for the patient-level data users cannot share.

One replication of a config is run for ``warmup_days`` plus the years asked for; every patient
admitted to an acute bed in ``[warmup_days, horizon_days)`` is a row, as in a real extract of the
admissions in a period (patients admitted in the warm-up are not rows, even those still in a bed).
Patients who never had an acute bed -- diverted to step-up care, refused, transferred elsewhere,
still waiting for a bed or on the elective waiting list -- are not rows: an extract is of acute
spells.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..config import Config, ConfigError
from ..config.extract import COLUMN_NAMES, DATETIME_COLUMNS, ELECTIVE, EMERGENCY, HOME
from ..config.limits import MAX_HORIZON_DAYS
from ..model.engines import run_model
from ..model.records import ADMITTED, FROM_ACUTE, Replication
from ..model.streams import replication_seeds
from .errors import OutputError
from .replications import refuse_flow_for
from .store import atomic_write, os_reason

SECONDS_PER_DAY = 86_400
MAX_YEARS = 100.0  # an extract of a century is no extract; keeps the horizon far below its ceiling
EXTRACT_SUFFIXES = (".parquet", ".csv")


def synth_config(cfg: Config, years: float) -> Config:
    """The config run for an extract of ``years`` years: its warm-up, then the years asked for."""
    if not 0 < years <= MAX_YEARS:
        raise ConfigError(f"--years: must be more than 0 and at most {MAX_YEARS:g}, got {years:g}")
    measured = round(years * 365.25)
    if measured < 1:
        raise ConfigError(f"--years: {years:g} years is less than a day")
    horizon = cfg.warmup_days + measured
    if horizon > MAX_HORIZON_DAYS:
        raise ConfigError(f"--years: warm-up plus {years:g} years is more than {MAX_HORIZON_DAYS:,} days")
    return cfg.with_overrides({"horizon_days": horizon})


def synth_extract(cfg: Config, years: float, seed: int, engine: str | None = None) -> pd.DataFrame:
    """An extract (one row per acute spell, sorted by admission) of ``years`` years after the
    config's warm-up, from one replication seeded as replication 0 of ``hospsim run`` with root
    seed ``seed`` (the same seed gives the same extract). The period is
    ``[start_date + warmup_days, start_date + horizon_days)``; datetimes are to the second,
    ``pd.NaT`` where a time had not come by the end of the period (text columns: ``None``).
    ``engine``: the engine that simulates (None: the config's)."""
    name = engine or cfg.engine
    refuse_flow_for(name, f"engine {name}", "a synthetic extract is one row per simulated patient")
    run_cfg = synth_config(cfg, years)
    rep = run_model(run_cfg, replication_seeds(seed, 1)[0], engine)
    return extract_rows(rep, run_cfg)


def extract_rows(rep: Replication, cfg: Config) -> pd.DataFrame:
    """The rows of a replication's extract (see :func:`synth_extract`)."""
    co, rec = rep.cohort, rep.records
    admitted = (rec.outcome == ADMITTED) & (rec.admit_days >= cfg.warmup_days) & (rec.admit_days < cfg.horizon_days)
    rows = np.flatnonzero(admitted)
    rows = rows[np.argsort(rec.admit_days[rows], kind="stable")]
    first = _first_acute_visit(rep, rows)
    v = rec.visits
    referred = first >= 0
    discharged = ~np.isnan(rec.bed_leave_days[rows])
    services = np.array(co.service_names, dtype=object)
    pathway = np.full(rows.size, None, dtype=object)
    pathway[discharged] = HOME  # unless referred to a service
    pathway[referred] = services[v.service[first[referred]]]
    start, leave = np.full(rows.size, np.nan), np.full(rows.size, np.nan)
    start[referred] = v.start_days[first[referred]]
    leave[referred] = v.leave_days[first[referred]]
    groups = np.array([*co.group_names, ELECTIVE], dtype=object)
    origin = np.datetime64(dt.datetime.combine(cfg.start_date, dt.time()), "s")
    last_second = cfg.horizon_days * SECONDS_PER_DAY - 1

    def to_time(days: np.ndarray) -> pd.Series:
        return _datetimes(days, origin, last_second)

    frame = pd.DataFrame(
        {
            "episode_id": [f"E{i:06d}" for i in range(1, rows.size + 1)],
            "admission_datetime": to_time(rec.admit_days[rows]),
            "admission_method": np.where(co.is_elective[rows], ELECTIVE, EMERGENCY),
            "group": groups[co.group[rows]],
            "medically_fit_datetime": to_time(rec.fit_days[rows]),
            "discharge_datetime": to_time(rec.bed_leave_days[rows]),
            "discharge_pathway": pathway,
            "service_start_datetime": to_time(start),
            "service_end_datetime": to_time(leave),
        }
    )
    return frame[list(COLUMN_NAMES)]


def _first_acute_visit(rep: Replication, rows: np.ndarray) -> np.ndarray:
    """Index into ``records.visits`` of each row's first community visit from its acute bed (-1:
    none, a patient who went home or is not yet medically fit)."""
    v = rep.records.visits
    first = np.full(len(rep.cohort), -1, dtype=np.int64)
    from_bed = np.flatnonzero((v.origin == FROM_ACUTE) & (v.depth == 0))
    first[v.patient[from_bed]] = from_bed  # at most one first visit from the bed per patient
    return first[rows]


def _datetimes(days: np.ndarray, origin: np.datetime64, last_second: int) -> pd.Series:
    """Days since ``origin`` as datetimes to the second (rounded, but kept at or before
    ``last_second``: a time in the last half second of the period is not pushed past its end);
    NaT where NaN."""
    seconds = np.minimum(np.round(days * SECONDS_PER_DAY), last_second)
    known = ~np.isnan(seconds)
    stamps = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[s]")
    stamps[known] = origin + seconds[known].astype(np.int64)
    return pd.Series(stamps, dtype="datetime64[s]")


def extract_period(cfg: Config, years: float) -> tuple[dt.date, dt.date]:
    """The period ``[start, end)`` of the extract :func:`synth_extract` writes."""
    run_cfg = synth_config(cfg, years)
    start = cfg.start_date + dt.timedelta(days=run_cfg.warmup_days)
    return start, cfg.start_date + dt.timedelta(days=run_cfg.horizon_days)


# --- writing -------------------------------------------------------------------------------------

_SCHEMA = pa.schema([(name, pa.timestamp("s") if name in DATETIME_COLUMNS else pa.string()) for name in COLUMN_NAMES])


def extract_table(df: pd.DataFrame) -> pa.Table:
    """An extract as an Arrow table: datetimes as timestamps (to the second), the rest as text,
    empty values null; no pandas metadata, so any Parquet reader sees plain columns."""
    arrays = []
    for field in _SCHEMA:
        values = df[field.name]
        if field.name in DATETIME_COLUMNS:
            arrays.append(
                pa.array(values.astype("datetime64[s]").to_numpy(), field.type, mask=values.isna().to_numpy())
            )
        else:
            arrays.append(pa.array(values.astype(object).where(values.notna(), None).tolist(), pa.string()))
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


def write_extract(df: pd.DataFrame, path: str | Path, *, force: bool = False) -> Path:
    """Write an extract to ``path``: Parquet or CSV by its suffix (CSV: UTF-8, datetimes
    ``YYYY-MM-DD HH:MM:SS``, empty where unknown). Written to a temporary file then renamed, so
    ``path`` is never half-written; an existing file is replaced only with ``force``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXTRACT_SUFFIXES:
        raise OutputError(f"{path}: expected a .parquet or .csv file name")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; name the file to write")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists; hospsim synth overwrites nothing without --force")
    table = extract_table(df)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"))
        else:
            atomic_write(path, lambda p: _write_csv(table, p))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({os_reason(exc)})") from None
    return path


def _write_csv(table: pa.Table, path: Path) -> None:
    # Minimal quoting, datetimes as `YYYY-MM-DD HH:MM:SS`, nulls empty: as a spreadsheet writes it.
    frame = table.to_pandas()
    frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S", encoding="utf-8", lineterminator="\n")
