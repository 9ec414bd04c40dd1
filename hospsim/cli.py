"""The ``hospsim`` command line: run, check, calibrate."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from . import __version__
from .config import Config, UserError, default_config_path, load_config
from .config.experiment import ALL_CRITERIA
from .config.limits import MAX_DPI, MAX_REPLICATIONS, MAX_RUNS, MAX_SEED, MAX_WORKERS

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


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config",
        nargs="?",
        help="config YAML (default: the bundled footprint, an average English STP footprint)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value by dotted path, e.g. --set acute.beds=2100 (repeatable)",
    )


def _add_run_args(p: argparse.ArgumentParser) -> None:
    _add_config_args(p)
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

    check = sub.add_parser("check", help="validate a config without running it")
    _add_config_args(check)

    cal = sub.add_parser("calibrate", help="compare a config's results with England's 2016/17 figures")
    _add_run_args(cal)

    _add_sweep_parser(sub)
    _add_results_parsers(sub)
    for command in sub.choices.values():  # `hospsim run --debug` too; SUPPRESS keeps `hospsim --debug run`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _add_sweep_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    sw = sub.add_parser("sweep", help="run an experiment (baseline, scenarios, sweep) and give the plan's verdicts")
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
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_patients_arg(sw)


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

    pl = sub.add_parser("plot", help="draw figures from a results folder of `hospsim run` or `hospsim sweep`")
    pl.add_argument("results", type=Path, help="results folder of `hospsim run` or `hospsim sweep`")
    pl.add_argument(
        "--what",
        action="append",
        metavar="FIGURES",
        help="figures, comma-separated or repeated: fan, delays, waiting_list, services, exceedance, "
        "robustness, forest, or all (default: all that apply)",
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

    rep = sub.add_parser("report", help="write a self-contained HTML report of a results folder")
    rep.add_argument("results", type=Path, help="results folder of `hospsim run` or `hospsim sweep`")
    rep.add_argument("--out", type=_out_path, help="HTML file to write (default: RESULTS/report.html)")
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


def _run(cfg: Config, args: argparse.Namespace):
    from tqdm import tqdm

    from .runs.replications import run_config

    bar = tqdm(
        total=cfg.replications,
        desc=f"{cfg.name}: replications",
        unit="rep",
        disable=args.no_progress,
        file=sys.stderr,
    )
    with bar:
        return run_config(
            cfg,
            workers=args.workers,
            on_done=lambda _res: bar.update(1),
            patients=getattr(args, "patients", False),  # `calibrate` has no --patients
        )


def cmd_run(args: argparse.Namespace) -> int:
    from .outputs.tables import accounting_line, summary_text
    from .runs.store import build_manifest, check_output_dir, folder_lock, write_results

    cfg, source = _load(args)
    out_dir = check_output_dir(args.out or Path("results") / cfg.name, beside=True)
    # Locked from before the simulation: a second `run` on this folder refuses at once.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):
        started = dt.datetime.now(dt.UTC)
        output = _run(cfg, args)
        finished = dt.datetime.now(dt.UTC)
        manifest = build_manifest(
            cfg, source, output.seeds, started, finished, args.workers, output.events, patients=args.patients
        )
        write_results(
            out_dir,
            output.summary,
            output.replications,
            output.daily,
            manifest,
            args.daily_format,
            output.patients,
            lock=False,
        )
    print(
        f"{cfg.name}: {cfg.replications} replications of {cfg.horizon_days} days "
        f"(warm-up {cfg.warmup_days}), seed {cfg.seed}"
    )
    print(summary_text(output.summary))
    print(accounting_line(output.final_states))
    print(f"\nresults written to {out_dir}/ in {manifest['wall_seconds']:.1f} s")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    cfg, source = _load(args)
    print(
        f"{source}: OK: {cfg.name}: {cfg.horizon_days} days (warm-up {cfg.warmup_days}), "
        f"{len(cfg.groups)} patient groups, services: {', '.join(cfg.services) or 'none'}"
    )
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .analysis.calibration import calibration_table
    from .outputs.tables import calibration_text

    cfg, source = _load(args)
    output = _run(cfg, args)
    table = calibration_table(output.replications, cfg)
    print(f"{cfg.name} ({source}) against England 2016/17 targets, {cfg.replications} replications")
    print(calibration_text(table))
    missed = int((~table["met"]).sum())
    print(f"\n{len(table) - missed} of {len(table)} targets met")
    return 0 if missed == 0 else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .outputs.tables import verdict_text
    from .runs.executors import check_backend
    from .runs.experiment import load_experiment
    from .runs.store import check_output_dir
    from .runs.sweep import run_sweep

    loaded = load_experiment(args.experiment)
    check_backend(args.backend, args.scheduler)
    out_dir = check_output_dir(args.out or Path("results") / loaded.experiment.name)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            # Runs already on disk (--resume) are the bar's start, not progress: the ETA stays honest.
            bar = tqdm(
                total=total,
                initial=done,
                desc=f"{loaded.experiment.name}: runs",
                unit="run",
                disable=args.no_progress,
                file=sys.stderr,
            )
        else:
            bar.update(done - bar.n)

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
        )
    except KeyboardInterrupt:
        print(
            f"hospsim: interrupted; finished runs are saved in {out_dir}/ - "
            f"finish with: hospsim sweep {args.experiment} --out {out_dir} --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        if bar is not None:
            bar.close()
    exp = loaded.experiment
    print(
        f"{exp.name}: {result.runs_total} runs ({len(loaded.variants)} scenario cells x "
        f"{exp.replications} replications), {result.runs_done_before} already done, "
        f"{result.wall_seconds:.1f} s"
    )
    if exp.question:
        print(f"question: {exp.question.strip()}")
    print(verdict_text(result.verdicts))
    print(f"\nresults written to {out_dir}/")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .runs.reproduce import reproduce

    report = reproduce(args.results, workers=args.workers, sample=args.sample)
    for change in report.version_changes:
        print(f"note: version changed since the run: {change}")
    if report.ok:
        print(
            f"{args.results}: reproduced: {report.checked} {(report.kind == 'sweep' and 'runs') or 'replications'}, "
            f"{report.values_compared} values, all identical"
        )
        return 0
    print(f"{args.results}: NOT reproduced: {len(report.mismatches)} differences", file=sys.stderr)
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
    from .outputs.report import write_report
    from .runs.store import check_output_dir

    if args.out is not None:  # the folder the file goes in (or --out itself, if a folder)
        check_output_dir(args.out if args.out.is_dir() else args.out.parent)
    path = write_report(args.results, args.out, args.scenario, args.point)
    print(f"report written to {path}")
    return 0


COMMANDS = {
    "run": cmd_run,
    "check": cmd_check,
    "calibrate": cmd_calibrate,
    "sweep": cmd_sweep,
    "reproduce": cmd_reproduce,
    "plot": cmd_plot,
    "report": cmd_report,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hospsim`` command; returns the exit code. Every way out is one line on
    stderr: a user's mistake (a :class:`UserError`, a bad option) exits 2, an interrupt 130, and
    anything else, a bug, exits 1 naming the exception (``--debug``: the traceback)."""
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
