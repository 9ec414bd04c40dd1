"""Problems with the options of ``hospsim plot`` and ``hospsim report``."""

from __future__ import annotations

from ..config.errors import UserError


class OptionError(UserError):
    """A command-line option of ``plot`` or ``report`` that does not fit the results folder
    (``--what``, ``--format``, ``--scenario``, ``--point``, ``--criterion``) or an output path
    that cannot be written, in one line naming the option or path."""
