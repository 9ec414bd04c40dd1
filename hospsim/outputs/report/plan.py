"""The plan and its criteria, as data: for a run, the schedules of its config that change (read
by :func:`hospsim.config.plan_schedules`, so pathway changes and plan delivery are the model's
own); for a sweep, the experiment's scenarios, sweep and criteria."""

from __future__ import annotations

from typing import Any

from ...config import Config, plan_schedules
from ...config.schedules import Schedule
from ...runs.results import Results, points, scenarios
from .text import date, describe_override, describe_pathway_change, describe_schedule, num, pct

COMPARE_WORDS = {
    "absolute": "the KPI itself",
    "relative_to_baseline": "(scenario − baseline) / baseline",
    "difference_from_baseline": "scenario − baseline",
}


def _planned(cfg: Config, path: str, schedule: Schedule) -> str:
    start = str(cfg.start_date)
    if path.endswith(".pathways_change"):
        group = cfg.groups[path.split(".")[1]]
        return describe_pathway_change(group.pathways_change, start, group)
    return describe_schedule(schedule, start)


def changing_schedules(cfg: Config) -> list[list[str]]:
    """Every schedule that changes over a run (or is gated), as planned, and how the plan's
    delivery (``plan_delivery``) changes it."""
    delivered = dict(plan_schedules(cfg))
    pdv = cfg.plan_delivery
    late = f" (as delivered: {pdv.ic_delay_days} days late, {pct(pdv.ic_growth_achieved)} of the planned change)"
    rows = []
    for path, planned in plan_schedules(cfg, delivered=False):
        if planned.is_constant() and not planned.gate:
            continue
        text = _planned(cfg, path, planned)
        rows.append([path, text + (late if delivered[path] != planned else "")])
    return rows


def _overrides(overrides: dict[str, Any], start: str) -> dict[str, Any]:
    return {"lines": [{"seq": [{"code": k}, f": {describe_override(k, v, start)}"]} for k, v in overrides.items()]}


def _scenario_table(exp: dict, start: str) -> dict[str, Any]:
    bl = (exp.get("baseline") or {}).get("overrides") or {}
    rows: list[list[Any]] = [["baseline", "the comparison", _overrides(bl, start) if bl else "base config as it is"]]
    for name, sc in (exp.get("scenarios") or {}).items():
        desc = (sc.get("description") or "") + (f" (extends {sc['extends']})" if sc.get("extends") else "")
        rows.append([name, desc, _overrides(sc.get("overrides") or {}, start)])
    return {"header": ["scenario", "description", "changes to the base config"], "rows": rows, "num": []}


def _sweep(res: Results, sweep: dict) -> dict[str, Any]:
    rows = []
    for n, spec in (sweep.get("parameters") or {}).items():
        if spec.get("values") is not None:
            rng = ", ".join(num(v) for v in spec["values"])
        else:
            rng = f"{num(spec.get('low'))} to {num(spec.get('high'))}" + (
                " (whole numbers)" if spec.get("integer") else ""
            )
        rows.append([n, {"code": spec.get("path")}, rng])
    method = sweep.get("method", "grid")
    return {
        "method": method + (f", {sweep.get('samples')} samples" if method != "grid" else ""),
        "crossing": ", ".join(sweep.get("scenarios") or scenarios(res)),
        "points": len(points(res)),
        "table": {"header": ["parameter", "config path", "values"], "rows": rows, "num": []},
    }


def _criteria(exp: dict) -> dict[str, Any] | None:
    rows = []
    for c in exp.get("criteria") or []:
        bound = ("at most", c["at_most"]) if c.get("at_most") is not None else ("at least", c.get("at_least"))
        compare = COMPARE_WORDS.get(c.get("compare", "absolute"), c.get("compare"))
        rows.append([c.get("name") or "", {"code": c.get("kpi")}, compare, f"{bound[0]} {num(bound[1])}"])
    return {"header": ["name", "KPI", "tested on", "bound"], "rows": rows, "num": []} if rows else None


def plan_data(res: Results) -> dict[str, Any]:
    """The plan section: a run's changing schedules, or a sweep's experiment."""
    if not res.is_sweep:
        rows = changing_schedules(res.config_of(res.cells[0]))
        table = {"header": ["schedule", "value"], "rows": rows, "num": []}
        return {"sweep": False, "changing": table if rows else None}
    exp = res.experiment
    base = res.cells[0].config
    start = str(base.get("start_date"))
    w0, w1 = res.window
    facts = [
        ["experiment", exp.get("name")],
        ["description", exp.get("description") or ""],
        ["base config", {"seq": [{"code": res.manifest.get("base_config_source")}, f" ({base.get('name')})"]}],
        ["replications", exp.get("replications")],
        ["root seed", exp.get("seed")],
        ["verdict window", f"days {w0}–{w1 - 1} ({date(start, w0)} to {date(start, w1 - 1)})"],
    ]
    sweep = exp.get("sweep")
    return {
        "sweep": True,
        "facts": facts,
        "scenarios": _scenario_table(exp, start),
        "sweep_info": _sweep(res, sweep) if sweep else None,
        "criteria": _criteria(exp),
    }
