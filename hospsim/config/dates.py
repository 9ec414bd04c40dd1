"""Days of the simulation written as dates.

Wherever a config or experiment names a day of the simulation (a point in time: a schedule's step
day, a ramp's or pathway change's ``start_day``, an experiment window's ``start_day`` and
``end_day``) it may give a day number or an ISO date, ``2017-05-01`` (a YAML date or a string).
A date is turned into its day number, counted from ``start_date`` (day 0), while validating, so a
validated config holds day numbers only: its dump, hash and results are those of the same config
written in day numbers. Durations (``duration_days``, ``warmup_days``, ``ic_delay_days``, a gate's
``days``, LOS) are numbers of days, never dates.

The day 0 a date counts from is set for the duration of a validation by :func:`counting_from`
(the config's own ``start_date``, or for an experiment's window the base config's), read by
:func:`day_number`, the validator of every such field.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .limits import MAX_HORIZON_DAYS

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE = TypeAdapter(dt.date)


@dataclass(frozen=True)
class _DayZero:
    start_date: dt.date | None  # None: the config's start_date is missing or invalid
    horizon_days: int | None  # when given, a date past it is an error (an experiment's window)


_DAY_ZERO: contextvars.ContextVar[_DayZero | None] = contextvars.ContextVar("hospsim_day_zero", default=None)


def as_date(value: Any) -> dt.date | None:
    """``value`` as a calendar date if it is one: a ``datetime.date`` or an ISO ``YYYY-MM-DD``
    string; None for anything else (a number, a malformed string)."""
    if isinstance(value, dt.datetime):
        return None  # a moment, not a day
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def day_of(date: dt.date, start_date: dt.date) -> int:
    """The day number of ``date`` when ``start_date`` is day 0 (negative before it)."""
    return (date - start_date).days


def date_of(day: int, start_date: dt.date) -> dt.date:
    """The calendar date of day number ``day`` when ``start_date`` is day 0."""
    return start_date + dt.timedelta(days=day)


def day_and_date(day: int, start_date: dt.date) -> str:
    """``day 365, 2017-04-01``: a day as both the model and a planner count it."""
    return f"day {day:,}, {date_of(day, start_date).isoformat()}"


def _start_date(value: Any) -> dt.date | None:
    """A config's ``start_date`` as the schema reads it, or None if the schema would refuse it."""
    try:
        return _DATE.validate_python(value)
    except ValidationError:
        return None


@contextmanager
def counting_from(start_date: Any, horizon_days: int | None = None) -> Iterator[None]:
    """Within the block, dates in validated fields count from ``start_date`` (as written in the
    config; an invalid one makes every date an error); with ``horizon_days``, a date after the
    horizon is an error too."""
    token = _DAY_ZERO.set(_DayZero(_start_date(start_date), horizon_days))
    try:
        yield
    finally:
        _DAY_ZERO.reset(token)


def day_number(value: Any) -> Any:
    """A pydantic before-validator: a date (or ISO string) becomes its day number from the
    ``start_date`` in force (see :func:`counting_from`); anything else is left for the field's
    own checks (a whole number from 0)."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value.isoformat(sep=' ')} has a time of day; give a date (YYYY-MM-DD) or a day number")
    if not isinstance(value, (dt.date, str)):
        return value
    date = as_date(value)
    if date is None:
        raise ValueError(f'"{_shown(value)}" is not a date (YYYY-MM-DD) or a day number')
    zero = _DAY_ZERO.get()
    if zero is None:
        raise ValueError(f"{date}: a date counts from a config's start_date; give a day number here")
    if zero.start_date is None:
        raise ValueError(f"{date}: a date needs a valid start_date to count from")
    day = day_of(date, zero.start_date)
    if day < 0:
        raise ValueError(f"{date} is day {day:,}, before start_date {zero.start_date}")
    limit, what = (
        (zero.horizon_days, f"the horizon ({zero.horizon_days:,} days)")
        if zero.horizon_days is not None
        else (MAX_HORIZON_DAYS, f"the longest horizon hospsim allows ({MAX_HORIZON_DAYS:,} days)")
    )
    if day > limit:
        raise ValueError(f"{date} is day {day:,}, after {what}")
    return day


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:21]}..."
