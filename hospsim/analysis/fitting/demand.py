"""Emergency demand fitted from admission times: a Poisson regression of daily admissions on a
log-linear trend, day of the week and a winter cosine (the model's own rate), and the hourly
profile from the admissions' hours.

The model's rate on day d is ``per_day x weekday[w(d)] x (1 + A cos(2π(doy - peak)/365.25)) x
(1 + growth)^(d/365.25)``. Writing ``A cos(θ - φ) = a cos θ + b sin θ`` makes the log rate linear
in every parameter but (a, b), and the Poisson likelihood is maximised by Fisher scoring.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

YEAR_DAYS = 365.25
Z95 = 1.959963984540054


@dataclass(frozen=True, eq=False)
class RateFit:
    """The fitted emergency demand, with the daily counts it was fitted to."""

    start_date: dt.date
    counts: np.ndarray  # emergency admissions on each day of the extract
    expected: np.ndarray  # the fitted rate on each day
    per_day: float  # at the extract's start, before weekday and winter factors
    per_day_ci: tuple[float, float]
    growth_per_year: float
    growth_ci: tuple[float, float]
    weekday_factors: tuple[float, ...]  # Monday..Sunday, mean 1
    winter_amplitude: float | None  # None: not fitted (extract shorter than a year)
    winter_peak_day: int | None
    hourly_factors: tuple[float, ...]  # 24, mean 1
    seasonal: bool  # were trend and winter fitted (a year of data or more)?
    weekly: bool  # were weekday factors fitted (four weeks or more)?
    hourly: bool  # were hours known (not dates only)?


def _design(
    start_date: dt.date, n_days: int, seasonal: bool, weekly: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-linear columns (intercept, [trend], [Tue..Sun]), and cos θ, sin θ of each day's doy."""
    dates = np.datetime64(start_date, "D") + np.arange(n_days)
    weekday = ((dates.astype("int64") + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    doy = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
    cols = [np.ones(n_days)]
    if seasonal:
        cols.append(np.arange(n_days) / YEAR_DAYS)
    if weekly:
        cols += [(weekday == w).astype(float) for w in range(1, 7)]
    theta = 2 * np.pi * doy / YEAR_DAYS
    return np.column_stack(cols), np.cos(theta), np.sin(theta)


def _poisson_fit(y: np.ndarray, x: np.ndarray, cos: np.ndarray | None, sin: np.ndarray | None):
    """Fisher scoring of log μ = Xβ + log(1 + a cos + b sin); returns params, μ, Fisher info."""
    p = np.zeros(x.shape[1] + (2 if cos is not None else 0))
    p[0] = math.log(max(y.mean(), 1e-9))

    def parts(p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        eta = x @ p[: x.shape[1]]
        jac = x
        if cos is not None and sin is not None:
            season = 1 + p[-2] * cos + p[-1] * sin
            if np.any(season <= 0):
                return None
            eta = eta + np.log(season)
            jac = np.column_stack([x, cos / season, sin / season])
        return np.exp(eta), jac

    def nll(mu: np.ndarray) -> float:
        return float(np.sum(mu - y * np.log(mu)))

    first = parts(p)
    assert first is not None  # no season yet: a = b = 0
    mu, jac = first
    for _ in range(100):
        info = jac.T @ (mu[:, None] * jac)
        step = np.linalg.solve(info, jac.T @ (y - mu))
        scale, trial = 1.0, parts(p + step)
        # Step-halving keeps the season positive and the likelihood rising.
        while (trial is None or nll(trial[0]) > nll(mu) + 1e-9) and scale > 1e-6:
            scale /= 2
            trial = parts(p + scale * step)
        if trial is None or scale <= 1e-6:
            break
        p = p + scale * step
        mu, jac = trial
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    info = jac.T @ (mu[:, None] * jac)
    return p, mu, info


def hourly_factors(admission_days: np.ndarray) -> tuple[float, ...]:
    """Share of admissions in each hour of the day x 24 (mean 1)."""
    hour = np.floor((admission_days % 1.0) * 24).astype(np.int64).clip(0, 23)
    counts = np.bincount(hour, minlength=24).astype(float)
    return tuple(float(f"{v:.4g}") for v in counts / counts.mean())


def fit_emergency_rate(admission_days: np.ndarray, start_date: dt.date, n_days: int, hours_known: bool) -> RateFit:
    """Fit the emergency rate to admission times (days since ``start_date``) over ``n_days``.
    Trend and winter need a year of data; with less both are left out (growth 0, no winter).
    Weekday factors need four weeks (each weekday seen four times); with less they are flat."""
    days = np.asarray(admission_days, dtype=float)
    days = days[(days >= 0) & (days < n_days)]
    y = np.bincount(np.floor(days).astype(np.int64), minlength=n_days)[:n_days].astype(float)
    seasonal, weekly = n_days >= 365, n_days >= 28
    x, cos, sin = _design(start_date, n_days, seasonal, weekly)
    p, mu, info = _poisson_fit(y, x, cos if seasonal else None, sin if seasonal else None)
    cov = np.linalg.pinv(info)  # pinv: a weekday without a single admission leaves info singular
    first_wd = 2 if seasonal else 1
    w = np.concatenate([[0.0], p[first_wd : first_wd + 6] if weekly else np.zeros(6)])
    weights = np.exp(w) / np.exp(w).sum()
    log_per_day = p[0] + math.log(np.exp(w).mean())
    grad = np.zeros(p.size)
    grad[0] = 1.0
    if weekly:
        grad[first_wd : first_wd + 6] = weights[1:]  # d log(mean exp w) / d w_k
    se = math.sqrt(float(grad @ cov @ grad))
    per_day = math.exp(log_per_day)
    growth, growth_ci, amplitude, peak = 0.0, (0.0, 0.0), None, None
    if seasonal:
        se_r = math.sqrt(float(cov[1, 1]))
        growth = math.expm1(p[1])
        growth_ci = (math.expm1(p[1] - Z95 * se_r), math.expm1(p[1] + Z95 * se_r))
        amplitude = float(math.hypot(p[-2], p[-1]))
        peak_doy = round(math.atan2(p[-1], p[-2]) * YEAR_DAYS / (2 * math.pi))
        peak = peak_doy if peak_doy >= 1 else peak_doy + 365
    return RateFit(
        start_date=start_date,
        counts=y,
        expected=mu,
        per_day=per_day,
        per_day_ci=(per_day * math.exp(-Z95 * se), per_day * math.exp(Z95 * se)),
        growth_per_year=growth,
        growth_ci=growth_ci,
        weekday_factors=tuple(float(v) for v in np.exp(w) / np.exp(w).mean()),
        winter_amplitude=amplitude,
        winter_peak_day=peak,
        hourly_factors=hourly_factors(days) if hours_known else (1.0,) * 24,
        seasonal=seasonal,
        weekly=weekly,
        hourly=hours_known,
    )
