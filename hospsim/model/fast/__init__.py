"""The compiled engine (``engine: fast``): the reference engine's event loop compiled with numba,
giving the same patients the same fates bit for bit (``tests/test_lockstep.py``).

numba is imported only when the engine is used, so ``import hospsim.model.fast`` never fails;
:func:`fast_engine_problem` says in one line why the engine cannot run on this platform.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...config import Config
    from ..cohort import Candidates
    from ..records import Replication

__all__ = ["fast_engine_problem", "run_model_fast", "simulate_candidates_fast", "warm_up"]


@lru_cache(maxsize=1)
def fast_engine_problem() -> str | None:
    """None if the compiled engine can run here; else one line saying why not."""
    if importlib.util.find_spec("numba") is None:
        return "engine fast needs numba, which is not installed (pip install numba); use engine: simpy"
    try:
        from . import driver  # noqa: F401  (imports numba and the kernel)
    except Exception as exc:  # numba present but broken (llvmlite, CPU, cache directory)
        return f"engine fast cannot run here: numba failed to load ({type(exc).__name__}: {exc}); use engine: simpy"
    return None


def run_model_fast(cfg: Config, replication_seed: int) -> Replication:
    """Draw the patients, set up the plan and simulate one replication with the compiled engine."""
    from .driver import run_model_fast as run

    return run(cfg, replication_seed)


def simulate_candidates_fast(cfg: Config, cand: Candidates) -> Replication:
    """Simulate given candidates under the config's plan with the compiled engine (the same
    results as :func:`hospsim.model.engine.simulate_candidates`)."""
    from .driver import simulate_candidates_fast as simulate

    return simulate(cfg, cand)


def warm_up() -> None:
    """Load the compiled kernel - compiling it the first time after an install (about a minute,
    then cached on disk) - by simulating two days of the default footprint, so that workers
    started afterwards find it ready."""
    from .driver import warm_up as load

    load()
