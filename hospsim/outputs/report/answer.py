"""The answer of a sweep, as data: the plain answer and the grid of cells (:mod:`.plain`, from
the verdict rows), with what the gates did and what gating buys (from the KPIs and configs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...config import gated_schedules
from ...model.kpi_registry import gate_key
from ...runs.results import Cell, Results, scenarios
from ..plots.common import ALL_CRITERIA
from .plain import BREAKS, HOLDS, RULE, Gating, param_columns, plain_answer, share_grids
from .text import cell_name, date, pct

__all__ = ["BREAKS", "HOLDS", "all_rows", "gating_data", "param_columns", "verdict_data"]


def all_rows(res: Results) -> pd.DataFrame:
    """The verdict rows of every criterion together."""
    v = res.verdicts
    if v is None or v.empty:
        return pd.DataFrame()
    return v[v["criterion"] == ALL_CRITERIA]


def param_paths(res: Results) -> dict[str, str]:
    """Sweep parameter name -> its config path (how its values read in words)."""
    params = (res.experiment.get("sweep") or {}).get("parameters") or {}
    return {name: str(p.get("path", name)) for name, p in params.items()}


def verdict_data(res: Results) -> dict[str, Any]:
    """The plain answer, the grid of cells behind it, and what gating buys."""
    v = res.verdicts
    if v is None or v.empty:
        return {"criteria": False}
    paths = param_paths(res)
    return {
        "criteria": True,
        "plain": plain_answer(v, gate_summaries(res), paths),
        "rule": RULE,
        "n_rep": int(all_rows(res)["n"].max()),
        "grids": share_grids(v, paths),
        "gating": gating_data(res),
    }


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


def references(res: Results) -> dict[str, str]:
    """Each gated scenario -> the ungated one it is compared with (the one it extends, else the
    first ungated scenario)."""
    gated = gated_scenarios(res)
    ungated = [s for s in scenarios(res) if s not in gated]
    exp_sc = res.experiment.get("scenarios") or {}
    out = {}
    for g in gated:
        parent = (exp_sc.get(g) or {}).get("extends")
        ref = parent if parent in ungated else (ungated[0] if ungated else None)
        if ref is not None:
            out[g] = ref
    return out


def _gate_delays(res: Results, cell: Cell) -> np.ndarray:
    """Per replication of a cell, days from the planned change to the day its last gate opened
    (none if the change came on its planned date; nan if some gate never opened)."""
    k = res.kpis_of(cell)
    delays = np.zeros(len(k))
    for path, sched in gated_schedules(res.config_of(cell)):
        col, planned = f"gate_{gate_key(path)}_open_day", sched.first_change_day()
        if col in k.columns and planned is not None:
            delays = np.maximum(delays, k[col].to_numpy(dtype=float) - planned)  # nan (never) propagates
    return delays


def gate_summaries(res: Results) -> dict[str, Gating]:
    """What the gates of each gated scenario did over its replications: how often the change
    went ahead, and how late (median, where it did)."""
    out = {}
    for gated, ref in references(res).items():
        cells = [c for c in res.cells if c.scenario == gated]
        delays = np.concatenate([_gate_delays(res, c) for c in cells])
        went = np.isfinite(delays)
        subject = " and ".join(p.replace(".", " ") for p, _ in gated_schedules(res.config_of(cells[0])))
        median = float(np.median(delays[went])) if went.any() else math.nan
        out[gated] = Gating(ref, subject, float(went.mean()) if delays.size else math.nan, median)
    return out


def gating_data(res: Results) -> list[dict[str, Any]]:
    """Gated scenarios against their ungated counterpart: safety bought, savings given up."""
    blocks = []
    for g, ref in references(res).items():
        block = _gating_block(res, g, ref)
        if block is not None:
            blocks.append(block)
    return blocks
