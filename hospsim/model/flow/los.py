"""Lengths of stay as the flow engine sees them: exact shares of a cohort still present.

Everything is built on the stop-loss transform of a stay L, ``pi(x) = E[(L - x)+]``: its
differences are integrals of the survival function, ``pi(a) - pi(b) = int_a^b P(L > y) dy``, so
a cohort that enters at a constant rate over a time step leaves exactly as the distribution says
(no first-order drain, no sampling). Every distribution of :mod:`hospsim.config.distributions`
has a closed form (the empirical one: a mean over its values). A plan's LOS multiplier ``m``
scales the stay: ``pi_m(x) = m pi(x / m)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ...config.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, LosDistribution

HOURS_PER_DAY = 24
STEP_DAYS = 1.0 / HOURS_PER_DAY
# Exits in the entry day and the next are kept hour by hour ("near"); later ones day by day ("far").
NEAR_STEPS = 2 * HOURS_PER_DAY


def stop_loss_days(spec: LosDistribution, x_days: np.ndarray, multiplier: float = 1.0) -> np.ndarray:
    """``E[(m L - x)+]`` for a stay ``L`` of ``spec`` scaled by ``multiplier`` (days); for x < 0
    it is ``m E[L] - x``."""
    x = np.asarray(x_days, dtype=float) / multiplier
    pos = np.maximum(x, 0.0)
    out = _stop_loss(spec, pos) + (pos - x)  # below 0: E[L] - x = pi(0) + |x|
    return np.asarray(out * multiplier, dtype=float)


def _stop_loss(spec: LosDistribution, x: np.ndarray) -> np.ndarray:
    """``E[(L - x)+]`` for ``x >= 0``, in forms that stay accurate far in the tail."""
    if isinstance(spec, Exponential):
        return np.asarray(spec.mean_days * np.exp(-x / spec.mean_days))
    if isinstance(spec, Lognormal):
        sigma = math.sqrt(math.log1p(spec.cv**2))
        mu = math.log(spec.mean_days) - sigma**2 / 2
        with np.errstate(divide="ignore"):
            z = (np.log(x) - mu) / sigma  # -inf at 0: the whole mean remains
        # E[L; L > x] - x P(L > x), both from the upper tail
        return np.asarray(spec.mean_days * special.ndtr(sigma - z) - x * special.ndtr(-z))
    if isinstance(spec, Gamma):
        shape = 1.0 / spec.cv**2
        scale = spec.mean_days / shape
        return np.asarray(
            spec.mean_days * special.gammaincc(shape + 1, x / scale) - x * special.gammaincc(shape, x / scale)
        )
    if isinstance(spec, Fixed):
        return np.asarray(np.maximum(spec.mean_days - x, 0.0))
    if isinstance(spec, Empirical):
        values = np.asarray(spec.values_days, dtype=float)
        return np.asarray(np.maximum(values[:, None] - x.ravel()[None, :], 0.0).mean(axis=0).reshape(x.shape))
    raise TypeError(f"unknown distribution {spec!r}")


def present_after_steps(
    spec: LosDistribution, multiplier: float, n_steps: int, step_days: float = STEP_DAYS
) -> np.ndarray:
    """``W[k]``, k = 0..n_steps-1: the share of a cohort that entered at a constant rate over one
    step still present at the end of the k-th step after it (k = 0: the end of its own step)."""
    pi = stop_loss_days(spec, np.arange(n_steps + 1) * step_days, multiplier)
    return np.asarray((pi[:-1] - pi[1:]) / step_days)


def exit_shares(present: np.ndarray) -> np.ndarray:
    """Shares leaving during each step (``q[k] = W[k-1] - W[k]``, ``W[-1] = 1``)."""
    before = np.concatenate([[1.0], present[:-1]])
    return np.asarray(before - present)


def mean_stay_days(spec: LosDistribution, multiplier: float = 1.0) -> float:
    """The mean stay (days), multiplier included."""
    return float(stop_loss_days(spec, np.zeros(1), multiplier)[0])


def conditional_present(
    spec: LosDistribution, elapsed_days: float, n_steps: int, step_days: float = STEP_DAYS
) -> np.ndarray:
    """Share of patients who have already stayed ``elapsed_days`` still present at the end of each
    of the next ``n_steps`` steps (a census patient: no entry spread)."""
    x = elapsed_days + np.arange(1, n_steps + 1) * step_days
    surv = _survival(spec, np.concatenate([[elapsed_days], x]))
    if surv[0] <= 0:
        return np.zeros(n_steps)
    return np.asarray(surv[1:] / surv[0])


def _survival(spec: LosDistribution, x: np.ndarray) -> np.ndarray:
    """``P(L > x)``."""
    if isinstance(spec, Exponential):
        return np.asarray(np.exp(-x / spec.mean_days))
    if isinstance(spec, Lognormal):
        sigma = math.sqrt(math.log1p(spec.cv**2))
        mu = math.log(spec.mean_days) - sigma**2 / 2
        with np.errstate(divide="ignore"):
            return np.asarray(special.ndtr(-(np.log(x) - mu) / sigma))
    if isinstance(spec, Gamma):
        shape = 1.0 / spec.cv**2
        return np.asarray(special.gammaincc(shape, x / (spec.mean_days / shape)))
    if isinstance(spec, Fixed):
        return np.asarray((spec.mean_days > x).astype(float))
    if isinstance(spec, Empirical):
        values = np.asarray(spec.values_days, dtype=float)
        return np.asarray((values[:, None] > x[None, :]).mean(axis=0))
    raise TypeError(f"unknown distribution {spec!r}")
