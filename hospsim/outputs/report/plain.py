"""The plain answer of a sweep, from its verdict rows alone: a few sentences per scenario that a
board can read in one breath (where the plan holds, where it breaks, which criterion fails
first), and the grid of cells that carries the detail. Criterion names and sweep parameters are
read from the rows, never assumed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

from ...analysis.verdicts import BREAKS, HOLDS
from ...config.experiment import ALL_CRITERIA
from ..labels import Labels, months_late, param_value, param_words
from ..plots.common import MAP_CMAP
from .text import ci, param_bound, pct

MAX_CRITERIA_NAMED = 3  # the sentence names the first few failing criteria, then counts the rest
RULE = (
    f"A future is one cell of the sweep. The plan holds there when it holds in at least {pct(HOLDS)} of "
    f"replications, breaks when in under {pct(BREAKS)}. It fails \u2018first\u2019 on the criterion that fails "
    f"(holds in under {pct(BREAKS)}) in the most futures; a tie goes to the one breached earliest (the earliest "
    "median month of first breach across those futures)."
)
_MONTH = re.compile(r"\d{4}-\d{2}")


@dataclass(frozen=True)
class Gating:
    """What a gated scenario's gates did over its replications (read from the KPIs)."""

    ref: str  # the ungated scenario it is compared with
    subject: str  # what the gates hold back, e.g. "acute beds"
    went_ahead: float  # share of replications in which every gate opened
    delay_days: float  # median days from the planned change to the opening where it opened (nan: never)


def param_columns(rows: pd.DataFrame) -> list[str]:
    """The ``param_<name>`` columns of a verdict table."""
    return [c for c in rows.columns if c.startswith("param_")]


def share_colour(share: float) -> tuple[str, str]:
    """Background (cividis, as the robustness map) and a readable text colour."""
    if not np.isfinite(share):
        return "#ffffff", "#000000"
    rgba = matplotlib.colormaps[MAP_CMAP](float(share))
    return matplotlib.colors.to_hex(rgba), ("#ffffff" if share < 0.55 else "#000000")


def _quoted(name: str) -> str:
    return f"\u2018{name}\u2019"


