"""The model description (STRESS-DES, Monks et al. 2019) as data, generated from the validated
config; the fixed prose (the model's logic and assumptions) is in ``templates/model.html.j2``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...config import Config, Group, Service
from ...model.engines import is_des
from ...runs.reproduce import recorded_engine
from ...runs.results import Results
from ..labels import Labels, humanise, labels_of
from .text import date, describe_gate, describe_los, describe_mix, describe_schedule, num, pct

MAX_SEEDS_LISTED = 12


def _arrivals(cfg: Config, start: str) -> list[list[Any]]:
    em = cfg.demand.emergency
    hf = em.hourly_factors
    if min(hf) == max(hf):
        profile = "flat"
    else:
        ratio = num(max(hf) / max(min(hf), 1e-9))
        profile = f"peak at {int(np.argmax(hf))}:00, lowest at {int(np.argmin(hf))}:00 (peak/trough {ratio})"
    w = em.winter
    return [
        ["emergency arrivals", f"{num(em.per_day)} a day, growth {pct(em.growth_per_year, 1)} a year"],
        ["day-of-week factors (Mon..Sun)", ", ".join(num(x) for x in em.weekday_factors)],
        ["hour-of-day profile", profile],
        [
            "winter seasonality",
            f"amplitude {pct(w.amplitude)}, peak on day {w.peak_day_of_year} of the year" if w else "none",
        ],
        ["demand multiplier (plan)", describe_schedule(em.multiplier, start)],
    ]


def _inputs(cfg: Config) -> list[list[Any]]:
    """Calendar, acute beds, arrivals and electives."""
    start, horizon, acute = str(cfg.start_date), cfg.horizon_days, cfg.acute
    esc = acute.escalation
    pairs: list[list[Any]] = [
        ["calendar", f"day 0 = {start}; horizon {horizon} days (to {date(start, horizon - 1)})"],
        ["acute beds", describe_schedule(acute.beds, start, "beds")],
        ["when full", acute.when_full],
        ["winter escalation", f"{esc.beds} beds in months {', '.join(str(m) for m in esc.months)}" if esc else "none"],
    ]
    if acute.delayed_day_cost_gbp is not None:
        pairs.append(["cost of a delayed bed day", f"£{num(acute.delayed_day_cost_gbp)}"])
    pairs += _arrivals(cfg, start)
    el = cfg.demand.elective
    if el is not None:
        admit = f", from {num(el.admit_hour)}:00 over {num(el.spread_hours)} h"
        pairs += [
            ["elective admissions", describe_schedule(el.per_weekday, start, "per weekday") + admit],
            ["elective length of stay", describe_los(el.los)],
            ["elective pathways", describe_mix(el.pathways)],
        ]
    return pairs


def _pathways(g: Group | Service) -> str:
    ch = g.pathways_change
    if ch is None:
        return describe_mix(g.pathways)
    held = f", held until {describe_gate(ch.gate)}" if ch.gate else ""
    shift = f"; shifting to {describe_mix(ch.to)} over {ch.duration_days} days from day {ch.start_day}{held}"
    return describe_mix(g.pathways) + shift


def _groups(cfg: Config) -> dict[str, Any]:
    start = str(cfg.start_date)
    rows = [
        [
            humanise(name),
            pct(g.share, 1),
            describe_los(g.los),
            describe_schedule(g.los_multiplier, start),
            describe_schedule(g.step_up_share, start),
            _pathways(g),
        ]
        for name, g in cfg.groups.items()
    ]
    header = ["group", "share", "length of stay until medically fit", "LOS multiplier (plan)", "suitable for step-up"]
    return {"header": [*header, "discharge pathways"], "rows": rows, "num": []}


def _services(cfg: Config, labels: Labels) -> dict[str, Any] | None:
    start, pdv = str(cfg.start_date), cfg.plan_delivery
    late = f" (delivered {pdv.ic_delay_days} days late, {pct(pdv.ic_growth_achieved)} of planned growth)"
    rows = []
    for name, s in cfg.services.items():
        if s.unlimited:
            capacity = "unlimited"
        else:
            delivered = cfg.delivered(f"services.{name}.capacity", s.places)
            changed = not s.places.is_constant() and delivered != s.places
            capacity = describe_schedule(s.places, start, "places") + (late if changed else "")
        rows.append(
            [
                labels.service(name),
                capacity,
                describe_los(s.los),
                describe_los(s.assessment) if s.assessment else "none",
                _pathways(s),
                "" if s.place_day_cost_gbp is None else f"£{num(s.place_day_cost_gbp)}",
            ]
        )
    header = [
        "service", "capacity (places)", "length of stay", "assessment before transfer", "then (onward pathways)",
        "cost per place-day",
    ]  # fmt: skip
    return {"header": header, "rows": rows, "num": []} if rows else None


def _experimentation(res: Results, cfg: Config) -> list[list[Any]]:
    start, (w0, w1) = str(cfg.start_date), res.window
    seeds = res.manifest.get("replication_seeds") or []
    more = " …" if len(seeds) > MAX_SEEDS_LISTED else ""
    per = "scenario cell" if res.is_sweep else "config"
    return [
        ["warm-up", f"{cfg.warmup_days} days (start empty; not measured)"],
        ["measured", f"days {w0} to {w1 - 1} ({date(start, w0)} to {date(start, w1 - 1)})"],
        ["replications", _replications_row(res, per)],
        ["root seed", res.manifest.get("root_seed")],
        ["replication seeds", ", ".join(str(s) for s in seeds[:MAX_SEEDS_LISTED]) + more],
    ]


def _implementation(res: Results) -> list[list[Any]]:
    v = res.manifest.get("versions") or {}
    software = (
        f"hospsim {v.get('hospsim', '?')} (Python {v.get('python', '?')}, numpy {v.get('numpy', '?')}, "
        f"scipy {v.get('scipy', '?')})"
    )
    return [
        ["software", software],
        ["git revision", {"code": res.manifest.get("git_revision") or "not from a git checkout"}],
        ["re-run", {"seq": [{"code": f"hospsim reproduce {res.path}"}, " re-runs every number from the manifest"]}],
    ]


def model_data(cfg: Config, res: Results, labels: Labels | None = None) -> dict[str, Any]:
    """STRESS-DES-style description of the model as configured (``cfg``: the baseline's config)."""
    exp = res.experiment
    labels = labels or labels_of(exp)
    return {
        "sweep": res.is_sweep,
        "question": exp.get("question") or "Compare the scenarios with the baseline.",
        "exp_description": exp.get("description") or "",
        "name": cfg.name,
        "description": cfg.description,
        "queue": cfg.acute.when_full == "queue",
        "inputs": _inputs(cfg),
        "groups": _groups(cfg),
        "services": _services(cfg, labels),
        "delivery": {
            "delay": cfg.plan_delivery.ic_delay_days,
            "achieved": pct(cfg.plan_delivery.ic_growth_achieved),
            "applies_to": ", ".join(cfg.plan_delivery.applies_to or []),
        },
        "experimentation": _experimentation(res, cfg),
        "implementation": _implementation(res),
    }


def runs_words(res: Results) -> str:
    """How many runs the results hold, for the report's text: ``10 replications``, or for the
    deterministic flow engine ``flow engine: deterministic, one run`` (per cell for a sweep)."""
    if not is_des(recorded_engine(res.manifest)):
        return "flow engine: deterministic, one run" + (" per cell" if res.is_sweep else "")
    n = res.replications
    return f"{n} replication{'s' if n != 1 else ''}"


def _replications_row(res: Results, per: str) -> str:
    if not is_des(recorded_engine(res.manifest)):
        return f"flow engine: deterministic, one run per {per} (expected numbers; no replications, so no intervals)"
    return f"{res.replications} independent replications per {per}"
