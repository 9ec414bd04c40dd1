"""Schedules: values that a plan changes over time (capacities, rates, shares, multipliers).

A schedule is written in a config as one of
  * a number                                   -> constant
  * ``{steps: [[day, value], ...]}``           -> piecewise constant, first step on day 0
  * ``{ramp: {from, to, start_day, duration_days}}`` -> linear change between two levels

Every schedule is evaluated once per simulated day (day 0 = ``start_date``); the model uses the
resulting per-day array, so changes happen at midnight.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Ramp(_Strict):
    """Linear change from ``from`` to ``to`` over ``duration_days`` starting on ``start_day``."""

    from_value: float = Field(alias="from")
    to: float
    start_day: int = Field(ge=0)
    duration_days: int = Field(ge=0)


class Schedule(_Strict):
    """A per-day value: exactly one of ``constant``, ``steps`` or ``ramp``."""

    constant: float | None = None
    steps: list[tuple[int, float]] | None = None
    ramp: Ramp | None = None

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("expected a number or a schedule mapping, got a boolean")
        if isinstance(data, (int, float)):
            return {"constant": data}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> "Schedule":
        given = [k for k in ("constant", "steps", "ramp") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a schedule is a number, {steps: [[day, value], ...]} or "
                "{ramp: {from, to, start_day, duration_days}}"
            )
        if self.steps is not None:
            days = [d for d, _ in self.steps]
            if not days or days[0] != 0:
                raise ValueError("steps must start on day 0")
            if any(b <= a for a, b in zip(days, days[1:])):
                raise ValueError("step days must be strictly increasing")
        return self

    def values(self) -> list[float]:
        """The levels the schedule can take (its extremes are among them)."""
        if self.constant is not None:
            return [self.constant]
        if self.steps is not None:
            return [v for _, v in self.steps]
        assert self.ramp is not None
        return [self.ramp.from_value, self.ramp.to]

    def daily(self, n_days: int) -> np.ndarray:
        """Value in force on each day ``0 .. n_days-1`` (float array)."""
        days = np.arange(n_days, dtype=float)
        if self.constant is not None:
            return np.full(n_days, float(self.constant))
        if self.steps is not None:
            starts = np.array([d for d, _ in self.steps], dtype=float)
            levels = np.array([v for _, v in self.steps], dtype=float)
            return levels[np.searchsorted(starts, days, side="right") - 1]
        r = self.ramp
        assert r is not None
        if r.duration_days == 0:
            frac = (days >= r.start_day).astype(float)
        else:
            frac = np.clip((days - r.start_day) / r.duration_days, 0.0, 1.0)
        return r.from_value + (r.to - r.from_value) * frac

    def daily_int(self, n_days: int) -> np.ndarray:
        """Per-day values rounded to whole places (for capacities)."""
        return np.rint(self.daily(n_days)).astype(np.int64)

    def is_constant(self) -> bool:
        vals = self.values()
        return min(vals) == max(vals)


def _range_check(low: float | None, high: float | None, *, low_open: bool = False) -> Callable:
    def check(s: Schedule) -> Schedule:
        for v in s.values():
            if low is not None and (v < low or (low_open and v == low)):
                op = ">" if low_open else ">="
                raise ValueError(f"every value must be {op} {low:g} (got {v:g})")
            if high is not None and v > high:
                raise ValueError(f"every value must be <= {high:g} (got {v:g})")
        return s

    return check


# Schedule types with the value ranges each use allows.
NonNegativeSchedule = Annotated[Schedule, AfterValidator(_range_check(0, None))]
PositiveSchedule = Annotated[Schedule, AfterValidator(_range_check(0, None, low_open=True))]
ShareSchedule = Annotated[Schedule, AfterValidator(_range_check(0, 1))]
