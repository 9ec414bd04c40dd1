"""Wall time of a whole sweep (default: the fast 44% experiment) with N workers.

    python benchmarks/bench_sweep.py [EXPERIMENT] [--workers 2] [--record]

Runs the experiment into a temporary folder and reports wall seconds, runs, seconds per run, the
CPU of all its processes and its phases (read from the folder's file times: start-up, with the
flow column, to the first run's record; the runs, to the last one's; the tables after them);
``--record`` appends the result, with the machine and the date, to benchmarks/RESULTS_SWEEP.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import tempfile
import time
from pathlib import Path

from bench_model import cpu_model, revision

HERE = Path(__file__).resolve().parent
TABLE = "## With the CPU and the phases (from 2026-12-02)"
DEFAULT = HERE.parent / "experiments" / "swl_44pct_fast.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", nargs="?", default=str(DEFAULT))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engine", choices=["simpy", "fast"], default=None, help="default: the sweep's (fast)")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()

    from hospsim import __version__
    from hospsim.runs.experiment import load_experiment
    from hospsim.runs.sweep import run_sweep

    loaded = load_experiment(args.experiment)
    cpu_before = _cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        start, start_clock = time.perf_counter(), time.time()
        result = run_sweep(loaded, Path(tmp) / "out", workers=args.workers, engine=args.engine)
        wall = time.perf_counter() - start
        startup, running, tables = _phases(Path(tmp) / "out", start_clock, start_clock + wall)
    cpu = _cpu_seconds() - cpu_before
    runs = result.runs_total
    engine = args.engine or "fast (default)"
    # Peak resident memory: this process (the parent, which writes the tables) and the largest
    # worker (finished by now, so counted among the children).
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    line = (
        f"{loaded.experiment.name}: {runs} runs with {args.workers} workers, engine {engine}, in {wall:.0f} s "
        f"({wall / runs:.2f} s per run, {wall / 60:.1f} min); peak memory {parent_mb:.0f} MB parent, "
        f"{worker_mb:.0f} MB largest worker; CPU {cpu:.0f} s (all processes); start-up {startup:.1f} s, "
        f"runs {running:.1f} s, tables {tables:.1f} s"
    )
    print(line)
    if args.record:
        results = HERE / "RESULTS_SWEEP.md"
        text = results.read_text() if results.exists() else "# Sweep benchmark results\n"
        if TABLE not in text:
            text += (
                f"\n{TABLE}\n\n`python benchmarks/bench_sweep.py EXPERIMENT --record`\n\n"
                "| date | machine | version | experiment | engine | runs | workers | wall s | CPU s | start-up s | "
                "runs s | tables s | peak MB parent | peak MB largest worker |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            )
        text += (
            f"| {dt.date.today().isoformat()} | {cpu_model()}, Python {platform.python_version()} | "
            f"hospsim {__version__} ({revision()}) | {loaded.experiment.name} | {engine} | {runs} | {args.workers} | "
            f"{wall:.0f} | {cpu:.0f} | {startup:.1f} | {running:.1f} | {tables:.1f} | {parent_mb:.0f} | {worker_mb:.0f} |\n"
        )
        results.write_text(text)
        print(f"recorded in {results}")


def _cpu_seconds() -> float:
    """User and system CPU of this process and of its finished children (the workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _phases(out: Path, start: float, end: float) -> tuple[float, float, float]:
    """Seconds from the start to the first run's record (start-up and the flow column), from
    there to the last run's record (the runs), and from there to the end (the tables)."""
    times = [p.stat().st_mtime for p in (out / "runs").glob("*.json")]
    first, last = (min(times), max(times)) if times else (start, start)
    return first - start, last - first, end - last


if __name__ == "__main__":
    main()
