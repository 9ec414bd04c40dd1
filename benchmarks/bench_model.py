"""Speed and memory of one replication of a config, on one core.

    python benchmarks/bench_model.py [CONFIG] [--repeat 3] [--record]

Measures, for one replication (median of --repeat runs, each in a fresh process so peak memory is
that of one replication):
  * seconds per simulated 2,000-bed year = wall seconds / (simulated years x mean beds / 2,000),
    for the simulation alone and with the daily table and KPIs;
  * events processed per second;
  * peak resident memory.
``--record`` appends the result, with the machine and the date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(config: str, seed: int) -> dict:
    """One replication in this process; returns timings and counts."""
    from hospsim.config import default_config_path, load_config
    from hospsim.model.engine import run_model
    from hospsim.model.kpis import daily_and_kpis

    cfg = load_config(config or default_config_path())
    t0 = time.perf_counter()
    rep = run_model(cfg, seed)
    t1 = time.perf_counter()
    daily_and_kpis(cfg, rep)
    t2 = time.perf_counter()
    mean_beds = float(rep.capacity.total_beds.mean())
    bed_years = cfg.horizon_days / 365.25 * mean_beds / 2000
    return {
        "config": cfg.name,
        "horizon_days": cfg.horizon_days,
        "mean_beds": mean_beds,
        "patients": len(rep.cohort),
        "events": rep.records.events,
        "simulate_seconds": t1 - t0,
        "metrics_seconds": t2 - t1,
        "seconds_per_2000_bed_year": (t1 - t0) / bed_years,
        "seconds_per_2000_bed_year_with_metrics": (t2 - t0) / bed_years,
        "events_per_second": rep.records.events / (t1 - t0),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def revision() -> str:
    """The git commit measured (short hash; "-dirty" with uncommitted changes)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "no git"
    return out.stdout.strip() or "no git"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", nargs="?", default="")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="append the result to benchmarks/RESULTS.md")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure once with this seed
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.config, args.one)))
        return
    runs = []
    for i in range(args.repeat):
        out = subprocess.run(
            [sys.executable, __file__, args.config, "--one", str(i + 1)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}
    first = runs[0]
    lines = [
        f"config {first['config']}: {first['horizon_days']} days, {med['mean_beds']:.0f} beds, "
        f"{med['patients']:,.0f} patients, {med['events']:,.0f} events (median of {args.repeat})",
        f"  simulate: {med['simulate_seconds']:.2f} s  = {med['seconds_per_2000_bed_year']:.2f} s per 2,000-bed year",
        f"  with daily table and KPIs: {med['seconds_per_2000_bed_year_with_metrics']:.2f} s per 2,000-bed year",
        f"  events per second: {med['events_per_second']:,.0f}",
        f"  peak memory: {med['peak_rss_mb']:.0f} MB",
    ]
    print("\n".join(lines))
    if args.record:
        from hospsim import __version__

        row = (
            f"| {dt.date.today().isoformat()} | {cpu_model()}, {platform.python_version()} | hospsim {__version__} "
            f"({revision()}) | "
            f"{first['config']} ({first['horizon_days']} d, {med['mean_beds']:.0f} beds) | "
            f"{med['seconds_per_2000_bed_year']:.2f} | {med['seconds_per_2000_bed_year_with_metrics']:.2f} | "
            f"{med['events_per_second']:,.0f} | {med['peak_rss_mb']:.0f} |\n"
        )
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text(
                "# Benchmark results\n\nOne replication on one core, median of repeats "
                "(`python benchmarks/bench_model.py --record`).\n\n"
                "| date | machine | version | config | s per 2,000-bed year (simulate) | "
                "s per 2,000-bed year (with metrics) | events/s | peak MB |\n"
                "|---|---|---|---|---|---|---|---|\n"
            )
        with results.open("a") as fh:
            fh.write(row)
        print(f"recorded in {results}")


if __name__ == "__main__":
    main()
