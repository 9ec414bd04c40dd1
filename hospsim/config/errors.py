"""Errors a user can cause, each described in one line; the command line prints the line and exits
with code 2, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Longer lists of valid names are not spelled out: the message stays a readable line.
MAX_LISTED = 30


class UserError(Exception):
    """A user's mistake (a file, a field, an option), described in one line."""


class ConfigError(UserError):
    """A config or experiment problem, described in one line: ``<source>: <field>: <problem>``."""


def did_you_mean(name: str, known: Iterable[str], plural: str, see: str = "") -> str:
    """The hint after an unknown name, the same wherever a user types a name:
    `` (did you mean 'rehab_bed'? services: care_home, home_support, rehab_bed)``.

    ``plural`` names the kind of name (``services``, ``KPIs``); the valid names follow, sorted, or,
    when there are more than :data:`MAX_LISTED` and ``see`` says where to read them, their number
    and ``see``.
    """
    names = sorted(set(known))
    close = [repr(c) for c in difflib.get_close_matches(name, names, n=3, cutoff=0.6)]
    either = f"{', '.join(close[:-1])} or {close[-1]}" if len(close) > 1 else "".join(close)
    guess = f"did you mean {either}? " if close else ""
    if not names:
        return f" (no {plural} defined)"
    if len(names) > MAX_LISTED and see:
        return f" ({guess}{len(names)} {plural}: {see})"
    return f" ({guess}{plural}: {', '.join(names)})"
