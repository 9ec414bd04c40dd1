"""How a sweep chooses its points: the full grid of listed values, or a seeded space-filling design
over ranges (``low``..``high`` per parameter).

A sampling method is one entry in :data:`SAMPLING_METHODS`: a function from (number of
parameters, number of samples, seed) to points in the unit cube, which the sweep scales to the
parameters' ranges (see docs/howto-sweep-method.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GRID = "grid"  # every combination of the parameters' listed values


@dataclass(frozen=True)
class SamplingMethod:
    """A seeded design over parameter ranges."""

    name: str
    description: str
    # (dimensions, samples, seed) -> array of shape (samples, dimensions) in [0, 1)
    unit_design: Callable[[int, int, int], np.ndarray]


# scipy.stats is imported when a design is drawn, not when a config is read (it takes a second).


def _latin_hypercube(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    return np.asarray(qmc.LatinHypercube(d=d, seed=seed).random(n))


def _sobol(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    return np.asarray(qmc.Sobol(d=d, scramble=True, seed=seed).random(n))


SAMPLING_METHODS: dict[str, SamplingMethod] = {
    m.name: m
    for m in (
        SamplingMethod("lhs", "Latin hypercube sample (scipy.stats.qmc), seeded", _latin_hypercube),
        SamplingMethod("sobol", "scrambled Sobol sequence (scipy.stats.qmc), seeded", _sobol),
    )
}
