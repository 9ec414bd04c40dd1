"""Numbers, dates and plans in words, for the report (plain text: the templates escape it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ...config import Group, PathwayChange
from ...config.dates import counting_from
from ...config.distributions import Empirical, Gamma, Lognormal
from ...config.schedules import Condition, Schedule
from ..labels import param_words, percent
from ..tables import fmt_number


def pct(x: Any, digits: int = 0) -> str:
    """A share as a percentage with ``digits`` decimals (``n/a`` if missing)."""
    return percent(x, digits)


def num(x: Any) -> str:
    """A number, readably (see :func:`~hospsim.outputs.tables.fmt_number`); other values as text."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return fmt_number(v)


def ci(lo: Any, hi: Any, fmt: Callable[[Any], str] = num) -> str:
    """A confidence interval ``lo – hi`` (``n/a`` if either end is missing)."""
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "n/a"
    return f"{fmt(lo)} \u2013 {fmt(hi)}"


def date(start: Any, day: float) -> str:
    """The calendar date of simulation day ``day``."""
    return str(np.datetime64(str(start), "D") + int(day))


def day_words(start: Any, day: float) -> str:
    """The calendar date of simulation day ``day`` as a reader writes it, e.g. ``7 Jul 2017``."""
    d = pd.Timestamp(date(start, day))
    return f"{d.day} {d.strftime('%b %Y')}"


def cell_name(row: pd.Series | dict, params: list[str]) -> str:
    """Sweep values of a verdict row (``param_<name>`` columns) as ``name=value, ...``."""
    vals = [f"{p[len('param_') :]}={fmt_number(float(row[p]))}" for p in params if pd.notna(row[p])]
    return ", ".join(vals) if vals else "(not swept)"


# ---------------------------------------------------------------------------------------------
# Swept values in words


def param_bound(name: str, low: float | None, high: float | None, path: str | None = None) -> str:
    """A range of a swept parameter in words (``None``: unbounded on that side), e.g.
    ``intermediate care is at most 6 months late``."""
    subject, fmt = param_words(name, path)
    if low is not None and high is not None:
        return f"{subject} is {fmt(low)}" if low == high else f"{subject} is from {fmt(low)} to {fmt(high)}"
    if high is not None:
        text = fmt(high)
        return f"{subject} is {text}" if text == "on time" else f"{subject} is at most {text}"
    assert low is not None  # a bound has at least one side
    return f"{subject} is at least {fmt(low)}"


# ---------------------------------------------------------------------------------------------
# Plans in words


def _condition(c: Condition) -> str:
    if c.service_capacity_at_least is not None:
        s = c.service_capacity_at_least
        return f"{s.service} has at least {num(s.places)} places"
    if c.occupancy_at_most is not None:
        o = c.occupancy_at_most
        return f"acute occupancy over the last {o.days} days is at most {pct(o.occupancy)}"
    d = c.delayed_patients_at_most
    assert d is not None  # a condition is exactly one kind
    return f"delayed-transfer patients over the last {d.days} days average at most {num(d.patients)}"


def describe_gate(gate: Any) -> str:
    """A gate (one condition or a list, validated or as written) in words."""
    parts = []
    for c in gate if isinstance(gate, list) else [gate]:
        try:
            parts.append(_condition(c if isinstance(c, Condition) else Condition.model_validate(c)))
        except ValidationError:
            parts.append(json.dumps(c) if isinstance(c, dict) else str(c))
    return " and ".join(parts)


def as_schedule(spec: Any) -> Schedule | None:
    """``spec`` as a :class:`Schedule` (validated as a config's would be), or None if it is not one."""
    if isinstance(spec, Schedule):
        return spec
    try:
        return Schedule.model_validate(spec)
    except ValidationError:
        return None


def describe_schedule(spec: Any, start_date: str | None = None, unit: str = "") -> str:
    """A schedule (constant, steps, ramp, optionally gated; a :class:`Schedule` or as written) in words."""
    if spec is None:
        return "none"
    with counting_from(start_date):  # days written as dates count from it
        s = as_schedule(spec)
    if s is None:  # not a schedule (a mix, a name): as written
        return json.dumps(spec) if isinstance(spec, dict) else str(spec)
    u = f" {unit}" if unit else ""

    def day(d: int) -> str:
        return f"day {int(d)} ({date(start_date, d)})" if start_date else f"day {int(d)}"

    if s.constant is not None:
        text = f"{num(s.constant)}{u}"
    elif s.steps is not None:
        text = f"{num(s.steps[0][1])}{u}" + "".join(f", then {num(v)}{u} from {day(d)}" for d, v in s.steps[1:])
    else:
        r = s.ramp
        assert r is not None  # a schedule is exactly one kind
        if r.duration_days == 0:
            text = f"{num(r.from_value)}{u}, then {num(r.to)}{u} from {day(r.start_day)}"
        else:
            text = (
                f"{num(r.from_value)}{u}, changing linearly to {num(r.to)}{u} over {r.duration_days} days "
                f"from {day(r.start_day)}"
            )
    if s.gate:
        text += f"; held until {describe_gate(s.gate)} (checked each midnight)"
    return text


def describe_los(d: Any) -> str:
    """A length-of-stay distribution in words."""
    if d is None:
        return "none"
    if isinstance(d, Empirical):
        return f"empirical, {len(d.values_days)} values (mean {num(d.mean_days)} days)"
    if isinstance(d, (Lognormal, Gamma)):
        return f"{d.dist}, mean {num(d.mean_days)} days, CV {num(d.cv)}"
    return f"{d.dist}, mean {num(d.mean_days)} days"


def describe_mix(m: dict[str, float] | None) -> str:
    """A discharge-pathway mix, e.g. ``home 60%, rehab 40%``."""
    if not m:
        return "home 100%"
    return ", ".join(f"{k} {pct(float(v), 1 if 100 * float(v) % 1 else 0)}" for k, v in m.items())


def describe_pathway_change(change: Any, start_date: str | None = None, group: Group | None = None) -> str:
    """A plan's shift of a group's pathway mix (a :class:`PathwayChange` or as written) in words,
    starting from the group's mix when ``group`` is given."""
    try:
        with counting_from(start_date):  # days written as dates count from it
            ch = change if isinstance(change, PathwayChange) else PathwayChange.model_validate(change)
    except ValidationError:
        return json.dumps(change) if isinstance(change, dict) else str(change)
    when = f"day {ch.start_day}" + (f" ({date(start_date, ch.start_day)})" if start_date else "")
    text = f"shifting to {describe_mix(ch.to)} over {ch.duration_days} days from {when}"
    if group is not None:
        text = f"{describe_mix(group.pathways)}, {text}"
    if ch.gate:
        text += f"; held until {describe_gate(ch.gate)} (checked each midnight)"
    return text


def describe_override(path: str, value: Any, start_date: str | None = None) -> str:
    """A scenario's change to one config path, in words."""
    if path.endswith(".pathways_change") and isinstance(value, dict):
        return describe_pathway_change(value, start_date)
    return describe_schedule(value, start_date)
