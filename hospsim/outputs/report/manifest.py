"""The manifest section as data: versions, git revision, hashes, seeds and timings."""

from __future__ import annotations

import json
from typing import Any

from ...runs.results import Results
from ..tables import fmt_number
from .text import cell_name


def _facts(res: Results) -> list[list[Any]]:
    m = res.manifest
    pairs: list[list[Any]] = [
        ["kind", m.get("kind")],
        ["results folder", {"code": str(res.path)}],
        ["git revision", {"code": m.get("git_revision") or "n/a"}],
    ]
    if res.is_sweep:
        done = "yes" if m.get("complete") else "no"
        pairs += [
            ["experiment", {"code": m.get("experiment_source")}],
            ["experiment hash (SHA-256)", {"code": m.get("experiment_hash")}],
            ["base config", {"code": m.get("base_config_source")}],
            [
                "runs",
                f"{m.get('runs')} ({len(res.cells)} cells × {m.get('replications')} replications); complete: {done}",
            ],
        ]
    else:
        pairs += [
            ["config", {"code": m.get("config_source")}],
            ["config hash (SHA-256)", {"code": m.get("config_hash")}],
            ["command", {"code": " ".join(str(a) for a in m.get("command") or [])}],
            ["platform", m.get("platform")],
            ["workers", m.get("workers")],
            # "simpy_events": the name in folders written before the engine had its own event queue.
            ["events", fmt_number(float(m.get("events", m.get("simpy_events")) or 0))],
            ["started / finished", f"{m.get('started_at')} / {m.get('finished_at')}"],
            ["wall time", f"{m.get('wall_seconds')} s"],
        ]
    pairs.append(["root seed", m.get("root_seed")])
    return pairs


def _sessions(m: dict) -> dict[str, Any]:
    rows = [
        [
            str(i + 1),
            str(s.get("started_at")),
            str(s.get("finished_at")),
            f"{s.get('wall_seconds')} s",
            str(s.get("backend")),
            str(s.get("workers")),
        ]
        for i, s in enumerate(m.get("sessions") or [])
    ]
    return {"header": ["session", "started", "finished", "wall time", "backend", "workers"], "rows": rows, "num": [3]}


def _cell_hashes(m: dict) -> dict[str, Any]:
    rows = []
    for c in m.get("cells") or []:
        params = c.get("params") or {}
        values = cell_name({f"param_{k}": v for k, v in params.items()}, [f"param_{k}" for k in params])
        rows.append([c.get("key"), values, {"code": c.get("config_hash")}])
    return {"header": ["cell", "sweep values", "config hash (SHA-256)"], "rows": rows, "num": []}


def manifest_data(res: Results) -> dict[str, Any]:
    """Facts of the manifest, versions, sessions and cell hashes (sweeps), and the manifest as JSON
    (a sweep's cell configs left out: the base config and the overrides say it all)."""
    m = res.manifest
    slim = dict(m)
    if "cells" in slim:
        slim["cells"] = [{k: v for k, v in c.items() if k != "config"} for c in slim["cells"]]
    return {
        "sweep": res.is_sweep,
        "facts": _facts(res),
        "versions": {
            "header": ["package", "version"],
            "rows": [[k, str(v)] for k, v in (m.get("versions") or {}).items()],
            "num": [],
        },
        "sessions": _sessions(m) if res.is_sweep else None,
        "cells": _cell_hashes(m) if res.is_sweep else None,
        "json": json.dumps(slim, indent=1, default=str),
    }
