"""Demand: when patients arrive.

Elective demand is referrals to a waiting list (:func:`referral_times`); when they are admitted
is the engine's business (theatre slots, beds).

Emergency arrivals are a non-homogeneous Poisson process whose intensity is piecewise constant by
hour: base rate x growth x day-of-week factor x winter seasonality x hourly profile x plan
multiplier. They are generated day by day by thinning a dominating process that does not depend
on the plan multiplier, so a plan that removes demand removes a subset of the same patients
(common random numbers across scenarios).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..config import Elective, Emergency


def calendar(start_date: dt.date, n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weekday (Mon=0), day of year (1..366) and month (1..12) of each simulated day."""
    start = np.datetime64(start_date, "D")
    dates = start + np.arange(n_days)
    weekday = ((dates.astype("int64") + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    year_start = dates.astype("datetime64[Y]").astype("datetime64[D]")
    day_of_year = (dates - year_start).astype(np.int64) + 1
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return weekday, day_of_year, month


def emergency_base_rate_per_day(em: Emergency, start_date: dt.date, n_days: int) -> np.ndarray:
    """Expected emergency arrivals on each day before any plan multiplier."""
    weekday, doy, _ = calendar(start_date, n_days)
    factors = np.asarray(em.weekday_factors, dtype=float)
    factors = factors / factors.mean()  # per_day stays the average over a week
    days = np.arange(n_days, dtype=float)
    rate = em.per_day * (1.0 + em.growth_per_year) ** (days / 365.25) * factors[weekday]
    if em.winter is not None:
        rate = rate * (1.0 + em.winter.amplitude * np.cos(2 * np.pi * (doy - em.winter.peak_day_of_year) / 365.25))
    return np.asarray(rate, dtype=float)


def emergency_rate_per_day(em: Emergency, start_date: dt.date, n_days: int) -> np.ndarray:
    """Expected emergency arrivals on each day, plan multiplier included."""
    return np.asarray(emergency_base_rate_per_day(em, start_date, n_days) * em.multiplier.daily(n_days), dtype=float)


def demand_bound(em: Emergency) -> float:
    """Rate multiplier of the dominating process: the plan's highest multiplier, at least 1."""
    return max(1.0, max(em.multiplier.values()))


@dataclass(frozen=True)
class EmergencyArrivals:
    """Candidate arrivals of the dominating process (in day order, unsorted within a day).

    Candidate ``k`` is a real arrival when ``u_accept[k] < multiplier(day) / demand_bound``;
    that test is made as the candidate arrives, so a gated demand change can act on it.
    """

    time_days: np.ndarray
    u_accept: np.ndarray


def emergency_arrivals(em: Emergency, start_date: dt.date, n_days: int, rng: np.random.Generator) -> EmergencyArrivals:
    """Generate candidate emergency arrivals over ``n_days`` (thinned later by the plan)."""
    base = emergency_base_rate_per_day(em, start_date, n_days)
    counts = rng.poisson(base * demand_bound(em))
    day = np.repeat(np.arange(n_days), counts)
    # Time of day by inverse transform of the hourly profile (one uniform per candidate).
    hourly = np.asarray(em.hourly_factors, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(hourly / hourly.sum())])
    u = rng.random(day.size)
    hour = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, 23)
    width = cum[hour + 1] - cum[hour]
    frac = np.where(width > 0, (u - cum[hour]) / np.where(width > 0, width, 1.0), 0.0)
    time = day + (hour + np.clip(frac, 0.0, np.nextafter(1.0, 0.0))) / 24.0
    return EmergencyArrivals(time_days=time, u_accept=rng.random(day.size))


def referral_times(el: Elective, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """Elective referral times over days ``0 .. n_days``, sorted: a Poisson process whose rate is
    ``referrals_per_week`` / 7 grown by ``referral_growth_per_year``, constant within a day. No
    plan lever enters, so every scenario sees the same referrals."""
    days = np.arange(n_days)
    rate = el.referrals_per_week / 7.0 * (1.0 + el.referral_growth_per_year) ** (days / 365.25)
    day = np.repeat(days, rng.poisson(rate))
    return np.sort(day + rng.random(day.size))


def initial_list_times(el: Elective) -> np.ndarray:
    """Referral times (days, <= 0) of the patients on the list at day 0, spread evenly over
    ``initial_list.max_wait_weeks`` (oldest first)."""
    if el.initial_list is None or el.initial_list.patients == 0:
        return np.empty(0)
    n = el.initial_list.patients
    times = -el.initial_list.max_wait_weeks * 7.0 * (n - 0.5 - np.arange(n)) / n
    # Strictly before day 0 even with no wait (-0.0 would count as a referral on day 0).
    return np.minimum(times, np.nextafter(0.0, -1.0))
