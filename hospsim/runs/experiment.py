"""An experiment expanded into runs: one resolved config per (scenario, sweep point), one run per
replication seed. Every scenario uses the same replication seeds, so scenarios are compared on the
same patients (common random numbers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..config import Config, ConfigError, config_from_dict, plan_schedules, read_config_yaml
from ..config.dates import counting_from, date_of, day_and_date
from ..config.experiment import (
    BASELINE,
    Experiment,
    _resolve,
    baseline_overrides,
    design_points,
    read_experiment_raw,
    scenario_overrides,
)
from ..config.loading import _one_line, blame_overrides
from ..model import kpi_registry
from ..model.streams import replication_seeds
from .store import run_file_stem


@dataclass(frozen=True)
class RunSpec:
    """One simulation to run: a resolved config, a replication seed and a window."""

    run_id: str
    scenario: str
    point: int  # sweep point index, -1 when not swept
    params: tuple[tuple[str, Any], ...]
    replication: int
    seed: int
    config: Config
    window: tuple[int, int]


@dataclass(frozen=True)
class Variant:
    """A (scenario, sweep point) cell: its resolved config and parameter values."""

    scenario: str
    point: int
    params: tuple[tuple[str, Any], ...]
    config: Config

    @property
    def key(self) -> str:
        return self.scenario if self.point < 0 else f"{self.scenario}#p{self.point:03d}"


@dataclass(frozen=True)
class LoadedExperiment:
    experiment: Experiment
    source: str
    raw: dict
    base_raw: dict
    base_source: str
    variants: list[Variant]
    seeds: list[int]

    @property
    def hash(self) -> str:
        """SHA-256 of the experiment and its base config as written, without their ``engine``
        (both engines give the same results: a sweep may be resumed with the other)."""
        experiment = {k: v for k, v in self.raw.items() if k != "engine"}
        base = {k: v for k, v in self.base_raw.items() if k != "engine"}
        text = json.dumps({"experiment": experiment, "base": base}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def run_once(self) -> LoadedExperiment:
        """The experiment with one run per cell (replication 0's seed): how the deterministic flow
        engine runs it. Its hash is the experiment's as written (see :attr:`hash`)."""
        once = self.experiment.model_copy(update={"replications": 1})
        return dataclasses.replace(self, experiment=once, seeds=self.seeds[:1])

    def window(self, cfg: Config) -> tuple[int, int]:
        w = self.experiment.window
        return (w.start_day, w.end_day) if w else (cfg.warmup_days, cfg.horizon_days)

    def runs(self) -> list[RunSpec]:
        """Every run, baseline first, in a fixed order."""
        out = []
        for v in self.variants:
            for r, seed in enumerate(self.seeds):
                out.append(
                    RunSpec(
                        run_id=f"{v.key}#r{r:03d}",
                        scenario=v.scenario,
                        point=v.point,
                        params=v.params,
                        replication=r,
                        seed=seed,
                        config=v.config,
                        window=self.window(v.config),
                    )
                )
        return out


def load_experiment(path: str | Path) -> LoadedExperiment:
    """Read and validate an experiment and every config it implies (nothing runs on a bad one)."""
    path = Path(path)
    raw = read_experiment_raw(path)
    # The window's dates count from the base config's start_date: validated once that is known.
    exp = _validated_experiment({k: v for k, v in raw.items() if k != "window"}, path)
    base_path = (path.parent / exp.config).resolve()
    if not base_path.exists():
        raise ConfigError(f"{path}: config: file not found: {exp.config}")
    base_raw = _resolve(read_config_yaml(base_path), exp.overrides, "overrides", str(path))
    variants = _variants(exp, base_raw, path)
    if raw.get("window") is not None:
        exp, raw = _with_window(raw, variants[0].config, path)
    _check_window(exp, variants, path)
    _check_criteria(exp, variants[0].config, path)
    loaded = LoadedExperiment(
        experiment=exp,
        source=str(path),
        raw=raw,
        base_raw=base_raw,
        base_source=str(base_path),
        variants=variants,
        seeds=replication_seeds(exp.seed, exp.replications),
    )
    _check_run_files(loaded, path)
    return loaded


def _validated_experiment(raw: dict[str, Any], path: Path) -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_one_line(str(path), err)) from None


def _with_window(raw: dict[str, Any], baseline: Config, path: Path) -> tuple[Experiment, dict[str, Any]]:
    """The experiment validated with its window, whose dates count from the ``baseline``'s
    start_date (the base config's with the experiment's overrides; a date past its horizon is an
    error), and its raw data with the window in day numbers: what a manifest records and hashes,
    so a window in dates is the same experiment as in days."""
    with counting_from(baseline.start_date, baseline.horizon_days):
        exp = _validated_experiment(raw, path)
    assert exp.window is not None
    in_days = {"start_day": exp.window.start_day, "end_day": exp.window.end_day}
    return exp, raw if raw["window"] == in_days else {**raw, "window": in_days}


def _check_run_files(loaded: LoadedExperiment, path: Path) -> None:
    """Every run must have its own files under ``runs/``: a scenario named like another's sweep
    point (``a_p001`` beside a swept ``a``) would share them, and a resume would mix the two."""
    owner: dict[str, RunSpec] = {}
    for spec in loaded.runs():
        stem = run_file_stem(spec.run_id)
        first = owner.setdefault(stem, spec)
        if first is not spec:
            raise ConfigError(
                f"{path}: scenarios.{spec.scenario}: its run files would be those of {first.run_id} "
                f"(runs/{stem}.json); rename the scenario"
            )


