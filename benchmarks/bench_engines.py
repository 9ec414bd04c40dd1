"""The two engines side by side: one replication of a config with the reference engine (simpy)
and the compiled one (fast), measured alternately in one run.

    python benchmarks/bench_engines.py [CONFIG] [--repeat 5] [--serial 20] [--hand-back-memory] [--record]

Per engine, median over --repeat rounds (each round runs both engines on the same seed, the order
alternating): seconds to draw the patients, to simulate, and for the daily table and KPIs; the
whole replication; microseconds per patient and per event. Then, each engine in a fresh process:
peak memory of one replication, and resident memory after 3 and after --serial replications run
one after another in that process (flat memory: no growth with the number of runs).
Each replication is run as ``hospsim run`` runs it: the patients drawn for this run alone, and
the process keeping freed memory for its next replication (``--hand-back-memory``: glibc's
default, as in a caller's own process; then resident memory falls back between replications).
``--record`` appends the ratio table, with the machine and the date, to benchmarks/RESULTS_ENGINES.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_model import cpu_model, revision

HERE = Path(__file__).resolve().parent
PARTS = ("draw_seconds", "simulate_seconds", "metrics_seconds")


def _simulators():  # type: ignore[no-untyped-def]
    from hospsim.model.engine import simulate_candidates
    from hospsim.model.fast import simulate_candidates_fast

    return {"simpy": simulate_candidates, "fast": simulate_candidates_fast}


def one_replication(cfg, engine: str, seed: int) -> dict:  # type: ignore[no-untyped-def]
    """Time the three parts of one replication."""
    from hospsim.model.engine import draw_for_run
    from hospsim.model.kpis import daily_and_kpis

    t0 = time.perf_counter()
    cand = draw_for_run(cfg, seed)  # as `hospsim run` draws a replication's patients
    t1 = time.perf_counter()
    rep = _simulators()[engine](cfg, cand)
    t2 = time.perf_counter()
    daily_and_kpis(cfg, rep)
    t3 = time.perf_counter()
    return {
        "draw_seconds": t1 - t0,
        "simulate_seconds": t2 - t1,
        "metrics_seconds": t3 - t2,
        "patients": len(rep.cohort),
        "events": rep.records.events,
    }


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(config: str, engine: str, serial: int) -> dict:
    """In this (fresh) process: peak memory of one replication, then resident memory after 3
    and after ``serial`` replications in a row."""
    from hospsim.config import default_config_path, load_config

    cfg = load_config(config or default_config_path())
    one_replication(cfg, engine, 1)
    peak_one = _peak_mb()
    rss = []
    for i in range(2, serial + 1):
        one_replication(cfg, engine, i)
        rss.append(_rss_mb())
    return {"peak_one_mb": peak_one, "rss_after_3_mb": rss[1], "rss_after_n_mb": rss[-1], "peak_n_mb": _peak_mb()}


def side_by_side(config: str, repeat: int) -> dict[str, dict[str, float]]:
    from hospsim.config import default_config_path, load_config

    cfg = load_config(config or default_config_path())
    one_replication(cfg, "fast", 99)  # load (or compile) the kernel before timing
    runs: dict[str, list[dict]] = {"simpy": [], "fast": []}
    for i in range(repeat):
        order = ("simpy", "fast") if i % 2 == 0 else ("fast", "simpy")
        for engine in order:
            runs[engine].append(one_replication(cfg, engine, i + 1))
    out = {}
    for engine, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        med["total_seconds"] = statistics.median(sum(r[p] for p in PARTS) for r in rs)
        med["us_per_patient"] = med["simulate_seconds"] / med["patients"] * 1e6
        med["ns_per_event"] = med["simulate_seconds"] / med["events"] * 1e9
        out[engine] = med
    out["_config"] = {"name": cfg.name, "horizon_days": cfg.horizon_days}  # type: ignore[dict-item]
    return out


def table(res: dict, mem: dict[str, dict], serial: int) -> str:
    s, f = res["simpy"], res["fast"]

    def row(name: str, key: str, fmt: str) -> str:
        return f"| {name} | {fmt.format(s[key])} | {fmt.format(f[key])} | {s[key] / f[key]:.1f}x |"

    lines = [
        "| per replication | simpy | fast | simpy / fast |",
        "|---|---|---|---|",
        row("draw patients (s)", "draw_seconds", "{:.3f}"),
        row("simulate (s)", "simulate_seconds", "{:.3f}"),
        row("daily table and KPIs (s)", "metrics_seconds", "{:.3f}"),
        row("whole replication (s)", "total_seconds", "{:.3f}"),
        row("simulate, µs per patient", "us_per_patient", "{:.2f}"),
        row("simulate, ns per event", "ns_per_event", "{:.0f}"),
    ]
    for key, name in (
        ("peak_one_mb", "peak memory, one replication (MB)"),
        ("rss_after_3_mb", "resident after 3 replications (MB)"),
        ("rss_after_n_mb", f"resident after {serial} replications (MB)"),
    ):
        a, b = mem["simpy"][key], mem["fast"][key]
        lines.append(f"| {name} | {a:.0f} | {b:.0f} | {a / b:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", nargs="?", default="")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--serial", type=int, default=20)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--memory", help=argparse.SUPPRESS)  # internal: memory run of this engine
    ap.add_argument(
        "--hand-back-memory",
        action="store_true",
        help="leave glibc's default (freed arrays unmapped), as in a caller's own process; "
        "default: keep freed memory, as the hospsim command and sweep workers do",
    )
    args = ap.parse_args()
    if not args.hand_back_memory:
        from hospsim.runs.executors import keep_freed_memory

        keep_freed_memory()
    if args.memory:
        print(json.dumps(memory_run(args.config, args.memory, args.serial)))
        return
    res = side_by_side(args.config, args.repeat)
    mem = {}
    for engine in ("simpy", "fast"):
        cmd = [sys.executable, __file__, args.config, "--memory", engine, "--serial", str(args.serial)]
        cmd += ["--hand-back-memory"] if args.hand_back_memory else []
        mem[engine] = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    name = res["_config"]["name"]
    head = (
        f"config {name} ({res['_config']['horizon_days']} days, {res['fast']['patients']:,.0f} patients, "
        f"{res['fast']['events']:,.0f} events), median of {args.repeat} alternating rounds; "
        + (
            "freed memory handed back (glibc's default)"
            if args.hand_back_memory
            else "freed memory kept, as `hospsim` does"
        )
    )
    text = table(res, mem, args.serial)
    print(head + "\n\n" + text)
    if args.record:
        from hospsim import __version__

        results = HERE / "RESULTS_ENGINES.md"
        if not results.exists():
            results.write_text(
                "# The two engines side by side\n\n"
                "`python benchmarks/bench_engines.py --record`: one replication, both engines alternately in "
                "one run, one core.\n"
            )
        with results.open("a") as fh:
            fh.write(
                f"\n## {dt.date.today().isoformat()} · {cpu_model()}, Python {platform.python_version()} · "
                f"hospsim {__version__} ({revision()})\n\n{head}\n\n{text}\n"
            )
        print(f"recorded in {results}")


if __name__ == "__main__":
    main()
