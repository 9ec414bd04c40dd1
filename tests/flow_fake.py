"""A stand-in for the flow engine (``hospsim.model.flow.run_flow``) until the engine is merged.

It builds a :class:`~hospsim.model.flow.FlowRun` from ONE discrete-event replication of the same
config and window (seed :data:`SEED`), so verdicts made from it are realistic; the KPIs it calls
variability-only are those of waits and of days above a level (:data:`VARIABILITY_PREFIXES`), as
the real engine flags them. Tests that depend on these exact numbers say so in their docstring
("fake flow"); once the engine exists they can run on it instead (``conftest.py`` stands the
fake in only while ``hospsim.model.flow.run`` is absent, and :func:`shifted_flow` then shifts the
real engine's KPIs).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from hospsim.config import Config
from hospsim.model import flow
from hospsim.model.engines import SIMPY, run_model
from hospsim.model.flow import FlowRun
from hospsim.model.kpis import daily_and_kpis
from hospsim.model.records import final_states

SEED = 20_261_201
VARIABILITY_PREFIXES = ("p_wait", "mean_wait", "waits_over", "share_days_")
ENGINE_MISSING = importlib.util.find_spec("hospsim.model.flow.run") is None
_ENGINE = flow.run_flow  # the real one, taken before conftest stands the fake in


def fake_run_flow(cfg: Config, window: tuple[int, int] | None = None) -> FlowRun:
    """A FlowRun from one simpy replication of ``cfg`` over ``window`` (default: warm-up to horizon)."""
    rep = run_model(cfg, SEED, SIMPY)
    daily, kpis = daily_and_kpis(cfg, rep, window or (cfg.warmup_days, cfg.horizon_days))
    variability = frozenset(k for k in kpis if k.startswith(VARIABILITY_PREFIXES))
    states = {k: float(v) for k, v in final_states(rep.records).items()}
    return FlowRun(
        daily.astype({c: float for c in daily.columns if daily[c].dtype.kind in "iu"}),
        kpis,
        variability,
        states,
        24 * cfg.horizon_days,
    )


def shifted_flow(change: Callable[[Config, dict[str, float]], dict[str, float]]) -> Callable[..., FlowRun]:
    """A flow whose KPIs are the engine's (or, until it is merged, :func:`fake_run_flow`'s)
    changed by ``change(cfg, kpis)``: to build a flow that promises what the replications do not
    deliver."""
    engine = fake_run_flow if ENGINE_MISSING else _ENGINE

    def run(cfg: Config, window: tuple[int, int] | None = None) -> FlowRun:
        base = engine(cfg, window)
        return FlowRun(base.daily, change(cfg, dict(base.kpis)), base.variability_kpis, base.final_states, base.steps)

    return run
