"""Schedules: values that a plan changes over time (capacities, rates, shares, multipliers).

A schedule is written in a config as one of
  * a number                                   -> constant
  * ``{steps: [[day, value], ...]}``           -> piecewise constant, first step on day 0
  * ``{ramp: {from, to, start_day, duration_days}}`` -> linear change between two levels

A step's day and a ramp's ``start_day`` are points in time: a day number or an ISO date, turned
into its day number from the config's ``start_date`` while validating (see :mod:`.dates`).

Every schedule is evaluated once per simulated day (day 0 = ``start_date``); the model uses the
resulting per-day array, so changes happen at midnight.

A schedule that changes may carry a ``gate``: one condition, or a list of conditions that must all
hold, checked at every midnight. Until the gate opens the schedule holds the value it had just
before its first change; when the gate opens on day g, the rest of the schedule runs from there,
postponed by ``max(0, g - first_change_day)`` days. Once open, a gate stays open. Conditions are
structured data, never evaluated code.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from .dates import day_number
from .limits import MAX_FACTOR, MAX_HORIZON_DAYS, MAX_OCCUPANCY, MAX_PLACES

# A number of days (a duration or a delay): 0 up to the longest horizon (see limits).
Day = Annotated[StrictInt, Field(ge=0, le=MAX_HORIZON_DAYS)]
Days = Annotated[StrictInt, Field(ge=1, le=MAX_HORIZON_DAYS)]
# A day of the simulation (a point in time): a day number as Day, or a date (see .dates); the
# JSON Schema (editor completion) offers both.
DayOrDate = Annotated[
    StrictInt,
    Field(ge=0, le=MAX_HORIZON_DAYS),
    BeforeValidator(day_number, json_schema_input_type=Day | dt.date),
]


class _Strict(BaseModel):
    # Every float finite: NaN and infinity are never a value (see limits).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Ramp(_Strict):
    """Linear change from ``from`` to ``to`` over ``duration_days`` starting on ``start_day``."""

    from_value: float = Field(alias="from")
    to: float
    start_day: DayOrDate
    duration_days: Day


class ServiceCapacityAtLeast(_Strict):
    """Open once community service ``service`` has at least ``places`` places in force."""

    service: str
    places: float = Field(ge=0, le=MAX_PLACES)


class OccupancyAtMost(_Strict):
    """Open once acute occupancy (time-weighted) over the last ``days`` days is <= ``occupancy``."""

    days: Days = 28
    occupancy: float = Field(gt=0, le=MAX_OCCUPANCY)


class DelayedAtMost(_Strict):
    """Open once the mean number of delayed-transfer patients over the last ``days`` days is
    <= ``patients``."""

    days: Days = 28
    patients: float = Field(ge=0, le=MAX_PLACES)


class Condition(_Strict):
    """One gate condition: exactly one of the fields."""

    service_capacity_at_least: ServiceCapacityAtLeast | None = None
    occupancy_at_most: OccupancyAtMost | None = None
    delayed_patients_at_most: DelayedAtMost | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a condition is exactly one of: " + ", ".join(type(self).model_fields))
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @property
    def spec(self) -> Any:
        return getattr(self, self.kind)


class Schedule(_Strict):
    """A per-day value: exactly one of ``constant``, ``steps`` or ``ramp``; optionally gated."""

    constant: float | None = None
    steps: list[tuple[DayOrDate, float]] | None = None
    ramp: Ramp | None = None
    gate: list[Condition] | None = None

    @field_validator("gate", mode="before")
    @classmethod
    def _gate_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("expected a number or a schedule mapping, got a boolean")
        if isinstance(data, (int, float)):
            if isinstance(data, float) and not math.isfinite(data):
                raise ValueError(f"expected a finite number (got {data:g})")
            return {"constant": data}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        given = [k for k in ("constant", "steps", "ramp") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a schedule is a number, {steps: [[day, value], ...]} or {ramp: {from, to, start_day, duration_days}}"
            )
        if self.steps is not None:
            days = [d for d, _ in self.steps]
            if not days or days[0] != 0:
                raise ValueError("steps must start on day 0 (the start_date)")
            if any(b <= a for a, b in itertools.pairwise(days)):
                raise ValueError("step days must be strictly increasing")
        if self.gate is not None:
            if not self.gate:
                raise ValueError(
                    "gate: an empty list; give at least one condition (service_capacity_at_least, "
                    "occupancy_at_most or delayed_patients_at_most), or remove the gate"
                )
            if self.first_change_day() is None:
                raise ValueError("gate: a schedule that never changes cannot be gated")
        return self

    def first_change_day(self) -> int | None:
        """The first day on which the value differs from day 0's, or None if it never changes."""
        if self.steps is not None:
            first = self.steps[0][1]
            return next((d for d, v in self.steps[1:] if v != first), None)
        if self.ramp is not None and self.ramp.from_value != self.ramp.to:
            return self.ramp.start_day + (1 if self.ramp.duration_days > 0 else 0)
        return None

    def change_days(self) -> list[int]:
        """The days on which a change starts, as written: each step that changes the value, a
        ramp's ``start_day`` (a gated schedule's at the earliest; its gate may postpone them)."""
        if self.steps is not None:
            return [d for (_, before), (d, v) in itertools.pairwise(self.steps) if v != before]
        if self.ramp is not None and self.ramp.from_value != self.ramp.to:
            return [self.ramp.start_day]
        return []

    def daily_held(self, n_days: int) -> np.ndarray:
        """Per-day values while the gate is shut: the schedule until its first change, then held."""
        values = self.daily(n_days)
        first = self.first_change_day()
        if first is not None and first < n_days:
            values[first:] = self.initial_value()
        return values

    def initial_value(self) -> float:
        """The value before any change."""
        return float(self.values()[0])

    def daily_opened(self, n_days: int, open_day: int) -> np.ndarray:
        """Per-day values when the gate opened on ``open_day``: the schedule postponed so that
        no change happens before ``open_day``."""
        first = self.first_change_day()
        full = self.daily(n_days)
        if first is None or open_day <= first:
            return full
        shift = open_day - first
        days = np.arange(n_days) - shift
        return np.where(days < 0, self.initial_value(), full[np.clip(days, 0, n_days - 1)])

    def daily_most(self, n_days: int) -> np.ndarray:
        """The highest value on each day, whenever the gate opens: a late opening postpones the
        schedule, so a gated one may have on any day any value it had before (running maximum)."""
        values = self.daily(n_days)
        return np.maximum.accumulate(values) if self.gate else values

    def values(self) -> list[float]:
        """The levels the schedule can take (its extremes are among them)."""
        if self.constant is not None:
            return [self.constant]
        if self.steps is not None:
            return [v for _, v in self.steps]
        assert self.ramp is not None
        return [self.ramp.from_value, self.ramp.to]

    def located_values(self) -> list[tuple[str, float]]:
        """:meth:`values` with where each is written (``""`` for a constant, ``steps.1.1``,
        ``ramp.to``), so an error names the number at fault."""
        if self.constant is not None:
            return [("", self.constant)]
        if self.steps is not None:
            return [(f"steps.{i}.1", v) for i, (_, v) in enumerate(self.steps)]
        assert self.ramp is not None
        return [("ramp.from", self.ramp.from_value), ("ramp.to", self.ramp.to)]

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

    def delivered(self, delay_days: int, achieved: float) -> Schedule:
        """This schedule as actually delivered: every change ``delay_days`` later and only
        ``achieved`` of its size (0.5 = half the planned growth). Gates are kept."""
        if delay_days == 0 and achieved == 1.0:
            return self
        if self.steps is not None:
            v0 = self.steps[0][1]
            steps = [self.steps[0]] + [(d + delay_days, v0 + achieved * (v - v0)) for d, v in self.steps[1:]]
            return self.model_copy(update={"steps": steps})
        if self.ramp is not None:
            r = self.ramp
            ramp = r.model_copy(
                update={"start_day": r.start_day + delay_days, "to": r.from_value + achieved * (r.to - r.from_value)}
            )
            return self.model_copy(update={"ramp": ramp})
        return self

    def daily_int(self, n_days: int) -> np.ndarray:
        """Per-day values rounded to whole places (for capacities)."""
        return whole(self.daily(n_days))

    def is_constant(self) -> bool:
        vals = self.values()
        return min(vals) == max(vals)


