"""hospsim from Python: configs, runs, sweeps and their results, from a script, a notebook or the
REPL. Everything here is exported by the package itself (``from hospsim import run``).

    import hospsim

    cfg = hospsim.default_config().with_overrides({"acute.beds": 2000})
    res = hospsim.run(cfg, replications=5)      # results in memory
    res.summary                                  # KPI means with 95% CIs, a DataFrame
    fig = res.plot_fan()                         # a matplotlib Figure
    res.save("results/cut").report()             # the CLI's results folder, then its report

The functions take the same code paths as the ``hospsim`` command, so the numbers are the same
bit for bit for the same config and seed: :func:`run` is ``hospsim run``, :func:`sweep` is
``hospsim sweep``, :meth:`Results.plot` is ``hospsim plot`` and :meth:`Results.report` is
``hospsim report``. Where results live:

- :func:`run` keeps them in memory unless ``out`` names a folder; :meth:`Results.save` writes the
  folder later (a report needs one: it names the folder and its manifest re-runs every number).
- :func:`sweep` always writes its folder (``out``, by default ``results/<experiment name>``, as the
  command does): runs stream to disk, and an interrupted sweep resumes with ``resume=True``.

Parallel runs are safe without an ``if __name__ == "__main__":`` guard: worker processes never
import the caller's script (see :mod:`hospsim.runs.executors`), and results do not depend on the
number of workers. (The Dask backend starts its own processes: a script using it needs the guard.)

Every user mistake raises a :class:`~hospsim.config.errors.UserError` (a
:class:`~hospsim.config.errors.ConfigError` for configs) whose message is one line.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import config as _config
from .cli import DEFAULT_WORKERS
from .config import Config, ConfigError, UserError
from .config.experiment import ALL_CRITERIA
from .runs import results as _results
from .runs.errors import ResultsError
from .runs.experiment import LoadedExperiment
from .runs.experiment import load_experiment as _load_experiment

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .runs.replications import RunOutput

__all__ = [
    "DEFAULT_WORKERS",
    "Config",
    "ConfigError",
    "LoadedExperiment",
    "Results",
    "UserError",
    "default_config",
    "load_config",
    "load_experiment",
    "load_results",
    "run",
    "sweep",
]

PYTHON_SOURCE = "<Python>"  # the manifest's config source for a config built in Python


# ---------------------------------------------------------------------------------------------
# Configs and experiments


def default_config() -> Config:
    """The bundled default config: an average English STP footprint (1.2 m people)."""
    return _config.load_config(_config.default_config_path())


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read and validate a config file (``None``: the bundled default), then apply ``overrides``
    (dotted paths, as :meth:`Config.with_overrides`)."""
    cfg = _config.load_config(path if path is not None else _config.default_config_path())
    return cfg.with_overrides(overrides) if overrides else cfg


def load_experiment(path: str | Path) -> LoadedExperiment:
    """Read and validate an experiment file and every config it implies, without running it:
    ``.experiment`` (the validated file), ``.variants`` (one resolved config per scenario and
    sweep point), ``.runs()`` (every run with its seed)."""
    return _load_experiment(path)


# ---------------------------------------------------------------------------------------------
# Running: shared with the command line


def simulate(
    cfg: Config,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    patients: bool = False,
    engine: str | None = None,
) -> RunOutput:
    """Every replication of ``cfg`` with a progress bar on stderr (``hospsim run``, ``calibrate``
    and :func:`run`), simulated by ``engine`` (None: the config's)."""
    from tqdm import tqdm

    from .model.engines import is_des
    from .runs.replications import run_config

    bar = tqdm(
        total=cfg.replications if is_des(engine or cfg.engine) else 1,  # the flow engine runs once
        desc=f"{cfg.name}: replications",
        unit="rep",
        disable=not progress,
        file=sys.stderr,
    )
    with bar:
        return run_config(cfg, workers=workers, on_done=lambda _res: bar.update(1), patients=patients, engine=engine)


