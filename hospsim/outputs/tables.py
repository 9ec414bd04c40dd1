"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from pydantic import ValidationError

from ..analysis.verdicts import (
    ALL_CRITERIA,
    BREAKS,
    HOLDS,
    NOT_RUN,
    OVERPROMISE,
    UNDERPROMISE,
    flow_verdict_table,
    views_side_by_side,
)
from ..config.experiment import Criterion, Experiment
from ..runs.errors import ResultsError
from ..runs.flow_cells import DES_ENGINES
from ..runs.results import Results


def fmt_number(x: float) -> str:
    """A readable number: thousands separators for big ones, 3-4 significant digits for small."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    ax = abs(x)
    if float(x).is_integer() and ax < 1e15:
        return f"{int(x):,}"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.1f}"
    if ax >= 1 or ax == 0:
        return f"{x:.3g}" if ax < 10 else f"{x:.2f}"
    return f"{x:.3g}" if ax >= 0.001 else f"{x:.2e}"


def render(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> str:
    """Align ``rows`` under ``header``; columns in ``right`` are right-aligned. A heading with
    line breaks (``"12-h waits\\nper 1,000"``) takes as many lines, aligned at the bottom."""
    right = right or set()
    heads = [h.split("\n") for h in header]
    depth = max((len(h) for h in heads), default=1)
    head_lines = [[""] * (depth - len(h)) + h for h in heads]
    widths = [max(len(x) for x in [*head_lines[i], *(r[i] for r in rows)]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    top = [line([h[k] for h in head_lines]) for k in range(depth)]
    return "\n".join([*top, rule, *(line(r) for r in rows)])


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) else f"{fmt_number(low)} .. {fmt_number(high)}"


def accounting_line(final_states: Mapping[str, float]) -> str:
    """One line: every emergency and referral of the run, in exactly one end state (counts; the
    flow engine's expected numbers, floats, are shown to one decimal)."""
    total = sum(final_states.values())
    if all(isinstance(n, int) for n in final_states.values()):
        parts = " + ".join(f"{n:,} {state}" for state, n in final_states.items() if n)
        return (
            f"\nall {total:,} patients accounted for (emergencies and elective referrals, every replication): {parts}"
        )
    parts = " + ".join(f"{n:,.1f} {state}" for state, n in final_states.items() if round(n, 1))
    return f"\nall {total:,.1f} expected patients accounted for (emergencies and elective referrals): {parts}"


def summary_text(summary: pd.DataFrame, flow_variability: frozenset[str] | None = None) -> str:
    """The KPI table: mean and 95% CI per KPI; of a flow run (``flow_variability``: the KPIs
    that only exist under variability), its value per KPI, those marked."""
    if flow_variability is not None:
        marked = [
            [f"{r['kpi']}*" if r["kpi"] in flow_variability else str(r["kpi"]), fmt_number(float(r["mean"]))]
            for r in summary.to_dict(orient="records")
        ]
        note = "* only exists under variability: the flow engine, having none, sees about 0"
        return render(marked, ["kpi", "flow value"], right={1}) + "\n" + note
    rows = [
        [str(r["kpi"]), fmt_number(float(r["mean"])), _interval(float(r["ci_low"]), float(r["ci_high"]))]
        for r in summary.to_dict(orient="records")
    ]
    n = int(summary["n"].max()) if len(summary) else 0
    return render(rows, ["kpi", "mean", f"95% CI (n={n})"], right={1, 2})


def calibration_text(table: pd.DataFrame) -> str:
    """Target band vs simulated mean and CI."""
    rows = [
        [
            str(r["quantity"]),
            f"{fmt_number(float(r['target_low']))} .. {fmt_number(float(r['target_high']))}",
            fmt_number(float(r["simulated_mean"])),
            _interval(float(r["ci_low"]), float(r["ci_high"])),
            "yes" if r["met"] else "NO",
        ]
        for r in table.to_dict(orient="records")
    ]
    return render(rows, ["quantity", "target", "simulated", "95% CI", "met"], right={1, 2, 3})


# --- what averages promise (the flow engine's verdict), beside the replications' -------------

AVERAGES_MARK = "*"  # a flow verdict that rests on a KPI that only exists under variability


def flow_verdicts_of(res: Results) -> pd.DataFrame | None:
    """A sweep's flow verdicts (:func:`~hospsim.analysis.verdicts.flow_verdict_table` of its flow
    table); None when the folder has no flow table (``--no-flow``, an older folder, a run). Only
    the experiment's criteria are read from the manifest (validated one by one, as the report
    reads them)."""
    if not res.is_sweep or res.flow is None:
        return None
    try:
        criteria = [Criterion.model_validate(c) for c in res.experiment.get("criteria") or []]
    except ValidationError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResultsError(f"{res.path}: unusable criteria in its manifest ({first})") from None
    exp = Experiment.model_construct(criteria=criteria)  # the criteria are all the verdicts use
    return flow_verdict_table(exp, res.flow.table, res.flow.variability_kpis)


def views_of(res: Results) -> pd.DataFrame:
    """The share of replications in which the plan holds beside what averages promise, per cell
    (:func:`~hospsim.analysis.verdicts.views_side_by_side`); empty without criteria."""
    if res.verdicts is None or res.manifest.get("engine", "simpy") not in DES_ENGINES:
        return pd.DataFrame()  # a flow sweep's cells are the averages themselves
    return views_side_by_side(res.verdicts, flow_verdicts_of(res))


def averages_word(word: str, variability_only: bool) -> str:
    """What averages promise in a cell (``holds``, ``fails``, ``not run``), marked with
    :data:`AVERAGES_MARK` when it rests on a KPI that only exists under variability."""
    return f"{word}{AVERAGES_MARK}" if variability_only and word in ("holds", "fails") else word


def views_sentence(side: pd.DataFrame) -> str:
    """Where the averages and the replications part company, in a sentence or two (``side``: as
    :func:`hospsim.analysis.verdicts.views_side_by_side` makes it); empty without criteria."""
    if side is None or side.empty:
        return ""
    ran = side[side["averages"] != NOT_RUN]
    if ran.empty:
        return (
            "What averages promise was not worked out for this sweep (no flow run per cell: "
            "swept with --no-flow, or by a hospsim without the flow engine)."
        )
    n = len(ran)
    over = int((ran["disagreement"] == OVERPROMISE).sum())
    under = int((ran["disagreement"] == UNDERPROMISE).sum())
    half, most = f"{100 * BREAKS:.0f}%", f"{100 * HOLDS:.0f}%"
    parts = []
    if over:
        held = "fewer than half" if BREAKS == 0.5 else f"under {half}"
        parts.append(
            f"In {over} of {n} cells the averages say the plan holds but it holds in {held} of the replications."
        )
    if under:
        parts.append(
            f"In {under} of {n} cells the averages say the plan fails but it holds in at least {most} of the replications."
        )
    if not parts:
        parts.append(
            f"In none of the {n} cells do the two views part company: nowhere do the averages say the plan holds "
            f"while it holds in under {half} of the replications, or say it fails while it holds in {most} or more."
        )
    return " ".join(parts)


def variability_note(flow_verdicts: pd.DataFrame | None, kpi_words: dict[str, str] | None = None) -> str:
    """The footnote of :data:`AVERAGES_MARK`: which criteria are on KPIs that only exist under
    variability (``kpi_words``: KPI name -> display name); empty when none is."""
    if flow_verdicts is None or flow_verdicts.empty:
        return ""
    blind = flow_verdicts[(flow_verdicts["criterion"] != ALL_CRITERIA) & flow_verdicts["variability_only"].astype(bool)]
    kpis = list(dict.fromkeys(str(k) for k in blind["kpi"]))
    if not kpis:
        return ""
    words = [_lower_first((kpi_words or {}).get(k, k)) for k in kpis]
    named = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    verb = "exists" if len(words) == 1 else "exist"
    return (
        f"{AVERAGES_MARK} The averages' verdict rests on {named}, which only {verb} under variability: the flow "
        "model sees (almost) none, so its verdict on such a criterion says nothing about the plan."
    )


def _lower_first(text: str) -> str:
    """A display name inside a sentence (``Waits over 12 h`` -> ``waits over 12 h``)."""
    return text[:1].lower() + text[1:]
