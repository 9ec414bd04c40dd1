"""Does the plan hold? Criteria, paired differences from the baseline, and first breaches.

Scenarios are compared with the baseline replication by replication (same seed, same patients),
so differences are paired and their confidence intervals are much narrower than unpaired ones.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..config.experiment import ALL_CRITERIA, BASELINE, Criterion, Experiment
from ..model import kpi_registry
from .stats import cell_rows, t_interval

# How a cell of a sweep reads: the plan "holds" there when it holds in at least HOLDS of the
# replications, and "breaks" when in fewer than BREAKS (the report's words, the robustness map's line).
HOLDS = 0.9
BREAKS = 0.5


def monthly_table(daily: pd.DataFrame, window: tuple[int, int]) -> pd.DataFrame:
    """Monthly values of the KPIs that have a monthly form (see :mod:`hospsim.model.kpi_registry`)
    over the window's calendar months, one row per month."""
    inside = ((daily["day"] >= window[0]) & (daily["day"] < window[1])).to_numpy()
    forms = kpi_registry.monthly_forms()
    used = {c for _n, f in forms for c in (f.column, f.denominator) if c is not None and c in daily}
    cols = {c: daily[c].to_numpy()[inside] for c in sorted(used | _DERIVED_FROM)}
    # The derived columns that monthly forms may use besides the daily table's own.
    capacity = cols["beds_capacity"]
    cols["emergencies_needing_bed"] = cols["emergency_arrivals"] - cols["admissions_avoided"]
    cols["occupancy_day"] = cols["occupied_beds_mean"] / np.where(capacity > 0, capacity, np.nan)
    cols["bed_days_demanded"] = cols["occupied_beds_mean"] + cols["displaced_bed_days"]
    # Calendar months are runs of days (the days come in order): each sum over a month's run of
    # days with numpy's reduceat - the bits pandas' sorted groupby gives (pandas 3.1 sums that way
    # too), the whole table at a quarter of the cost. A day without a value (NaN) gives its month
    # none, rather than being skipped.
    labels = np.asarray(daily["date"].to_numpy()[inside], dtype="U7")
    starts = np.flatnonzero(np.r_[labels.size > 0, labels[1:] != labels[:-1]])  # none in an empty window
    days = np.diff(np.append(starts, labels.size))

    def month_sums(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts)

    summed = {c for _n, f in forms if f.how in ("sum", "ratio") for c in (f.column, f.denominator) if c is not None}
    sums = {c: month_sums(cols[c]) for c in summed}
    means = {f.column: month_sums(cols[f.column].astype(np.float64)) / days for _n, f in forms if f.how == "mean"}
    out: dict[str, Any] = {"month": labels[starts]}
    for name, form in forms:
        if form.how == "sum":
            out[name] = sums[form.column]
        elif form.how == "mean":
            out[name] = means[form.column]
        elif form.how == "ratio":
            assert form.denominator is not None
            out[name] = form.of_sums(sums[form.column], sums[form.denominator])
        else:
            out[name] = month_sums((cols[form.column] > form.level).astype(np.int64)) / days
    return pd.DataFrame(out)


# The daily columns the derived ones are made of.
_DERIVED_FROM = {
    "beds_capacity",
    "emergency_arrivals",
    "admissions_avoided",
    "occupied_beds_mean",
    "displaced_bed_days",
}


def _compare(c: Criterion, value: np.ndarray, base: np.ndarray) -> np.ndarray:
    if c.compare == "absolute":
        return value
    if c.compare == "difference_from_baseline":
        return value - base
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base != 0, (value - base) / base, np.nan)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (well-behaved at 0 and 1)."""
    return _wilson(int(successes), int(n), float(level))


@lru_cache(maxsize=1024)
def _wilson(successes: int, n: int, level: float) -> tuple[float, float]:
    """:func:`wilson_interval`, once per arguments: a sweep's thousands of verdict rows share a
    few (n replications, 0..n holding), and scipy takes ~0.3 ms each time."""
    from scipy import stats  # lazily: about a second to import, and worker processes never need it

    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def _variants(kpis: pd.DataFrame) -> list[tuple[str, int]]:
    keys = kpis[["scenario", "point"]].drop_duplicates()
    return [(s, int(p)) for s, p in keys.itertuples(index=False) if s != BASELINE]


class _Paired:
    """Each cell's runs and the baseline's, paired by replication, as row positions in the table:
    the table is split into cells once, and each KPI's column read as floats once (filtering or
    indexing a table per cell made a sweep of a thousand cells take seconds)."""

    def __init__(self, kpis: pd.DataFrame) -> None:
        self.kpis = kpis
        self.columns = set(kpis.columns) - {"replication"}  # the KPIs a cell's runs have
        self.replication = kpis["replication"].to_numpy()
        self.base = np.flatnonzero((kpis["scenario"] == BASELINE).to_numpy())
        self.cells = cell_rows(kpis)
        self._floats: dict[str, np.ndarray] = {}

    def __call__(self, scenario: str, point: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the cell's runs and of the baseline's, of the replications both have, in
        replication order."""
        rows = self.cells.get((scenario, point), np.empty(0, dtype=np.intp))
        _common, own, base = np.intersect1d(self.replication[rows], self.replication[self.base], return_indices=True)
        return rows[own], self.base[base]

    def values(self, kpi: str) -> np.ndarray:
        """The KPI's column as floats (all runs)."""
        if kpi not in self._floats:
            self._floats[kpi] = self.kpis[kpi].to_numpy(dtype=float)
        return self._floats[kpi]