def _timed(
    cfg: Config, source: str, simulate_fn: Callable[[], RunOutput], workers: int, patients: bool
) -> tuple[RunOutput, dict[str, Any]]:
    """Run ``simulate_fn`` and the manifest of what it did."""
    from .runs.store import build_manifest

    started = dt.datetime.now(dt.UTC)
    output = simulate_fn()
    finished = dt.datetime.now(dt.UTC)
    manifest = build_manifest(
        cfg, source, output.seeds, started, finished, workers, output.events, patients=patients, engine=output.engine
    )
    manifest["replications"] = len(output.seeds)  # the flow engine runs once, whatever the config asks
    return output, manifest


def _write_run(
    out_dir: Path, output: RunOutput, manifest: dict[str, Any], daily_format: str, lock: bool = True
) -> None:
    from .runs.store import write_results

    write_results(
        out_dir,
        output.summary,
        output.replications,
        output.daily,
        manifest,
        daily_format,
        output.patients,
        lock=lock,
    )


def run_to_folder(
    cfg: Config,
    source: str,
    out: str | Path,
    simulate_fn: Callable[[], RunOutput],
    *,
    workers: int,
    patients: bool = False,
    daily_format: str = "parquet",
) -> tuple[RunOutput, dict[str, Any], Path]:
    """Simulate ``cfg`` (by ``simulate_fn``) into the results folder ``out``, as ``hospsim run``
    does: the folder is checked before anything runs, locked from before the simulation (a second
    writer refuses at once) and written whole (see :func:`hospsim.runs.store.write_results`).
    Returns the output, its manifest and the folder."""
    from .runs.store import check_output_dir, folder_lock

    out_dir = check_output_dir(out, beside=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):
        output, manifest = _timed(cfg, source, simulate_fn, workers, patients)
        _write_run(out_dir, output, manifest, daily_format, lock=False)
    return output, manifest, out_dir


def run(
    config: Config | str | Path | None = None,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = DEFAULT_WORKERS,
    out: str | Path | None = None,
    progress: bool = True,
    patients: bool = False,
    daily_format: str = "parquet",
    engine: str | None = None,
) -> Results:
    """Run the replications of a config, as ``hospsim run`` does.

    ``config``: a :class:`Config`, a config file, or ``None`` for the bundled default;
    ``replications`` and ``seed`` override the config's. ``workers``: parallel processes (the
    numbers do not depend on it). ``out``: a results folder to write (the same files as
    ``hospsim run --out``), and the results returned are read back from it; without ``out`` they
    stay in memory (tables at full precision; the folder's CSV tables hold 10 significant digits)
    until :meth:`Results.save`. ``patients``: keep one row per patient too (large).
    ``engine``: ``"simpy"`` or ``"fast"`` (None: the config's); the results are the same.
    ``"flow"``: the deterministic stock-and-flow twin, one run of expected numbers (no patients).
    """
    from .runs.replications import flow_note, refuse_flow_patients, run_engine

    cfg, source = _resolve_config(config, replications, seed)
    chosen = run_engine(cfg, engine, source)  # one that cannot run here is refused before anything runs
    refuse_flow_patients(chosen, patients, "patients")
    note = flow_note(chosen, cfg.replications)
    if note:
        print(f"hospsim: {note}", file=sys.stderr)
    if daily_format not in ("parquet", "csv"):
        raise UserError(f"daily_format: expected 'parquet' or 'csv', got {daily_format!r}")
    _check_workers(workers)

    def simulate_fn() -> RunOutput:
        return simulate(cfg, workers, progress, patients, chosen)

    if out is not None:
        _output, _manifest, out_dir = run_to_folder(
            cfg, source, out, simulate_fn, workers=workers, patients=patients, daily_format=daily_format
        )
        return load_results(out_dir)
    output, manifest = _timed(cfg, source, simulate_fn, workers, patients)
    return Results(_in_memory(cfg, output, manifest), output=output)


def _resolve_config(
    config: Config | str | Path | None, replications: int | None, seed: int | None
) -> tuple[Config, str]:
    if isinstance(config, Config):
        cfg, source = config, PYTHON_SOURCE
    elif config is None or isinstance(config, str | Path):
        path = Path(config) if config is not None else _config.default_config_path()
        cfg, source = _config.load_config(path), str(path)
    else:
        raise UserError(f"config: expected a Config, a config file or None, got {type(config).__name__}")
    extra = {k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}
    return (cfg.with_overrides(extra) if extra else cfg), source


