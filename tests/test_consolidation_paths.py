"""The faster paths of a sweep's consolidation give the numbers of the plain ones, to the bit:
criteria judged on arrays, summaries of many cells without a table per cell, and runs paired
with the baseline by replication through row positions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hospsim.analysis.stats import summarise, summarise_groups, t_interval
from hospsim.analysis.verdicts import paired_differences, wilson_interval
from hospsim.config.experiment import Criterion

EDGES = [math.nan, -math.inf, math.inf, -1.0, 0.0, -0.0, 0.05, np.nextafter(0.05, 1.0), np.nextafter(0.05, 0.0), 7.0]


@pytest.mark.parametrize("bound", [{"at_most": 0.05}, {"at_least": 0.05}])
def test_holds_on_arrays_is_holds_value_by_value(bound: dict[str, float]) -> None:
    c = Criterion(kpi="k", **bound)
    got = c.holds_each(np.array(EDGES))
    assert got.dtype == bool
    assert got.tolist() == [c.holds(float(x)) for x in EDGES]
    assert not got[0]  # NaN never holds


def test_wilson_interval_cached_is_the_same_interval() -> None:
    first = wilson_interval(7, 10)
    assert wilson_interval(np.int64(7), 10) == first
    assert first[0] == pytest.approx(0.3968, abs=1e-4) and first[1] == pytest.approx(0.8922, abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def _old_summary(kpis: pd.DataFrame, kpi_cols: list[str], id_cols: list[str]) -> pd.DataFrame:
    """The summary as sweeps made it before :func:`summarise_groups`: a table per cell."""
    frames = []
    for _key, group in kpis.groupby(["scenario", "point"], sort=False):
        s = summarise(group, [c for c in kpi_cols if group[c].notna().any()])
        for col in reversed(id_cols):
            s.insert(0, col, group[col].iloc[0])
        frames.append(s)
    return pd.concat(frames, ignore_index=True)


def _kpis() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    cells = [("baseline", -1, 0.0, 400), ("gated", 0, 0.25, 410), ("gated", 1, 0.5, 420), ("cut", -1, math.nan, 430)]
    rows = []
    for scenario, point, growth, places in cells:
        for rep in (0, 1, 2) if scenario == "baseline" else (2, 0, 1):  # cells not in replication order
            rows.append(
                {
                    "run_id": f"{scenario}#p{point}#r{rep}",
                    "scenario": scenario,
                    "point": point,
                    "param_growth": growth,
                    "param_places": places,
                    "replication": rep,
                    "a": float(rng.normal(100.0, 3.0)),
                    "b": math.nan if scenario == "cut" else float(rng.normal()),  # no value in a cell
                    "c": int(rng.integers(0, 50)),
                    "d": None if rep == 1 else float(rng.random()),  # None in some runs
                }
            )
    return pd.DataFrame(rows)


def test_summarise_groups_is_the_summary_cell_by_cell() -> None:
    kpis = _kpis()
    ids = ["scenario", "point", "param_growth", "param_places"]
    names = ["a", "b", "c", "d"]
    new = summarise_groups(kpis, kpis.groupby(["scenario", "point"], sort=False).indices.values(), names, ids)
    old = _old_summary(kpis, names, ids)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new.to_csv(index=False, float_format="%.10g") == old.to_csv(index=False, float_format="%.10g")
    assert len(new) == 4 * 4 - 1  # "b" has no value in the "cut" cell
    gated = new[(new["point"] == 1) & (new["kpi"] == "a")].iloc[0]
    values = kpis[(kpis["point"] == 1)]["a"].to_numpy()
    assert gated["mean"] == t_interval(values)[0] and gated["n"] == 3


def test_paired_differences_pair_by_replication() -> None:
    kpis = _kpis()
    kpis = kpis[~((kpis["scenario"] == "gated") & (kpis["point"] == 0) & (kpis["replication"] == 1))]  # a run missing
    out = paired_differences(kpis, ["a", "d"])
    assert out[["scenario", "point"]].drop_duplicates().values.tolist() == [["gated", 0], ["gated", 1], ["cut", -1]]
    row = out[(out["point"] == 0) & (out["kpi"] == "a")].iloc[0]
    base = kpis[kpis["scenario"] == "baseline"].set_index("replication")["a"]
    cell = kpis[(kpis["scenario"] == "gated") & (kpis["point"] == 0)].set_index("replication")["a"]
    diffs = np.array([cell[0] - base[0], cell[2] - base[2]])  # replications 0 and 2, in that order
    mean, low, high, _n = t_interval(diffs)
    assert (row["difference"], row["ci_low"], row["ci_high"], row["n"]) == (mean, low, high, 2)
    assert row["baseline_mean"] == float(np.nanmean([base[0], base[2]]))
    d = out[(out["point"] == 1) & (out["kpi"] == "d")].iloc[0]
    assert d["n"] == 2  # replication 1 has no value of d
