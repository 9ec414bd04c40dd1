"""The answer of a sweep, as data: where the plan holds and where it breaks, the share of
replications holding per cell, which criteria fail, and what gating buys."""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

from ...config import gated_schedules
from ...runs.results import Cell, Results, scenarios
from ..plots.common import ALL_CRITERIA, MAP_CMAP
from .text import cell_name, ci, date, num, pct

HOLDS = 0.9  # the plan "holds" at a cell when it holds in at least this share of replications
BREAKS = 0.5  # ...and "breaks" when it holds in fewer than this share
MAX_BREAKS_LISTED = 8


def all_rows(res: Results) -> pd.DataFrame:
    """The verdict rows of every criterion together."""
    v = res.verdicts
    if v is None or v.empty:
        return pd.DataFrame()
    return v[v["criterion"] == ALL_CRITERIA]


def param_columns(rows: pd.DataFrame) -> list[str]:
    """The ``param_<name>`` columns of a verdict table."""
    return [c for c in rows.columns if c.startswith("param_")]


def share_colour(share: float) -> tuple[str, str]:
    """Background (cividis, as the robustness map) and a readable text colour."""
    if not np.isfinite(share):
        return "#ffffff", "#000000"
    rgba = matplotlib.colormaps[MAP_CMAP](float(share))
    return matplotlib.colors.to_hex(rgba), ("#ffffff" if share < 0.55 else "#000000")


def _breach(r: pd.Series, params: list[str]) -> str:
    """Where the plan breaks: the cell, its share and CI, and when it was first breached."""
    first = str(r.get("first_breach_month_median"))
    when = f", first breached {r['first_breach_month_median']}" if first not in ("never", "n/a", "nan") else ""
    return f"{cell_name(r, params)} ({pct(r['share_holds'])}, CI {ci(r['ci_low'], r['ci_high'], pct)}{when})"


def _scenario_verdict(scen: str, g: pd.DataFrame, params: list[str], at: int) -> dict[str, Any]:
    """One scenario's verdict: a share for a fixed scenario, counts of points for a swept one."""
    swept = g[g["point"] >= 0]
    if swept.empty:
        r = g.iloc[0]
        cls = "good" if r["share_holds"] >= HOLDS else ("bad" if r["share_holds"] < BREAKS else "")
        return {
            "scenario": scen,
            "swept": False,
            "share": pct(r["share_holds"]),
            "cls": cls,
            "ci": ci(r["ci_low"], r["ci_high"], pct),
        }
    bad = swept[swept["share_holds"] < BREAKS]
    here = swept[swept["point"] == at]
    at_point = None
    if len(here):
        r = here.iloc[0]
        at_point = {
            "name": cell_name(r, params),
            "share": pct(r["share_holds"]),
            "ci": ci(r["ci_low"], r["ci_high"], pct),
        }
    return {
        "scenario": scen,
        "swept": True,
        "holding": int((swept["share_holds"] >= HOLDS).sum()),
        "points": len(swept),
        "breaking": len(bad),
        "breaks_at": [_breach(r, params) for _, r in bad.head(MAX_BREAKS_LISTED).iterrows()],
        "more": max(0, len(bad) - MAX_BREAKS_LISTED),
        "uncertain": int(((swept["share_holds"] >= BREAKS) & (swept["share_holds"] < HOLDS)).sum()),
        "at_point": at_point,
    }


def verdict_data(res: Results, cells: list[Cell]) -> dict[str, Any]:
    """Where the plan holds and where it breaks; share holding per cell; what gating buys."""
    allv = all_rows(res)
    if allv.empty:
        return {"criteria": False}
    params = param_columns(allv)
    at = cells[-1].point if cells else -1
    verdicts = [_scenario_verdict(str(s), g, params, at) for s, g in allv.groupby("scenario", sort=False)]
    return {
        "criteria": True,
        "holds": pct(HOLDS),
        "breaks": pct(BREAKS),
        "verdicts": verdicts,
        "n_rep": int(allv["n"].max()) if len(allv) else 0,
        "grid": share_grid(res),
        "failing": failing_criteria(res),
        "gating": gating_data(res),
    }


def share_grid(res: Results) -> dict[str, Any]:
    """Share of replications holding (all criteria) per cell with its CI, coloured as the map."""
    allv = all_rows(res)
    params = param_columns(allv)
    scen = list(dict.fromkeys(allv["scenario"]))
    rows = []
    for _pt, g in allv[allv["point"] >= 0].groupby("point", sort=True):
        first = g.iloc[0]
        shares: list[dict[str, str] | None] = []
        for s in scen:
            r = g[g["scenario"] == s]
            if r.empty:
                shares.append(None)
                continue
            r = r.iloc[0]
            bg, fg = share_colour(float(r["share_holds"]))
            shares.append(
                {"share": pct(r["share_holds"]), "ci": ci(r["ci_low"], r["ci_high"], pct), "bg": bg, "fg": fg}
            )
        rows.append({"point": int(first["point"]), "params": [num(first[p]) for p in params], "shares": shares})
    fixed = [
        {"scenario": r["scenario"], "share": pct(r["share_holds"]), "ci": ci(r["ci_low"], r["ci_high"], pct)}
        for _, r in allv[allv["point"] < 0].iterrows()
    ]
    return {"header": ["point", *[p[len("param_") :] for p in params], *scen], "rows": rows, "fixed": fixed}


