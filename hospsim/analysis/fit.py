"""Fit a config to an episode extract (``hospsim fit``): emergency demand, electives, groups and
their LOS and pathway mix, community services, acute beds.

Every choice the extract cannot settle (a missing column, a short extract) is taken by a documented
rule and recorded as one line in :attr:`FitReport.notes`, which the command prints on stderr.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..config import ConfigError
from ..config.schema import HOME
from .fit_defaults import HORIZON_DAYS, WARMUP_DAYS
from .fitting.demand import RateFit, fit_emergency_rate
from .fitting.los import LosFit, fit_los

BEDS_PERCENTILE = 99  # acute beds: this percentile of the daily maximum occupancy, rounded up
# A service's LOS when the extract has no service start/end times (assumed: between the
# home-based (12-19 days) and bed-based (32-59 days) intermediate-care stays of IPACS).
DEFAULT_SERVICE_LOS: dict[str, Any] = {"dist": "lognormal", "mean_days": 21.0, "cv": 0.8}
MINUTE_DAYS = 1 / 1440


class ExtractLike(Protocol):
    """What :func:`fit_config` reads of a :class:`hospsim.config.extract.Extract`."""

    @property
    def episodes(self) -> pd.DataFrame: ...
    @property
    def start_date(self) -> dt.date: ...
    @property
    def end_date(self) -> dt.date: ...
    @property
    def path(self) -> str: ...
    @property
    def defaults_used(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, eq=False)
class FitReport:
    """How the config was fitted: the rate, every LOS fit and the choices made."""

    source: str
    start_date: dt.date
    end_date: dt.date
    emergency: RateFit
    los_fits: tuple[LosFit, ...]  # groups.G.los, demand.elective.los, services.S.los, services.S.assessment
    group_shares: dict[str, float]
    pathways: dict[str, dict[str, float]]  # by group (and "elective")
    beds: int
    daily_max_occupancy: np.ndarray
    capacities: dict[str, int | str]
    notes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class _Days:
    """The extract's times as float days since its start (NaN where empty)."""

    admission: np.ndarray
    fit: np.ndarray
    discharge: np.ndarray
    service_start: np.ndarray
    service_end: np.ndarray
    emergency: np.ndarray  # bool
    group: np.ndarray  # str
    pathway: np.ndarray  # str
    start_date: dt.date
    n_days: int
    resolution_days: float
    service_times: bool  # has the extract a service_start_datetime column?


def _as_days(episodes: pd.DataFrame, column: str, start: pd.Timestamp) -> np.ndarray:
    if column not in episodes:
        return np.full(len(episodes), np.nan)
    values = pd.to_datetime(episodes[column])
    return np.asarray((values - start) / pd.Timedelta(days=1), dtype=float)


def _labels(episodes: pd.DataFrame, column: str, missing: str) -> np.ndarray:
    """A label column as text, "" where empty; ``missing`` everywhere if the column is absent."""
    if column not in episodes:
        return np.full(len(episodes), missing, dtype=object)
    return np.asarray(episodes[column].astype(object).where(episodes[column].notna(), ""), dtype=object)


def _days_of(extract: ExtractLike) -> _Days:
    ep = extract.episodes
    start = pd.Timestamp(extract.start_date)
    adm = _as_days(ep, "admission_datetime", start)
    discharge = _as_days(ep, "discharge_datetime", start)
    fit = _as_days(ep, "medically_fit_datetime", start)
    fit = np.where(np.isnan(fit), discharge, fit)  # the extract's default: fit at discharge
    # Dates without times (every admission at midnight): stays are known to the day only.
    dates_only = bool(np.all(np.isclose(adm % 1.0, 0.0)))
    # An empty pathway is not yet known (the patient is not yet medically fit): "" here.
    pathway = _labels(ep, "discharge_pathway", HOME)
    group = _labels(ep, "group", "all")
    return _Days(
        admission=adm,
        fit=fit,
        discharge=discharge,
        service_start=_as_days(ep, "service_start_datetime", start),
        service_end=_as_days(ep, "service_end_datetime", start),
        emergency=np.asarray(ep["admission_method"] == "emergency"),
        group=group,
        pathway=pathway,
        start_date=extract.start_date,
        n_days=(extract.end_date - extract.start_date).days,
        resolution_days=1.0 if dates_only else MINUTE_DAYS,
        service_times="service_start_datetime" in ep and "service_start_datetime" not in extract.defaults_used,
    )


