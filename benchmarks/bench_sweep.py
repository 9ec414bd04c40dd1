"""Wall time of a whole sweep (default: the fast 44% experiment) with N workers.

    python benchmarks/bench_sweep.py [EXPERIMENT] [--workers 2] [--record]

Runs the experiment into a temporary folder and reports wall seconds, runs, and seconds per run;
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
TABLE = "## With the engine and peak memory (from issue 13)"
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
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_sweep(loaded, Path(tmp) / "out", workers=args.workers, engine=args.engine)
        wall = time.perf_counter() - start
    runs = result.runs_total
    engine = args.engine or "fast (default)"
    # Peak resident memory: this process (the parent, which writes the tables) and the largest
    # worker (finished by now, so counted among the children).
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    line = (
        f"{loaded.experiment.name}: {runs} runs with {args.workers} workers, engine {engine}, in {wall:.0f} s "
        f"({wall / runs:.2f} s per run, {wall / 60:.1f} min); peak memory {parent_mb:.0f} MB parent, "
        f"{worker_mb:.0f} MB largest worker"
    )
    print(line)
    if args.record:
        results = HERE / "RESULTS_SWEEP.md"
        text = results.read_text() if results.exists() else "# Sweep benchmark results\n"
        if TABLE not in text:
            text += (
                f"\n{TABLE}\n\n`python benchmarks/bench_sweep.py EXPERIMENT --record`\n\n"
                "| date | machine | version | experiment | engine | runs | workers | wall s | s per run | "
                "peak MB parent | peak MB largest worker |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
            )
        text += (
            f"| {dt.date.today().isoformat()} | {cpu_model()}, Python {platform.python_version()} | "
            f"hospsim {__version__} ({revision()}) | {loaded.experiment.name} | {engine} | {runs} | {args.workers} | "
            f"{wall:.0f} | {wall / runs:.2f} | {parent_mb:.0f} | {worker_mb:.0f} |\n"
        )
        results.write_text(text)
        print(f"recorded in {results}")


if __name__ == "__main__":
    main()