def paired_differences(kpis: pd.DataFrame, kpi_names: list[str], level: float = 0.95) -> pd.DataFrame:
    """Per scenario / sweep point and KPI: scenario minus baseline, paired by replication, with a
    t confidence interval; plus the relative change of the means."""
    rows = []
    paired = _Paired(kpis)
    base_means: dict[tuple[str, bytes], float] = {}  # the cells share the baseline's runs
    for scenario, point in _variants(kpis):
        var, base = paired(scenario, point)
        base_key = base.tobytes()
        for k in kpi_names:
            if k not in paired.columns:
                continue
            v = paired.values(k)[var]
            b = paired.values(k)[base]
            mean, low, high, n = t_interval(v - b, level)
            if (k, base_key) not in base_means:
                base_means[k, base_key] = float(np.nanmean(b)) if np.isfinite(b).any() else math.nan
            b_mean = base_means[k, base_key]
            rows.append(
                {
                    "scenario": scenario,
                    "point": point,
                    "kpi": k,
                    "baseline_mean": b_mean,
                    "scenario_mean": float(np.nanmean(v)) if np.isfinite(v).any() else math.nan,
                    "difference": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n": n,
                    "relative_change": mean / b_mean if b_mean not in (0.0,) and not math.isnan(b_mean) else math.nan,
                }
            )
    return pd.DataFrame(rows)


