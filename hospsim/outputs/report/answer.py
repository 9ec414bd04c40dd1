"""The answer of a sweep, as data: the plain answer and the grid of cells (:mod:`.plain`, from
the verdict rows), with what the gates did and what gating buys (from the KPIs and configs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ...analysis.verdicts import OVERPROMISE, UNDERPROMISE, views_side_by_side
from ...config import gated_schedules
from ...config.experiment import Criterion
from ...model.kpi_registry import gate_key
from ...runs.results import Cell, Results, scenarios
from ..labels import Labels, criterion_words, labels_of, param_words, relative_change
from ..plots.common import ALL_CRITERIA
from ..tables import averages_word, flow_verdicts_of, variability_note, views_sentence
from .plain import BREAKS, HOLDS, RULE, Gating, param_columns, plain_answer, share_grids
from .text import day_words, pct

__all__ = ["BREAKS", "HOLDS", "all_rows", "averages_data", "gating_data", "param_columns", "verdict_data"]

# Cells listed in the "what averages promise" table: all of them up to this many, else only those
# where the averages and the replications part company.
AVERAGES_ROWS = 40


def criteria_words(res: Results, labels: Labels) -> dict[str, str]:
    """Each criterion as ``verdicts.csv`` names it -> its words (its name, or its KPI's display
    name and its test), in the experiment's order."""
    out = {}
    for c in res.experiment.get("criteria") or []:
        try:
            key = Criterion.model_validate(c).label
        except ValidationError:  # written by another version: keep the name the rows give
            continue
        out[key] = criterion_words(labels, c)
    return out


def worded_verdicts(res: Results, labels: Labels) -> pd.DataFrame:
    """The verdict rows with each criterion named in words (the rows of every criterion keep
    their name)."""
    v = res.verdicts
    if v is None or v.empty:
        return pd.DataFrame()
    words = criteria_words(res, labels)
    return v.assign(criterion=v["criterion"].map(lambda c: words.get(c, c)))


def point_words(labels: Labels, row: pd.Series | dict, params: list[str]) -> str:
    """The sweep values of a verdict row (``param_<name>`` columns) in words."""
    values = {p[len("param_") :]: row[p] for p in params if pd.notna(row[p])}
    return labels.point(values) if values else "not swept"


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


