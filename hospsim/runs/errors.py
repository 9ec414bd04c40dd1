"""Problems with a results folder."""

from __future__ import annotations

from ..config.errors import UserError


class ResultsError(UserError):
    """A results folder that is missing, incomplete or unreadable, in one line naming the folder or
    file; every reader refuses such a folder rather than show part of it."""


class OutputError(UserError):
    """An output folder or file that cannot be written (a file in the way, a read-only place, an
    empty ``--out``) or that another hospsim is writing, in one line naming the path."""