def _check_workers(workers: int) -> None:
    from .config.limits import MAX_WORKERS

    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise UserError(f"workers: expected a whole number from 1 to {MAX_WORKERS}, got {workers!r}")


class SweepProgress:
    """The progress bar of a sweep's runs, on stderr (``hospsim sweep``, ``hospsim reproduce`` and
    :func:`sweep`). Runs
    already on disk (a resume) are the bar's start, not progress, so the ETA stays honest."""

    def __init__(self, name: str, disable: bool = False) -> None:
        self.name = name
        self.disable = disable
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=total, initial=done, desc=f"{self.name}: runs", unit="run", disable=self.disable, file=sys.stderr
            )
        else:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def sweep(
    experiment: LoadedExperiment | str | Path,
    out: str | Path | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    resume: bool = False,
    progress: bool = True,
    patients: bool = False,
    backend: str = "process",
    scheduler: str | None = None,
    engine: str | None = None,
) -> Results:
    """Run an experiment (baseline, scenarios, sweep) into its results folder, as
    ``hospsim sweep`` does, and return its results (with ``.verdicts``).

    ``out`` defaults to ``results/<experiment name>``; a folder that already holds a sweep is
    refused unless ``resume`` finishes it (an interrupted sweep keeps every finished run).
    ``backend``: ``process`` (a pool of ``workers`` processes) or ``dask`` (a local cluster, or
    the one at ``scheduler``). ``engine``: ``"simpy"`` or ``"fast"`` (None: the experiment's, else
    the base config's, else ``fast`` where it can run; see :func:`hospsim.runs.sweep.sweep_engine`).
    """
    from .runs.store import check_output_dir
    from .runs.sweep import run_sweep

    loaded = experiment if isinstance(experiment, LoadedExperiment) else _load_experiment(experiment)
    _check_workers(workers)
    out_dir = check_output_dir(out if out is not None else Path("results") / loaded.experiment.name)
    bar = SweepProgress(loaded.experiment.name, disable=not progress)
    try:
        run_sweep(
            loaded,
            out_dir,
            workers=workers,
            backend=backend,
            scheduler=scheduler,
            resume=resume,
            on_progress=bar,
            patients=patients,
            engine=engine,
        )
    finally:
        bar.close()
    return load_results(out_dir)


def load_results(path: str | Path) -> Results:
    """Open a results folder of ``hospsim run`` or ``hospsim sweep`` (or of :func:`run` and
    :func:`sweep`); a bad folder is a one-line :class:`~hospsim.runs.errors.ResultsError`."""
    return Results(_results.load_results(path))


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class _InMemory(_results.Results):
    """A run's results before they are saved: the folder reader's object, with its daily rows
    taken from memory instead of a file."""

    frame: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def daily(self, cells: Iterable[_results.Cell], columns: Iterable[str]) -> pd.DataFrame:
        cells = list(cells)
        want = list(dict.fromkeys(["scenario", "point", "replication", "day", *columns]))
        missing = [c for c in want[2:] if c not in self.frame.columns]
        if missing:
            raise ResultsError(f"{self.path}: no daily column {', '.join(missing)}")
        table = self.frame[want[2:]].reset_index(drop=True)
        table.insert(0, "point", -1)
        table.insert(0, "scenario", cells[0].scenario)
        return table


def _in_memory(cfg: Config, output: RunOutput, manifest: dict[str, Any]) -> _InMemory:
    """The results of a run as a results folder of it would give them."""
    name = cfg.name
    kpis = output.replications.copy()
    kpis.insert(0, "point", -1)
    kpis.insert(0, "scenario", name)
    cell = _results.Cell(key=name, scenario=name, point=-1, params={}, config=manifest["config"])
    res = _InMemory(
        Path(f"<{name} in memory>"),
        "run",
        manifest,
        name,
        [cell],
        kpis,
        output.summary,
        (cfg.warmup_days, cfg.horizon_days),
        frame=output.daily,
    )
    res._config_cache[cell.key] = cfg
    return res


def _names(scenario: str | Iterable[str] | None) -> list[str] | None:
    return [scenario] if isinstance(scenario, str) else (list(scenario) if scenario is not None else None)


