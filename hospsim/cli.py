"""The ``hospsim`` command line: run, check (configs and experiments), init, schema, calibrate,
sweep, and the commands that read a results folder."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .config import Config, UserError, default_config_path, load_config
from .config.experiment import ALL_CRITERIA
from .config.limits import MAX_DPI, MAX_PLACES, MAX_REPLICATIONS, MAX_RUNS, MAX_SEED, MAX_WORKERS

if TYPE_CHECKING:
    from .runs.experiment import LoadedExperiment
    from .runs.sweep import SweepResult

EXIT_USAGE = 2  # bad config or bad arguments
EXIT_INTERNAL = 1  # a bug: an exception no user could cause
EXIT_INTERRUPTED = 130
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)  # processes for replications and runs


def _whole_number(minimum: int, maximum: int):
    """An argparse type: a whole number from ``minimum`` to ``maximum`` (ceilings: config.limits)."""

    def parse(text: str) -> int:
        shown = text if len(text) <= 24 else f"{text[:16]}..."
        try:
            # Digits only (with a sign): no float, no 1e12, no 10**10000-digit strings to convert.
            if len(text.strip()) > 40:
                raise ValueError
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {value:,}")
        return value

    return parse


_replications = _whole_number(1, MAX_REPLICATIONS)
_workers = _whole_number(1, MAX_WORKERS)
_seed = _whole_number(0, MAX_SEED)
_count = _whole_number(1, MAX_RUNS)
_index = _whole_number(0, MAX_RUNS)
_dpi = _whole_number(1, MAX_DPI)


def _out_path(text: str) -> Path:
    """An argparse type: a path that is not empty (``Path('')`` would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path; name a folder or file")
    return Path(text)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``hospsim: error: ...`` and exit code 2 (no
    usage block), pointing at the command's ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"hospsim: error: {message} (see {self.prog} --help)\n")


def _add_config_args(
    p: argparse.ArgumentParser,
    what: str = "config YAML (default: the bundled footprint, an average English STP footprint)",
) -> None:
    p.add_argument("config", nargs="?", help=what)
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value by dotted path, e.g. --set acute.beds=2100 (repeatable)",
    )


# The engines a config may name (hospsim.model.engines), read from the schema, and the DES ones
# (engines.DES_ENGINES, checked by a test): the CLI parses its arguments without importing the model.
ENGINE_NAMES: tuple[str, ...] = typing.get_args(Config.model_fields["engine"].annotation)
DES_ENGINE_NAMES = ("simpy", "fast")


