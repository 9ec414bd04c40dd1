"""Display names and units: how scenarios, sweep parameters, services and KPIs read in the report,
the figures and the console, instead of their code names.

A name reads as the experiment's ``labels`` give it (``labels: {fixed_date: "Cut on the planned
date"}``); otherwise a KPI reads as the KPI registry labels it, a swept parameter as the words
it has (``ic_delay_days`` → "intermediate care", its values as "12 months late"), and any other
code name with its underscores as spaces ("home_support" → "Home support").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config.experiment import BASELINE
from ..model import kpi_registry
from .tables import fmt_number

MONTH_DAYS = 365.25 / 12


def humanise(code: str) -> str:
    """A code name in words: ``home_support`` → ``Home support``."""
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def percent(share: Any, digits: int | None = None) -> str:
    """A share (0–1) as a percentage a person reads: ``0.42`` → ``42%``, ``0.0123`` → ``1.2%``,
    ``0.000182`` → ``0.018%`` (two significant digits below 1%); ``n/a`` if missing."""
    try:
        x = 100 * float(share)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(x):
        return "n/a"
    if digits is None:
        if x == 0 or abs(x) >= 10:
            digits = 0
        elif abs(x) >= 1:
            digits = 1
        else:
            digits = min(6, 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{digits}f}%"


def months_late(days: float) -> str:
    """A delay in days as months late (``on time`` for none), e.g. ``12 months late``."""
    if not math.isfinite(days):
        return "n/a"
    if days <= 0:
        return "on time"
    m = days / MONTH_DAYS
    text = f"{round(m)}" if m >= 2 or abs(m - round(m)) < 0.05 else f"{m:.1f}"  # whole months past a few
    return f"{text} month{'' if text == '1' else 's'} late"


def _of_plan(share: float) -> str:
    return f"{percent(share)} of plan"


def _number(x: float) -> str:
    return fmt_number(float(x))


# Parameters a reader knows in other units than the config's, by the last part of their config
# path (or their sweep name): the subject a sentence names and how a value reads.
PARAM_WORDS: dict[str, tuple[str, Callable[[float], str]]] = {
    "ic_delay_days": ("intermediate care", months_late),
    "ic_growth_achieved": ("intermediate care growth", _of_plan),
}


def param_words(name: str, path: str | None = None) -> tuple[str, Callable[[float], str]]:
    """How a swept parameter reads: its subject and a formatter of its values (the name and a
    plain number when it has no words of its own)."""
    key = (path or name).rsplit(".", 1)[-1]
    return PARAM_WORDS.get(key) or PARAM_WORDS.get(name) or (name, _number)


def param_value(name: str, value: float, path: str | None = None) -> str:
    """A swept value in the unit a reader knows, e.g. ``12 months late``, ``50% of plan``."""
    return param_words(name, path)[1](float(value))


# How a KPI's registry unit reads after a number, and how its values are formatted.
_SHARE_UNITS = ("share 0–1", "share of days 0–1")
UNIT_WORDS = {
    "share 0–1": "%",
    "share of days 0–1": "% of days",
    "per 1,000": "per 1,000",
    "0/1": "share of replications",
    "£": "£",
}


def unit_words(unit: str) -> str:
    """A registry unit as a reader sees it beside a number (``share 0–1`` → ``%``)."""
    return UNIT_WORDS.get(unit, unit)


def kpi_unit(name: str) -> str:
    """The KPI's unit in words ("" if this version does not know the KPI)."""
    ref = kpi_registry.find(name)
    return unit_words(ref.unit) if ref else ""


