"""Length-of-stay fitting: right-censored maximum likelihood of exponential, lognormal and gamma
stays, the best by AIC, and an empirical distribution when the best fails a KS test at 1%.

A stay still running at the extract's end is *right-censored*: we know only that it lasts longer
than what has been seen. Dropping those stays, or counting them as ended, would bias every LOS
short (most of all for long stays near the end of the extract), so each candidate maximises the
censored likelihood: the density of every completed stay times the survival of every censored one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from ...config.limits import MAX_CV, MAX_LOS_DAYS

CANDIDATES = ("exponential", "lognormal", "gamma")
KS_ALPHA = 0.01  # the best parametric candidate is kept unless KS rejects it at this level
EMPIRICAL_POINTS = 200  # an empirical LOS is written as this many equally weighted quantiles
MIN_EVENTS = 10  # fewer completed stays: an exponential with the censored mean (one parameter)
MIN_DISTINCT = 3  # fewer distinct completed stays: no two-parameter family can be fitted


@dataclass(frozen=True)
class Candidate:
    """One candidate distribution fitted to a set of stays."""

    dist: str
    mean_days: float
    cv: float
    loglik: float
    aic: float
    ks_stat: float
    ks_p: float


@dataclass(frozen=True, eq=False)
class LosFit:
    """The stays of one LOS (or delay) and its fitted candidates; ``spec`` is the config's LOS."""

    what: str
    durations_days: np.ndarray
    censored: np.ndarray
    candidates: tuple[Candidate, ...]
    chosen: str
    spec: dict[str, Any]
    reason: str

    @property
    def n(self) -> int:
        """Number of stays (completed and censored)."""
        return int(self.durations_days.size)

    @property
    def n_censored(self) -> int:
        """Number of stays still running at the extract's end."""
        return int(self.censored.sum())


