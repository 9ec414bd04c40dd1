"""What ``hospsim compare-engines`` shows and writes: the KPI table for the terminal, and the
folder with ``compare_kpis.csv``, ``compare_daily.parquet`` and ``compare_engines.png``, written
whole (built beside it, then renamed into place, as a run's results folder is)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..runs.compare import EngineComparison
from ..runs.store import write_csv, write_folder_whole, write_parquet
from .tables import fmt_number, render

KPIS_FILE = "compare_kpis.csv"
DAILY_FILE = "compare_daily.parquet"
FIGURE_FILE = "compare_engines.png"
VARIABILITY_MARK = "*"


def _inside(value: object) -> str:
    """``yes``, ``NO``, or ``n/a`` where the DES has no CI (one replication)."""
    if value is None or value is pd.NA:
        return "n/a"
    return "yes" if bool(value) else "NO"


def compare_text(cmp: EngineComparison) -> str:
    """The KPI table: DES mean and 95% CI, the flow value, whether it lies inside the CI, and a
    mark on the KPIs that only exist under variability; a legend line under it."""
    rows = []
    for r in cmp.kpis.to_dict(orient="records"):
        low, high = float(r["des_ci_low"]), float(r["des_ci_high"])
        ci = "n/a" if math.isnan(low) else f"{fmt_number(low)} .. {fmt_number(high)}"
        mark = VARIABILITY_MARK if r["variability_only"] else ""
        rows.append(
            [
                f"{r['kpi']}{mark}",
                fmt_number(float(r["des_mean"])),
                ci,
                fmt_number(float(r["flow"])),
                _inside(r["flow_inside_ci"]),
            ]
        )
    header = [
        "kpi",
        f"DES mean\n({cmp.des_engine})",
        f"DES 95% CI\n(n={cmp.replications})",
        "flow",
        "flow inside\nDES CI",
    ]
    legend = f"{VARIABILITY_MARK} only exists under variability: the flow engine, having none, sees about 0"
    return render(rows, header, right={1, 2, 3}) + f"\n{legend}"


def write_comparison(cmp: EngineComparison, out_dir: Path) -> list[Path]:
    """Write the comparison folder whole: built in ``.<name>.tmp-<pid>`` beside ``out_dir``, then
    renamed into place (an older folder of that name renamed aside and deleted), under the lock
    ``.<name>.lock``. Returns the files at their final place; a disk problem is a one-line
    :class:`OutputError`, the old folder (if any) unchanged."""
    from .plots import save
    from .plots.compare import compare_figure

    def write(tmp: Path) -> list[Path]:
        return [
            write_csv(tmp / KPIS_FILE, cmp.kpis),
            write_parquet(tmp / DAILY_FILE, cmp.daily),
            save(compare_figure(cmp), tmp / FIGURE_FILE),
        ]

    return write_folder_whole(out_dir, write, "the comparison")