def _numbered_fails(grids: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """The grids with each cell's failing criteria as their numbers in ``names`` (1-based), so a
    cell stays small; the report lists the numbers once."""
    for g in grids:
        for row in g["rows"]:
            for cell in row["cells"]:
                if cell is not None:
                    cell["fails_n"] = [str(names.index(f) + 1) if f in names else f for f in cell["fails"]]
    return grids


def verdict_data(res: Results, labels: Labels | None = None) -> dict[str, Any]:
    """The plain answer, the grid of cells behind it, and what gating buys (in ``labels``' words)."""
    labels = labels or labels_of(res.experiment)
    v = worded_verdicts(res, labels)
    if v.empty:
        return {"criteria": False}
    paths = param_paths(res)
    names = list(dict.fromkeys(v.loc[v["criterion"] != ALL_CRITERIA, "criterion"]))
    averages = averages_data(res, labels)
    return {
        "criteria": True,
        "plain": plain_answer(v, gate_summaries(res), paths, labels),
        "rule": RULE,
        "n_rep": int(all_rows(res)["n"].max()),
        "criteria_names": names,
        "grids": _with_averages(_numbered_fails(share_grids(v, paths, labels), names), averages["words"]),
        "gating": gating_data(res, labels),
        "averages": averages,
    }


def averages_data(res: Results, labels: Labels | None = None) -> dict[str, Any]:
    """What averages promise (the plan's criteria on one flow run per cell) beside the share of
    replications in which the plan holds: the sentence saying where the two part company, the
    footnote on KPIs that only exist under variability, a table of the cells (all, or only those
    where the views part company when there are more than :data:`AVERAGES_ROWS`), and each
    cell's word by (scenario, point) for the grids."""
    labels = labels or labels_of(res.experiment)
    fv = flow_verdicts_of(res)
    side = views_side_by_side(res.verdicts, fv) if res.verdicts is not None else pd.DataFrame()
    words = {
        (str(r["scenario"]), int(r["point"])): averages_word(str(r["averages"]), bool(r["variability_only"]))
        for r in side.to_dict(orient="records")
    }
    kpi_words = {str(k): labels.kpi(str(k)) for k in fv["kpi"]} if fv is not None else {}
    parted = side[side["disagreement"] != ""] if len(side) else side
    listed = side if len(side) <= AVERAGES_ROWS else parted
    params = [c for c in side.columns if c.startswith("param_")]
    rows = [
        [
            labels.scenario(str(r["scenario"])),
            point_words(labels, r, params) if int(r["point"]) >= 0 else "not swept",
            f"{pct(r['share_holds'])} ({pct(r['ci_low'])[:-1]}–{pct(r['ci_high'])})",
            words[(str(r["scenario"]), int(r["point"]))],
            _parted_words(str(r["disagreement"])),
        ]
        for r in listed.to_dict(orient="records")
    ]
    header = ["scenario", "future", "plan holds in (95% CI)", "what averages promise", "the two views"]
    return {
        "ran": fv is not None,
        "sentence": views_sentence(side),
        "note": variability_note(fv, kpi_words),
        "all_listed": len(listed) == len(side),
        "table": {"header": header, "rows": rows, "num": [2]} if rows else None,
        "words": words,
    }


def _parted_words(disagreement: str) -> str:
    return {
        OVERPROMISE: f"averages say it holds; it holds in under {pct(BREAKS)} of replications",
        UNDERPROMISE: f"averages say it fails; it holds in {pct(HOLDS)} or more of replications",
    }.get(disagreement, "")


def _with_averages(grids: list[dict[str, Any]], words: dict[tuple[str, int], str]) -> list[dict[str, Any]]:
    """The grids with what averages promise in each cell (``not run`` without flow runs)."""
    for g in grids:
        for row in g["rows"]:
            for cell in row["cells"]:
                if cell is not None:
                    cell["averages"] = words.get((str(g["scenario"]), int(cell["point"])), "not run")
    return grids


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
    return pct(share_open) + (f", median {day_words(start, float(np.median(days)))}" if days.size else ""), share_open


def _bed_days_change(res: Results, scen: str, pt: int) -> str:
    """Relative change in acute bed days from the baseline, paired by replication."""
    p = res.paired
    if p is None or p.empty:
        return "n/a"
    r = p[(p["scenario"] == scen) & (p["point"] == pt) & (p["kpi"] == "acute_bed_days")]
    return relative_change(float(r["relative_change"].iloc[0])) if len(r) else "n/a"


def _points(change: float) -> str:
    """A change of a share in percentage points, signed: ``+11 percentage points``."""
    if not math.isfinite(change):
        return "n/a"
    sign = "+" if change > 0 else "\u2212" if change < 0 else ""
    return f"{sign}{pct(abs(change))[:-1]} percentage points"


def _gating_block(res: Results, gated: str, ref: str, labels: Labels) -> dict[str, Any] | None:
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
        values = ", ".join(labels.value(p[len("param_") :], float(b[p])) for p in params if pd.notna(b[p]))
        row = [values or "not swept", pct(a["share_holds"]), pct(b["share_holds"]), opened]
        rows.append([*row, _bed_days_change(res, ref, pt), _bed_days_change(res, gated, pt)])
    if not rows:
        return None
    gain = float(np.mean(gains)) if gains else math.nan
    r, g = labels.scenario(ref), labels.scenario(gated)
    names = [p[len("param_") :] for p in params]
    subjects = ", ".join(labels.given.get(n) or param_words(n, labels.paths.get(n))[0] for n in names)
    header = [f"future ({subjects})", f"plan holds: {r}", f"plan holds: {g}", "gate opened"]
    return {
        "gated": g,
        "ref": r,
        "cells": len(rows),
        "gain": _points(gain),
        "went_ahead": pct(float(np.mean(opened_all))) if opened_all else None,
        "table": {
            "header": [*header, f"acute bed days vs baseline: {r}", f"acute bed days vs baseline: {g}"],
            "rows": rows,
            "num": [1, 2, 4, 5],
        },
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
        subject = " and ".join(path_words(p) for p, _ in gated_schedules(res.config_of(cells[0])))
        median = float(np.median(delays[went])) if went.any() else math.nan
        out[gated] = Gating(ref, subject, float(went.mean()) if delays.size else math.nan, median)
    return out


def path_words(path: str) -> str:
    """A schedule's config path as a reader says it: ``acute.beds`` → ``acute beds``,
    ``services.step_up.capacity`` → ``step up capacity``."""
    parts = path.split(".")
    if parts[0] in ("services", "groups", "demand") and len(parts) > 2:
        parts = parts[1:]
    return " ".join(parts).replace("_", " ")


def gating_data(res: Results, labels: Labels | None = None) -> list[dict[str, Any]]:
    """Gated scenarios against their ungated counterpart: safety bought, savings given up."""
    labels = labels or labels_of(res.experiment)
    blocks = []
    for g, ref in references(res).items():
        block = _gating_block(res, g, ref, labels)
        if block is not None:
            blocks.append(block)
    return blocks
