"""The engines of a config, and the choice between them.

Two are discrete-event engines (DES): they draw patients and simulate a replication.
``simpy`` (:mod:`hospsim.model.engine`) is the reference: the readable definition of the model.
``fast`` (:mod:`hospsim.model.fast`) is the same event loop compiled with numba; it gives the
same patients the same fates, bit for bit (``tests/test_lockstep.py`` holds the two together),
so the engine changes how long a run takes, never what it means. That is why ``engine`` is left
out of a config's hash.

The third, ``flow`` (:mod:`hospsim.model.flow`), is the deterministic stock-and-flow twin of the
same config: it draws no patients and runs once, not in replications. It is a different *view* of
the same config (the planner's averages), so it too stays out of the hash: a flow result and a DES
result of one config share its hash and can be set side by side. :func:`is_des` is the one place
that tells the two kinds apart; callers dispatch on it.

The compiled engine is imported only when it is used: a platform where numba cannot be installed
or compiled still runs everything with ``simpy``. Asking for ``fast`` there is refused in one
line (:class:`EngineUnavailable`); a default of ``fast`` (sweeps) falls back to ``simpy``,
saying so (:func:`choose_engine`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..config import Config, UserError
from .cohort import Candidates
from .engine import draw_for_run
from .engine import simulate_candidates as _simulate_simpy
from .records import Replication

SIMPY = "simpy"
FAST = "fast"
FLOW = "flow"
DES_ENGINES = (SIMPY, FAST)  # draw patients, simulate replications
ENGINES = (*DES_ENGINES, FLOW)
# The engine of a sweep that names none: sweeps are where the compiled engine pays.
SWEEP_DEFAULT_ENGINE = FAST


class EngineUnavailable(UserError, RuntimeError):
    """The engine asked for cannot run on this platform; the message is one line saying why."""


@functools.cache
def engine_problem(engine: str) -> str | None:
    """Why ``engine`` cannot run in this process (one line), or None when it can. Asked once per
    process: the answer of the compiled engine costs an import of numba and a compilation check."""
    if engine not in ENGINES:
        return f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})"
    if engine == SIMPY:
        return None
    if engine == FLOW:
        return _flow_problem()
    try:
        from .fast import fast_engine_problem
    except ImportError as exc:  # an installation without the compiled engine's package
        return f"engine fast is not part of this installation ({exc}); use engine: simpy"
    problem: str | None = fast_engine_problem()
    return problem


def _flow_problem() -> str | None:
    """Why the flow engine cannot run here (its own answer, once it gives one), or None."""
    from . import flow

    ask = getattr(flow, "flow_engine_problem", None)
    problem: str | None = ask() if ask is not None else None
    return problem


def is_des(engine: str) -> bool:
    """True for a discrete-event engine (``simpy``, ``fast``: patients drawn, replications
    simulated), False for the deterministic twin (``flow``: expected numbers, one run). Raises
    ``ValueError`` for a name that is no engine (a bug: names are validated before this)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}")
    return engine in DES_ENGINES


def simulate_candidates(cfg: Config, cand: Candidates, engine: str | None = None) -> Replication:
    """Simulate given candidates (drawn for ``cfg``, or for a config with the same
    :func:`~hospsim.model.draw_key.draw_key`) with the DES ``engine`` (None: the config's). The
    flow engine draws no patients: asking it here is a bug (``ValueError``); callers dispatch on
    :func:`is_des` and run it with :func:`hospsim.model.flow.run_flow`."""
    name = engine or cfg.engine
    if not is_des(name):
        raise ValueError(f"engine {name!r} simulates no patients; run it with model.flow.run_flow")
    problem = engine_problem(name)
    if problem is not None:
        raise EngineUnavailable(problem)
    if name == SIMPY:
        return _simulate_simpy(cfg, cand)
    from .fast import simulate_candidates_fast

    rep: Replication = simulate_candidates_fast(cfg, cand)
    return rep


def run_model(cfg: Config, replication_seed: int, engine: str | None = None) -> Replication:
    """Draw the patients, set up the plan and simulate one replication with ``engine`` (None: the
    config's ``engine``). Both engines return the same replication; an engine that cannot run
    here raises :class:`EngineUnavailable`."""
    return simulate_candidates(cfg, draw_for_run(cfg, replication_seed), engine)


@dataclass(frozen=True)
class EngineChoice:
    """The engine a command runs with, and the line to tell the user when a default engine could
    not run here and ``simpy`` stands in (None otherwise)."""

    engine: str
    fallback_note: str | None = None


def choose_engine(asked: str | None, where: str, default: str = SIMPY) -> EngineChoice:
    """The engine to run: ``asked`` if given (by a flag or a config or experiment key, named by
    ``where``, e.g. ``--engine``), else ``default``. An engine asked for that cannot run here is
    refused before anything runs (:class:`EngineUnavailable`, ``<where>: <why>``); a default that
    cannot run gives way to ``simpy`` with a note - a DES default only: ``simpy`` cannot stand in
    for the flow engine, whose results mean something else (refused, as if asked for)."""
    if asked is None and not is_des(default):
        asked = default
    if asked is not None:
        problem = engine_problem(asked)
        if problem is not None:
            raise EngineUnavailable(f"{where}: {problem}")
        return EngineChoice(asked)
    problem = engine_problem(default)
    if problem is None:
        return EngineChoice(default)
    reason = problem.removesuffix(f"; use engine: {SIMPY}")  # the note says so itself
    return EngineChoice(SIMPY, f"engine {default} unavailable ({reason}); using {SIMPY}")
