"""Errors a user can cause, each described in one line; the command line prints the line and exits
with code 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A user's mistake (a file, a field, an option), described in one line."""


class ConfigError(UserError):
    """A config or experiment problem, described in one line: ``<source>: <field>: <problem>``."""