def _add_engine_arg(
    p: argparse.ArgumentParser, default: str = "the config's engine, else simpy", flow: bool = True
) -> None:
    if flow:
        text = (
            "the engine: simpy (the reference) or fast (compiled with numba), which give the same results, "
            "or flow, the deterministic stock-and-flow twin (one run of expected numbers, no replications)"
        )
    else:
        text = (
            "the engine that simulates: simpy (the reference) or fast (compiled with numba); both give the same results"
        )
    p.add_argument("--engine", choices=ENGINE_NAMES if flow else DES_ENGINE_NAMES, help=f"{text} (default: {default})")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    _add_config_args(p)
    _add_engine_arg(p)
    p.add_argument("-r", "--replications", type=_replications, help="number of replications (config: replications)")
    p.add_argument("--seed", type=_seed, help="root seed (config: seed)")
    p.add_argument(
        "--workers",
        type=_workers,
        default=DEFAULT_WORKERS,
        help="parallel processes (default: %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The ``hospsim`` argument parser and its commands."""
    parser = _Parser(
        prog="hospsim",
        description="Stress-test plans to cut acute hospital beds against slow or late intermediate care.",
    )
    parser.add_argument("--version", action="version", version=f"hospsim {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on an internal error, show the Python traceback (for bug reports)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run replications of a config and write its results folder")
    _add_run_args(run)
    run.add_argument("--out", type=_out_path, help="results folder (default: results/<config name>)")
    run.add_argument("--daily-format", choices=("parquet", "csv"), default="parquet", help="format of the daily table")
    _add_patients_arg(run)
    _add_xlsx_arg(run)

    check = sub.add_parser(
        "check",
        help="validate a config, or an experiment and every cell it expands to, without running anything",
    )
    _add_config_args(
        check,
        "config or experiment YAML, told apart by their keys (default: the bundled footprint config); "
        "an experiment is checked as `hospsim sweep` would run it: its base config and every cell",
    )

    init = sub.add_parser("init", help="write the bundled default config (and an example experiment) to edit")
    init.add_argument("dir", type=_out_path, metavar="DIR", help="folder to write into (created if missing)")
    init.add_argument(
        "--experiment",
        action="store_true",
        help="also write example_experiment.yaml, a commented example experiment on it",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that already exist")

    schema = sub.add_parser("schema", help="print the JSON Schema of config files, for editor completion")
    schema.add_argument("--experiment", action="store_true", help="the schema of experiment files instead")
    schema.add_argument("--out", type=_out_path, metavar="FILE", help="write it to FILE instead of printing it")

    cal = sub.add_parser("calibrate", help="compare a config's results with England's 2016/17 figures")
    _add_run_args(cal)

    _add_sweep_parser(sub)
    _add_compare_parser(sub)
    _add_results_parsers(sub)
    _add_synth_parser(sub)
    _add_backtest_parser(sub)
    _add_export_parser(sub)
    _add_fit_parser(sub)
    for command in sub.choices.values():  # `hospsim run --debug` too; SUPPRESS keeps `hospsim --debug run`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _add_sweep_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    sw = sub.add_parser(
        "sweep",
        help="run an experiment (baseline, scenarios, sweep) and give the plan's verdicts",
        description="Run an experiment (baseline, scenarios, sweep) and give the plan's verdicts. "
        "Dry run: `hospsim check EXPERIMENT` validates the experiment and every cell without running.",
    )
    sw.add_argument("experiment", help="experiment YAML (see experiments/)")
    sw.add_argument(
        "--workers",
        type=_workers,
        default=DEFAULT_WORKERS,
        help="parallel workers (default: %(default)s)",
    )
    sw.add_argument(
        "--backend", choices=("process", "dask"), default="process", help="process pool, or Dask (default: %(default)s)"
    )
    sw.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (default: a local cluster)")
    sw.add_argument("--out", type=_out_path, help="results folder (default: results/<experiment name>)")
    sw.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    sw.add_argument(
        "--no-flow",
        action="store_true",
        help="skip the stock-and-flow run of each cell (the report's 'what averages promise' then says 'not run')",
    )
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_engine_arg(sw, "the experiment's engine, else the base config's, else fast where it can run, else simpy")
    _add_patients_arg(sw)
    _add_xlsx_arg(sw)


def _add_compare_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    ce = sub.add_parser(
        "compare-engines",
        help="set the deterministic flow engine (the planner's averages) beside replications of the DES",
        description="Run N replications of a config with a discrete-event engine and one run of the flow engine "
        "(expected numbers moved between stocks), then print every KPI of both (the DES mean and 95%% CI, the "
        "flow value, whether it lies inside the CI) and where the two part, and write DIR/compare_kpis.csv, "
        "DIR/compare_daily.parquet and DIR/compare_engines.png (the flow trajectory over the DES fan chart).",
    )
    _add_config_args(ce)
    ce.add_argument("-r", "--replications", type=_replications, help="DES replications (default: the config's)")
    ce.add_argument(
        "--engine",
        choices=DES_ENGINE_NAMES,
        help="the DES engine set beside the flow engine (default: fast where it can run, else simpy)",
    )
    ce.add_argument(
        "--out", type=_out_path, metavar="DIR", help="folder to write (default: results/<config name>_compare)"
    )
    ce.add_argument(
        "--workers", type=_workers, default=DEFAULT_WORKERS, help="parallel processes (default: %(default)s)"
    )
    ce.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_compare_engines(args: argparse.Namespace) -> int:
    """Run the DES and the flow engine on one config; print and write their comparison."""
    from tqdm import tqdm

    from .outputs.compare import compare_text, write_comparison
    from .runs.compare import check_flow_runs, compare_engines, des_choice
    from .runs.replications import prepare_engine
    from .runs.store import check_output_dir

    cfg, source = _load(args)
    des = des_choice(args.engine)  # both engines refused, in one line, before anything runs
    check_flow_runs()
    out_dir = check_output_dir(args.out or Path("results") / f"{cfg.name}_compare", beside=True)
    prepare_engine(des)
    bar = tqdm(
        total=cfg.replications,
        desc=f"{cfg.name}: DES replications",
        unit="rep",
        disable=args.no_progress,
        file=sys.stderr,
    )
    with bar:
        cmp = compare_engines(cfg, des_engine=des, workers=args.workers, on_done=lambda _r: bar.update(1))
    write_comparison(cmp, out_dir)
    print(f"{cfg.name} ({source}): {cmp.replications} replications of the DES ({des}) beside one flow run")
    print(compare_text(cmp))
    print(f"\n{cmp.parting.line()}")
    print(f"\nwritten to {out_dir}/: compare_kpis.csv, compare_daily.parquet, compare_engines.png")
    return 0


def _add_patients_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--patients",
        action="store_true",
        help="also write patients.parquet: one row per patient, their fate and times (large)",
    )


