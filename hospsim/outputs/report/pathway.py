"""The patient pathway of the report (configs whose community services send patients on to
others): one row per place in the order patients reach it (acute beds, then the services), with
its capacity below its name, where its patients go next, and from the results its mean occupied places, mean
blocked patients and their share of its places, and the share who waited for a place in it,
each with its 95% CI."""

from __future__ import annotations

from typing import Any

from ...config import Config
from ...runs.results import Cell, Results
from ..labels import Labels, kpi_value
from ..pathway import ACUTE, acute_routes, any_sends_on, onward_words, pathway_order, route_words
from ..plots.pathway import place_capacity
from .kpis import _summary_row, kpi_ci

HEADER = [
    "place (capacity)", "then (share of those leaving)", "mean occupied", "mean blocked (waiting to move on)",
    "blocked share of places", "waited for a place",
]  # fmt: skip
SHARES = ("delayed_share", "p_wait_for_bed", "_blocked_share", "_p_wait")  # at most 100%: so are their CIs


def _kpi(res: Results, cell: Cell, kpi: str | None) -> Any:
    """A KPI's mean with its 95% CI below (a share's cut at 100%, as the share is: a t-interval
    over a few replications passes it); ``n/a`` if the results lack it, a dash if the place
    has no such measure (no onward routes, no capacity limit)."""
    if kpi is None:
        return "\u2013"
    r = _summary_row(res, cell, kpi)
    if r is None:
        return "n/a"
    high = min(float(r["ci_high"]), 1.0) if kpi.endswith(SHARES) else r["ci_high"]
    return {"main": kpi_value(kpi, r["mean"]), "small": kpi_ci(kpi, r["ci_low"], high)}


def _rows(res: Results, cell: Cell, cfg: Config, labels: Labels) -> list[list[Any]]:
    capacity = place_capacity(res, cell)
    rows: list[list[Any]] = [
        [
            {"main": "Acute beds", "small": capacity[ACUTE]},
            ", ".join(route_words(r, labels) for r in acute_routes(cfg)),
            _kpi(res, cell, "mean_occupied_beds"),
            _kpi(res, cell, "mean_delayed_patients"),
            _kpi(res, cell, "delayed_share"),
            _kpi(res, cell, "p_wait_for_bed"),
        ]
    ]
    for s in pathway_order(cfg):
        svc = cfg.services[s]
        blocked = svc.routes_onward
        rows.append(
            [
                {"main": labels.service(s), "small": "unlimited" if svc.unlimited else capacity[s]},
                onward_words(cfg, s, labels),
                _kpi(res, cell, f"{s}_mean_occupied"),
                _kpi(res, cell, f"{s}_mean_blocked" if blocked else None),
                _kpi(res, cell, f"{s}_blocked_share" if blocked and not svc.unlimited else None),
                _kpi(res, cell, None if svc.unlimited else f"{s}_p_wait"),
            ]
        )
    return rows


def pathway_table(res: Results, cells: list[Cell], labels: Labels) -> dict[str, Any] | None:
    """The pathway table of the cells whose configs have onward routes (None if none has):
    a column naming the scenario when more than one cell is shown."""
    chained = [c for c in cells if any_sends_on(c.config)]
    if not chained:
        return None
    several = len(chained) > 1
    rows = []
    for c in chained:
        for row in _rows(res, c, res.config_of(c), labels):
            rows.append([labels.scenario(c.scenario), *row] if several else row)
    header = ["scenario", *HEADER] if several else HEADER
    first = 3 if several else 2
    return {"header": header, "rows": rows, "num": list(range(first, first + 4))}
