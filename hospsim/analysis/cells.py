"""The per-cell table of a sweep: one row per (scenario, sweep point), the few numbers a planner
reads first, and whether the whole plan holds.

Every number is taken from the functions that make the sweep's other tables, so the cell table
agrees with them to the last digit: bed days as :func:`~.verdicts.paired_differences` gives the
change of the mean from the baseline's, the other KPIs as :func:`~.stats.summarise` gives their
means, and the share of replications in which the whole plan holds as the "all criteria" row of
:func:`~.verdicts.verdict_table`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from ..config.experiment import ALL_CRITERIA, BASELINE, Experiment
from .stats import cell_rows, summarise
from .verdicts import paired_differences, verdict_table

# The bed-day KPIs a plan's saving is measured in, preferred first: bed days demanded (used + the
# stays of patients turned away) cannot be met by turning patients away, bed days used can.
BED_DAY_KPIS = ("bed_days_demanded", "acute_bed_days")
# The KPIs shown as plain means beside the bed days (a KPI this version does not compute is NaN).
MEAN_KPIS = ("mean_occupancy", "waits_over_12h_per_1000", "displaced_bed_days", "p_transferred_out")
# cells.csv columns after ``scenario, point`` and the sweep's ``param_*`` columns.
VALUE_COLUMNS = (
    "n",
    "bed_days_kpi",
    "bed_days_baseline",
    "bed_days_mean",
    "bed_days_change",
    "bed_days_change_ci_low",
    "bed_days_change_ci_high",
    *MEAN_KPIS,
    "share_holds",
    "holds_ci_low",
    "holds_ci_high",
)

# The "all criteria" verdict's columns, as cells.csv names them.
_HOLDS = {"share_holds": "share_holds", "holds_ci_low": "ci_low", "holds_ci_high": "ci_high"}


def bed_days_kpi(exp: Experiment, available: Iterable[str]) -> str | None:
    """The bed-day KPI the table reports: the one a criterion of the experiment tests (the first
    such criterion), else the first of :data:`BED_DAY_KPIS` the runs have; None if they have none."""
    have = set(available)
    for c in exp.criteria:
        if c.kpi in BED_DAY_KPIS and c.kpi in have:
            return c.kpi
    return next((k for k in BED_DAY_KPIS if k in have), None)


def cell_table(exp: Experiment, kpis: pd.DataFrame, verdicts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per cell of ``kpis`` (one row per run), in run order, baseline first: its sweep
    values, the bed-day KPI's baseline and cell means and the relative change with its paired 95%
    CI, the means of :data:`MEAN_KPIS`, and the share of replications in which every criterion
    holds with its Wilson 95% CI (NaN for the baseline, or without criteria). ``verdicts``: the
    experiment's verdict table, if already made (else made here; the share does not depend on the
    monthly values, only first breaches do)."""
    if verdicts is None:
        verdicts = verdict_table(exp, kpis)
    bed_kpi = bed_days_kpi(exp, kpis.columns)
    paired = _paired_bed_days(kpis, bed_kpi)
    holds = _all_criteria(verdicts)
    params = [c for c in kpis.columns if c.startswith("param_")]
    means = [k for k in MEAN_KPIS if k in kpis.columns]
    rows = []
    names = [*means, *([bed_kpi] if bed_kpi else [])]
    for (scenario, point), cell in cell_rows(kpis).items():
        key = (str(scenario), int(point))
        s = summarise(kpis.iloc[cell], names).set_index("kpi")["mean"]
        row = {"scenario": key[0], "point": key[1], **{p: kpis[p].iloc[cell[0]] for p in params}, "n": len(cell)}
        row.update(_bed_days(bed_kpi, s, paired.get(key), key[0] == BASELINE))
        row.update({k: float(s[k]) if k in s else math.nan for k in MEAN_KPIS})
        h = holds.get(key, {})
        row.update({col: float(h.get(src, math.nan)) for col, src in _HOLDS.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=["scenario", "point", *params, *VALUE_COLUMNS])


def _paired_bed_days(kpis: pd.DataFrame, bed_kpi: str | None) -> dict[tuple[str, int], dict]:
    """The bed-day KPI's paired differences from the baseline, by (scenario, point)."""
    if bed_kpi is None or not (kpis["scenario"] == BASELINE).any():
        return {}
    diffs = paired_differences(kpis, [bed_kpi])
    return {(r["scenario"], int(r["point"])): r for r in diffs.to_dict(orient="records")}


def _all_criteria(verdicts: pd.DataFrame) -> dict[tuple[str, int], dict]:
    """The verdicts' "all criteria" rows, by (scenario, point)."""
    if verdicts.empty:
        return {}
    rows = verdicts[verdicts["criterion"] == ALL_CRITERIA]
    return {(r["scenario"], int(r["point"])): r for r in rows.to_dict(orient="records")}


def _bed_days(bed_kpi: str | None, means: pd.Series, paired: dict | None, baseline: bool) -> dict:
    """The bed-day columns of one cell: the change is the paired mean difference over the
    baseline's mean (that is, the change of the mean), its CI the difference's CI over the same."""
    own = float(means[bed_kpi]) if bed_kpi and bed_kpi in means else math.nan
    out = {
        "bed_days_kpi": bed_kpi or "",
        "bed_days_baseline": own if baseline else math.nan,
        "bed_days_mean": own,
        "bed_days_change": math.nan,
        "bed_days_change_ci_low": math.nan,
        "bed_days_change_ci_high": math.nan,
    }
    if paired is not None:
        base = float(paired["baseline_mean"])
        out["bed_days_baseline"] = base
        out["bed_days_change"] = float(paired["relative_change"])
        if base != 0 and math.isfinite(base):
            out["bed_days_change_ci_low"] = float(paired["ci_low"]) / base
            out["bed_days_change_ci_high"] = float(paired["ci_high"]) / base
    return out