def _add_results_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The commands that read a results folder: reproduce, plot, report."""
    rp = sub.add_parser("reproduce", help="re-run a results folder from its manifest and check every number")
    rp.add_argument("results", type=Path, help="results folder of `hospsim run` or `hospsim sweep`")
    rp.add_argument("--workers", type=_workers, default=DEFAULT_WORKERS)
    rp.add_argument("--sample", type=_count, help="re-run only this many runs of a sweep, evenly spread")
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_engine_arg(rp, "the engine that made the results; the other one cross-checks the two")

    pl = sub.add_parser("plot", help="draw figures from a results folder of `hospsim run` or `hospsim sweep`")
    pl.add_argument("results", type=Path, help="results folder of `hospsim run` or `hospsim sweep`")
    pl.add_argument(
        "--what",
        action="append",
        metavar="FIGURES",
        help="figures, comma-separated or repeated: fan, delays, waiting_list, services, pathway, "
        "exceedance, robustness, forest, or all (default: all that apply)",
    )
    pl.add_argument("--out", type=_out_path, help="folder for the figures (default: RESULTS/plots)")
    pl.add_argument("--format", choices=("png", "svg", "pdf"), default="png", help="file format (default: %(default)s)")
    _add_cell_args(pl)
    pl.add_argument(
        "--criterion",
        default=ALL_CRITERIA,
        help="sweeps: the criterion the robustness map shows, as in verdicts.csv (default: %(default)s)",
    )
    pl.add_argument("--dpi", type=_dpi, default=100, help="resolution of PNG files (default: %(default)s)")
    pl.add_argument(
        "--smooth-days",
        type=_whole_number(0, 91),
        default=7,  # plots.SMOOTH_DAYS, not imported here: matplotlib would slow every command
        metavar="N",
        help="fan chart: draw the median as its N-day rolling mean, to show the trend through the "
        "weekly cycle; 0 draws the daily median (default: %(default)s)",
    )

    rep = sub.add_parser(
        "report", help="write a self-contained HTML report of a results folder (prints to A4), optionally a Word file"
    )
    rep.add_argument("results", type=Path, help="results folder of `hospsim run` or `hospsim sweep`")
    rep.add_argument("--out", type=_out_path, help="HTML file to write (default: RESULTS/report.html)")
    rep.add_argument(
        "--docx",
        type=_out_path,
        metavar="FILE",
        help="also write the report's main body as a Word document, for a board pack (needs python-docx: "
        "pip install 'hospsim[docx]')",
    )
    _add_cell_args(rep)


def _add_cell_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="sweeps: show this scenario beside the baseline (repeatable; default: every scenario)",
    )
    p.add_argument(
        "--point",
        type=_index,
        metavar="N",
        help="sweeps: the sweep point the time series and the forest plot show "
        "(default: intermediate care on time and in full, else the first point)",
    )


def _load(args: argparse.Namespace) -> tuple[Config, str]:
    path = Path(args.config) if args.config else default_config_path()
    overrides = list(args.overrides)
    if getattr(args, "replications", None) is not None:
        overrides.append(f"replications={args.replications}")
    if getattr(args, "seed", None) is not None:
        overrides.append(f"seed={args.seed}")
    return load_config(path, overrides), str(path)


def _engine_source(args: argparse.Namespace, source: str) -> str:
    """Where the config's ``engine`` was set, for an error: its last ``--set``, else the file."""
    sets = [item for item in args.overrides if item.partition("=")[0].strip() == "engine"]
    return f"--set {sets[-1]}" if sets else source


def _run(cfg: Config, args: argparse.Namespace, source: str):
    from .api import simulate
    from .runs.replications import run_engine

    engine = run_engine(cfg, args.engine, _engine_source(args, source))  # refused before anything runs
    # `calibrate` has no --patients
    return simulate(cfg, args.workers, not args.no_progress, getattr(args, "patients", False), engine)


def _chosen_engine(cfg: Config, args: argparse.Namespace, source: str) -> str:
    """The engine of `run` and `calibrate`, refused in one line before anything runs (with
    `--patients` when it is flow); says on stderr when flow runs once where replications were asked."""
    from .runs.replications import flow_note, refuse_flow_patients, run_engine

    engine = run_engine(cfg, args.engine, _engine_source(args, source))
    refuse_flow_patients(engine, getattr(args, "patients", False))  # `calibrate` has no --patients
    note = flow_note(engine, cfg.replications)
    if note:
        print(f"hospsim: {note}", file=sys.stderr)
    return engine


def _is_des(engine: str) -> bool:
    from .model.engines import is_des

    return is_des(engine)


def _what_ran(cfg: Config, engine: str) -> str:
    """``N replications`` or, for the flow engine, ``one deterministic flow run``."""
    return f"{cfg.replications} replications" if _is_des(engine) else "one deterministic flow run"


def cmd_run(args: argparse.Namespace) -> int:
    from .api import run_to_folder
    from .outputs.tables import accounting_line, summary_text

    cfg, source = _load(args)
    engine = _chosen_engine(cfg, args, source)  # refused before the folder is touched
    _check_xlsx(args, args.out or Path("results") / cfg.name)
    output, manifest, out_dir = run_to_folder(
        cfg,
        source,
        args.out or Path("results") / cfg.name,
        lambda: _run(cfg, args, source),
        workers=args.workers,
        patients=args.patients,
        daily_format=args.daily_format,
    )
    print(
        f"{cfg.name}: {_what_ran(cfg, engine)} of {cfg.horizon_days} days (warm-up {cfg.warmup_days}), seed {cfg.seed}"
    )
    print(summary_text(output.summary, None if _is_des(engine) else _flow_variability(cfg)))
    print(accounting_line(output.final_states))
    print(f"\nresults written to {out_dir}/ in {manifest['wall_seconds']:.1f} s")
    _write_xlsx(args, out_dir)
    return 0


def _flow_variability(cfg: Config) -> frozenset[str]:
    """The KPIs of ``cfg`` that only exist under variability (marked in a flow run's table)."""
    from .model.flow.measures import variability_kpi_names

    return variability_kpi_names(cfg)


