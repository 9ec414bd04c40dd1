"""Shared test helpers: small configs built in code."""

from __future__ import annotations

import copy
import io
import os
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from hospsim.config import Config, config_from_dict
from hospsim.model.engines import FAST, SIMPY, run_model
from hospsim.model.fast import fast_engine_problem
from hospsim.model.records import Replication

# The engine of long runs whose subject is not the engine (validation against exact results,
# calibration, the census's long-run test, the bit-for-bit guard): the compiled one, whose
# trajectories are the reference's bit for bit (tests/test_lockstep.py, which includes each
# validation config, the default footprint and cells of the 44% experiment), in a fraction of the
# time. HOSPSIM_TEST_ENGINE=simpy runs them on the reference itself; without numba they use it.
LONG_RUN_ENGINE = os.environ.get("HOSPSIM_TEST_ENGINE") or (FAST if fast_engine_problem() is None else SIMPY)


def run_replication(cfg: Config, seed: int) -> Replication:
    """One replication on :data:`LONG_RUN_ENGINE`: what the property tests check invariants on
    (their subject is the model; the lockstep tests hold the two engines bit for bit equal over
    the same generated systems)."""
    return run_model(cfg, seed, LONG_RUN_ENGINE)


def hospsim_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``hospsim`` command with ``args``, run by :func:`hospsim.cli.main` in this process:
    its exit code and what it wrote, as a subprocess's. For the many bad-input cases, which a
    fresh interpreter (a second or more under coverage) would make the slowest part of the suite;
    the end-to-end tests run the real command in a subprocess."""
    from hospsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["hospsim", *args], code, out.getvalue(), err.getvalue())


# Tests of the compiled engine itself: skipped, saying why, where it cannot run.
NEEDS_FAST = pytest.mark.skipif(fast_engine_problem() is not None, reason=str(fast_engine_problem()))

# Reference tables for the validation tests, copied into the repository (see its README.md).
VALIDATION_DIR = Path(__file__).resolve().parent / "data" / "validation"


def queue_config(
    beds: int,
    per_day: float,
    los: dict,
    *,
    when_full: str = "queue",
    horizon_days: int = 2000,
    warmup_days: int = 100,
    replications: int = 1,
    seed: int = 1,
    **extra,
) -> Config:
    """A textbook queue: steady Poisson arrivals, one group, no electives, no community services.

    ``extra`` is merged into the raw config (e.g. ``services=...``, ``groups=...``).
    """
    raw = {
        "name": "queue",
        "start_date": "2017-04-02",
        "horizon_days": horizon_days,
        "warmup_days": warmup_days,
        "replications": replications,
        "seed": seed,
        "acute": {"beds": beds, "when_full": when_full},
        "demand": {"emergency": {"per_day": per_day}},
        "groups": {"all": {"share": 1.0, "los": los}},
    }
    for key, value in extra.items():
        raw[key] = copy.deepcopy(value)
    return config_from_dict(raw, "<test>")


@pytest.fixture
def validation_dir() -> Path:
    if not VALIDATION_DIR.is_dir():
        pytest.fail(f"validation tables not found at {VALIDATION_DIR}")
    return VALIDATION_DIR
