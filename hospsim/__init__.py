"""hospsim: does a plan to cut acute hospital beds still hold when intermediate care grows too
slowly or arrives too late? A discrete-event simulation of admissions, length of stay, delayed
transfers of care and community alternatives.

The Python API (see :mod:`hospsim.api`)::

    import hospsim

    cfg = hospsim.default_config().with_overrides({"acute.beds": 2000})
    res = hospsim.run(cfg, replications=5)
    res.summary, res.plot_fan()

``import hospsim`` is cheap: the names of the API are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import (
        DEFAULT_WORKERS,
        Config,
        ConfigError,
        LoadedExperiment,
        Results,
        UserError,
        default_config,
        load_config,
        load_experiment,
        load_results,
        run,
        sweep,
    )

__all__ = [
    "DEFAULT_WORKERS",
    "Config",
    "ConfigError",
    "LoadedExperiment",
    "Results",
    "UserError",
    "__version__",
    "default_config",
    "load_config",
    "load_experiment",
    "load_results",
    "run",
    "sweep",
]


def __getattr__(name: str) -> Any:
    # Lazily (PEP 562): the API imports every layer, and every layer imports this module for
    # its version, so importing the API here at once would be slow and circular.
    if name in __all__:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hospsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
