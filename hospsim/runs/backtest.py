"""A backtest (``hospsim backtest``): fit on an extract's past, start from the census at a date,
simulate what came after, and set what the extract shows against the simulated band.

The config is fitted (:func:`hospsim.analysis.fit.fit_config`) from the extract as it would have
been written at ``train_until`` (later datetimes empty). The simulation starts at ``train_until``
from the census the full extract shows then (patients in acute beds and community services, with
the time each had spent), with no warm-up, and runs to the extract's end. Three daily series are
compared: mean occupied acute beds, admissions (emergency and elective), and mean delayed
patients (medically fit, in an acute bed, going to a community service). Coverage is the share of
days on which the observed value lies inside the simulated 5-95% band of the replications.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.census import census_from_extract, started_from_census
from ..analysis.fit import fit_config
from ..config import Config, ConfigError, config_from_dict
from ..config.extract import read_extract
from ..model.monitor import daily_counts, daily_level
from .replications import refuse_flow_for, run_config

# The simulated band a day's observed value is checked against (replication quantiles).
BAND = (0.05, 0.95)
SERIES = {
    "occupied_beds": ("occupied_beds_mean", "mean occupied acute beds"),
    "admissions": ("admissions", "admissions (emergency and elective)"),
    "delayed_patients": ("delayed_patients_mean", "delayed patients (fit, waiting for a community service)"),
}


@dataclass(frozen=True)
class Backtest:
    """A backtest's daily table (date, observed and simulated band per series), coverage, and
    what it was made from."""

    daily: pd.DataFrame
    coverage: dict[str, float]  # series -> share of days observed inside the band
    config: Config
    train_until: dt.date
    end_date: dt.date
    notes: list[str]


def backtest(
    extract_path: str | Path, train_until: dt.date, replications: int = 20, seed: int | None = None,
    beds: int | None = None, workers: int = 1, engine: str | None = None,
) -> Backtest:  # fmt: skip
    """Fit before ``train_until``, simulate from the census then (with ``engine``; None: simpy),
    compare with the extract."""
    if engine is not None:  # before the extract is read: the band needs replications
        refuse_flow_for(engine, f"engine {engine}", "a backtest sets what followed against the band of replications")
    full = read_extract(extract_path)
    if not full.start_date < train_until < full.end_date:
        raise ConfigError(
            f"--train-until: {train_until} is not inside the extract's period {full.start_date} .. "
            f"{full.end_date - dt.timedelta(days=1)}"
        )
    train = read_extract(extract_path, end=train_until)
    fitted, report = fit_config(train, beds=beds, seed=seed)
    cfg = config_from_dict(fitted, f"{extract_path} (fitted before {train_until})")
    at = float((train_until - full.start_date).days)
    census, notes = census_from_extract(cfg, full.episodes, at)
    horizon = (full.end_date - train_until).days
    data = {**started_from_census(fitted, cfg, train_until, horizon, census), "replications": replications}
    sim_cfg = config_from_dict(data, f"{extract_path} (from the census of {train_until})")
    output = run_config(sim_cfg, workers=workers, engine=engine)
    sim = output.daily.assign(admissions=output.daily["emergency_admissions"] + output.daily["elective_admissions"])
    observed = observed_series(full.episodes, at, horizon)
    daily, coverage = _compare(observed, sim, train_until, horizon)
    return Backtest(daily, coverage, sim_cfg, train_until, full.end_date, [*report.notes, *notes])


def observed_series(episodes: pd.DataFrame, at_days: float, horizon: int) -> pd.DataFrame:
    """What the extract shows each day from ``at_days`` on: mean occupied beds, admissions, mean
    delayed patients (fit to discharge, for patients going to a community service)."""
    admit = episodes["admission_days"].to_numpy(float) - at_days
    discharge = episodes["discharge_days"].to_numpy(float) - at_days
    fit = (
        episodes["medically_fit_days"].to_numpy(float) - at_days
        if "medically_fit_days" in episodes
        else np.full(admit.size, np.nan)
    )
    pathway = episodes["discharge_pathway"].astype(object).to_numpy()
    to_service = np.array([isinstance(p, str) and p != "home" for p in pathway])
    return pd.DataFrame(
        {
            "occupied_beds": daily_level(admit, discharge, horizon).mean,
            "admissions": daily_counts(np.where((admit >= 0) & (admit < horizon), admit, np.nan), horizon),
            "delayed_patients": daily_level(np.where(to_service, fit, np.nan), discharge, horizon).mean,
        }
    )


def _compare(
    observed: pd.DataFrame, sim: pd.DataFrame, day0: dt.date, horizon: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per day and series: observed, simulated median and band; coverage per series."""
    cols: dict[str, Any] = {
        "day": np.arange(horizon),
        "date": [str(day0 + dt.timedelta(days=d)) for d in range(horizon)],
    }
    coverage = {}
    for name, (column, _label) in SERIES.items():
        by_day = sim.pivot(index="day", columns="replication", values=column).to_numpy(float)
        low, mid, high = (np.quantile(by_day, q, axis=1) for q in (BAND[0], 0.5, BAND[1]))
        obs = observed[name].to_numpy(float)
        cols |= {name: obs, f"{name}_sim_p5": low, f"{name}_sim_median": mid, f"{name}_sim_p95": high}
        coverage[name] = float(np.mean((obs >= low) & (obs <= high)))
    return pd.DataFrame(cols), coverage