def whole(values: np.ndarray) -> np.ndarray:
    """Round to whole places, halves up (a ramp's 2.5 and 3.5 become 3 and 4)."""
    return np.floor(np.asarray(values, dtype=float) + 0.5).astype(np.int64)


def check_range(s: Schedule, low: float | None, high: float | None, *, low_open: bool = False) -> Schedule:
    """``s`` if every value it takes is within [low, high] (or (low, high]); else ValueError."""
    for where, v in s.located_values():
        at = f"{where}: " if where else ""
        if low is not None and (v < low or (low_open and v == low)):
            op = ">" if low_open else ">="
            raise ValueError(f"{at}every value must be {op} {low:g} (got {v:g})")
        if high is not None and v > high:
            raise ValueError(f"{at}every value must be <= {high:g} (got {v:g})")
    return s


def _range_check(low: float | None, high: float | None, *, low_open: bool = False) -> Callable[[Schedule], Schedule]:
    return partial(check_range, low=low, high=high, low_open=low_open)


# Schedule types with the value ranges each use allows (ceilings: see limits).
PlacesSchedule = Annotated[Schedule, AfterValidator(_range_check(0, MAX_PLACES))]  # beds, places, slots
NonNegativeSchedule = Annotated[Schedule, AfterValidator(_range_check(0, MAX_FACTOR))]  # multipliers
PositiveSchedule = Annotated[Schedule, AfterValidator(_range_check(0, MAX_FACTOR, low_open=True))]
ShareSchedule = Annotated[Schedule, AfterValidator(_range_check(0, 1))]
