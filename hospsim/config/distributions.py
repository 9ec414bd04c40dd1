"""Length-of-stay distributions.

Every distribution is sampled by inverse transform from one uniform number per patient. That keeps
common random numbers tight: the same patient gets the same quantile of their LOS distribution in
every scenario, so a 10% LOS cut shortens exactly that patient's stay by 10%.
"""

from __future__ import annotations

import math
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
        sigma2 = math.log1p(spec.cv**2)
        mu = math.log(spec.mean_days) - sigma2 / 2
        days = np.exp(mu + math.sqrt(sigma2) * special.ndtri(u))
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


def mean_days(spec: LosDistribution) -> float:
    """The distribution's mean in days."""
    return float(spec.mean_days)