def cmd_check(args: argparse.Namespace) -> int:
    if args.config and _is_experiment(Path(args.config)):
        if args.overrides:
            raise UserError(f"--set: applies to configs; change {args.config} (its overrides:) instead")
        return _check_experiment(Path(args.config))
    cfg, source = _load(args)
    print(
        f"{source}: OK: {cfg.name}: {cfg.horizon_days} days (warm-up {cfg.warmup_days}), "
        f"{len(cfg.groups)} patient groups, services: {', '.join(cfg.services) or 'none'}"
    )
    return 0


# Keys only an experiment file has (a config has none of them): how `check` tells the two apart.
_EXPERIMENT_KEYS = frozenset({"extends", "config", "scenarios", "baseline", "sweep", "criteria", "window"})


def _is_experiment(path: Path) -> bool:
    from .config import read_yaml

    return bool(_EXPERIMENT_KEYS & set(read_yaml(path)))


def _check_experiment(path: Path) -> int:
    """Load an experiment and every cell it expands to (as `sweep` would, nothing run); summarise."""
    from .runs.experiment import load_experiment, window_warning

    loaded = load_experiment(path)
    warning = window_warning(loaded)
    if warning:
        print(f"hospsim: warning: {warning}", file=sys.stderr)
    for line in experiment_summary(loaded):
        print(line)
    return 0


def experiment_summary(loaded: LoadedExperiment) -> list[str]:
    """What `hospsim check EXPERIMENT` prints: the cells, runs, window and criteria of a valid experiment."""
    exp = loaded.experiment
    base = loaded.variants[0].config
    swept = [v for v in loaded.variants if v.point >= 0]
    points = 1 + max((v.point for v in swept), default=-1)
    swept_names = sorted({v.scenario for v in swept}, key=list(exp.scenarios).index)
    cells = f"baseline + {len(exp.scenarios)} scenario{'s' if len(exp.scenarios) != 1 else ''}"
    if swept:
        assert exp.sweep is not None
        over = ", ".join(exp.sweep.parameters)
        which = "" if len(swept_names) == len(exp.scenarios) else f" ({', '.join(swept_names)})"
        cells += f", swept{which} over {points} points of {over} ({exp.sweep.method})"
    start, end = loaded.window(base)
    first = base.start_date + dt.timedelta(days=start)
    last = base.start_date + dt.timedelta(days=end - 1)
    window = f"{first:%d %b %Y} to {last:%d %b %Y} (days {start} to {end - 1})"
    if exp.window is None:
        window += ": no window set, so from the end of the warm-up"
    criteria = "; ".join(c.label for c in exp.criteria) or "none"
    return [
        f"{loaded.source}: OK: experiment {exp.name}, every cell valid (nothing run)",
        f"  config: {loaded.base_source} ({base.name})",
        f"  cells: {cells} = {len(loaded.variants)} cells",
        _runs_line(loaded),
        f"  window: {window}",
        f"  criteria ({len(exp.criteria)}): {criteria}",
    ]


def _runs_line(loaded: LoadedExperiment) -> str:
    """The runs an experiment expands to: cells x replications, or with the flow engine (named by
    the experiment, else its base config) one run per cell."""
    exp, cells = loaded.experiment, len(loaded.variants)
    base = loaded.variants[0].config
    engine = exp.engine or (base.engine if "engine" in base.model_fields_set else None)
    if engine == "flow":
        return f"  runs: {cells} cells x 1 run (engine flow: deterministic, one run per cell) = {cells} runs"
    return f"  runs: {cells} cells x {exp.replications} replications = {cells * exp.replications} runs, seed {exp.seed}"