def _validated(data: dict[str, Any], where: str, path: Path, setters: dict[str, str]) -> Config:
    try:
        return config_from_dict(data, where)
    except ConfigError as exc:
        # Say which scenario or sweep point made the config invalid, or which override did.
        raise ConfigError(f"{path}: {blame_overrides(str(exc), where, setters)}") from None


def _setters(exp: Experiment, scenario: str | None) -> dict[str, str]:
    """Where each override of a cell is written in the experiment: ``overrides``, then the
    scenario's (or the one it extends), the baseline's."""
    out = dict.fromkeys(exp.overrides, "overrides")
    chain: list[str] = []
    current = scenario if scenario is not None else exp.baseline.extends
    while current is not None:
        chain.append(current)
        current = exp.scenarios[current].extends
    for name in reversed(chain):  # nearest last: its overrides win
        out.update(dict.fromkeys(exp.scenarios[name].overrides, f"scenarios.{name}.overrides"))
    if scenario is None:
        out.update(dict.fromkeys(exp.baseline.overrides, "baseline.overrides"))
    return out


def _variants(exp: Experiment, base_raw: dict[str, Any], path: Path) -> list[Variant]:
    """The baseline, then every scenario (at every sweep point if it is swept), validated."""
    baseline = _resolve(base_raw, baseline_overrides(exp), "baseline.overrides", str(path))
    variants = [Variant(BASELINE, -1, (), _validated(baseline, "baseline", path, _setters(exp, None)))]
    swept = set(exp.sweep.scenarios or exp.scenarios) if exp.sweep else set()
    points = design_points(exp.sweep, exp.seed) if exp.sweep else []
    for name in exp.scenarios:
        scen_raw = _resolve(base_raw, scenario_overrides(exp, name), f"scenarios.{name}.overrides", str(path))
        setters = _setters(exp, name)
        if name not in swept:
            variants.append(Variant(name, -1, (), _validated(scen_raw, f"scenarios.{name}", path, setters)))
            continue
        assert exp.sweep is not None
        for i, point in enumerate(points):
            over = {exp.sweep.parameters[p].path: v for p, v in point.items()}
            data = _resolve(scen_raw, over, "sweep.parameters", str(path))
            where = f"scenarios.{name} at sweep point {point}"
            # A value the sweep set is the cell's fault, whatever override it replaced.
            cfg = _validated(data, where, path, setters | dict.fromkeys(over, where))
            variants.append(Variant(name, i, tuple(point.items()), cfg))
    return variants


def _check_window(exp: Experiment, variants: list[Variant], path: Path) -> None:
    for v in variants:
        if exp.window is not None and not exp.window.end_day <= v.config.horizon_days:
            raise ConfigError(
                f"{path}: window.end_day: {exp.window.end_day} is past horizon_days {v.config.horizon_days}"
            )


def window_warning(loaded: LoadedExperiment) -> str | None:
    """A one-line warning when the experiment has no ``window`` but its plan changes after the
    warm-up: the KPIs (and a "first breach") are then measured over months before the change.
    None when a window is set or nothing changes in the measured days."""
    if loaded.experiment.window is not None:
        return None
    first = _first_change(loaded.variants)
    if first is None:
        return None
    day, where, cfg = first
    return (
        f"{loaded.source}: no window: KPIs are measured from the end of the warm-up "
        f"({day_and_date(cfg.warmup_days, cfg.start_date)}), but the plan first changes on day {day:,} "
        f"({date_of(day, cfg.start_date)}, {where}); set window: {{start_day: {day}, end_day: {cfg.horizon_days}}} "
        "to measure from the change"
    )


def _first_change(variants: list[Variant]) -> tuple[int, str, Config] | None:
    """The earliest day after its warm-up on which a change of a cell's plan starts, as written (a
    sweep's delivery delays are what-ifs, not the plan), with where that is and the cell's config."""
    found: tuple[int, str, Config] | None = None
    for v in variants:
        cfg = v.config
        owner = BASELINE if v.scenario == BASELINE else f"scenarios.{v.scenario}"
        for path, sched in plan_schedules(cfg, delivered=False):
            later = [d for d in sched.change_days() if cfg.warmup_days < d < cfg.horizon_days]
            if later and (found is None or min(later) < found[0]):
                found = (min(later), f"{owner}: {path}", cfg)
    return found


def _check_criteria(exp: Experiment, cfg: Config, path: Path) -> None:
    """Catch a criterion on a KPI that does not exist, or cannot decide a verdict, before anything runs."""
    known = kpi_registry.for_config(cfg)
    for i, c in enumerate(exp.criteria):
        if c.kpi not in known:
            hint = kpi_registry.did_you_mean(c.kpi, known)
            raise ConfigError(f"{path}: criteria.{i}.kpi: unknown KPI {c.kpi!r}{hint}")
        kpi = known[c.kpi].kpi
        if not kpi.verdict:
            raise ConfigError(f"{path}: criteria.{i}.kpi: {c.kpi!r} cannot be a criterion: {kpi.not_for_verdicts}")
