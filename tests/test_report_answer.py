"""The report's plain answer and its grid, on verdict tables built here: the counts, the holding
and breaking regions in words, which criterion fails first, gating, scenarios not swept, and a
grid that shows every cell once."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd

from hospsim.config.experiment import ALL_CRITERIA
from hospsim.outputs.labels import Labels, months_late, param_value
from hospsim.outputs.report.plain import Gating, failing_first, plain_answer, share_grids
from hospsim.outputs.report.text import param_bound

DELAYS = (0, 183, 365)
GROWTHS = (0.5, 1.0)
CRITERIA = ("bed days down", "occupancy ok", "waits ok")
Shares = Callable[[int, float], dict[str, float]]


def _row(scenario: str, point: int, params: dict, criterion: str, share: float, month: str) -> dict:
    return {
        "scenario": scenario,
        "point": point,
        **{f"param_{k}": v for k, v in params.items()},
        "criterion": criterion,
        "kpi": "",
        "share_holds": share,
        "ci_low": max(0.0, share - 0.2),
        "ci_high": min(1.0, share + 0.2),
        "n": 10,
        "first_breach_month_median": month,
    }


def swept(scenario: str, shares: Shares, month: Callable[[str, int, float], str] | None = None) -> list[dict]:
    """Verdict rows over DELAYS x GROWTHS: ``shares(delay, growth)`` per criterion; all criteria
    hold in the smallest share (as if the failures coincided)."""
    rows = []
    for point, (d, g) in enumerate(itertools.product(DELAYS, GROWTHS)):
        s = shares(d, g)
        for c, share in [*s.items(), (ALL_CRITERIA, min(s.values()))]:
            m = month(c, d, g) if month else ("2018-03" if share < 0.5 else "never")
            rows.append(_row(scenario, point, {"ic_delay_days": d, "ic_growth_achieved": g}, c, share, m))
    return rows


def table(*rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([r for rs in rows for r in rs])


def corner(d: int, g: float) -> dict[str, float]:
    """Holds with IC at most 6 months late and in full; bed days fail when IC is short or a year
    late, waits fail when a year late."""
    bed = 1.0 if g == 1.0 and d <= 183 else 0.0
    return {"bed days down": bed, "occupancy ok": 1.0, "waits ok": 0.2 if d == 365 else 1.0}


def sentences(v: pd.DataFrame, **kw) -> dict[str, list[str]]:
    return {a["scenario"]: a["sentences"] for a in plain_answer(v, **kw)}


def test_counts_holding_region_and_the_criterion_failing_first():
    answer = sentences(table(swept("fixed_date", corner)))
    assert answer == {
        "fixed_date": [
            "the plan holds in 2 of the 6 futures swept, only when intermediate care is at most 6 months late "
            "and intermediate care growth is at least 100% of plan.",
            "It breaks in the other 4, first on \u2018bed days down\u2019 (fails in 4 of 6), then on \u2018waits ok\u2019 (2).",
        ]
    }


def test_breaking_region_and_uncertain_cells():
    def by_delay(d: int, g: float) -> dict[str, float]:
        return {"bed days down": {0: 1.0, 183: 0.7, 365: 0.0}[d], "occupancy ok": 1.0, "waits ok": 1.0}

    assert sentences(table(swept("s", by_delay)))["s"] == [
        "the plan holds in 2 of the 6 futures swept, only when intermediate care is on time.",
        "It breaks in 2, when intermediate care is at least 12 months late, first on \u2018bed days down\u2019 (fails in 2 of 6).",
        "In 2 the answer is uncertain (the plan holds in 50%\u201390% of replications).",
    ]


def test_a_region_that_is_not_a_range_is_only_counted():
    def diagonal(d: int, g: float) -> dict[str, float]:
        ok = (d, g) in ((0, 1.0), (365, 0.5))
        return {"bed days down": 1.0 if ok else 0.0, "occupancy ok": 1.0, "waits ok": 1.0}

    first = sentences(table(swept("s", diagonal)))["s"][0]
    assert first == "the plan holds in 2 of the 6 futures swept."


def test_most_cells_first_then_earliest_breach():
    def shares(d: int, g: float) -> dict[str, float]:
        return {
            "bed days down": 0.0 if d == 0 else 1.0,  # 2 cells, breached late
            "occupancy ok": 0.0 if d == 183 else 1.0,  # 2 cells, breached early
            "waits ok": 0.0 if d > 0 else 1.0,  # 4 cells, breached latest
        }

    months = {"bed days down": "2019-06", "occupancy ok": "2018-04", "waits ok": "2020-01"}
    v = table(swept("s", shares, lambda c, d, g: months.get(c, "never")))
    crit = v[v["criterion"] != ALL_CRITERIA]
    assert failing_first(crit) == [("waits ok", 4), ("occupancy ok", 2), ("bed days down", 2)]
    assert sentences(v)["s"][1] == (
        "It breaks in all of them, first on \u2018waits ok\u2019 (fails in 4 of 6), "
        "then on \u2018occupancy ok\u2019 (2) and \u2018bed days down\u2019 (2)."
    )
    # without breach months, a tie keeps the criteria's order
    no_months = crit.drop(columns="first_breach_month_median")
    assert [c for c, _ in failing_first(no_months)] == ["waits ok", "bed days down", "occupancy ok"]
    # a criterion with no monthly form has "n/a", which pandas reads from verdicts.csv as missing
    missing = crit.assign(
        first_breach_month_median=crit["first_breach_month_median"].where(crit["criterion"] != "occupancy ok", np.nan)
    )
    assert [c for c, _ in failing_first(missing)] == ["waits ok", "bed days down", "occupancy ok"]


def test_nothing_breaks():
    v = table(swept("s", lambda d, g: dict.fromkeys(CRITERIA, 1.0)))
    assert sentences(v) == {"s": ["the plan holds in all 6 futures swept."]}
    (grid,) = share_grids(v)
    assert all(c["fails"] == [] and c["share"] == "100%" for r in grid["rows"] for c in r["cells"])


def test_everything_breaks():
    v = table(swept("s", lambda d, g: {"bed days down": 0.0, "occupancy ok": 0.3, "waits ok": 0.8}))
    assert sentences(v)["s"] == [
        "the plan holds in none of the 6 futures swept.",
        "It breaks in all of them, first on \u2018bed days down\u2019 (fails in 6 of 6), then on \u2018occupancy ok\u2019 (6).",
    ]


def test_breaking_together_but_no_single_criterion_fails():
    rows = swept("s", lambda d, g: dict.fromkeys(CRITERIA, 0.6))
    for r in rows:
        r["share_holds"] = 0.3 if r["criterion"] == ALL_CRITERIA else r["share_holds"]
    assert sentences(table(rows))["s"][1] == (
        "It breaks in all of them, though no single criterion holds in under 50% of replications there: "
        "it is their combination."
    )


def test_gating_sentence():
    v = table(swept("fixed_date", corner), swept("gated", lambda d, g: {**corner(d, g), "waits ok": 1.0}))
    gating = {"gated": Gating("fixed_date", "acute beds", 1 / 3, 332.0)}
    answer = sentences(v, gating=gating)
    assert answer["gated"][-1] == (
        "Against \u2018Fixed date\u2019, which holds in 2 of 6, the gate held back the change to acute beds: it went "
        "ahead in 33% of replications, a median 11 months late, and not before the end in the rest."
    )
    # the experiment's labels name the scenarios, in the sentence and beside it
    named = Labels(given={"fixed_date": "Cut on the planned date", "gated": "Cut when IC is in place"})
    labelled = plain_answer(v, gating, labels=named)
    assert [a["label"] for a in labelled] == ["Cut on the planned date", "Cut when IC is in place"]
    assert labelled[1]["sentences"][-1].startswith("Against \u2018Cut on the planned date\u2019, which holds in 2 of 6")
    assert [g["label"] for g in share_grids(v, labels=named)] == ["Cut on the planned date", "Cut when IC is in place"]
    assert answer["gated"][1] == "It breaks in the other 4, first on \u2018bed days down\u2019 (fails in 4 of 6)."
    assert len(answer["fixed_date"]) == 2  # only the gated scenario gets the sentence
    never = sentences(v, gating={"gated": Gating("fixed_date", "acute beds", 0.0, np.nan)})["gated"][-1]
    assert never.endswith(
        "the gate held back the change to acute beds: it never went ahead, and neither did its savings."
    )
    always = sentences(v, gating={"gated": Gating("fixed_date", "acute beds", 1.0, 0.0)})["gated"][-1]
    assert always.endswith("it went ahead in every replication, on the planned date (median).")


def test_scenarios_not_swept_are_one_sentence_each():
    rows = []
    for scen, shares in {"fixed_date": (0.7, 1.0, 0.3), "gated": (1.0, 1.0, 1.0)}.items():
        for c, s in [*zip(CRITERIA, shares), (ALL_CRITERIA, min(shares))]:
            rows.append(_row(scen, -1, {}, c, s, "n/a"))
    v = pd.DataFrame(rows)
    v.loc[v["criterion"] == ALL_CRITERIA, ["ci_low", "ci_high"]] = [[0.1, 0.6], [0.72, 1.0]]
    assert sentences(v) == {
        "fixed_date": [
            "the plan holds in 30% of replications (95% CI 10% \u2013 60%), failing on \u2018waits ok\u2019 (which holds in 30%)."
        ],
        "gated": ["the plan holds in 100% of replications (95% CI 72% \u2013 100%)."],
    }
    assert share_grids(v) == []  # nothing swept: no grid


def test_grid_shows_every_cell_once_with_its_failures():
    v = table(swept("fixed_date", corner), swept("gated", lambda d, g: dict.fromkeys(CRITERIA, 1.0)))
    grids = share_grids(v, {"ic_delay_days": "plan_delivery.ic_delay_days"})
    assert [g["scenario"] for g in grids] == ["fixed_date", "gated"]
    g = grids[0]
    assert g["columns"] == ["on time", "6 months late", "12 months late"]
    assert g["col_title"] == "intermediate care" and g["row_title"] == "intermediate care growth"
    assert [r["label"] for r in g["rows"]] == ["100% of plan", "50% of plan"]  # highest first, as on the map
    cells = [c for gr in grids for r in gr["rows"] for c in r["cells"]]
    assert sorted((gr["scenario"], c["point"]) for gr in grids for r in gr["rows"] for c in r["cells"]) == sorted(
        itertools.product(["fixed_date", "gated"], range(6))
    )
    assert all(c is not None for c in cells)
    top_right = g["rows"][0]["cells"][2]  # in full, a year late: bed days and waits fail
    assert top_right["fails"] == ["bed days down", "waits ok"] and top_right["share"] == "0%"
    assert g["rows"][0]["cells"][0]["fails"] == [] and g["rows"][0]["cells"][0]["share"] == "100%"


def test_a_sampled_sweep_is_listed_point_by_point():
    rng = np.random.default_rng(1)
    rows = []
    for point in range(5):
        params = {"ic_delay_days": int(rng.integers(0, 730)), "ic_growth_achieved": float(rng.uniform(0.25, 1))}
        for c in (*CRITERIA, ALL_CRITERIA):
            rows.append(_row("s", point, params, c, 1.0 if point % 2 else 0.0, "never"))
    (g,) = share_grids(pd.DataFrame(rows))
    assert g["columns"] == ["holds"] and len(g["rows"]) == 5
    assert [r["cells"][0]["point"] for r in g["rows"]] == list(range(5))
    assert g["rows"][0]["label"].endswith("of plan") and "months late" in g["rows"][0]["label"]


def test_swept_values_in_words():
    assert months_late(0) == "on time" and months_late(365) == "12 months late" and months_late(730) == "24 months late"
    assert months_late(30.4375) == "1 month late" and months_late(45) == "1.5 months late"
    assert months_late(332) == "11 months late" and months_late(float("nan")) == "n/a"
    assert param_value("ic_growth_achieved", 0.75) == "75% of plan"
    assert param_value("late", 365, "plan_delivery.ic_delay_days") == "12 months late"  # by its config path
    assert param_value("beds", 1320.0) == "1,320"
    assert param_bound("beds", None, 1320.0) == "beds is at most 1,320"
    assert param_bound("beds", 1000.0, 1320.0) == "beds is from 1,000 to 1,320"
    assert param_bound("ic_delay_days", 183, None) == "intermediate care is at least 6 months late"
    assert param_bound("ic_growth_achieved", 0.5, 0.5) == "intermediate care growth is 50% of plan"