def _stays(begin: np.ndarray, end: np.ndarray, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Durations from ``begin`` to ``end``; an empty end is censored at the extract's end."""
    censored = np.isnan(end)
    return np.where(censored, n_days - begin, end - begin), censored


def _shares(labels: np.ndarray) -> dict[str, float]:
    """Shares of each label (sorted, home first), rounded to 6 decimals and summing to 1."""
    names, counts = np.unique(labels, return_counts=True)
    shares = {str(n): round(float(c) / float(counts.sum()), 6) for n, c in zip(names, counts, strict=True)}
    order = sorted(shares, key=lambda n: (n != HOME, n))
    shares = {n: shares[n] for n in order}
    biggest = max(shares, key=lambda n: shares[n])
    shares[biggest] = round(shares[biggest] + 1.0 - sum(shares.values()), 6)
    return shares


def _max_in_place(begin: np.ndarray, end: np.ndarray, n_days: int) -> np.ndarray:
    """Daily maximum number present, from intervals [begin, end) (an empty end: still there)."""
    end = np.where(np.isnan(end), np.inf, end)
    times = np.concatenate([begin, end])
    steps = np.concatenate([np.ones(begin.size), -np.ones(end.size)])
    order = np.lexsort((steps, times))  # at a tie a departure comes first
    times, level = times[order], np.cumsum(steps[order])
    inside = times < n_days
    day = np.floor(times[inside]).astype(np.int64)
    daily = np.zeros(n_days)
    np.maximum.at(daily, day, level[inside])
    before = np.searchsorted(times, np.arange(n_days), side="left")  # present at each midnight
    at_midnight = np.where(before > 0, level[np.maximum(before - 1, 0)], 0.0)
    return np.asarray(np.maximum(daily, at_midnight))


# Fitted values beyond these are the fit of odd data, not a hospital: held here and said. Each
# keeps the config valid (growth in (-1, 1], winter amplitude < 1, weekday factors > 0).
GROWTH_RANGE = (-0.5, 1.0)
MAX_WINTER_AMPLITUDE = 0.9
MIN_WEEKDAY_FACTOR = 0.01


def _held(value: float, low: float, high: float, what: str, notes: list[str]) -> float:
    held = min(max(value, low), high)
    if held != value:
        notes.append(f"{what}: fitted {value:.4g}, held at {held:g}")
    return held


def _emergency_section(rate: RateFit, horizon_days: int, notes: list[str]) -> dict[str, Any]:
    growth = _held(rate.growth_per_year, *GROWTH_RANGE, "demand.emergency.growth_per_year", notes)
    weekday = [
        _held(v, MIN_WEEKDAY_FACTOR, 1e3, "demand.emergency.weekday_factors", notes) for v in rate.weekday_factors
    ]
    section: dict[str, Any] = {
        "per_day": float(f"{rate.per_day:.5g}"),
        "growth_per_year": float(f"{growth:.4g}"),
        "weekday_factors": [float(f"{v:.4g}") for v in weekday],
        "hourly_factors": list(rate.hourly_factors),
    }
    if rate.winter_amplitude is not None and rate.winter_peak_day is not None:
        amplitude = _held(rate.winter_amplitude, 0.0, MAX_WINTER_AMPLITUDE, "demand.emergency.winter.amplitude", notes)
        section["winter"] = {"amplitude": float(f"{amplitude:.4g}"), "peak_day_of_year": rate.winter_peak_day}
    else:
        notes.append("extract shorter than a year: no trend (growth_per_year 0) and no winter seasonality fitted")
    if not rate.weekly:
        notes.append("extract shorter than four weeks: weekday_factors flat (all 1)")
    if not rate.hourly:
        notes.append("admission times are dates only: hourly_factors flat (all 1)")
    growth_at_end = (1 + section["growth_per_year"]) ** (horizon_days / 365.25)
    if growth_at_end > 1.5:  # the model draws candidates at `headroom` x the rate (default 1.5)
        section["headroom"] = min(10.0, math.ceil(growth_at_end * 10) / 10)
    return section


def _elective_section(d: _Days, notes: list[str]) -> tuple[dict[str, Any] | None, list[LosFit]]:
    el = ~d.emergency
    if not el.any():
        notes.append("no elective admissions in the extract: no demand.elective section")
        return None, []
    dates = np.datetime64(d.start_date, "D") + np.arange(d.n_days)
    weekdays = int(np.sum((dates.astype("int64") + 3) % 7 < 5))  # Mon-Fri (1970-01-01 was a Thursday)
    n = int(el.sum())
    los_days, censored = _stays(d.admission[el], d.fit[el], d.n_days)
    los = fit_los("demand.elective.los", los_days, censored, d.resolution_days)
    known = el & (d.pathway != "")
    section = {
        "per_weekday": max(1, math.ceil(n / max(weekdays, 1))),
        "referrals_per_week": float(f"{n / d.n_days * 7:.5g}"),
        "los": los.spec,
        "pathways": _shares(d.pathway[known]) if known.any() else {HOME: 1.0},
    }
    notes.append(
        "electives: per_weekday = elective admissions per Monday-Friday rounded up, "
        "referrals_per_week = the admissions' weekly rate (the extract holds no referrals)"
    )
    return section, [los]


def _group_sections(d: _Days) -> tuple[dict[str, Any], list[LosFit], dict[str, dict[str, float]]]:
    """Each group's share of emergencies, LOS (admission to medically fit) and pathway mix."""
    em = d.emergency
    shares = _shares(d.group[em])
    groups: dict[str, Any] = {}
    fits: list[LosFit] = []
    mixes: dict[str, dict[str, float]] = {}
    for name, share in shares.items():
        rows = em & (d.group == name)
        los_days, censored = _stays(d.admission[rows], d.fit[rows], d.n_days)
        los = fit_los(f"groups.{name}.los", los_days, censored, d.resolution_days)
        # The pathway is known once the patient is medically fit (referred or gone home): counting
        # only those who have left would under-count the services, whose patients wait longer.
        known = rows & (d.pathway != "")
        mixes[name] = _shares(d.pathway[known]) if known.any() else {HOME: 1.0}
        groups[name] = {"share": share, "los": los.spec, "pathways": mixes[name]}
        fits.append(los)
    return groups, fits, mixes


def _service_section(name: str, d: _Days, notes: list[str]) -> tuple[dict[str, Any], list[LosFit]]:
    """A service named by a pathway: LOS from its start/end, assessment from the delay between
    medically fit and discharge of its patients, capacity the most seen in it at once."""
    rows = d.pathway == name
    began = rows & ~np.isnan(d.service_start)
    fits: list[LosFit] = []
    if began.sum() > 0:
        los_days, censored = _stays(d.service_start[began], d.service_end[began], d.n_days)
        los = fit_los(f"services.{name}.los", los_days, censored, d.resolution_days)
        section: dict[str, Any] = {
            "capacity": int(_max_in_place(d.service_start[began], d.service_end[began], d.n_days).max())
        }
        section["los"] = los.spec
        fits.append(los)
    else:
        section = {"capacity": "unlimited", "los": dict(DEFAULT_SERVICE_LOS)}
        why = "nobody started it within the extract" if d.service_times else "no service start times"
        notes.append(
            f"services.{name}: {why}: los {_spec_text(DEFAULT_SERVICE_LOS)} (assumed) and "
            "capacity unlimited (the whole wait is in the assessment)"
        )
    # Delays of every patient who has left for it, and of those still waiting for it (censored).
    waited = rows & ~np.isnan(d.fit)
    delay_days, censored = _stays(d.fit[waited], d.discharge[waited], d.n_days)
    if np.any(delay_days[~censored] > 0) or censored.any():
        assessment = fit_los(f"services.{name}.assessment", delay_days, censored, d.resolution_days)
        section["assessment"] = assessment.spec
        fits.append(assessment)
    else:
        notes.append(f"services.{name}: no delay between medically fit and discharge: no assessment")
    return section, fits


def _spec_text(spec: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in spec.items())


def _beds(d: _Days, beds: int | None, notes: list[str]) -> tuple[int, np.ndarray]:
    daily = _max_in_place(d.admission, d.discharge, d.n_days)
    if beds is not None:
        return beds, daily
    fitted = max(1, math.ceil(float(np.percentile(daily, BEDS_PERCENTILE))))
    notes.append(
        f"acute.beds {fitted}: the {BEDS_PERCENTILE}th percentile of the daily maximum occupancy (--beds to set it)"
    )
    return fitted, daily


def config_name(path: str) -> str:
    """A config name from the extract's file name (``My Extract 2024.csv`` -> ``my_extract_2024``)."""
    name = re.sub(r"[^a-z0-9]+", "_", Path(path).stem.lower()).strip("_")
    return name or "fitted"


# What the fit does when an optional column is missing (the extract reader's defaults_used).
_DEFAULT_NOTES = {
    "group": "no group column: one group `all`",
    "medically_fit_datetime": "no medically_fit_datetime column: fit at discharge, so LOS runs to discharge "
    "and there are no delays",
    "discharge_pathway": "no discharge_pathway column: everyone goes home, no services",
    "service_start_datetime": "no service_start_datetime column: services get default LOS and unlimited capacity",
    "service_end_datetime": "no service_end_datetime column: service stays are censored at the extract's end",
}


def fit_config(
    extract: ExtractLike,
    name: str | None = None,
    beds: int | None = None,
    horizon_days: int = HORIZON_DAYS,
    warmup_days: int = WARMUP_DAYS,
    seed: int | None = None,
) -> tuple[dict[str, Any], FitReport]:
    """Fit a config to an episode extract; returns the config as a dict (validate it with
    ``config_from_dict``) and the :class:`FitReport`. ``beds`` None: the 99th percentile of the daily
    maximum occupancy; ``seed`` None: the extract's start date as ``YYYYMMDD``."""
    notes = [_DEFAULT_NOTES[c] for c in extract.defaults_used if c in _DEFAULT_NOTES]
    d = _days_of(extract)
    if not d.emergency.any():  # the model's demand is emergencies: nothing to fit it to
        raise ConfigError(f"{extract.path}: column admission_method: no emergency admissions (every row is elective)")
    rate = fit_emergency_rate(d.admission[d.emergency], extract.start_date, d.n_days, d.resolution_days < 1)
    groups, fits, mixes = _group_sections(d)
    elective, elective_fits = _elective_section(d, notes)
    labels = sorted({str(p) for p in d.pathway if p not in (HOME, "")})
    services: dict[str, Any] = {}
    for label in labels:
        services[label], service_fits = _service_section(label, d, notes)
        fits += service_fits
    n_beds, daily = _beds(d, beds, notes)
    demand: dict[str, Any] = {"emergency": _emergency_section(rate, horizon_days, notes)}
    if elective is not None:
        demand["elective"] = elective
        mixes["elective"] = elective["pathways"]
    config: dict[str, Any] = {
        "name": name or config_name(extract.path),
        "description": f"Fitted by hospsim fit from {Path(extract.path).name} "
        f"({extract.start_date} to {extract.end_date}, exclusive).",
        "start_date": extract.start_date,
        "horizon_days": horizon_days,
        "warmup_days": warmup_days,
        "seed": seed if seed is not None else int(extract.start_date.strftime("%Y%m%d")),
        "acute": {"beds": n_beds, "when_full": "queue"},
        "demand": demand,
        "groups": groups,
        "services": services,
    }
    report = FitReport(
        source=extract.path,
        start_date=extract.start_date,
        end_date=extract.end_date,
        emergency=rate,
        los_fits=tuple(fits + elective_fits),
        group_shares={g: v["share"] for g, v in groups.items()},
        pathways=mixes,
        beds=n_beds,
        daily_max_occupancy=daily,
        capacities={s: v["capacity"] for s, v in services.items()},
        notes=tuple(dict.fromkeys(notes)),
    )
    return config, report
