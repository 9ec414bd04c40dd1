"""Does a config look like England? Targets from ../shared/CALIBRATION.md against simulation.

Each target is a band around a published figure (or arithmetic on published figures) for an
average STP footprint in 2016/17; a target is met when the replication mean lies in the band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Config
from .stats import t_interval


@dataclass(frozen=True)
class Target:
    quantity: str
    low: float
    high: float
    source: str
    value: Callable[[pd.DataFrame, Config], np.ndarray]  # one value per replication


def _kpi(name: str) -> Callable[[pd.DataFrame, Config], np.ndarray]:
    return lambda reps, cfg: reps[name].to_numpy(dtype=float)


def _per_day(name: str) -> Callable[[pd.DataFrame, Config], np.ndarray]:
    return lambda reps, cfg: reps[name].to_numpy(dtype=float) / cfg.measured_days


TARGETS: tuple[Target, ...] = (
    Target("emergency arrivals per day", 340, 360, "5.9 m a year x 2.17%: ~350/day", _per_day("emergency_arrivals")),
    Target("mean occupancy (G&A)", 0.90, 0.92, "KH03 2016/17: 91.4% Q4, >90% all year", _kpi("mean_occupancy")),
    Target(
        "winter minus summer occupancy",
        0.005,
        0.10,
        "KH03: winter above summer (often >95% in winter)",
        lambda reps, cfg: (reps["mean_occupancy_winter"] - reps["mean_occupancy_summer"]).to_numpy(dtype=float),
    ),
    Target("delayed-transfer patients (mean)", 130, 140, "6,200/day England x 2.17%", _kpi("mean_delayed_patients")),
    Target("delayed share of bed days", 0.06, 0.07, "DTOC 6-7% of occupied beds", _kpi("delayed_share")),
    Target(
        "bed share of stays past day 21",
        0.17,
        0.20,
        "NHSE/I 2018: 18,000 of ~100,000 beds",
        _kpi("long_stay_bed_share"),
    ),
    Target(
        "mean emergency LOS (days)", 4.5, 5.5, "28.0 m bed days / 5.7 m admissions", _kpi("mean_emergency_los_days")
    ),
    Target(
        "same-day emergency discharges",
        0.28,
        0.38,
        "about a third are zero-day stays",
        _kpi("same_day_discharge_share"),
    ),
    Target(
        "emergency share of occupied beds", 0.77, 0.83, "76,700 of ~95,000 occupied beds", _kpi("emergency_bed_share")
    ),
)


def calibration_table(replications: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Target band vs simulated mean and 95% CI, one row per target."""
    rows = []
    for t in TARGETS:
        mean, low, high, n = t_interval(t.value(replications, cfg))
        rows.append(
            {
                "quantity": t.quantity,
                "target_low": t.low,
                "target_high": t.high,
                "simulated_mean": mean,
                "ci_low": low,
                "ci_high": high,
                "n": n,
                "met": bool(t.low <= mean <= t.high),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)
