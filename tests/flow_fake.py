"""A stand-in for the flow engine (``hospsim.model.flow.run_flow``) in tests of what surrounds it
(CLI, results folders, sweeps, compare-engines), until tests can use the real engine.

The fake is realistic in shape: the daily table of one seeded simpy replication of the config over
the same window, every count a float (expected numbers), its KPIs, fractional final states, and
one time step an hour. It is deterministic in the config (the seed is fixed), so a re-run gives the
same numbers, as the real engine does. Tests that use it say so (``uses_fake_flow``).
"""

from __future__ import annotations

import pytest

from hospsim.config import Config
from hospsim.model import flow as flow_module
from hospsim.model.engines import SIMPY, run_model
from hospsim.model.flow import FlowRun
from hospsim.model.kpis import daily_and_kpis
from hospsim.model.records import final_states

FAKE_SEED = 20261201
FAKE_VARIABILITY_KPIS = frozenset({"share_days_full", "p_wait_for_bed", "p_wait_over_4h", "waits_over_12h_per_1000"})


def fake_run_flow(cfg: Config, window: tuple[int, int] | None = None) -> FlowRun:
    """A FlowRun made from one simpy replication of ``cfg`` (see the module's docstring)."""
    rep = run_model(cfg, FAKE_SEED, SIMPY)
    daily, kpis = daily_and_kpis(cfg, rep, window)
    counts = [c for c in daily.columns if c != "day" and daily[c].dtype.kind in "iu"]
    daily = daily.astype(dict.fromkeys(counts, "float64"))
    for col in ("occupied_beds_mean", "delayed_patients_mean"):
        daily[col] = daily[col] + 0.25  # not whole numbers, as expected numbers are not
    states = {name: n + 0.5 for name, n in final_states(rep.records).items()}
    return FlowRun(
        daily=daily,
        kpis={k: float(v) for k, v in kpis.items()},
        variability_kpis=FAKE_VARIABILITY_KPIS,
        final_states=states,
        steps=24 * cfg.horizon_days,
    )


def install_fake_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the flow engine by :func:`fake_run_flow` (in this process: run with one worker) and
    say it can run here (the engine's availability is asked once per process: forgotten here, and
    again when ``monkeypatch`` undoes this, see the fixture ``uses_fake_flow``)."""
    from hospsim.model import engines

    monkeypatch.setattr(flow_module, "run_flow", fake_run_flow)
    monkeypatch.setattr(flow_module, "flow_engine_problem", lambda: None, raising=False)
    engines.engine_problem.cache_clear()