def cmd_init(args: argparse.Namespace) -> int:
    """Write the bundled default config (and the example experiment) into a folder to edit."""
    from .config.loading import example_experiment_path
    from .runs.store import OutputError, os_reason

    sources = [default_config_path(), *([example_experiment_path()] if args.experiment else [])]
    targets = [(src, args.dir / src.name) for src in sources]
    if args.dir.exists() and not args.dir.is_dir():
        raise OutputError(f"{args.dir}: not a folder")
    for _, target in targets:
        if target.exists() and not args.force:
            raise OutputError(f"{target}: already exists; hospsim init overwrites nothing without --force")
    for src, target in targets:
        try:
            args.dir.mkdir(parents=True, exist_ok=True)
            # "x": never overwrite a file that appeared since the check above, unless --force.
            with open(target, "wb" if args.force else "xb") as f:
                f.write(src.read_bytes())
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({os_reason(exc)})") from None
        print(f"wrote {target}")
    main_file = targets[-1][1]
    then = "sweep" if args.experiment else "run"
    print(f"next: edit it, then: hospsim check {main_file} && hospsim {then} {main_file}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print or write the JSON Schema of config (or experiment) files."""
    from .config.json_schema import json_schema_text
    from .runs.store import OutputError, os_reason

    text = json_schema_text("experiment" if args.experiment else "config")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{args.out}: cannot write ({os_reason(exc)})") from None
    print(f"schema written to {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .analysis.calibration import calibration_table
    from .outputs.tables import calibration_text

    cfg, source = _load(args)
    engine = _chosen_engine(cfg, args, source)
    output = _run(cfg, args, source)
    table = calibration_table(output.replications, cfg)
    print(f"{cfg.name} ({source}) against England 2016/17 targets, {_what_ran(cfg, engine)}")
    print(calibration_text(table))
    missed = int((~table["met"]).sum())
    print(f"\n{len(table) - missed} of {len(table)} targets met")
    return 0 if missed == 0 else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    from .api import SweepProgress
    from .runs.executors import check_backend
    from .runs.experiment import load_experiment, window_warning
    from .runs.store import check_output_dir
    from .runs.sweep import run_sweep

    loaded = load_experiment(args.experiment)
    warning = window_warning(loaded)
    if warning:
        print(f"hospsim: warning: {warning}", file=sys.stderr)
    check_backend(args.backend, args.scheduler)
    out_dir = check_output_dir(args.out or Path("results") / loaded.experiment.name)
    _check_xlsx(args, out_dir)
    progress = SweepProgress(loaded.experiment.name, disable=args.no_progress)
    try:
        result = run_sweep(
            loaded,
            out_dir,
            workers=args.workers,
            backend=args.backend,
            scheduler=args.scheduler,
            resume=args.resume,
            on_progress=progress,
            patients=args.patients,
            engine=args.engine,
            flow=not args.no_flow,
        )
    except KeyboardInterrupt:
        print(
            f"hospsim: interrupted; finished runs are saved in {out_dir}/ - "
            f"finish with: hospsim sweep {args.experiment} --out {out_dir} --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        progress.close()
    exp = loaded.experiment
    per_cell = result.runs_total // len(loaded.variants)  # 1 with the flow engine
    print(
        f"{exp.name}: {result.runs_total} runs ({len(loaded.variants)} scenario cells x "
        f"{per_cell} {'replications' if per_cell != 1 else 'run'}), {result.runs_done_before} already done, "
        f"{result.wall_seconds:.1f} s"
    )
    _print_cells(exp.question, result, loaded, out_dir)
    _write_xlsx(args, out_dir)
    return 0


def _print_cells(question: str, result: SweepResult, loaded: LoadedExperiment, out_dir: Path) -> None:
    """The end of `hospsim sweep`: the experiment's question, the per-cell table (in the display
    names of the experiment as written) with what averages promise beside the share of
    replications in which the plan holds, how often each criterion holds, and where the tables are."""
    import textwrap

    from .analysis.verdicts import flow_verdict_table, views_side_by_side
    from .outputs.cells import cells_text, criteria_text
    from .outputs.labels import labels_of
    from .outputs.tables import variability_note
    from .runs.flow_cells import DES_ENGINES
    from .runs.store import CELLS

    exp, verdicts = loaded.experiment, result.verdicts
    criteria = len(exp.criteria)
    labels = labels_of(loaded.raw)
    fv = flow_verdict_table(exp, result.flow.table, result.flow.variability_kpis) if result.flow else None
    # A flow sweep's cells are the averages themselves: no second view to set beside them.
    views = views_side_by_side(verdicts, fv) if result.engine in DES_ENGINES else None
    note = variability_note(fv, {k: labels.kpi(k) for k in fv["kpi"]} if fv is not None else None)
    if question:  # wrapped: a question is often a paragraph
        print(textwrap.fill(f"question: {question.strip()}", 100, subsequent_indent="  "))
    print()
    print(cells_text(result.cells, labels, criteria, full_table=out_dir / CELLS, views=views, note=note))
    print()
    print(criteria_text(verdicts))  # or that there are no criteria
    print(f"\nresults written to {out_dir}/")
    if criteria:
        print(f"  every cell: {CELLS}; each criterion in each cell, with the month of its first breach: verdicts.csv")


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .api import SweepProgress
    from .runs.reproduce import reproduce

    progress = SweepProgress("reproduce", disable=args.no_progress)
    try:
        report = reproduce(
            args.results, workers=args.workers, sample=args.sample, on_progress=progress, engine=args.engine
        )
    finally:
        progress.close()
    for change in report.version_changes:
        print(f"note: version changed since the run: {change}")
    for note in report.notes:
        print(f"note: {note}")
    if report.ok:
        print(
            f"{args.results}: reproduced: {report.checked} {(report.kind == 'sweep' and 'runs') or 'replications'}, "
            f"{report.values_compared} values, all identical (engine {report.engine})"
        )
        return 0
    print(
        f"{args.results}: NOT reproduced: {len(report.mismatches)} differences (engine {report.engine})",
        file=sys.stderr,
    )
    for line in report.mismatches[:20]:
        print(f"  {line}", file=sys.stderr)
    return 1


def cmd_plot(args: argparse.Namespace) -> int:
    from .outputs.plots import write_plots
    from .runs.results import load_results
    from .runs.store import check_output_dir

    res = load_results(args.results)
    out_dir = check_output_dir(args.out or args.results / "plots")
    paths = write_plots(
        res, out_dir, args.what, args.format, args.scenario, args.point, args.criterion, args.dpi, args.smooth_days
    )
    for path in paths:
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .outputs.errors import OptionError
    from .outputs.report import write_report
    from .runs.store import check_output_dir

    if args.out is not None:  # the folder the file goes in (or --out itself, if a folder)
        check_output_dir(args.out if args.out.is_dir() else args.out.parent)
    if args.docx is not None:
        if args.docx.is_dir():
            raise OptionError(f"--docx {args.docx}: is a folder; name the .docx file to write")
        check_output_dir(args.docx.parent)
    path = write_report(args.results, args.out, args.scenario, args.point, docx=args.docx)
    print(f"report written to {path}")
    if args.docx is not None:
        print(f"Word document written to {args.docx}")
    return 0


# --- hospsim synth: a synthetic episode extract ----------------------------------------------


def _years(text: str) -> float:
    """An argparse type: a number of years, more than 0 (the ceiling: runs.synth.MAX_YEARS)."""
    shown = text if len(text) <= 24 else f"{text[:16]}..."
    try:
        value = float(text) if len(text.strip()) <= 40 else float("nan")
    except ValueError:
        value = float("nan")
    if not 0 < value <= 100:  # NaN and inf fail too
        raise argparse.ArgumentTypeError(f"expected a number of years above 0 and at most 100, got {shown!r}")
    return value


def _add_synth_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    sy = sub.add_parser(
        "synth",
        help="write a synthetic episode extract (one row per acute spell) simulated from a config",
        description="Simulate one replication of a config and write its acute spells as an episode extract "
        "(docs/extract-format.md): every patient admitted to an acute bed in the N years after the warm-up. "
        "A stand-in for hospital episode data, to try `hospsim fit` and `hospsim backtest` without it.",
    )
    _add_config_args(sy)
    sy.add_argument("--years", type=_years, required=True, metavar="N", help="years of admissions after the warm-up")
    sy.add_argument(
        "--out", type=_out_path, required=True, metavar="FILE", help="extract to write: FILE.parquet or FILE.csv"
    )
    sy.add_argument("--seed", type=_seed, help="root seed (config: seed); seeded as replication 0 of `hospsim run`")
    sy.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _add_engine_arg(sy)


def cmd_synth(args: argparse.Namespace) -> int:
    """Simulate a config and write its acute spells as an extract (nothing written on an error)."""
    from .runs.replications import refuse_flow_for, run_engine
    from .runs.store import check_output_dir
    from .runs.synth import extract_period, synth_extract, write_extract

    cfg, source = _load(args)
    engine = run_engine(cfg, args.engine, _engine_source(args, source))
    where = f"--engine {args.engine}" if args.engine else f"{_engine_source(args, source)}: engine"
    refuse_flow_for(engine, where, "hospsim synth writes one row per simulated patient")
    start, end = extract_period(cfg, args.years)  # checks --years before the run
    out: Path = args.out
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise UserError(f"--out {out}: expected a .parquet or .csv file name")
    if out.exists() and not args.force:
        raise UserError(f"--out {out}: already exists; hospsim synth overwrites nothing without --force")
    check_output_dir(out.parent if str(out.parent) else ".")
    df = synth_extract(cfg, args.years, cfg.seed, engine)
    write_extract(df, out, force=args.force)
    electives = int((df["admission_method"] == "elective").sum())
    still_in = int(df["discharge_datetime"].isna().sum())
    print(
        f"{out}: {len(df):,} acute spells ({len(df) - electives:,} emergency, {electives:,} elective; "
        f"{still_in:,} still in hospital at the end) admitted {start:%d %b %Y} to "
        f"{end - dt.timedelta(days=1):%d %b %Y}, from one replication of {source} (seed {cfg.seed})"
    )
    return 0


# --- the workbook: `--xlsx` of run and sweep, and `hospsim export` ---------------------------


def _xlsx_file(text: str) -> Path:
    """An argparse type: a workbook's path, ending in .xlsx (so `run --xlsx CONFIG.yaml` is not
    taken for a workbook to write)."""
    path = _out_path(text)
    if path.suffix.lower() != ".xlsx":
        raise argparse.ArgumentTypeError(f"{text!r}: not a workbook's name (it ends in .xlsx)")
    return path


def _add_xlsx_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--xlsx",
        nargs="?",
        const=True,
        type=_xlsx_file,
        metavar="PATH",
        help="also write an Excel workbook of the results (summary, verdicts, paired differences, cells, "
        "and a sheet documenting every column; default PATH: RESULTS/results.xlsx; needs openpyxl: "
        "pip install 'hospsim[xlsx]')",
    )


def _add_export_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    ex = sub.add_parser("export", help="write the tables of a results folder as one Excel workbook")
    ex.add_argument("results", type=Path, help="results folder of `hospsim run` or `hospsim sweep`")
    ex.add_argument(
        "--xlsx",
        nargs="?",
        const=True,
        required=True,
        type=_xlsx_file,
        metavar="PATH",
        help="the workbook to write (default PATH: RESULTS/results.xlsx; needs openpyxl: pip install 'hospsim[xlsx]')",
    )
    ex.add_argument("--force", action="store_true", help="overwrite the workbook if it exists")


def _xlsx_path(args: argparse.Namespace, results: Path) -> Path:
    from .outputs.workbook import default_path

    return default_path(results) if args.xlsx is True else Path(args.xlsx)


def _check_xlsx(args: argparse.Namespace, results: Path) -> None:
    """Before `run` or `sweep` works: openpyxl is there, and a workbook named outside the results
    folder would not overwrite a file (one inside it describes the folder being rewritten)."""
    if args.xlsx is None:
        return
    from .outputs.workbook import check_target, require_openpyxl
    from .runs.store import check_output_dir

    require_openpyxl()
    path = _xlsx_path(args, results)
    check_target(path, force=_inside(path, results))
    if not _inside(path, results):
        check_output_dir(path.parent)


def _inside(path: Path, results: Path) -> bool:
    return Path(os.path.abspath(results)) in Path(os.path.abspath(path)).parents


def _write_xlsx(args: argparse.Namespace, results: Path) -> None:
    """After `run` or `sweep`: the workbook of the folder just written, if `--xlsx`."""
    if args.xlsx is None:
        return
    from .outputs.workbook import write_workbook
    from .runs.results import load_results

    path = _xlsx_path(args, results)
    print(f"workbook written to {write_workbook(load_results(results), path, force=_inside(path, results))}")


def cmd_export(args: argparse.Namespace) -> int:
    """Write the workbook of an existing results folder (an incomplete one is refused; an
    existing workbook is overwritten only with --force)."""
    from .outputs.workbook import require_openpyxl, write_workbook
    from .runs.results import load_results

    require_openpyxl()
    res = load_results(args.results)
    path = write_workbook(res, _xlsx_path(args, args.results), force=args.force)
    print(f"workbook written to {path}")
    return 0


# --- hospsim fit -------------------------------------------------------------------------------


def _iso_date(text: str) -> dt.date:
    """An argparse type: a date YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text[:24]!r}") from None


def _add_fit_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    from .analysis.fit_defaults import HORIZON_DAYS, WARMUP_DAYS
    from .config.limits import MAX_HORIZON_DAYS, MAX_PLACES

    fit = sub.add_parser("fit", help="fit a config (demand, LOS, pathways, services, beds) to an episode extract")
    fit.add_argument(
        "extract", metavar="EXTRACT", help="episode extract, .csv or .parquet (README: the extract format)"
    )
    fit.add_argument(
        "--out",
        type=_out_path,
        default=Path("config.yaml"),
        metavar="FILE",
        help="config to write (default: %(default)s)",
    )
    fit.add_argument(
        "--report", type=_out_path, metavar="DIR", help="fit report folder (default: <out>_fit next to --out)"
    )
    fit.add_argument("--from", dest="start", type=_iso_date, metavar="DATE", help="first day of the extract to use")
    fit.add_argument("--to", dest="end", type=_iso_date, metavar="DATE", help="day after the last one to use")
    fit.add_argument(
        "--beds",
        type=_whole_number(1, MAX_PLACES),
        metavar="N",
        help="acute beds (default: 99th percentile of the daily peak)",
    )
    fit.add_argument(
        "--horizon-days",
        type=_whole_number(WARMUP_DAYS + 1, MAX_HORIZON_DAYS),
        metavar="N",
        default=HORIZON_DAYS,
        help=f"horizon_days of the config, warm-up of {WARMUP_DAYS} days included (default: %(default)s)",
    )
    fit.add_argument(
        "--from-census",
        action="store_true",
        help="start the config where the extract ends (this morning), from the census it shows then: "
        "no warm-up, the emergency rate grown to that day; writes <out>_census.csv beside the config",
    )
    fit.add_argument("--force", action="store_true", help="overwrite --out and the report's files if they exist")


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit a config to an episode extract; write it (validated) and its fit report."""
    from .analysis.census import census_from_extract, started_from_census
    from .analysis.fit import fit_config
    from .config import config_from_dict
    from .config.census import census_csv_text
    from .config.extract import read_extract
    from .outputs.fit_report import fitted_config_text, write_fit_report
    from .runs.store import OutputError, atomic_write, os_reason

    out: Path = args.out
    report_dir: Path = args.report or out.with_name(f"{out.stem}_fit")
    for target in (out, report_dir / "fit_report.html"):
        if target.exists() and not args.force:
            raise OutputError(f"{target}: already exists; hospsim fit overwrites nothing without --force")
    extract = read_extract(args.extract, start=args.start, end=args.end)
    config, report = fit_config(extract, beds=args.beds, horizon_days=args.horizon_days)
    fitted = config_from_dict(config, source=str(out))  # a fit that the model refuses is a bug: stop before writing
    notes = list(report.notes)
    writes: list[tuple[Path, Callable[[], object]]] = [(report_dir, lambda: write_fit_report(report, report_dir))]
    if args.from_census:
        # Start where the extract ends ("this morning"), from the census it shows then.
        census, census_notes = census_from_extract(fitted, extract.episodes, float(extract.n_days))
        census_file = out.with_name(f"{out.stem}_census.csv")
        started = started_from_census(config, fitted, extract.end_date, args.horizon_days, census)
        config_from_dict(started, str(out))
        config = {**started, "initial_state": census_file.name}  # the YAML names the CSV beside it
        text_csv = census_csv_text(census)
        writes.append(
            (census_file, lambda: atomic_write(census_file, lambda tmp: tmp.write_text(text_csv, encoding="utf-8")))
        )
        notes += census_notes
    text = fitted_config_text(config, report, dt.datetime.now(dt.UTC), report_dir)
    for note in notes:
        print(f"hospsim fit: {note}", file=sys.stderr)
    # The report first, the config last: a config on disk always has its report.
    writes.append((out, lambda: atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))))
    for target, write in writes:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write()
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({os_reason(exc)})") from None
    print(f"wrote {out} (fitted from {args.extract}, {extract.start_date} to {extract.end_date})")
    print(f"fit report: {report_dir / 'fit_report.html'}")
    print(f"next: hospsim check {out} && hospsim run {out}")
    return 0


