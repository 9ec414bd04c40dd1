"""What the draw of a replication's candidates depends on.

Candidates (:func:`~hospsim.model.cohort.build_candidates`) depend on the replication seed and on
part of the config only: plan levers, capacities and run settings act on candidates as they
arrive, never on the draw (common random numbers). Two configs with the same :func:`draw_key`
draw the same candidates under the same seed, so a sweep whose cells differ only in their plan
can draw each replication's patients once and simulate them in every cell.

The key leaves out a fixed list of paths known not to enter the draw; everything else - any field
added later included - is in it, so an omission can only cost a second draw, never a wrong
patient (``tests/test_draw_key.py`` checks equal keys give equal candidates).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..config import Config, config_to_dict

# Paths (keys within the config mapping; "*" any group or service) that no candidate depends on.
NOT_DRAWN: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("description",),
    ("replications",),
    ("seed",),
    ("warmup_days",),
    ("engine",),
    ("plan_delivery",),
    ("acute",),  # beds, escalation, when full, wait limit: the engine's
    ("demand", "emergency", "multiplier"),  # thinning of the candidates, as they arrive
    ("demand", "emergency", "growth_per_year"),
    ("demand", "elective", "per_weekday"),
    ("demand", "elective", "referral_multiplier"),
    ("groups", "*", "los_multiplier"),
    ("groups", "*", "step_up_share"),
    ("groups", "*", "pathways"),
    ("groups", "*", "pathways_change"),
    ("services", "*", "capacity"),
    ("services", "*", "assessment_multiplier"),
    ("services", "*", "place_day_cost_gbp"),
    ("services", "*", "pathways"),
    ("services", "*", "pathways_change"),
)


def _drop(tree: dict[str, Any], path: tuple[str, ...]) -> None:
    head, rest = path[0], path[1:]
    keys = list(tree) if head == "*" else [head]
    for key in keys:
        if key not in tree:
            continue
        if not rest:
            del tree[key]
        elif isinstance(tree[key], dict):
            _drop(tree[key], rest)


def draw_key(cfg: Config) -> str:
    """A digest of the parts of ``cfg`` that the candidates' draw reads."""
    tree = config_to_dict(cfg)
    for path in NOT_DRAWN:
        _drop(tree, path)
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