def _finite(value: Any) -> float | str:
    """``value`` as a finite float, or the text to show instead: itself when it is not a number,
    ``n/a`` when it is NaN or infinite."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return v if math.isfinite(v) else "n/a"


def kpi_value(name: str, value: Any, with_unit: bool = False) -> str:
    """A KPI value as a person reads it: shares as percentages, counts with thousands
    separators, money with £; ``with_unit`` adds the unit (``3.2 days``, ``1.8 per 1,000``)."""
    v = _finite(value)
    if isinstance(v, str):
        return v
    ref = kpi_registry.find(name)
    unit = ref.unit if ref else ""
    if unit in _SHARE_UNITS:
        return percent(v) + (" of days" if with_unit and unit == "share of days 0–1" else "")
    if unit == "£":
        return f"£{fmt_number(v)}"
    if unit == "day number":
        return f"day {fmt_number(v)}"
    text = plain_number(v)  # never e-notation: 0.00069, not 6.87e-04
    return f"{text} {unit_words(unit)}" if with_unit and unit and unit != "0/1" else text


@dataclass(frozen=True)
class Labels:
    """Display names for one experiment (or run): ``given`` are the experiment's ``labels``,
    ``paths`` map each sweep parameter to its config path (for the words of its values)."""

    given: Mapping[str, str] = field(default_factory=dict)
    paths: Mapping[str, str] = field(default_factory=dict)

    def scenario(self, name: str) -> str:
        """A scenario's display name (the baseline is "Baseline" unless labelled)."""
        return self.given.get(name) or ("Baseline" if name == BASELINE else humanise(name))

    def parameter(self, name: str) -> str:
        """A swept parameter's display name, e.g. "Intermediate care"."""
        if name in self.given:
            return self.given[name]
        subject, _ = param_words(name, self.paths.get(name))
        return humanise(subject)

    def value(self, name: str, value: float) -> str:
        """A swept parameter's value in words, e.g. "12 months late"."""
        return param_value(name, value, self.paths.get(name))

    def point(self, params: Mapping[str, Any]) -> str:
        """Sweep values in words, e.g. "intermediate care 12 months late, intermediate care growth
        50% of plan"."""
        return ", ".join(f"{self._subject(k)} {self.value(k, float(v))}" for k, v in params.items())

    def _subject(self, name: str) -> str:
        return self.given.get(name) or param_words(name, self.paths.get(name))[0]

    def cell(self, scenario: str, params: Mapping[str, Any] | None = None) -> str:
        """A cell's display name: its scenario, and its sweep values in words if any."""
        if not params:
            return self.scenario(scenario)
        return f"{self.scenario(scenario)}: {self.point(params)}"

    def service(self, name: str) -> str:
        """A community service's display name, e.g. "Home support"."""
        return self.given.get(name) or humanise(name)

    def kpi(self, name: str) -> str:
        """A KPI's display name: the experiment's label, or the registry's with the service
        named by its display name, capitalised; the code name if this version does not know it."""
        if name in self.given:
            return self.given[name]
        ref = kpi_registry.find(name)
        if ref is None:
            return name
        if ref.subject is not None and ref.kpi.scope == "service":
            label = ref.kpi.label.format(service=self.service(ref.subject))
        else:
            label = ref.label
        return label[:1].upper() + label[1:]


def labels_of(experiment: Mapping[str, Any] | None) -> Labels:
    """The display names of an experiment as written (its ``labels`` and sweep parameter paths);
    of a single run (``None`` or ``{}``), the defaults."""
    exp = experiment or {}
    params = (exp.get("sweep") or {}).get("parameters") or {}
    paths = {name: str((p or {}).get("path", name)) for name, p in params.items()}
    return Labels(given=dict(exp.get("labels") or {}), paths=paths)


# ---------------------------------------------------------------------------------------------
# Changes, criteria and months in words (the report's tables and the plain answer)

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")  # fmt: skip


def _signed(text: str, value: float) -> str:
    """``text`` with a sign in front (a true minus sign for negatives, + for positives)."""
    text = text.lstrip("-\u2212")
    return ("+" if value > 0 else "\u2212" if value < 0 else "") + text


def kpi_change(name: str, value: Any, with_unit: bool = False) -> str:
    """A difference of a KPI from the baseline, signed: shares in percentage points
    (``+1.2 points``), other KPIs in their own units (``−612,000``; ``with_unit``: ``bed days``)."""
    v = _finite(value)
    if isinstance(v, str):
        return v
    ref = kpi_registry.find(name)
    if ref is not None and ref.unit in _SHARE_UNITS:
        points = percent(v).rstrip("%").removesuffix(".0")
        return _signed(points, v) + (" points" if with_unit else " pts")
    return _signed(kpi_value(name, abs(v), with_unit), v)


def relative_change(share: Any) -> str:
    """A relative change, signed: ``−27.1%``, ``+3.0%`` (``n/a`` if missing)."""
    try:
        v = float(share)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(v) else _signed(percent(v, 1), v)