def failing_criteria(res: Results) -> list[dict[str, Any]]:
    """Which criteria fail (hold in under half of replications), in how many cells."""
    v = res.verdicts
    assert v is not None  # only called with criteria
    crit = v[(v["criterion"] != ALL_CRITERIA)]
    weak = crit[crit["share_holds"] < BREAKS]
    if weak.empty:
        return []
    total = crit.groupby("criterion", sort=False).size().to_dict()
    return [
        {"criterion": c, "fails": int(k), "cells": int(total[c])}
        for c, k in weak.groupby("criterion", sort=False).size().items()
    ]


def gated_scenarios(res: Results) -> list[str]:
    """Scenarios with a gated schedule when the baseline has none (read from the validated configs)."""
    if gated_schedules(res.config_of(res.cells[0])):
        return []
    return [s for s in scenarios(res) if any(gated_schedules(res.config_of(c)) for c in res.cells if c.scenario == s)]


def _gate_opened(res: Results, gated: str, pt: int, open_cols: list[str]) -> tuple[str, float | None]:
    """Share of replications in which every gate opened at a point, with the median opening date."""
    kg = res.kpis[(res.kpis["scenario"] == gated) & (res.kpis["point"] == pt)]
    if not open_cols:
        return "n/a", None
    o = kg[open_cols].to_numpy(dtype=float)
    share_open = float(np.nanmean(o.min(axis=1))) if o.size else math.nan
    days = kg[[c.replace("_opened", "_open_day") for c in open_cols]].to_numpy(dtype=float).max(axis=1)
    days = days[np.isfinite(days)]
    start = res.cell(gated, int(pt)).config["start_date"]
    return pct(share_open) + (f", median {date(start, float(np.median(days)))}" if days.size else ""), share_open


def _bed_days_change(res: Results, scen: str, pt: int) -> str:
    """Relative change in acute bed days from the baseline, paired by replication."""
    p = res.paired
    if p is None or p.empty:
        return "n/a"
    r = p[(p["scenario"] == scen) & (p["point"] == pt) & (p["kpi"] == "acute_bed_days")]
    return pct(float(r["relative_change"].iloc[0]), 1) if len(r) else "n/a"


def _gating_block(res: Results, gated: str, ref: str) -> dict[str, Any] | None:
    """A gated scenario against its ungated counterpart, point by point."""
    allv = all_rows(res)
    params = param_columns(allv)
    open_cols = [c for c in res.kpis.columns if c.startswith("gate_") and c.endswith("_opened")]
    rows, gains, opened_all = [], [], []
    for pt in sorted(set(allv.loc[allv["scenario"] == gated, "point"])):
        a = allv[(allv["scenario"] == ref) & (allv["point"] == pt)]
        b = allv[(allv["scenario"] == gated) & (allv["point"] == pt)]
        if a.empty or b.empty:
            continue
        a, b = a.iloc[0], b.iloc[0]
        gains.append(float(b["share_holds"] - a["share_holds"]))
        opened, share_open = _gate_opened(res, gated, pt, open_cols)
        if share_open is not None:
            opened_all.append(share_open)
        row = [str(int(pt)) if pt >= 0 else "-", cell_name(b, params), pct(a["share_holds"]), pct(b["share_holds"])]
        rows.append([*row, opened, _bed_days_change(res, ref, pt), _bed_days_change(res, gated, pt)])
    if not rows:
        return None
    gain = float(np.mean(gains)) if gains else math.nan
    header = ["point", "sweep values", f"holds: {ref}", f"holds: {gated}", "gate opened (replications)"]
    return {
        "gated": gated,
        "ref": ref,
        "cells": len(rows),
        "gain": f"{'+' if gain >= 0 else ''}{pct(gain)}",
        "went_ahead": pct(float(np.mean(opened_all))) if opened_all else None,
        "table": {"header": [*header, f"bed days: {ref}", f"bed days: {gated}"], "rows": rows, "num": []},
    }


def gating_data(res: Results) -> list[dict[str, Any]]:
    """Gated scenarios against their ungated counterpart: safety bought, savings given up."""
    gated = gated_scenarios(res)
    ungated = [s for s in scenarios(res) if s not in gated]
    exp_sc = res.experiment.get("scenarios") or {}
    blocks = []
    for g in gated:
        parent = (exp_sc.get(g) or {}).get("extends")
        ref = parent if parent in ungated else (ungated[0] if ungated else None)
        block = _gating_block(res, g, ref) if ref is not None else None
        if block is not None:
            blocks.append(block)
    return blocks