def verdict_table(exp: Experiment, kpis: pd.DataFrame, monthly: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per scenario / sweep point and criterion (and "all criteria"): share of replications in
    which it holds with a Wilson 95% CI, and when it is first breached month by month."""
    rows = []
    months_of = _MonthlyByRun(monthly)
    paired = _Paired(kpis)
    params_of = [c for c in kpis.columns if c.startswith("param_")]
    for scenario, point in _variants(kpis):
        var, base = paired(scenario, point)
        n = var.size
        params = {c[len("param_") :]: kpis[c].iloc[var[0]] for c in params_of} if n else {}
        all_hold = np.ones(n, dtype=bool)
        first_all = np.full(n, np.inf)
        for c in exp.criteria:
            value = _compare(c, paired.values(c.kpi)[var], paired.values(c.kpi)[base])
            holds = c.holds_each(value)
            all_hold &= holds
            first = _first_breach(c, months_of, scenario, point, paired.replication[var])
            first_all = np.minimum(first_all, first[0]) if first is not None else first_all
            rows.append(_row(scenario, point, params, c.label, c.kpi, holds, value, first))
        if exp.criteria:
            months = months_of.months(scenario, point)
            rows.append(
                _row(
                    scenario,
                    point,
                    params,
                    ALL_CRITERIA,
                    "",
                    all_hold,
                    np.full(n, np.nan),
                    (first_all, months) if months is not None else None,
                )
            )
    return pd.DataFrame(rows)


class _MonthlyByRun:
    """The monthly table split once into runs (scenario, point, replication): each run's rows and
    months, and each KPI's column as floats, so that a cell's criterion reads arrays (filtering
    the whole table for every cell and criterion took minutes for a sweep of a thousand cells;
    a table per run, seconds)."""

    def __init__(self, monthly: pd.DataFrame | None) -> None:
        self.monthly = monthly
        self.columns: set[str] = set()
        self.runs: dict[tuple[str, int, int], np.ndarray] = {}  # the run's rows, in table order
        self.baseline_runs: dict[int, np.ndarray] = {}
        self.cell_months: dict[tuple[str, int], list[str]] = {}
        self.month: np.ndarray = np.empty(0, dtype=object)
        self._floats: dict[str, np.ndarray] = {}
        if monthly is None or monthly.empty:
            return
        self.columns = set(monthly.columns)
        self.month = monthly["month"].astype(object).to_numpy()
        keys = [monthly[c].astype(object).to_numpy() for c in ("scenario", "point", "replication")]
        for cell_key, cell in monthly.groupby([keys[0], keys[1]], sort=False):
            scenario, point = cell_key
            self.cell_months[(str(scenario), int(str(point)))] = sorted(cell["month"].unique().tolist())
        run_rows: dict[Any, Any] = monthly.groupby(keys, sort=False).indices
        for (scenario, point, rep), rows in run_rows.items():
            key = (str(scenario), int(str(point)), int(str(rep)))
            self.runs[key] = np.asarray(rows)
            if scenario == BASELINE:
                self.baseline_runs[key[2]] = self.runs[key]

    def has(self, kpi: str) -> bool:
        return kpi in self.columns

    def months(self, scenario: str, point: int) -> list[str] | None:
        """The window's months of a cell, in order (None without a monthly table)."""
        if not self.columns:
            return None
        return self.cell_months.get((scenario, point), [])

    def values(self, kpi: str) -> np.ndarray:
        """The KPI's monthly values (as floats), all runs."""
        if kpi not in self._floats:
            assert self.monthly is not None
            self._floats[kpi] = self.monthly[kpi].to_numpy(dtype=float)
        return self._floats[kpi]

    def run(self, scenario: str, point: int, replication: int) -> np.ndarray | None:
        """The run's rows (None: no such run)."""
        return self.runs.get((scenario, point, replication))

    def baseline(self, replication: int) -> np.ndarray | None:
        """The baseline run's rows (None: no such run)."""
        return self.baseline_runs.get(replication)


def _row(scenario, point, params, label, kpi, holds, value, first) -> dict:
    n = int(holds.size)
    k = int(holds.sum())
    low, high = wilson_interval(k, n)
    row = {
        "scenario": scenario,
        "point": point,
        **{f"param_{p}": v for p, v in params.items()},
        "criterion": label,
        "kpi": kpi,
        "share_holds": k / n if n else math.nan,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "value_mean": float(np.nanmean(value)) if np.isfinite(value).any() else math.nan,
    }
    if first is None:
        row["share_breached_in_some_month"] = math.nan
        row["first_breach_month_median"] = "n/a"
    else:
        idx, months = first
        row["share_breached_in_some_month"] = float(np.mean(np.isfinite(idx))) if idx.size else math.nan
        med = np.median(idx) if idx.size else np.inf  # inf when most replications never breach
        row["first_breach_month_median"] = months[int(med)] if np.isfinite(med) else "never"
    return row


def _baseline_values(
    months_of: _MonthlyByRun, column: np.ndarray, base_rows: np.ndarray | None, run_months: np.ndarray
) -> np.ndarray:
    """The baseline run's values of ``column`` in the months ``run_months`` (NaN where it has none)."""
    if base_rows is None:
        return np.full(run_months.size, np.nan)
    base_months = months_of.month[base_rows]
    if np.array_equal(base_months, run_months):
        return column[base_rows]
    by_month = dict(zip(base_months.tolist(), column[base_rows].tolist(), strict=True))
    return np.array([by_month.get(m, np.nan) for m in run_months.tolist()], dtype=float)


def _first_breach(
    c: Criterion, months_of: _MonthlyByRun, scenario: str, point: int, replications: np.ndarray
) -> tuple[np.ndarray, list[str]] | None:
    """Index (into the window's months) of the first month each replication breaches ``c``
    (inf if never), computed on monthly values; None when the KPI has no monthly form."""
    months = months_of.months(scenario, point)
    if months is None or not months_of.has(c.kpi):
        return None
    pos = {m: i for i, m in enumerate(months)}
    out = np.full(len(replications), np.inf)
    column = months_of.values(c.kpi)
    for j, r in enumerate(replications):
        rows, base_rows = months_of.run(scenario, point, int(r)), months_of.baseline(int(r))
        if rows is None:
            continue
        run_months = months_of.month[rows]
        value = _compare(c, column[rows], _baseline_values(months_of, column, base_rows, run_months))
        breached = ~c.holds_each(value)
        if breached.any():
            out[j] = pos[run_months[int(np.argmax(breached))]]
    return out, months


# ---------------------------------------------------------------------------------------------
# What averages promise: the plan's criteria on one run of the flow (stock-and-flow) engine per
# cell, beside the share of replications in which the plan holds.

NOT_RUN = "not run"  # a sweep without flow runs (``--no-flow``, or a folder of an older hospsim)
OVERPROMISE = "averages hold, replications break"  # the averages say the plan holds; it holds in < BREAKS
UNDERPROMISE = "averages fail, replications hold"  # the averages say it fails; it holds in >= HOLDS


def flow_verdict_table(
    exp: Experiment, flow_kpis: pd.DataFrame, variability_kpis: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """Per scenario / sweep point and criterion (and "all criteria"): whether the criterion holds
    on the flow engine's KPIs of the cell (``flow_kpis``: one row per cell, baseline included;
    relative criteria compare with the flow run of the baseline) - what averages promise.

    ``variability_only``: the criterion's KPI only has a meaning under variability
    (``variability_kpis``), so the flow's verdict on it says nothing; on the "all criteria" row,
    the verdict rests on such a criterion (it holds with one among the criteria, or fails only on
    such ones). Holding needs no monthly values: like :func:`verdict_table`'s share, it is judged
    on the KPIs over the window."""
    params = [c for c in flow_kpis.columns if c.startswith("param_")]
    columns = ["scenario", "point", *params, "criterion", "kpi", "flow_value", "flow_holds", "variability_only"]
    base = flow_kpis[flow_kpis["scenario"] == BASELINE]
    base_row = base.iloc[0].to_dict() if len(base) else {}
    rows = []
    for cell in flow_kpis.to_dict(orient="records"):
        if cell["scenario"] == BASELINE or not exp.criteria:
            continue
        ident = {"scenario": str(cell["scenario"]), "point": int(cell["point"]), **{p: cell[p] for p in params}}
        held, blind = [], []
        for c in exp.criteria:
            value = _compare(c, np.array([_kpi(cell, c.kpi)]), np.array([_kpi(base_row, c.kpi)]))[0]
            held.append(c.holds(float(value)))
            blind.append(c.kpi in variability_kpis)
            rows.append({**ident, "criterion": c.label, "kpi": c.kpi, "flow_value": float(value)})
            rows[-1].update(flow_holds=held[-1], variability_only=blind[-1])
        holds = all(held)
        rests = any(blind) if holds else all(b for h, b in zip(held, blind) if not h)
        rows.append({**ident, "criterion": ALL_CRITERIA, "kpi": "", "flow_value": math.nan})
        rows[-1].update(flow_holds=holds, variability_only=rests)
    return pd.DataFrame(rows, columns=columns)


def _kpi(row: dict, name: str) -> float:
    value = row.get(name, math.nan)
    return math.nan if value is None else float(value)


def views_side_by_side(verdicts: pd.DataFrame, flow_verdicts: pd.DataFrame | None) -> pd.DataFrame:
    """One row per cell with criteria: the share of replications in which the whole plan holds
    (with its CI) beside what averages promise (``averages``: ``holds``, ``fails`` or
    :data:`NOT_RUN` when ``flow_verdicts`` is None), whether that rests on a KPI that only exists
    under variability, and where the two views part company (``disagreement``:
    :data:`OVERPROMISE`, :data:`UNDERPROMISE` or empty)."""
    if verdicts is None or verdicts.empty:
        return pd.DataFrame()
    des = verdicts[verdicts["criterion"] == ALL_CRITERIA]
    keep = ["scenario", "point", *[c for c in des.columns if c.startswith("param_")]]
    out = des[[*keep, "share_holds", "ci_low", "ci_high", "n"]].reset_index(drop=True)
    flow_rows: dict[tuple[str, int], dict] = {}
    if flow_verdicts is not None and not flow_verdicts.empty:
        f = flow_verdicts[flow_verdicts["criterion"] == ALL_CRITERIA]
        flow_rows = {(str(r["scenario"]), int(r["point"])): r for r in f.to_dict(orient="records")}
    averages, blind, parts = [], [], []
    for scenario, point, share in zip(out["scenario"], out["point"], out["share_holds"]):
        r = flow_rows.get((str(scenario), int(point)))
        if flow_verdicts is None or r is None:
            averages.append(NOT_RUN)
            blind.append(False)
            parts.append("")
            continue
        averages.append("holds" if r["flow_holds"] else "fails")
        blind.append(bool(r["variability_only"]))
        if r["flow_holds"] and share < BREAKS:
            parts.append(OVERPROMISE)
        elif not r["flow_holds"] and share >= HOLDS:
            parts.append(UNDERPROMISE)
        else:
            parts.append("")
    return out.assign(averages=averages, variability_only=blind, disagreement=parts)
