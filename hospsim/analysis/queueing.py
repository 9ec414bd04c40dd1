"""Exact results for textbook bed-pool queues, used to validate the simulator.

Conventions used throughout:

* ``c`` is the number of beds (servers), an integer ``>= 0``.
* ``a`` is the offered load in erlangs: arrival rate x mean length of stay (LOS), in the same
  time unit, e.g. 18 admissions/day x 5 days = 90 erlangs. It is dimensionless and equals the
  mean number of beds that would be occupied if beds were unlimited.
* ``mean_service`` is the mean LOS; waiting times are returned in the same unit as
  ``mean_service`` (pass days, get days), and ``t`` in :func:`mmc_p_wait_over` is in that unit
  too.

Models:

* M/G/c/c (Erlang loss; ``acute.when_full: refuse``): Poisson arrivals, any LOS distribution
  with the given mean, arrivals that find all ``c`` beds full are refused. The blocking
  probability (:func:`erlang_b`) depends on the LOS distribution only through its mean
  (insensitivity).
* M/M/c (Erlang delay; ``acute.when_full: queue``): Poisson arrivals, exponential LOS, arrivals
  that find all beds full wait in a first-come-first-served queue of unlimited size. Exact for
  exponential LOS only.
"""

from __future__ import annotations

import math
import operator

__all__ = [
    "erlang_b",
    "erlang_c",
    "mgcc_mean_occupied",
    "mmc_mean_wait",
    "mmc_p_wait_over",
]


def _check_c(c: int) -> int:
    try:
        n = operator.index(c)
    except TypeError:
        raise TypeError(f"c must be an integer number of beds (got {c!r})") from None
    if n < 0:
        raise ValueError(f"c must be >= 0 (got {n})")
    return n


def _check_a(a: float) -> float:
    x = float(a)
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"offered load a must be a finite number > 0 erlangs (got {a!r})")
    return x


def erlang_b(c: int, a: float) -> float:
    """Erlang B: blocking probability of an M/G/c/c loss system.

    The share of arrivals refused (equally, by PASTA, the share of time all ``c`` beds are
    full) when ``a`` erlangs are offered to ``c`` beds. Dimensionless, in (0, 1].

    Computed by the recursion ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``, which never
    forms ``a**c`` or ``c!`` and so neither overflows nor loses precision for large ``c``
    (thousands of beds); cost is O(c).

    >>> round(erlang_b(10, 5.0), 8)
    0.01838457
    """
    n = _check_c(c)
    x = _check_a(a)
    b = 1.0
    for k in range(1, n + 1):
        ab = x * b
        b = ab / (k + ab)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival must wait for a bed in an M/M/c queue.

    Dimensionless, in (0, 1). Requires a stable queue, ``a < c`` (``a`` in erlangs); raises
    ``ValueError`` otherwise. Computed from Erlang B as ``C = c B / (c - a (1 - B))``.
    """
    n = _check_c(c)
    x = _check_a(a)
    if not x < n:
        raise ValueError(f"M/M/c needs offered load a < c for a steady state (a={x:g}, c={n})")
    b = erlang_b(n, x)
    return n * b / (n - x * (1.0 - b))


def mmc_mean_wait(c: int, a: float, mean_service: float) -> float:
    """Mean wait for a bed over ALL arrivals (those admitted at once count 0) in an M/M/c queue.

    ``W_q = C(c, a) * mean_service / (c - a)``, in the time unit of ``mean_service`` (the mean
    LOS). Requires ``a < c``. The mean wait of those who do wait is ``mean_service / (c - a)``.
    """
    s = float(mean_service)
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"mean_service must be a finite number > 0 (got {mean_service!r})")
    return erlang_c(c, a) * s / (c - float(a))


def mmc_p_wait_over(c: int, a: float, mean_service: float, t: float) -> float:
    """P(wait > t) for an arrival in an M/M/c FIFO queue.

    ``P(W > t) = C(c, a) * exp(-(c - a) t / mean_service)`` for ``t >= 0``; ``t`` and
    ``mean_service`` in the same time unit (e.g. ``t = 4/24`` days with a 5-day mean LOS for
    the 4-hour standard). Dimensionless. Requires ``a < c``.
    """
    s = float(mean_service)
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"mean_service must be a finite number > 0 (got {mean_service!r})")
    tt = float(t)
    if not tt >= 0:
        raise ValueError(f"t must be >= 0 (got {t!r})")
    return erlang_c(c, a) * math.exp(-(c - float(a)) * tt / s)


def mgcc_mean_occupied(c: int, a: float) -> float:
    """Mean number of occupied beds in an M/G/c/c loss system: the carried load ``a (1 - B)``.

    In beds (erlangs); divide by ``c`` for the mean occupancy fraction. Insensitive to the LOS
    distribution beyond its mean.
    """
    x = _check_a(a)
    return x * (1.0 - erlang_b(c, x))
