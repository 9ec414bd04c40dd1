"""Wall time of a whole sweep (default: the fast 44% experiment) with N workers.

    python benchmarks/bench_sweep.py [EXPERIMENT] [--workers 2] [--record]

Runs the experiment into a temporary folder and reports wall seconds, runs, and seconds per run;
``--record`` appends the result, with the machine and the date, to benchmarks/RESULTS_SWEEP.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import tempfile
import time
from pathlib import Path

from bench_model import cpu_model, revision

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent / "experiments" / "swl_44pct_fast.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", nargs="?", default=str(DEFAULT))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()

    from hospsim import __version__
    from hospsim.runs.experiment import load_experiment
    from hospsim.runs.sweep import run_sweep

    loaded = load_experiment(args.experiment)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_sweep(loaded, Path(tmp) / "out", workers=args.workers)
        wall = time.perf_counter() - start
    runs = result.runs_total
    line = (
        f"{loaded.experiment.name}: {runs} runs with {args.workers} workers in {wall:.0f} s "
        f"({wall / runs:.2f} s per run, {wall / 60:.1f} min)"
    )
    print(line)
    if args.record:
        results = HERE / "RESULTS_SWEEP.md"
        if not results.exists():
            results.write_text(
                "# Sweep benchmark results\n\n`python benchmarks/bench_sweep.py --record`\n\n"
                "| date | machine | version | experiment | runs | workers | wall s | s per run |\n"
                "|---|---|---|---|---|---|---|---|\n"
            )
        with results.open("a") as fh:
            fh.write(
                f"| {dt.date.today().isoformat()} | {cpu_model()}, Python {platform.python_version()} | "
                f"hospsim {__version__} ({revision()}) | {loaded.experiment.name} | {runs} | {args.workers} | {wall:.0f} | "
                f"{wall / runs:.2f} |\n"
            )
        print(f"recorded in {results}")


if __name__ == "__main__":
    main()
