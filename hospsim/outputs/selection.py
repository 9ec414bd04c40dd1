"""Choosing what to show of a results folder (``--scenario``, ``--point``) and naming it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..config.experiment import BASELINE
from ..runs.results import Cell, Results, on_time_point, points, scenarios
from .errors import OptionError
from .tables import fmt_number


def params_text(params: dict[str, Any]) -> str:
    """Sweep values as ``name=value, ...``."""
    return ", ".join(f"{k}={fmt_number(v)}" for k, v in params.items())


def cell_label(cell: Cell) -> str:
    """A cell's name in figures and tables: its scenario, and its sweep values if any."""
    if not cell.params:
        return cell.scenario
    return f"{cell.scenario} at {params_text(cell.params)}"


def select_cells(res: Results, scenario: Iterable[str] | None = None, point: int | None = None) -> list[Cell]:
    """The cells to draw: for a run, its one config; for a sweep, the baseline and each scenario
    (or those named) at sweep point ``point`` (default: :func:`on_time_point`)."""
    if not res.is_sweep:
        return list(res.cells)
    names = scenarios(res)
    chosen = list(dict.fromkeys(scenario or [])) or names
    for s in chosen:
        if s not in names and s != BASELINE:
            raise OptionError(f"--scenario {s}: no such scenario in {res.path} (scenarios: {', '.join(names)})")
    pts = points(res)
    if point is not None and point not in pts:
        known = "; ".join(f"{i}: {params_text(v)}" for i, v in pts.items()) or "none (nothing is swept)"
        raise OptionError(f"--point {point}: no such sweep point in {res.path} (points: {known})")
    at = on_time_point(res) if point is None else point
    out = [res.cell(BASELINE)]
    for s in chosen:
        if s == BASELINE:
            continue
        swept = [c for c in res.cells if c.scenario == s and c.point >= 0]
        out.append(next(c for c in swept if c.point == at) if swept else res.cell(s))
    return out
