"""Optional compiled (numba) kernels for the array code around the event loop.

Drawing the patients and the daily metrics have a plain numpy path (the reference) and, when
numba can be imported, compiled kernels that give bit-identical arrays (tests assert it). numba
is imported on first use, not when hospsim is, so a process that never needs it never pays for it.
"""

from __future__ import annotations

import functools
from types import ModuleType


@functools.cache
def array_kernels() -> ModuleType | None:
    """The compiled kernels module, or None when numba cannot be imported or its kernels cannot
    be compiled (callers then use their numpy path, which gives the same numbers)."""
    try:
        from . import array_kernels as kernels
    except ImportError:
        return None
    try:
        kernels.warm_up()
    except Exception:  # numba's errors have no common base: any failure means "use numpy"
        return None
    return kernels
