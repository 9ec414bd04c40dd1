"""Shared test helpers: small configs built in code."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from flow_fake import ENGINE_MISSING, fake_run_flow

from hospsim.config import Config, config_from_dict
from hospsim.model import flow

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


# Until the flow engine is merged (its module ``hospsim.model.flow.run``), sweeps run in this
# process (one worker) use a stand-in for it: see tests/flow_fake.py. Set at import, so that
# module-scoped fixtures that sweep get it too; a test that patches run_flow itself restores it.
if ENGINE_MISSING:
    flow.run_flow = fake_run_flow
