"""The sweep's per-cell table for the terminal: one row per (scenario, sweep point), grouped by
scenario, in display names and the units a planner reads (``12 months late``, ``50% of plan``,
``-34.8%``), made from the table of :mod:`hospsim.analysis.cells` (``cells.csv``); and a few lines
on how often each criterion holds.

Built to fit a 100-120 column terminal: a large sweep shows the cells in which the plan holds most
often and says where the full table is.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..config.experiment import BASELINE
from .labels import Labels, humanise, percent
from .tables import NOT_RUN, averages_word, render, views_sentence

MAX_ROWS = 60  # cells shown in full; more, and the table shows the best ones and points to cells.csv
TEXT_WIDTH = 100

# The value columns after the sweep values: heading, cells.csv column, how a value reads.
_COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("Bed days\nvs baseline", "bed_days_change", lambda x: f"{100 * x:+.1f}%"),
    ("Mean\noccupancy", "mean_occupancy", lambda x: percent(x, 1)),
    ("12-h waits\nper 1,000", "waits_over_12h_per_1000", lambda x: f"{x:,.1f}"),
    ("Displaced\nbed days", "displaced_bed_days", lambda x: f"{x:,.0f}"),
    ("Transferred\nout", "p_transferred_out", percent),
)

# The baseline's values of the same columns after the bed days, in a sentence.
_BASELINE_WORDS = ("mean occupancy {}", "12-h waits {} per 1,000", "displaced bed days {}", "transferred out {}")


def _fmt(value: Any, how: Callable[[float], str]) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return how(x) if math.isfinite(x) else "n/a"


def _holds(row: dict[Any, Any]) -> str:
    """``0% (0-56%)``: the share of replications in which the whole plan holds and its 95% CI."""
    share = row["share_holds"]
    if pd.isna(share):
        return "n/a"
    if row.get("n") == 1:  # one run (the flow engine's): it holds or not; an interval says nothing
        return percent(share)
    return f"{percent(share)} ({percent(row['holds_ci_low'])[:-1]}-{percent(row['holds_ci_high'])})"


def _param_names(cells: pd.DataFrame) -> list[str]:
    return [c[len("param_") :] for c in cells.columns if c.startswith("param_")]


def _scenario_name(labels: Labels, scenario: str) -> str:
    """A scenario's display name, with its code name when labelled (cells.csv uses code names)."""
    name = labels.scenario(scenario)
    return name if name == humanise(scenario) else f"{name} ({scenario})"


def _baseline_line(cells: pd.DataFrame, labels: Labels) -> str:
    base = cells[cells["scenario"] == BASELINE]
    if base.empty:
        return ""
    b = base.iloc[0].to_dict()
    kpi = str(b["bed_days_kpi"] or "")
    parts = [f"{labels.kpi(kpi).lower()} {_fmt(b['bed_days_mean'], lambda x: f'{x:,.0f}')}"] if kpi else []
    parts += [words.format(_fmt(b[col], how)) for words, (_h, col, how) in zip(_BASELINE_WORDS, _COLUMNS[1:])]
    return f"{labels.scenario(BASELINE)}: " + ", ".join(parts) + "."


def _intro(cells: pd.DataFrame, labels: Labels, criteria: int) -> list[str]:
    n = int(cells["n"].max()) if len(cells) else 0
    kpi = next((str(k) for k in cells["bed_days_kpi"] if isinstance(k, str) and k), "")
    text = f"Per cell, means of {n} replication{'s' if n != 1 else ''} over the window."
    if kpi:
        text += (
            f" Bed days: {labels.kpi(kpi).lower()}, the change of the mean from the baseline's "
            "(same patients, paired by replication)."
        )
    if criteria:
        text += (
            f" Whole plan holds: share of replications in which all {criteria} criteria hold, with its 95% CI (Wilson)."
        )
    lines = textwrap.wrap(text, TEXT_WIDTH)
    base = _baseline_line(cells, labels)
    return [*lines, *textwrap.wrap(base, TEXT_WIDTH)] if base else lines


