"""Problems with a results folder."""

from __future__ import annotations

from ..config.errors import UserError


class ResultsError(UserError):
    """A results folder that is missing, incomplete or unreadable, in one line naming the folder or
    file; every reader refuses such a folder rather than show part of it."""