# --- hospsim backtest: fit on the past, start from the census, compare with what came after ---


def _add_backtest_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    bt = sub.add_parser(
        "backtest",
        help="fit an extract up to a date, simulate from its census then, and compare with what followed",
        description="Fit a config to the extract as it stood at --train-until, start the simulation from the "
        "census the extract shows then (patients in acute beds and community services), run to the extract's "
        "end and set the observed daily occupancy, admissions and delayed patients against the simulated "
        "5-95%% band. Writes backtest.csv and backtest.png into --out and prints each series' coverage.",
    )
    bt.add_argument("extract", type=Path, help="episode extract (.csv or .parquet; docs/extract-format.md)")
    bt.add_argument(
        "--train-until", type=_iso_date, required=True, metavar="DATE", help="fit on the spells before DATE"
    )
    bt.add_argument("-r", "--replications", type=_replications, default=20, help="replications (default: 20)")
    bt.add_argument("--seed", type=_seed, help="root seed (default: from the extract's start date)")
    bt.add_argument("--beds", type=_whole_number(1, MAX_PLACES), help="acute beds (default: as `hospsim fit` finds)")
    bt.add_argument("--workers", type=_workers, default=2, help="parallel processes (default: %(default)s)")
    bt.add_argument("--out", type=_out_path, default=Path("backtest"), help="folder to write (default: backtest)")
    _add_engine_arg(bt, "simpy")