def kaplan_meier(durations: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the CDF: sorted times and ``1 - S(t)`` just after each time.

    At a tie an ended stay comes before a censored one (it was at risk when the other ended)."""
    order = np.lexsort((censored, durations))
    t = durations[order]
    event = ~censored[order]
    at_risk = t.size - np.arange(t.size)
    survival = np.cumprod(np.where(event, 1.0 - 1.0 / at_risk, 1.0))
    return t, 1.0 - survival


def frozen_dist(dist: str, mean_days: float, cv: float) -> Any:
    """The scipy.stats frozen distribution of a hospsim LOS spec."""
    if dist == "exponential":
        return stats.expon(scale=mean_days)
    if dist == "lognormal":
        sigma2 = math.log1p(cv**2)
        return stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(math.log(mean_days) - sigma2 / 2))
    shape = 1.0 / cv**2
    return stats.gamma(shape, scale=mean_days / shape)


def _loglik(frozen: Any, x: np.ndarray, censored: np.ndarray) -> float:
    return float(frozen.logpdf(x[~censored]).sum() + frozen.logsf(x[censored]).sum())


def _ks(frozen: Any, x: np.ndarray, censored: np.ndarray) -> tuple[float, float]:
    """Largest distance between the Kaplan-Meier CDF and the fitted CDF at the ended stays, with the
    p-value of the one-sample KS test for that many ended stays (exact with no censoring,
    approximate with it)."""
    t, km = kaplan_meier(x, censored)
    order = np.lexsort((censored, x))
    event = ~censored[order]
    if not event.any():  # every stay still running: nothing to compare
        return math.nan, math.nan
    before = np.concatenate([[0.0], km[:-1]])
    cdf = frozen.cdf(t)
    d = float(np.max(np.maximum(np.abs(cdf - km), np.abs(cdf - before))[event]))
    return d, float(stats.kstwo.sf(d, int(event.sum())))


def _exponential_mean(x: np.ndarray, censored: np.ndarray) -> float:
    # Closed form: total time at risk over the number of ended stays.
    return float(x.sum() / max(int((~censored).sum()), 1))


def _fit_params(dist: str, x: np.ndarray, censored: np.ndarray) -> tuple[float, float]:
    """Maximum censored likelihood (mean_days, cv) of a two-parameter candidate, started from the
    fit to the ended stays alone (scipy.stats, loc=0)."""
    done = x[~censored]
    if dist == "lognormal":
        start = np.array([np.log(done).mean(), math.log(max(np.log(done).std(), 1e-3))])

        def to_spec(p: np.ndarray) -> tuple[float, float]:
            s = math.exp(p[1])
            return math.exp(p[0] + s * s / 2), math.sqrt(math.expm1(s * s))
    else:
        mean, var = float(done.mean()), float(done.var())
        try:
            with np.errstate(all="raise"):
                shape, _, scale = stats.gamma.fit(done, floc=0)
        except (FloatingPointError, ValueError, RuntimeError):  # odd data: start from the moments
            shape, scale = mean * mean / var, var / mean
        start = np.array([math.log(shape), math.log(scale)])

        def to_spec(p: np.ndarray) -> tuple[float, float]:
            k = math.exp(p[0])
            return k * math.exp(p[1]), 1 / math.sqrt(k)

    def nll(p: np.ndarray) -> float:
        try:
            mean, cv = to_spec(p)
        except OverflowError:
            return math.inf
        if not (0 < mean <= MAX_LOS_DAYS and 0 < cv <= MAX_CV):
            return math.inf
        value = -_loglik(frozen_dist(dist, mean, cv), x, censored)
        return value if math.isfinite(value) else math.inf

    best = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 4000})
    return to_spec(best.x)


def _candidate(dist: str, mean_days: float, cv: float, x: np.ndarray, censored: np.ndarray) -> Candidate:
    frozen = frozen_dist(dist, mean_days, cv)
    loglik = _loglik(frozen, x, censored)
    k = 1 if dist == "exponential" else 2
    ks_stat, ks_p = _ks(frozen, x, censored)
    return Candidate(dist, mean_days, cv, loglik, 2 * k - 2 * loglik, ks_stat, ks_p)


def _sig(value: float) -> float:
    return float(f"{value:.5g}")


def spec_of(c: Candidate) -> dict[str, Any]:
    """The config's LOS spec of a fitted parametric candidate (5 significant digits)."""
    if c.dist == "exponential":
        return {"dist": "exponential", "mean_days": _sig(c.mean_days)}
    return {"dist": c.dist, "mean_days": _sig(c.mean_days), "cv": _sig(c.cv)}


def empirical_spec(x: np.ndarray, censored: np.ndarray) -> dict[str, Any]:
    """EMPIRICAL_POINTS equally weighted quantiles of the Kaplan-Meier CDF. Quantiles beyond the
    last ended stay (heavy censoring) take the longest time seen, so the tail is an underestimate."""
    t, km = kaplan_meier(x, censored)
    q = (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS
    idx = np.minimum(np.searchsorted(km, q, side="left"), t.size - 1)
    values = np.minimum(t[idx], MAX_LOS_DAYS)
    return {"dist": "empirical", "values_days": [_sig(float(v)) for v in values]}


def fit_los(what: str, durations_days: np.ndarray, censored: np.ndarray, resolution_days: float) -> LosFit:
    """Fit the candidates to stays (``censored``: still running at the extract's end) and choose:
    the lowest AIC among exponential, lognormal and gamma, or the empirical distribution when that
    one fails a KS test at 1%. Stays of 0 (admitted and fit within the timestamps' resolution) count
    as half the resolution, since the candidates have no mass at 0."""
    x = np.maximum(np.asarray(durations_days, dtype=float), resolution_days / 2)
    cens = np.asarray(censored, dtype=bool)
    events = int((~cens).sum())
    if events < MIN_EVENTS:
        c = _candidate("exponential", max(_exponential_mean(x, cens), resolution_days / 2), 1.0, x, cens)
        reason = (
            f"only {events} ended stays: exponential with the censored mean"
            if events
            else "no ended stay: exponential with the total time seen as its mean (as if one had ended)"
        )
        return LosFit(what, x, cens, (c,), "exponential", spec_of(c), reason)
    if np.unique(x[~cens]).size < MIN_DISTINCT:  # e.g. dates only, every stay 0 or 1 day
        reason = f"fewer than {MIN_DISTINCT} distinct ended stays: empirical"
        return LosFit(what, x, cens, (), "empirical", empirical_spec(x, cens), reason)
    cands = [_candidate("exponential", _exponential_mean(x, cens), 1.0, x, cens)]
    for dist in CANDIDATES[1:]:
        cands.append(_candidate(dist, *_fit_params(dist, x, cens), x, cens))
    best = min(cands, key=lambda c: c.aic)
    if best.ks_p >= KS_ALPHA:
        reason = f"lowest AIC; KS p = {best.ks_p:.3g} >= {KS_ALPHA:g}"
        return LosFit(what, x, cens, tuple(cands), best.dist, spec_of(best), reason)
    reason = f"best parametric ({best.dist}) fails KS (p = {best.ks_p:.2g} < {KS_ALPHA:g}): empirical"
    return LosFit(what, x, cens, tuple(cands), "empirical", empirical_spec(x, cens), reason)
