"""The README's KPI dictionary, generated from the KPI registry (hospsim/model/kpi_registry.py).

``python tools/kpi_dictionary.py`` prints the section; ``--write`` puts it into README.md in place
of the current one. ``tests/test_readme.py`` checks that the README holds exactly this text.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from hospsim.model import kpi_registry
from hospsim.model.kpi_registry import GROUPS, Kpi

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## KPI dictionary"
# The section: from its heading up to the next second-level heading.
SECTION = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## )", re.S | re.M)

INTRO = """\
Measured per replication over the measurement window (after the warm-up, or the experiment's
window). Counts are totals over the window; "emergencies needing a bed" are emergency arrivals
not diverted to step-up. `S` stands for each community service's name and `P` for each gated
schedule's path with `_` for `.`. The last column says whether an experiment criterion may use
the KPI and, for those computed month by month from the daily table too ("by month"), how: a
sweep reports the first month in which such a criterion is breached.
"""

OUTRO = """\
`summary.csv` gives for each KPI the mean over replications, a 95% t-interval and `n`, the number
of replications in which it was defined. The intervals are the plain t-intervals, not clipped: a
share that is almost always 0 can show a lower bound slightly below 0. Run more replications
(`-r`) to narrow them.

This section is generated from `hospsim/model/kpi_registry.py` by `python tools/kpi_dictionary.py
--write`; edit the registry, not the table.
"""


def criterion_cell(k: Kpi) -> str:
    """Whether a criterion may use ``k``, and its monthly form."""
    if not k.verdict:
        return f"no: {k.not_for_verdicts}"
    if k.monthly is None:
        return "yes"
    return f"yes, by month: {k.monthly.describe()}"


def table(kpis: list[Kpi]) -> str:
    """One markdown table of KPIs."""
    rows = ["| KPI | unit | definition | criterion |", "|---|---|---|---|"]
    rows += [f"| `{k.display_name}` | {k.unit} | {k.description} | {criterion_cell(k)} |" for k in kpis]
    return "\n".join(rows) + "\n"


def render() -> str:
    """The whole KPI dictionary section, heading included, ending with a blank line."""
    parts = [f"{HEADING}\n", INTRO]
    for group, kpis in kpi_registry.by_group().items():
        if kpis:
            parts += [f"**{GROUPS[group]}**\n", table(kpis)]
    parts.append(OUTRO)
    return "\n".join(parts) + "\n"


def readme_section(text: str) -> str:
    """The KPI dictionary section of a README's text."""
    match = SECTION.search(text)
    if match is None:
        raise ValueError(f"no '{HEADING}' section followed by another '## ' heading")
    return match.group(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the section in README.md")
    args = parser.parse_args(argv)
    text = render()
    if not args.write:
        sys.stdout.write(text)
        return 0
    readme = README.read_text()
    README.write_text(readme.replace(readme_section(readme), text, 1))
    print(f"wrote the KPI dictionary into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