def cmd_backtest(args: argparse.Namespace) -> int:
    """Fit, simulate from the census, compare; the coverage of each series on stdout."""
    from .model.engines import choose_engine
    from .outputs.plots import save
    from .outputs.plots.backtest import backtest_figure
    from .runs.backtest import SERIES, backtest
    from .runs.replications import refuse_flow_for
    from .runs.store import atomic_write, check_output_dir

    if args.engine is not None:  # refused before anything runs
        choose_engine(args.engine, f"--engine {args.engine}")
        refuse_flow_for(
            args.engine,
            f"--engine {args.engine}",
            "hospsim backtest sets what followed against the band of replications",
        )
    check_output_dir(args.out)
    result = backtest(
        args.extract, args.train_until, args.replications, args.seed, args.beds, args.workers, args.engine
    )
    for note in result.notes:
        print(f"hospsim: {note}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out / "backtest.csv", lambda tmp: result.daily.to_csv(tmp, index=False, float_format="%.10g"))
    save(backtest_figure(result), args.out / "backtest.png")
    days = len(result.daily)
    print(f"backtest of {args.extract}: fitted before {args.train_until}, {days} days simulated from its census")
    for name, (_column, label) in SERIES.items():
        print(f"  {label}: observed inside the simulated 5-95% band on {result.coverage[name]:.0%} of days")
    print(f"written to {args.out}/: backtest.csv, backtest.png")
    return 0


COMMANDS = {
    "run": cmd_run,
    "check": cmd_check,
    "init": cmd_init,
    "schema": cmd_schema,
    "calibrate": cmd_calibrate,
    "sweep": cmd_sweep,
    "compare-engines": cmd_compare_engines,
    "reproduce": cmd_reproduce,
    "plot": cmd_plot,
    "report": cmd_report,
    "synth": cmd_synth,
    "backtest": cmd_backtest,
    "export": cmd_export,
    "fit": cmd_fit,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hospsim`` command; returns the exit code. Every way out is one line on
    stderr: a user's mistake (a :class:`UserError`, a bad option) exits 2, an interrupt 130, and
    anything else, a bug, exits 1 naming the exception (``--debug``: the traceback).

    Run as the command (``argv`` None: this process's own command line), the process keeps
    freed memory for its next replication, as sweep workers do (:func:`keep_freed_memory`)."""
    if argv is None:
        from .runs.executors import keep_freed_memory

        keep_freed_memory()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option (already one line on stderr)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        # One line, whatever the message quotes (a --set item or a file name may hold a newline).
        line = str(exc).replace("\r", "\\r").replace("\n", "\\n")
        print(f"hospsim: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("hospsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # the last resort: a bug, not a user's mistake
        if getattr(args, "debug", False):
            traceback.print_exc()
        else:
            print(f"hospsim: internal error: {_describe(exc)} (re-run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _describe(exc: BaseException) -> str:
    """``ExcType: first line of its message`` (one line whatever the message)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
