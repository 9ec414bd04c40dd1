"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd


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


def summary_text(summary: pd.DataFrame) -> str:
    """The KPI table: mean and 95% CI per KPI."""
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