class Results:
    """The results of a run or a sweep: tidy tables (pandas DataFrames), figures (matplotlib
    Figures) and the HTML report. Returned by :func:`run`, :func:`sweep` and
    :func:`load_results`.

    Tables: :attr:`kpis` (one row per replication; per cell and replication for a sweep),
    :attr:`summary` (mean and 95% CI of each KPI), :attr:`daily` (one row per replication and
    day), and for sweeps :attr:`monthly`, :attr:`verdicts` and :attr:`paired_differences`.
    Figures: :meth:`plot` (any figure by name, see :attr:`figures`) and one ``plot_<name>``
    method per figure. The object the figures and the report are drawn from is :attr:`raw`.
    """

    def __init__(self, raw: _results.Results, output: RunOutput | None = None) -> None:
        self.raw = raw
        self._output = output  # in memory only: what save() writes
        self._tables: dict[str, pd.DataFrame | None] = {}

    def __repr__(self) -> str:
        where = "in memory" if self.path is None else str(self.path)
        return f"<hospsim.Results {self.kind} {self.name!r}: {len(self.raw.cells)} cell(s), {self.replications} replications, {where}>"

    # --- what it is --------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``"run"`` or ``"sweep"``."""
        return self.raw.kind

    @property
    def is_sweep(self) -> bool:
        return self.raw.is_sweep

    @property
    def name(self) -> str:
        """The config's name (a run) or the experiment's (a sweep)."""
        return self.raw.name

    @property
    def path(self) -> Path | None:
        """The results folder; ``None`` while a run's results are only in memory."""
        return None if self._output is not None else self.raw.path

    @property
    def manifest(self) -> dict[str, Any]:
        """What the results folder's ``manifest.json`` holds (or will hold): config, seeds,
        versions, timings."""
        return self.raw.manifest

    @property
    def replications(self) -> int:
        return self.raw.replications

    @property
    def config(self) -> Config:
        """The run's config (a sweep: its baseline's)."""
        return self.raw.config_of(self.raw.cells[0])

    # --- tables ------------------------------------------------------------------------------

    @property
    def kpis(self) -> pd.DataFrame:
        """One row per replication (``scenario, point, replication, seed``, then every KPI; a
        sweep also has its parameters as ``param_<name>``)."""
        return self.raw.kpis

    @property
    def summary(self) -> pd.DataFrame:
        """Per KPI (and per cell of a sweep): the mean across replications and its 95% CI."""
        return self.raw.summary

    @property
    def daily(self) -> pd.DataFrame:
        """One row per replication and day (per run and day for a sweep; read on first use and
        kept: a big sweep's is large)."""
        if "daily" not in self._tables:
            if isinstance(self.raw, _InMemory):
                self._tables["daily"] = self.raw.frame
            else:
                self._tables["daily"] = self._read("daily.parquet" if self.is_sweep else None)
        table = self._tables["daily"]
        assert table is not None
        return table

    @property
    def monthly(self) -> pd.DataFrame | None:
        """Sweeps: each run's monthly values of the KPIs the criteria judge (``None`` for a run)."""
        if not self.is_sweep:
            return None
        if "monthly" not in self._tables:
            self._tables["monthly"] = self._read("monthly.parquet")
        return self._tables["monthly"]

    @property
    def verdicts(self) -> pd.DataFrame | None:
        """Sweeps: per cell and criterion, the share of replications in which the plan holds,
        with its CI and first breach (``None`` for a run)."""
        return self.raw.verdicts

    @property
    def paired_differences(self) -> pd.DataFrame | None:
        """Sweeps: each scenario's paired difference from the baseline per KPI, with 95% CIs
        (``None`` for a run)."""
        return self.raw.paired

    def _read(self, name: str | None) -> pd.DataFrame:
        """A table of the folder (``None``: a run's daily table, Parquet or CSV)."""
        path = self.raw.path
        if name is None:
            name = "daily.parquet" if (path / "daily.parquet").exists() else "daily.csv"
        return _results.read_table(path / name)

    # --- figures and the report --------------------------------------------------------------

    @property
    def figures(self) -> list[str]:
        """The figures these results can give (names for :meth:`plot`)."""
        from .outputs import plots

        return plots.available(self.raw)

    def plot(
        self,
        what: str = "fan",
        scenario: str | Iterable[str] | None = None,
        point: int | None = None,
        criterion: str = ALL_CRITERIA,
    ) -> Figure:
        """Figure ``what`` (one of :attr:`figures`) as a matplotlib Figure, as ``hospsim plot
        --what`` draws it. Sweeps: ``scenario`` (one name or several) beside the baseline,
        default every scenario; ``point``: the sweep point of the time series and the forest plot
        (default: intermediate care on time and in full); ``criterion``: the robustness map's."""
        from .outputs import plots
        from .outputs.selection import select_cells

        names = _names(scenario)
        plots.parse_what([what], self.raw)  # a figure these results cannot give: one line, why
        cells = select_cells(self.raw, names, point)
        return plots.make_figure(self.raw, what, cells, point, names, criterion)

    def plot_fan(self, scenario: str | Iterable[str] | None = None, point: int | None = None) -> Figure:
        """Acute occupancy over calendar dates: median and 50% / 90% bands, beds open."""
        return self.plot("fan", scenario, point)

    def plot_delays(self, scenario: str | Iterable[str] | None = None, point: int | None = None) -> Figure:
        """Delayed-transfer patients, and emergencies waiting over 4 h and 12 h for a bed."""
        return self.plot("delays", scenario, point)

    def plot_waiting_list(self, scenario: str | Iterable[str] | None = None, point: int | None = None) -> Figure:
        """The elective waiting list, the share waiting over 18 weeks, cancellations."""
        return self.plot("waiting_list", scenario, point)

    def plot_services(self, scenario: str | Iterable[str] | None = None, point: int | None = None) -> Figure:
        """Each community service's occupied places against its capacity, and its waiting list."""
        return self.plot("services", scenario, point)

    def plot_exceedance(self, scenario: str | Iterable[str] | None = None, point: int | None = None) -> Figure:
        """The share of days above each level of occupancy."""
        return self.plot("exceedance", scenario, point)

    def plot_robustness(self, scenario: str | Iterable[str] | None = None, criterion: str = ALL_CRITERIA) -> Figure:
        """Sweeps: the share of replications in which the plan holds, over the swept parameters."""
        return self.plot("robustness", scenario, criterion=criterion)

    def plot_forest(self, scenario: str | Iterable[str] | None = None, point: int | None = None) -> Figure:
        """Sweeps: the paired change from the baseline in key KPIs, with 95% CIs."""
        return self.plot("forest", scenario, point)

    def report(
        self, path: str | Path | None = None, scenario: str | Iterable[str] | None = None, point: int | None = None
    ) -> Path:
        """Write the self-contained HTML report, as ``hospsim report`` does, to ``path`` (default:
        ``report.html`` in the results folder); returns the file. Results in memory have no folder
        for the report to name and re-run: :meth:`save` them first."""
        from .outputs.report import write_report
        from .runs.store import check_output_dir

        if self.path is None:
            raise UserError(
                f"{self.name}: these results are in memory only; save them first: "
                "results.save(FOLDER).report() (or run(..., out=FOLDER))"
            )
        if path is not None:
            p = Path(path)
            check_output_dir(p if p.is_dir() else p.parent)
        return write_report(self.path, path, _names(scenario), point)

    def to_xlsx(self, path: str | Path | None = None, force: bool = False) -> Path:
        """Write the Excel workbook of ``hospsim export --xlsx`` (summary, verdicts, paired
        differences, cells, about, and every column documented) to ``path`` (default:
        ``results.xlsx`` in the results folder); an existing file only with ``force``. Returns
        the file. Needs openpyxl (``pip install 'hospsim[xlsx]'``)."""
        from .outputs.workbook import default_path, write_workbook

        if path is None and self.path is None:
            raise UserError(f"{self.name}: these results are in memory only; name the workbook: to_xlsx(PATH)")
        target = Path(path) if path is not None else default_path(self.raw.path)
        return write_workbook(self.raw, target, force=force)

    def save(self, out: str | Path, daily_format: str = "parquet") -> Results:
        """Write a run's results in memory to the results folder ``out`` (the files of
        ``hospsim run --out``, written whole) and return them as read from it."""
        from .runs.store import check_output_dir

        if self._output is None:
            raise UserError(f"{self.raw.path}: these results are saved already")
        out_dir = check_output_dir(out, beside=True)
        _write_run(out_dir, self._output, self.manifest, daily_format)
        return load_results(out_dir)
