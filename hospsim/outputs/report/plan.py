"""The plan and its criteria, as data: for a run, the schedules of its config that change (read
by :func:`hospsim.config.plan_schedules`, so pathway changes and plan delivery are the model's
own); for a sweep, the experiment's scenarios, sweep and criteria."""

from __future__ import annotations

from typing import Any

from ...config import Config, plan_schedules
from ...config.schedules import Schedule
from ...runs.results import Results, points, scenarios
from ..labels import Labels, criterion_bound, criterion_words, labels_of
from .text import day_words, describe_override, describe_pathway_change, describe_schedule, pct

COMPARE_WORDS = {
    "absolute": "the KPI itself",
    "relative_to_baseline": "change from the baseline, (scenario − baseline) / baseline",
    "difference_from_baseline": "difference from the baseline, scenario − baseline",
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


def _named(labels: Labels, name: str) -> dict[str, Any]:
    """A scenario's display name with its name as written in the results below."""
    shown = labels.scenario(name)
    return {"lines": [shown, {"code": name}]} if shown != name else {"code": name}


def _scenario_table(exp: dict, labels: Labels) -> dict[str, Any]:
    """The scenarios in words: display name, description, what it builds on, how many settings."""
    bl = (exp.get("baseline") or {}).get("overrides") or {}
    n_bl = f"{len(bl)} setting{'s' if len(bl) != 1 else ''} changed" if bl else "the base config as it is"
    rows: list[list[Any]] = [[labels.scenario("baseline"), "the comparison", n_bl]]
    for name, sc in (exp.get("scenarios") or {}).items():
        desc = sc.get("description") or ""
        n = len(sc.get("overrides") or {})
        changed = f"{n} setting{'s' if n != 1 else ''} changed"
        if sc.get("extends"):
            changed += f", building on \u2018{labels.scenario(sc['extends'])}\u2019"
        rows.append([labels.scenario(name), desc, changed])
    return {"header": ["scenario", "description", "changes to the base config"], "rows": rows, "num": []}


def _changes_table(exp: dict, start: str, labels: Labels) -> dict[str, Any]:
    """Every scenario's changes to the base config, setting by setting (the appendix)."""
    bl = (exp.get("baseline") or {}).get("overrides") or {}
    rows: list[list[Any]] = [[_named(labels, "baseline"), _overrides(bl, start) if bl else "base config as it is"]]
    for name, sc in (exp.get("scenarios") or {}).items():
        rows.append([_named(labels, name), _overrides(sc.get("overrides") or {}, start)])
    return {"header": ["scenario", "changes to the base config"], "rows": rows, "num": []}


def _sweep(res: Results, sweep: dict, labels: Labels) -> dict[str, Any]:
    rows = []
    for n, spec in (sweep.get("parameters") or {}).items():
        if spec.get("values") is not None:
            rng = ", ".join(labels.value(n, float(v)) for v in spec["values"])
        else:
            low, high = labels.value(n, float(spec.get("low"))), labels.value(n, float(spec.get("high")))
            rng = f"{low} to {high}" + (" (whole numbers)" if spec.get("integer") else "")
        rows.append([labels.parameter(n), rng, {"code": spec.get("path") or n}])
    method = sweep.get("method", "grid")
    return {
        "method": "every combination" if method == "grid" else f"{method}, {sweep.get('samples')} samples",
        "crossing": ", ".join(labels.scenario(s) for s in (sweep.get("scenarios") or scenarios(res))),
        "points": len(points(res)),
        "table": {"header": ["parameter", "values", "as written (config path)"], "rows": rows, "num": []},
    }


def _criteria(exp: dict, labels: Labels) -> dict[str, Any] | None:
    rows = []
    for i, c in enumerate(exp.get("criteria") or []):
        op, bound = ("at most", c["at_most"]) if c.get("at_most") is not None else ("at least", c.get("at_least"))
        compare = c.get("compare", "absolute")
        kpi = str(c.get("kpi"))
        test = criterion_bound(kpi, compare, op, float(bound))
        rows.append(
            [str(i + 1), criterion_words(labels, c), labels.kpi(kpi), COMPARE_WORDS.get(compare, compare), test]
        )
    header = ["", "criterion", "KPI", "tested on", "bound"]
    return {"header": header, "rows": rows, "num": []} if rows else None


def plan_data(res: Results, labels: Labels | None = None) -> dict[str, Any]:
    """The plan section: a run's changing schedules, or a sweep's experiment (the scenarios'
    changes setting by setting in ``changes``, for the appendix)."""
    labels = labels or labels_of(res.experiment)
    if not res.is_sweep:
        rows = changing_schedules(res.config_of(res.cells[0]))
        table = {"header": ["schedule", "value"], "rows": rows, "num": []}
        return {"sweep": False, "changing": table if rows else None}
    exp = res.experiment
    base = res.cells[0].config
    start = str(base.get("start_date"))
    w0, w1 = res.window
    facts = [
        ["experiment", {"seq": [exp.get("description") or "", " ", {"code": exp.get("name")}]}],
        ["system", {"seq": [str(base.get("description") or base.get("name")), " ", {"code": base.get("name")}]}],
        ["replications", f"{exp.get('replications')} per scenario and future (same patients in each: paired)"],
        ["measured", f"{day_words(start, w0)} to {day_words(start, w1 - 1)} (simulation days {w0} to {w1 - 1})"],
    ]
    sweep = exp.get("sweep")
    return {
        "sweep": True,
        "facts": facts,
        "scenarios": _scenario_table(exp, labels),
        "changes": _changes_table(exp, start, labels),
        "sweep_info": _sweep(res, sweep, labels) if sweep else None,
        "criteria": _criteria(exp, labels),
    }
