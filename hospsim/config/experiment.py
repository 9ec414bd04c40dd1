"""Experiment files: a base config, a baseline, named scenarios, a sweep and the plan's criteria.

An experiment file is validated like a config (unknown keys, bad ranges, unknown parameter paths
are one-line errors naming the file and the field) and expands into a list of runs: one per
(scenario, sweep point, replication). Every scenario uses the same replication seeds, so
scenarios are compared on the same patients (common random numbers).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from .errors import ConfigError, did_you_mean
from .limits import MAX_LABEL_CHARS, MAX_REPLICATIONS, MAX_RUNS, MAX_SEED
from .loading import copy_raw, read_yaml, set_dotted
from .schedules import DayOrDate
from .sweep_methods import GRID, SAMPLING_METHODS

BASELINE = "baseline"
ALL_CRITERIA = "all criteria"  # the verdict row of every criterion together (verdicts.csv)
# Names that become file names (the experiment's results folder, the scenarios' run files).
SLUG = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_SLUG_RULE = "letters, digits, '-', '_' and '.' (not first)"
# Config fields an experiment sets itself: an override or a sweep of them would be ignored (one
# engine runs a whole sweep).
_EXPERIMENT_OWNED = ("seed", "replications", "engine")


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(key.strip().split("."))


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether setting one dotted path changes the value at the other (equal, or one inside the other)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Scenario(_Strict):
    """Changes to the base config, as ``dotted.path: value``; ``extends`` starts from another
    scenario's changes (its own override the inherited ones). The baseline is one too: its
    ``extends`` names a scenario."""

    description: str = ""
    extends: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class SweepParameter(_Strict):
    """One swept value: a list of ``values`` (grid) or a range ``low``..``high`` (LHS, Sobol)."""

    path: str
    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False


class Sweep(_Strict):
    method: str = GRID  # one of SWEEP_METHODS
    samples: StrictInt | None = Field(default=None, ge=1, le=MAX_RUNS)
    parameters: dict[str, SweepParameter] = Field(min_length=1)
    scenarios: list[str] | None = None  # which scenarios it crosses (default: all but baseline)

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str) -> str:
        if v != GRID and v not in SAMPLING_METHODS:
            raise ValueError(f"unknown method {v!r}{did_you_mean(v, [GRID, *SAMPLING_METHODS], 'methods')}")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Sweep:
        for name, p in self.parameters.items():
            if self.method == GRID:
                if not p.values:
                    raise ValueError(f"parameters.{name}.values: a grid sweep needs a non-empty list of values")
            else:
                if p.low is None or p.high is None:
                    raise ValueError(f"parameters.{name}: a {self.method} sweep needs low and high")
                if not p.low < p.high:
                    raise ValueError(f"parameters.{name}: low must be < high (got {p.low:g}, {p.high:g})")
        if self.method != GRID and self.samples is None:
            raise ValueError(f"samples: required for a {self.method} sweep")
        if self.points() > MAX_RUNS:
            raise ValueError(
                f"parameters: {self.points():,} sweep points, more than the {MAX_RUNS:,} runs hospsim allows"
            )
        return self

    def points(self) -> int:
        """How many points the sweep has (counted, not built: a grid's product can be huge)."""
        if self.method != GRID:
            return self.samples or 0
        return math.prod(len(p.values or []) for p in self.parameters.values())


class Criterion(_Strict):
    """One test the plan must pass, on a KPI over the experiment's window.

    ``compare``: ``absolute`` (the scenario's KPI itself), ``relative_to_baseline``
    ((scenario - baseline) / baseline, paired by replication) or ``difference_from_baseline``
    (scenario - baseline).
    """

    name: str | None = None
    kpi: str
    compare: Literal["absolute", "relative_to_baseline", "difference_from_baseline"] = "absolute"
    # Finite (allow_inf_nan=False on every experiment model): a NaN or infinite limit would make
    # the criterion never or always hold.
    at_most: float | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> Criterion:
        if (self.at_most is None) == (self.at_least is None):
            raise ValueError("give exactly one of at_most, at_least")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        op, bound = ("<=", self.at_most) if self.at_most is not None else (">=", self.at_least)
        what = {
            "absolute": self.kpi,
            "relative_to_baseline": f"{self.kpi} change vs baseline",
            "difference_from_baseline": f"{self.kpi} minus baseline",
        }[self.compare]
        return f"{what} {op} {bound:g}"

    def holds(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value <= self.at_most if self.at_most is not None else value >= self.at_least  # type: ignore[operator]

    def holds_each(self, values: np.ndarray) -> np.ndarray:
        """:meth:`holds` of each value at once (NaN never holds: a comparison with NaN is false)."""
        values = np.asarray(values, dtype=float)
        return np.asarray(values <= self.at_most if self.at_most is not None else values >= self.at_least)


class Window(_Strict):
    """Days over which KPIs are measured for the verdict: ``start_day`` <= day < ``end_day``.

    Each is a day number or a date, counted from the base config's ``start_date`` (the loader
    validates the window once that is known; see :mod:`hospsim.runs.experiment`)."""

    start_day: DayOrDate
    end_day: DayOrDate = Field(gt=0)


class Experiment(_Strict):
    extends: str | None = None  # another experiment file this one changes (resolved on loading)
    name: str = Field(min_length=1)
    description: str = ""
    question: str = ""
    config: str  # base config path, relative to the experiment file
    overrides: dict[str, Any] = Field(default_factory=dict)  # applied to the base for every scenario
    replications: StrictInt = Field(default=10, ge=1, le=MAX_REPLICATIONS)
    seed: StrictInt = Field(default=1, ge=0, le=MAX_SEED)
    window: Window | None = None
    baseline: Scenario = Scenario()
    scenarios: dict[str, Scenario] = Field(default_factory=dict)
    sweep: Sweep | None = None
    criteria: list[Criterion] = Field(default_factory=list)
    # Display names for the report and figures: scenario, sweep parameter, service or KPI name ->
    # the words a board reads, e.g. {fixed_date: "Cut on the planned date"}.
    labels: dict[str, str] = Field(default_factory=dict)
    # The engine of every run (hospsim.model.engines); None: the base config's if it names one,
    # else the sweep default. simpy and fast give the same results, so it is not part of the hash;
    # flow runs each cell once (a sweep's folder records it, and is resumed only with flow).
    engine: Literal["simpy", "fast", "flow"] | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not SLUG.fullmatch(v):
            raise ValueError(f"{v!r} is not a safe folder name (use {_SLUG_RULE})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        if BASELINE in self.scenarios:
            raise ValueError(f"scenarios.{BASELINE}: the baseline is given under 'baseline'")
        if not self.scenarios:
            raise ValueError("scenarios: give at least one scenario to compare with the baseline")
        for name in self.scenarios:
            if not SLUG.fullmatch(name):
                # Scenario names label run ids and run files: only slugs keep those apart.
                raise ValueError(f"scenarios.{name}: not a valid scenario name (use {_SLUG_RULE})")
        for name, sc in self.scenarios.items():
            seen = [name]
            parent = sc.extends
            while parent is not None:
                if parent not in self.scenarios:
                    hint = did_you_mean(parent, self.scenarios, "scenarios")
                    raise ValueError(f"scenarios.{seen[-1]}.extends: no scenario {parent!r}{hint}")
                if parent in seen:
                    raise ValueError(f"scenarios.{name}.extends: circular ({' -> '.join([*seen, parent])})")
                seen.append(parent)
                parent = self.scenarios[parent].extends
        if self.baseline.extends is not None and self.baseline.extends not in self.scenarios:
            hint = did_you_mean(self.baseline.extends, self.scenarios, "scenarios")
            raise ValueError(f"baseline.extends: no scenario {self.baseline.extends!r}{hint}")
        self._no_experiment_owned_overrides()
        if self.sweep is not None:
            for s in self.sweep.scenarios or []:
                if s not in self.scenarios:
                    raise ValueError(
                        f"sweep.scenarios: no scenario {s!r}{did_you_mean(s, self.scenarios, 'scenarios')}"
                    )
            self._sweep_paths_unambiguous()
        for key, text in self.labels.items():
            if not text.strip() or len(text) > MAX_LABEL_CHARS:
                raise ValueError(f"labels.{key}: give a label of 1 to {MAX_LABEL_CHARS} characters")
        if self.window is not None and self.window.end_day <= self.window.start_day:
            raise ValueError("window: end_day must be > start_day")
        runs = self._run_count()
        if runs > MAX_RUNS:
            raise ValueError(
                f"replications: {runs:,} runs in all (scenarios x sweep points x replications), more than the "
                f"{MAX_RUNS:,} hospsim allows"
            )
        return self

    def _run_count(self) -> int:
        """Runs the experiment expands to: the baseline and each scenario, a swept one at every
        point, each replicated."""
        swept = set(self.sweep.scenarios or self.scenarios) if self.sweep is not None else set()
        points = self.sweep.points() if self.sweep is not None else 1
        cells = 1 + sum(points if name in swept else 1 for name in self.scenarios)
        return cells * self.replications

    def _no_experiment_owned_overrides(self) -> None:
        """``seed``, ``replications`` and ``engine`` come from the experiment itself: setting them
        in overrides or sweeping them would be silently ignored."""
        places = [("overrides", self.overrides), ("baseline.overrides", self.baseline.overrides)]
        places += [(f"scenarios.{n}.overrides", sc.overrides) for n, sc in self.scenarios.items()]
        for where, overrides in places:
            for key in overrides:
                field = _dotted(key)[0]
                if field in _EXPERIMENT_OWNED:
                    raise ValueError(
                        f"{where}.{key.strip()}: an experiment ignores the config's {field}; "
                        f"set `{field}:` at the top of the experiment"
                    )
        for pname, p in (self.sweep.parameters if self.sweep else {}).items():
            field = _dotted(p.path)[0]
            if field in _EXPERIMENT_OWNED:
                raise ValueError(
                    f"sweep.parameters.{pname}.path: {field} cannot be swept; "
                    f"set `{field}:` at the top of the experiment"
                )

    def _sweep_paths_unambiguous(self) -> None:
        """No two sweep parameters set the same value, and no swept scenario sets a swept value
        itself (the sweep would silently replace it)."""
        assert self.sweep is not None
        params = list(self.sweep.parameters.items())
        for i, (name, p) in enumerate(params):
            for other, q in params[:i]:
                if _overlap(_dotted(p.path), _dotted(q.path)):
                    raise ValueError(f"sweep.parameters.{name}.path: same path as {other} ({q.path.strip()})")
        for scen in self.sweep.scenarios or list(self.scenarios):
            for key in scenario_overrides(self, scen):
                for name, p in params:
                    if _overlap(_dotted(p.path), _dotted(key)):
                        owner = self._setter(scen, key)
                        via = f" (extended by {scen})" if owner != scen else ""
                        raise ValueError(
                            f"sweep.parameters.{name}.path: {p.path.strip()} is also set by "
                            f"scenarios.{owner}.overrides.{key.strip()}{via}, which the sweep would replace; "
                            "drop the override or leave the scenario out of sweep.scenarios"
                        )

    def _setter(self, scen: str, key: str) -> str:
        """The scenario, ``scen`` or the nearest one it extends, whose own overrides set ``key``."""
        current: str | None = scen
        while current is not None and key not in self.scenarios[current].overrides:
            current = self.scenarios[current].extends
        return current or scen


def design_points(sweep: Sweep, seed: int) -> list[dict[str, Any]]:
    """The sweep's points: the grid's product, or a seeded design of a sampling method
    (:data:`~hospsim.config.sweep_methods.SAMPLING_METHODS`) scaled to the parameters' ranges."""
    names = list(sweep.parameters)
    if sweep.method == GRID:
        combos = itertools.product(*(sweep.parameters[n].values or [] for n in names))
        return [dict(zip(names, c)) for c in combos]
    assert sweep.samples is not None  # validated: a sampled sweep states its size
    unit = SAMPLING_METHODS[sweep.method].unit_design(len(names), sweep.samples, seed)
    low = np.array([sweep.parameters[n].low for n in names], dtype=float)
    high = np.array([sweep.parameters[n].high for n in names], dtype=float)
    from scipy.stats import qmc  # only for a sampled sweep: importing scipy.stats takes a second

    scaled = qmc.scale(unit, low, high)
    points = []
    for row in scaled:
        point = {}
        for n, x in zip(names, row):
            point[n] = round(x) if sweep.parameters[n].integer else float(x)
        points.append(point)
    return points


def baseline_overrides(exp: Experiment) -> dict[str, Any]:
    """The baseline's overrides, on top of those of the scenario it extends (if any)."""
    inherited = scenario_overrides(exp, exp.baseline.extends) if exp.baseline.extends else {}
    return {**inherited, **exp.baseline.overrides}


def scenario_overrides(exp: Experiment, name: str) -> dict[str, Any]:
    """A scenario's overrides with those it extends (nearest ancestor last wins)."""
    chain = []
    current: str | None = name
    while current is not None:
        chain.append(exp.scenarios[current])
        current = exp.scenarios[current].extends
    merged: dict[str, Any] = {}
    for sc in reversed(chain):
        merged.update(sc.overrides)
    return merged


def _resolve(base_raw: dict[str, Any], overrides: dict[str, Any], where: str, source: str) -> dict[str, Any]:
    data = copy_raw(base_raw)
    for key, value in overrides.items():
        try:
            set_dotted(data, key, value, origin=f"{where}")
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return data


def _deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = copy_raw(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_experiment_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """An experiment file's raw data, with ``extends`` resolved: the parent's settings, deep-merged
    with this file's (mappings merge, other values replace)."""
    raw = read_yaml(path)
    parent_name = raw.get("extends")
    if parent_name is None:
        return raw
    parent_path = (path.parent / str(parent_name)).resolve()
    if parent_path in _seen or parent_path == path.resolve():
        raise ConfigError(f"{path}: extends: circular ({parent_name})")
    if not parent_path.exists():
        raise ConfigError(f"{path}: extends: file not found: {parent_name}")
    parent = read_experiment_raw(parent_path, (*_seen, path.resolve()))
    if "config" in parent and "config" not in raw:
        # Keep the base config where the parent meant it.
        parent["config"] = os.path.relpath(parent_path.parent / parent["config"], path.parent)
    merged = _deep_merge(parent, {k: v for k, v in raw.items() if k != "extends"})
    merged["extends"] = str(parent_name)
    return merged
