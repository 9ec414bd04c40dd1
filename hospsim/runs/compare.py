"""``hospsim compare-engines``: the planner's view beside the stochastic one, for one config.

Runs N replications of the config with a discrete-event engine (DES) and one run of the
deterministic flow engine, then sets them side by side: every KPI (the DES mean with its 95% CI
across replications, the flow value, whether it lies inside the CI, and whether the KPI only
exists under variability), the daily series (the flow value against the DES mean and quantiles
across replications), and where the two part company: on how many days the DES's typical day is
well above the flow's trajectory, and how often the hospital is full in each.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Config, UserError
from ..model.engines import FAST, FLOW, choose_engine, is_des
from ..model.flow import FlowRun
from .replications import ReplicationResult, RunOutput, run_config

DEFAULT_DES_ENGINE = FAST
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_COLUMNS = tuple(f"des_q{round(100 * q):02d}" for q in QUANTILES)
KPI_COLUMNS = ("kpi", "des_mean", "des_ci_low", "des_ci_high", "n", "flow", "flow_inside_ci", "variability_only")
# A day on which the DES's median is more than this share of beds open above the flow value is one
# on which the two "part": about one ward in a 1,000-bed hospital at 2%.
PART_SHARE_OF_BEDS = 0.02


@dataclass(frozen=True)
class Parting:
    """Where the two views part, over the measured days (the window)."""

    margin_beds: float  # how far above the flow value the DES median must be for a day to count
    share_days_des_above: float  # share of days on which the DES median exceeds the flow by more
    des_share_days_full: float  # the DES's share of days the hospital is full (mean over replications)
    flow_share_days_full: float  # the flow engine's

    def line(self) -> str:
        """The one-line summary ``hospsim compare-engines`` prints."""
        return (
            f"where they part: on {self.share_days_des_above:.0%} of measured days the DES median of occupied beds "
            f"is more than {self.margin_beds:,.0f} bed{'s' if round(self.margin_beds) != 1 else ''} above the "
            "flow value; the hospital is full on "
            f"{_share(self.des_share_days_full)} of DES days (mean over replications) against "
            f"{_share(self.flow_share_days_full)} of the flow's"
        )


def _share(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.0%}"


@dataclass(frozen=True)
class EngineComparison:
    """The DES and flow runs of one config, and their comparison tables."""

    config: Config
    des_engine: str
    replications: int
    window: tuple[int, int]
    kpis: pd.DataFrame  # KPI_COLUMNS, one row per KPI, in the KPI registry's order
    daily: pd.DataFrame  # day, series, capacity, flow, des_mean, QUANTILE_COLUMNS (tidy: one row a day and series)
    parting: Parting
    des: RunOutput
    flow: FlowRun


def des_choice(asked: str | None) -> str:
    """The DES engine of the comparison (``--engine``; default fast, which gives way to simpy
    with a note where it cannot run); flow is refused in one line (it is the other side)."""
    if asked is not None and not is_des(asked):
        raise UserError(f"--engine {asked}: compare-engines sets the flow engine beside a DES engine: simpy or fast")
    choice = choose_engine(asked, f"--engine {asked}", default=DEFAULT_DES_ENGINE)
    if choice.fallback_note:
        print(f"hospsim: {choice.fallback_note}", file=sys.stderr)
    return choice.engine


def check_flow_runs() -> None:
    """Refuse, in one line before anything runs, where the flow engine cannot run here."""
    choose_engine(FLOW, "flow engine")


def compare_engines(
    cfg: Config,
    replications: int | None = None,
    des_engine: str = DEFAULT_DES_ENGINE,
    workers: int = 1,
    on_done: Callable[[ReplicationResult], None] | None = None,
) -> EngineComparison:
    """Run ``replications`` (None: the config's) of ``cfg`` with ``des_engine`` and one flow run
    of it; compare them over the config's window (end of the warm-up to the horizon)."""
    from ..model.flow import run_flow

    if replications is not None:
        cfg = cfg.with_overrides({"replications": replications})
    des = run_config(cfg, workers=workers, on_done=on_done, engine=des_engine)
    flow = run_flow(cfg)
    window = (cfg.warmup_days, cfg.horizon_days)
    daily = daily_comparison(cfg, des.daily, flow.daily)
    return EngineComparison(
        config=cfg,
        des_engine=des_engine,
        replications=cfg.replications,
        window=window,
        kpis=kpi_comparison(des.summary, flow),
        daily=daily,
        parting=parting(daily, window, des.replications, flow.kpis),
        des=des,
        flow=flow,
    )


def kpi_comparison(summary: pd.DataFrame, flow: FlowRun) -> pd.DataFrame:
    """Every KPI of the flow run beside the DES's mean and 95% CI (``summary``: as
    :func:`~hospsim.analysis.stats.summarise` gives it). ``flow_inside_ci`` is missing where the
    DES has no CI (one replication, or a KPI undefined in the DES)."""
    des = {str(r["kpi"]): r for r in summary.to_dict(orient="records")}
    nan_row = {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0}
    rows = []
    for kpi, value in flow.kpis.items():
        row = des.get(kpi, nan_row)
        low, high, flow_value = float(row["ci_low"]), float(row["ci_high"]), float(value)
        inside: bool | None = None
        if not (math.isnan(low) or math.isnan(high) or math.isnan(flow_value)):
            inside = low <= flow_value <= high
        rows.append(
            {
                "kpi": kpi,
                "des_mean": float(row["mean"]),
                "des_ci_low": low,
                "des_ci_high": high,
                "n": int(row["n"]),
                "flow": flow_value,
                "flow_inside_ci": inside,
                "variability_only": kpi in flow.variability_kpis,
            }
        )
    table = pd.DataFrame(rows, columns=list(KPI_COLUMNS))
    return table.astype({"flow_inside_ci": "boolean"})


def compared_series(cfg: Config) -> dict[str, str | None]:
    """The daily series compared, and the capacity column each is drawn against (None: none):
    occupied beds, delayed patients, each service's occupancy."""
    series: dict[str, str | None] = {"occupied_beds_mean": "beds_capacity", "delayed_patients_mean": None}
    for name, svc in cfg.services.items():
        series[f"{name}_occupied_mean"] = None if svc.unlimited else f"{name}_capacity"
    return series


def daily_comparison(cfg: Config, des_daily: pd.DataFrame, flow_daily: pd.DataFrame) -> pd.DataFrame:
    """One row per day and series: the capacity (flow's), the flow value, and the DES mean and
    quantiles across replications."""
    frames = []
    for column, capacity in compared_series(cfg).items():
        table = des_daily.pivot(index="day", columns="replication", values=column).sort_index()
        values = table.to_numpy(dtype=float)
        flow = flow_daily.set_index("day")[column].reindex(table.index)
        frame = pd.DataFrame(
            {
                "day": table.index.to_numpy(dtype=np.int64),
                "series": column,
                "capacity": (
                    flow_daily.set_index("day")[capacity].reindex(table.index).to_numpy(dtype=float)
                    if capacity
                    else np.nan
                ),
                "flow": flow.to_numpy(dtype=float),
                "des_mean": values.mean(axis=1),
            }
        )
        quantiles = np.quantile(values, QUANTILES, axis=1)
        for name, row in zip(QUANTILE_COLUMNS, quantiles, strict=True):
            frame[name] = row
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def parting(daily: pd.DataFrame, window: tuple[int, int], des: pd.DataFrame, flow_kpis: dict[str, float]) -> Parting:
    """Where the views part over the ``window``: see :class:`Parting` (``des``: the DES's
    replications table, for its share of days full)."""
    beds = daily[(daily["series"] == "occupied_beds_mean") & daily["day"].between(window[0], window[1] - 1)]
    margin = max(1.0, PART_SHARE_OF_BEDS * float(beds["capacity"].mean()))
    above = beds["des_q50"] - beds["flow"] > margin
    full = "share_days_full"
    return Parting(
        margin_beds=margin,
        share_days_des_above=float(above.mean()) if len(beds) else math.nan,
        des_share_days_full=float(des[full].mean()) if full in des else math.nan,
        flow_share_days_full=float(flow_kpis.get(full, math.nan)),
    )
