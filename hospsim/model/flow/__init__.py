"""The stock-and-flow twin (``engine: flow``): the planner's view of a config.

A deterministic system-dynamics model of the same system as the discrete-event engines, on an
hourly time step: expected numbers of patients move between stocks (waiting for a bed, in an
acute bed, delayed, in each community service, on the elective list), lengths of stay are exact
convolutions with each distribution (not first-order drains), and flows into anything with a
capacity are limited by its free places, the excess held where it is. It has no randomness, so it
runs once, not in replications; it writes the same daily table and KPIs as the DES, and names the
KPIs that only exist under variability (``FlowRun.variability_kpis``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...config import Config


@dataclass(frozen=True)
class FlowRun:
    """One run of the flow engine."""

    daily: pd.DataFrame  # the DES daily table's columns (no "replication"); counts are expected numbers (floats)
    kpis: dict[str, float]  # every KPI of ``kpis.kpi_names(cfg)``, over the window
    variability_kpis: frozenset[str]  # KPIs that only have a meaning under variability (the flow sees ~0)
    final_states: dict[str, float]  # expected patients in each end state (the keys of ``records.final_states``)
    steps: int  # time steps computed (hours)


def run_flow(cfg: Config, window: tuple[int, int] | None = None) -> FlowRun:
    """Run the flow engine on ``cfg``: its daily table and its KPIs over days ``window = (first,
    end)`` (default: from the end of the warm-up to the horizon)."""
    from .run import run_flow as _run

    return _run(cfg, window)


def flow_engine_problem() -> str | None:
    """Why the flow engine cannot run here (one line), or None: its kernel needs numba."""
    try:
        import numba  # noqa: F401
    except ImportError as exc:  # pragma: no cover - numba is a dependency
        return f"engine flow needs numba, which cannot be imported here ({exc})"
    return None


def warm_up() -> None:
    """Load the compiled kernel - compiling it the first time after an install (about half a
    minute, then cached on disk) - by running three days of the default footprint, so that
    workers started afterwards find it ready."""
    from ...config import default_config_path, load_config
    from .run import run_flow as run

    cfg = load_config(default_config_path())
    run(cfg.model_copy(update={"horizon_days": 3, "warmup_days": 0}), None)