def criterion_bound(kpi: str, compare: str, op: str, bound: float) -> str:
    """A criterion's test in words, e.g. ``at most −44% against the baseline``, ``at most 92%``,
    ``at most +1 per 1,000 above the baseline`` (``op``: "at most" or "at least")."""
    if compare == "relative_to_baseline":
        return f"{op} {_signed(percent(bound), bound)} against the baseline"
    if compare == "difference_from_baseline":
        return f"{op} {kpi_change(kpi, bound, with_unit=True)} against the baseline"
    return f"{op} {kpi_value(kpi, bound, with_unit=True)}"


def criterion_words(labels: Labels, criterion: Mapping[str, Any]) -> str:
    """A criterion (as written in an experiment) in words: its ``name`` if it has one, else its
    KPI's display name and its test, e.g. "Mean occupancy at most 92%"."""
    if criterion.get("name"):
        return str(criterion["name"])
    kpi = str(criterion.get("kpi"))
    op, bound = ("at most", criterion.get("at_most"))
    if bound is None:
        op, bound = "at least", criterion.get("at_least")
    test = criterion_bound(kpi, str(criterion.get("compare", "absolute")), op, float(bound or 0))
    return f"{labels.kpi(kpi)} {test}"


def month_words(month: Any) -> str:
    """A month as written in the results (``2018-03``) in words: ``March 2018``; other values
    (none, ``n/a``) as ``n/a``."""
    text = str(month)
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() and 1 <= int(text[5:]) <= 12:
        return f"{_MONTH_NAMES[int(text[5:]) - 1]} {text[:4]}"
    return "n/a"


def plain_number(x: float) -> str:
    """A number as :func:`~hospsim.outputs.tables.fmt_number` writes it, but never in
    e-notation: below 0.001 with two significant digits (``0.00069``), below 10⁻⁹ as ``0``."""
    ax = abs(x)
    if not math.isfinite(x) or ax >= 0.001 or ax == 0:
        return fmt_number(x)
    if ax < 1e-9:
        return "0"
    return f"{x:.{1 - math.floor(math.log10(ax))}f}"


# Axes of figures: a swept parameter's unit and its tick values, a KPI's change in its own unit


def months_number(days: float) -> str:
    """Days as a number of months: whole months when within 0.05 of one (183 days → ``6``),
    else one decimal (``1.5``)."""
    m = float(days) / MONTH_DAYS
    return f"{round(m)}" if abs(m - round(m)) < 0.05 else f"{m:.1f}"


# Parameters whose axis reads in other units than the config's (by the last part of their path,
# or their sweep name): the unit on the axis label and how a tick reads.
PARAM_AXES: dict[str, tuple[str, Callable[[float], str]]] = {
    "ic_delay_days": ("months late", months_number),
    "ic_growth_achieved": ("% of plan achieved", lambda share: percent(share)),
}


def param_axis(labels: Labels, name: str) -> tuple[str, Callable[[float], str]]:
    """A swept parameter's axis: its label (display name and unit, e.g. "Intermediate care
    (months late)") and a tick formatter (``182.6`` → ``6``)."""
    path = labels.paths.get(name)
    key = (path or name).rsplit(".", 1)[-1]
    unit, fmt = PARAM_AXES.get(key) or PARAM_AXES.get(name) or ("", _number)
    display = labels.parameter(name)
    return (f"{display} ({unit})" if unit else display), fmt


def experiment_title(experiment: Mapping[str, Any] | None) -> str:
    """The experiment's display name if its ``labels`` give one for its own name, else ""
    (its name is a folder-safe slug, not a title)."""
    exp = experiment or {}
    return str((exp.get("labels") or {}).get(exp.get("name") or "", ""))


# How many display units one config unit of a parameter is (days → months, share → %), so that
# an axis of sampled values can tick at whole months or round percentages.
PARAM_SCALES: dict[str, float] = {"ic_delay_days": 1 / MONTH_DAYS, "ic_growth_achieved": 100.0}


def param_scale(labels: Labels, name: str) -> float:
    """Display units per config unit of a swept parameter (1 if it reads in its own units)."""
    key = (labels.paths.get(name) or name).rsplit(".", 1)[-1]
    return PARAM_SCALES.get(key) or PARAM_SCALES.get(name) or 1.0