def _split(verdicts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The all-criteria rows and the rows of single criteria."""
    every = verdicts["criterion"] == ALL_CRITERIA
    return verdicts[every], verdicts[~every]


# ---------------------------------------------------------------------------------------------
# The sentences


def region(
    cells: pd.DataFrame, inside: pd.Series, params: list[str], paths: dict[str, str] | None = None
) -> str | None:
    """The ``inside`` cells in words when they are exactly the cells within one range per
    parameter (e.g. ``intermediate care is at most 6 months late``); None when they are not,
    or are none or all of the cells."""
    sub = cells[inside]
    if sub.empty or bool(inside.all()) or not params:
        return None
    box = pd.Series(True, index=cells.index)
    words = []
    for p in params:
        lo, hi = sub[p].min(), sub[p].max()
        box &= cells[p].between(lo, hi)
        low, high = (None if lo == cells[p].min() else lo), (None if hi == cells[p].max() else hi)
        if low is not None or high is not None:
            words.append(param_bound(p[len("param_") :], low, high, (paths or {}).get(p[len("param_") :])))
    return " and ".join(words) if bool((box == inside).all()) and words else None


def _earliest_month(rows: pd.DataFrame) -> str:
    """The earliest median month of first breach among ``rows`` (after any month if none)."""
    # A criterion without a monthly form has no month ("n/a", which pandas reads as missing).
    months = rows.get("first_breach_month_median", pd.Series(dtype=object)).tolist()
    return min((m for m in months if isinstance(m, str) and _MONTH.fullmatch(m)), default="9999-99")


def failing_first(crit: pd.DataFrame) -> list[tuple[str, int]]:
    """Criteria that fail (hold in under :data:`BREAKS`) somewhere, with the number of cells
    where they do: most cells first, ties to the earliest first breach, then in stated order."""
    order = list(dict.fromkeys(crit["criterion"]))
    weak = crit[crit["share_holds"] < BREAKS]
    found = [(str(c), len(g), _earliest_month(g)) for c, g in weak.groupby("criterion", sort=False)]
    found.sort(key=lambda f: (-f[1], f[2], order.index(f[0])))
    return [(c, k) for c, k, _ in found]


def _criteria_clause(failing: list[tuple[str, int]], n: int) -> str:
    """``first on 'A' (fails in 6 of 9), then on 'B' (3) and 'C' (1)``."""
    if not failing:
        return f"though no single criterion holds in under {pct(BREAKS)} of replications there: it is their combination"
    (c0, k0), rest = failing[0], failing[1:MAX_CRITERIA_NAMED]
    text = f"first on {_quoted(c0)} (fails in {k0} of {n})"
    if rest:
        text += ", then on " + " and ".join(f"{_quoted(c)} ({k})" for c, k in rest)
    more = len(failing) - MAX_CRITERIA_NAMED
    return text + (f" and {more} other criteri{'on' if more == 1 else 'a'}" if more > 0 else "")


def _swept_sentences(
    allv: pd.DataFrame, crit: pd.DataFrame, params: list[str], paths: dict[str, str] | None
) -> list[str]:
    """Where a swept scenario holds, where it breaks and on which criteria."""
    n = len(allv)
    holds, breaks = allv["share_holds"] >= HOLDS, allv["share_holds"] < BREAKS
    h, b = int(holds.sum()), int(breaks.sum())
    if h == n:
        return [f"the plan holds in all {n} futures swept."]
    where = region(allv, holds, params, paths)
    first = (
        f"the plan holds in {h} of the {n} futures swept" if h else f"the plan holds in none of the {n} futures swept"
    )
    out = [first + (f", only when {where}." if where else ".")]
    if b:
        rest = h + b == n and h > 0
        which = "all of them" if b == n else (f"the other {b}" if rest else str(b))
        where_b = None if rest and where else region(allv, breaks, params, paths)
        clause = _criteria_clause(failing_first(crit), n)
        out.append(", ".join([f"It breaks in {which}", *([f"when {where_b}"] if where_b else []), clause]) + ".")
    u = n - h - b
    if u:
        out.append(
            f"In {u} the answer is uncertain (the plan holds in {pct(BREAKS)}\u2013{pct(HOLDS)} of replications)."
        )
    return out


def _fixed_sentence(row: pd.Series, crit: pd.DataFrame) -> str:
    """A scenario that is not swept: its share with its CI, and the criteria that fail."""
    text = (
        f"the plan holds in {pct(row['share_holds'])} of replications (95% CI {ci(row['ci_low'], row['ci_high'], pct)})"
    )
    weak = crit[crit["share_holds"] < BREAKS].sort_values("share_holds", kind="stable")
    if len(weak):
        text += ", failing on " + " and ".join(
            f"{_quoted(r['criterion'])} (which holds in {pct(r['share_holds'])})" for _, r in weak.iterrows()
        )
    return text + "."


def _gating_sentence(g: Gating, ref_rows: pd.DataFrame, labels: Labels) -> str:
    """What waiting for the gate bought against the ungated scenario, and what it cost."""
    text = f"The gate held back the change to {g.subject}"
    if len(ref_rows):
        h = int((ref_rows["share_holds"] >= HOLDS).sum())
        text = (
            f"Against {_quoted(labels.scenario(g.ref))}, which holds in {h} of {len(ref_rows)}, "
            f"the gate held back the change to {g.subject}"
        )
    if not (np.isfinite(g.went_ahead) and g.went_ahead > 0):
        return text + ": it never went ahead, and neither did its savings."
    when = "on the planned date (median)" if g.delay_days <= 0 else f"a median {months_late(g.delay_days)}"
    if g.went_ahead >= 1:
        return text + f": it went ahead in every replication, {when}."
    return text + f": it went ahead in {pct(g.went_ahead)} of replications, {when}, and not before the end in the rest."


def plain_answer(
    verdicts: pd.DataFrame,
    gating: dict[str, Gating] | None = None,
    paths: dict[str, str] | None = None,
    labels: Labels | None = None,
) -> list[dict[str, Any]]:
    """Per scenario, a few plain sentences from its verdict rows (``gating``: what the gates of
    gated scenarios did; ``paths``: sweep parameter name -> config path, for their units;
    ``labels``: display names, the scenario's in ``label``)."""
    labels = labels or Labels(paths=dict(paths or {}))
    allv, crit = _split(verdicts)
    params = param_columns(allv)
    out = []
    for scen, g in allv.groupby("scenario", sort=False):
        c = crit[crit["scenario"] == scen]
        swept = g[g["point"] >= 0]
        if swept.empty:
            sentences = [_fixed_sentence(g.iloc[0], c)]
        else:
            sentences = _swept_sentences(swept, c[c["point"] >= 0], params, paths)
        gt = (gating or {}).get(str(scen))
        if gt is not None:
            ref = allv[(allv["scenario"] == gt.ref) & (allv["point"] >= 0)]
            sentences.append(_gating_sentence(gt, ref, labels))
        out.append({"scenario": str(scen), "label": labels.scenario(str(scen)), "sentences": sentences})
    return out


# ---------------------------------------------------------------------------------------------
# The grid


def _cell(r: pd.Series, fails: list[str]) -> dict[str, Any]:
    bg, fg = share_colour(float(r["share_holds"]))
    share, interval = pct(r["share_holds"]), ci(r["ci_low"], r["ci_high"], pct)
    return {"point": int(r["point"]), "share": share, "ci": interval, "bg": bg, "fg": fg, "fails": fails}


def _words(params: list[str], values: tuple, paths: dict[str, str] | None) -> str:
    return ", ".join(
        param_value(p[len("param_") :], v, (paths or {}).get(p[len("param_") :])) for p, v in zip(params, values)
    )


def _subject(params: list[str], paths: dict[str, str] | None) -> str:
    return ", ".join(param_words(p[len("param_") :], (paths or {}).get(p[len("param_") :]))[0] for p in params)


def _grid(scen: str, g: pd.DataFrame, fails: pd.Series, params: list[str], paths: dict[str, str] | None) -> dict:
    """One scenario's cells: columns the first parameter, rows the others (highest first, as the
    map draws them); a plain list when the values do not form a grid (a sampled sweep)."""
    cols, others = params[:1], params[1:]
    col_vals = sorted(g[cols[0]].unique())
    row_keys = sorted({tuple(r[p] for p in others) for _, r in g.iterrows()}, reverse=True)
    grid = len(col_vals) * len(row_keys) <= 2 * len(g)
    if not grid:  # every point its own row
        cols, others, col_vals = [], params, [None]
        row_keys = [tuple(r[p] for p in params) for _, r in g.sort_values("point").iterrows()]
    rows = []
    for key in row_keys:
        here = g[np.logical_and.reduce([g[p] == v for p, v in zip(others, key)])] if others else g
        cells = []
        for cv in col_vals:
            at = here if cv is None else here[here[cols[0]] == cv]
            cells.append(_cell(at.iloc[0], fails.get(int(at.iloc[0]["point"]), [])) if len(at) else None)
        rows.append({"label": _words(others, key, paths), "cells": cells})
    columns = [_words(cols, (v,), paths) for v in col_vals] if cols else ["holds"]
    return {
        "scenario": scen,
        "row_title": _subject(others, paths),
        "col_title": _subject(cols, paths),
        "columns": columns,
        "rows": rows,
    }


def share_grids(
    verdicts: pd.DataFrame, paths: dict[str, str] | None = None, labels: Labels | None = None
) -> list[dict[str, Any]]:
    """Per swept scenario, the share of replications holding (all criteria) in each cell, with
    its CI, its colour as on the robustness map and the criteria that fail there (``labels``:
    display names, the scenario's in ``label``)."""
    labels = labels or Labels(paths=dict(paths or {}))
    allv, crit = _split(verdicts)
    params = param_columns(allv)
    swept = allv[allv["point"] >= 0]
    if swept.empty or not params:
        return []
    weak = crit[(crit["point"] >= 0) & (crit["share_holds"] < BREAKS)]
    out = []
    for scen, g in swept.groupby("scenario", sort=False):
        w = weak[weak["scenario"] == scen]
        fails = w.groupby("point", sort=False)["criterion"].agg(list)
        out.append({**_grid(str(scen), g, fails, params, paths), "label": labels.scenario(str(scen))})
    return out
