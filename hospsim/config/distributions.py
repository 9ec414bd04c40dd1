"""Length-of-stay distributions.

Every distribution is sampled by inverse transform from one uniform number per patient. That keeps
common random numbers tight: the same patient gets the same quantile of their LOS distribution in
every scenario, so a 10% LOS cut shortens exactly that patient's stay by 10%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import special

from .limits import MAX_CV, MAX_LOS_DAYS


class _Strict(BaseModel):
    # Every float finite: NaN and infinity are never a value (see limits).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Exponential(_Strict):
    dist: Literal["exponential"]
    mean_days: float = Field(gt=0, le=MAX_LOS_DAYS)


class Lognormal(_Strict):
    """Lognormal given by its mean and coefficient of variation (sd / mean)."""

    dist: Literal["lognormal"]
    mean_days: float = Field(gt=0, le=MAX_LOS_DAYS)
    cv: float = Field(gt=0, le=MAX_CV)


class Gamma(_Strict):
    """Gamma given by its mean and coefficient of variation (shape = 1 / cv^2)."""

    dist: Literal["gamma"]
    mean_days: float = Field(gt=0, le=MAX_LOS_DAYS)
    cv: float = Field(gt=0, le=MAX_CV)


class Fixed(_Strict):
    dist: Literal["fixed"]
    mean_days: float = Field(ge=0, le=MAX_LOS_DAYS)


class Empirical(_Strict):
    """Resample, with equal weights, from observed lengths of stay."""

    dist: Literal["empirical"]
    values_days: list[Annotated[float, Field(ge=0, le=MAX_LOS_DAYS)]] = Field(min_length=1)

    @property
    def mean_days(self) -> float:
        return float(np.mean(self.values_days))


LosDistribution = Annotated[Exponential | Lognormal | Gamma | Fixed | Empirical, Field(discriminator="dist")]
DIST_NAMES = ("exponential", "lognormal", "gamma", "fixed", "empirical")


def ppf(spec: LosDistribution, u: np.ndarray) -> np.ndarray:
    """Quantiles (days) of ``spec`` at uniforms ``u`` in [0, 1)."""
    u = np.asarray(u, dtype=float)
    days: np.ndarray  # scipy.special is untyped
    if isinstance(spec, Exponential):
        days = -spec.mean_days * np.log1p(-u)
        return days
    if isinstance(spec, Lognormal):
        mu, sd = _lognormal_mu_sd(spec)
        days = special.ndtri(u)
        np.multiply(sd, days, out=days)  # exp(mu + sd * z), in place: no temporaries
        np.add(mu, days, out=days)
        np.exp(days, out=days)
        return days
    if isinstance(spec, Gamma):
        shape = 1.0 / spec.cv**2
        days = special.gammaincinv(shape, u) * (spec.mean_days / shape)
        return days
    if isinstance(spec, Fixed):
        return np.full(u.shape, float(spec.mean_days))
    if isinstance(spec, Empirical):
        values = np.sort(np.asarray(spec.values_days, dtype=float))
        idx = np.minimum((u * len(values)).astype(np.int64), len(values) - 1)
        return values[idx]
    raise TypeError(f"unknown distribution {spec!r}")


def _lognormal_mu_sd(spec: Lognormal) -> tuple[float, float]:
    """Mean and sd of the log of a lognormal stay."""
    sigma2 = math.log1p(spec.cv**2)
    return math.log(spec.mean_days) - sigma2 / 2, math.sqrt(sigma2)


def ppf_rows(specs: Sequence[LosDistribution | None], u: np.ndarray) -> np.ndarray:
    """``ppf(spec, u)`` for each spec, as the rows of one array (zeros where a spec is None).

    The same numbers as :func:`ppf`, row by row; the normal quantiles of ``u`` (the costly part
    of a lognormal) are computed once for every lognormal spec, and each row is made in place.
    """
    u = np.asarray(u, dtype=float)
    rows = np.zeros((len(specs), u.size))
    z: np.ndarray | None = None
    for row, spec in zip(rows, specs, strict=True):
        if isinstance(spec, Lognormal):
            z = special.ndtri(u) if z is None else z
            mu, sd = _lognormal_mu_sd(spec)
            np.multiply(sd, z, out=row)  # exp(mu + sd * z) as ppf computes it, in place
            np.add(mu, row, out=row)
            np.exp(row, out=row)
        elif spec is not None:
            row[:] = ppf(spec, u)
    return rows


def ppf_grouped(specs: Sequence[LosDistribution], which: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``ppf(specs[which[i]], u[i])`` for each i: the same numbers as calling :func:`ppf` on each
    spec's share of ``u``. When every spec is lognormal (the common case) there is no share to
    pick out: one pass with each number's own mean and sd of the log."""
    u = np.asarray(u, dtype=float)
    which = np.asarray(which)
    if all(isinstance(s, Lognormal) for s in specs) and np.all((which >= 0) & (which < len(specs))):
        mu_sd = np.array([_lognormal_mu_sd(s) for s in specs if isinstance(s, Lognormal)]).reshape(-1, 2)
        z: np.ndarray = special.ndtri(u)
        np.multiply(mu_sd[:, 1][which], z, out=z)  # exp(mu + sd * z) as in ppf, in place
        np.add(mu_sd[:, 0][which], z, out=z)
        np.exp(z, out=z)
        return z
    days = np.empty(u.size)
    for i, spec in enumerate(specs):
        m = which == i
        days[m] = ppf(spec, u[m])
    return days


def tail_ppf(spec: LosDistribution, elapsed_days: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Whole stays (days) of patients who have already stayed ``elapsed_days``: quantile ``u`` of
    the distribution conditioned on exceeding the elapsed time (the tail beyond it, by inverse
    transform of the survival function, so far tails stay accurate). Where the distribution has
    no mass beyond the elapsed time (a fixed or empirical stay already over, or a tail below
    float range) the stay ends now: the elapsed time itself."""
    e = np.asarray(elapsed_days, dtype=float)
    u = np.asarray(u, dtype=float)
    if isinstance(spec, Exponential):
        days = e - spec.mean_days * np.log1p(-u)  # memoryless
    elif isinstance(spec, Lognormal):
        sigma = math.sqrt(math.log1p(spec.cv**2))
        mu = math.log(spec.mean_days) - sigma**2 / 2
        z = (np.log(np.maximum(e, 1e-300)) - mu) / sigma
        tail = special.ndtr(-z) * (1.0 - u)  # P(L > stay) = P(L > e) x (1 - u)
        days = np.exp(mu - sigma * special.ndtri(tail))
    elif isinstance(spec, Gamma):
        shape = 1.0 / spec.cv**2
        scale = spec.mean_days / shape
        tail = special.gammaincc(shape, e / scale) * (1.0 - u)
        days = special.gammainccinv(shape, tail) * scale
    elif isinstance(spec, Fixed):
        days = np.full(e.shape, float(spec.mean_days))
    elif isinstance(spec, Empirical):
        values = np.sort(np.asarray(spec.values_days, dtype=float))
        first = np.searchsorted(values, e, side="right")  # values beyond the elapsed time
        count = values.size - first
        idx = first + np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
        days = np.where(count > 0, values[np.minimum(idx, values.size - 1)], e)
    else:
        raise TypeError(f"unknown distribution {spec!r}")
    out: np.ndarray = np.where(np.isfinite(days), np.maximum(days, e), e)
    return out


def mean_days(spec: LosDistribution) -> float:
    """The distribution's mean in days."""
    return float(spec.mean_days)