def _shown(cells: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """The cells to show: all, or the ``max_rows`` in which the plan holds most often (then those
    saving most bed days), kept in run order."""
    if len(cells) <= max_rows:
        return cells
    order = cells.assign(_h=cells["share_holds"].fillna(-1.0), _b=cells["bed_days_change"].fillna(math.inf))
    best = order.sort_values(["_h", "_b"], ascending=[False, True], kind="stable").index[:max_rows]
    return cells.loc[sorted(best)]


def cells_text(
    cells: pd.DataFrame,
    labels: Labels,
    criteria: int = 0,
    max_rows: int = MAX_ROWS,
    full_table: str | Path | None = None,
    views: pd.DataFrame | None = None,
    note: str = "",
) -> str:
    """The per-cell table (``cells``: as :func:`hospsim.analysis.cells.cell_table` makes it) in
    display names, grouped by scenario under a line naming it; ``criteria``: how many the plan has
    (0: no "whole plan holds" column). More than ``max_rows`` cells: those in which the plan holds
    most often, and a line pointing to ``full_table``. ``views``: what averages promise per cell
    (:func:`hospsim.analysis.verdicts.views_side_by_side`), shown beside the whole plan's share
    with a sentence on where the two part company and ``note`` (the footnote of its mark)."""
    variants = cells[cells["scenario"] != BASELINE]
    shown = _shown(variants, max_rows)
    params = _param_names(cells)
    swept = bool(params) and shown[[f"param_{p}" for p in params]].notna().any(axis=None)
    averages = _averages(shown, views) if criteria and views is not None else None
    rows, titles = _rows(shown, variants, labels, params if swept else [], criteria)
    if averages is not None:
        rows = [[*r, a] for r, a in zip(rows, averages)]
    if swept:  # a parameter's name wrapped to the width of its values
        header = [textwrap.fill(labels.parameter(p), max(10, *(len(r[i]) for r in rows))) for i, p in enumerate(params)]
    else:
        header = ["Scenario"]
    header += [h for h, _col, _how in _COLUMNS] + (["Whole plan holds\n(95% CI)"] if criteria else [])
    right = set(range(len(header) - len(_COLUMNS) - bool(criteria), len(header)))
    header += ["Averages\npromise"] if averages is not None else []  # narrow: the table fits 120 columns
    table = render(rows, header, right=right)
    lines = _with_titles(table.split("\n"), len(table.split("\n")) - len(rows), titles)
    out = [*_intro(cells, labels, criteria), "", *lines]
    if len(shown) < len(variants):
        where = f"; every cell: {full_table}" if full_table else ""
        text = (
            f"Showing the {len(shown)} of {len(variants)} cells in which the whole plan holds most often "
            f"(then those saving most bed days){where}"
        )
        out += textwrap.wrap(text, TEXT_WIDTH, break_on_hyphens=False, break_long_words=False)
    if averages is not None and views is not None:
        out += ["", *textwrap.wrap(_averages_intro(views), TEXT_WIDTH)]
        out += textwrap.wrap(note, TEXT_WIDTH) if note else []
    return "\n".join(out)


def _averages(shown: pd.DataFrame, views: pd.DataFrame) -> list[str]:
    """What averages promise in each shown cell (``not run`` where the views do not say)."""
    by_cell = {(str(r["scenario"]), int(r["point"])): r for r in views.to_dict(orient="records")} if len(views) else {}
    out = []
    for scenario, point in zip(shown["scenario"], shown["point"]):
        r = by_cell.get((str(scenario), int(point)))
        out.append(averages_word(str(r["averages"]), bool(r["variability_only"])) if r else NOT_RUN)
    return out


def _averages_intro(views: pd.DataFrame) -> str:
    """What the "what averages promise" column is, and where it parts company with the share."""
    what = (
        "What averages promise: the plan's criteria applied to one run of the stock-and-flow model of each cell "
        "(expected numbers of patients, no variability), as a planner's averages would judge it."
    )
    return f"{what} {views_sentence(views)}".strip()


def _rows(
    shown: pd.DataFrame, variants: pd.DataFrame, labels: Labels, params: list[str], criteria: int
) -> tuple[list[list[str]], dict[int, str]]:
    """The table's rows and, with sweep values (``params``), each scenario's title line by the
    index of its first row; without them the scenario is the first column."""
    rows: list[list[str]] = []
    titles: dict[int, str] = {}
    previous = None
    for i, r in enumerate(shown.to_dict(orient="records")):
        if params:
            if r["scenario"] != previous:
                total = int((variants["scenario"] == r["scenario"]).sum())
                count = int((shown["scenario"] == r["scenario"]).sum())
                more = f" ({count} of {total} cells shown)" if count < total else ""
                titles[i] = _scenario_name(labels, r["scenario"]) + more
                previous = r["scenario"]
            values = [r[f"param_{p}"] for p in params]
            if all(pd.isna(v) for v in values):  # a scenario the sweep leaves out
                first = ["not swept", *([""] * (len(params) - 1))]
            else:
                first = ["-" if pd.isna(v) else labels.value(p, float(v)) for p, v in zip(params, values)]
        else:
            first = [_scenario_name(labels, r["scenario"])]
        values = [_fmt(r[col], how) for _h, col, how in _COLUMNS]
        rows.append(first + values + ([_holds(r)] if criteria else []))
    return rows, titles


def _with_titles(lines: list[str], head: int, titles: dict[int, str]) -> list[str]:
    """The rendered table's lines with each group's title line before its first row (rows are
    indented by two spaces under the titles)."""
    if not titles:
        return lines
    out = [f"  {x}" for x in lines[:head]]
    for i, line in enumerate(lines[head:]):
        if i in titles:
            out.append(titles[i])
        out.append(f"  {line}")
    return out


def criteria_text(verdicts: pd.DataFrame) -> str:
    """Per criterion (and all of them together): in how many cells it holds in every replication,
    and in how many in none."""
    if verdicts.empty:
        return "(no criteria given: no verdicts)"
    rows = []
    cells = 0
    for label, group in verdicts.groupby("criterion", sort=False):
        share = group["share_holds"]
        cells = len(group)
        rows.append([str(label), str(int((share == 1).sum())), str(int((share == 0).sum()))])
    header = [f"Criterion (of {cells} cells)", "Holds in every\nreplication", "Holds in no\nreplication"]
    return render(rows, header, right={1, 2})
