"""The flow engine's speed: one run of the default footprint and of cells of the 44% plan, beside
one replication of the compiled DES (``fast``) of the same config.

    python benchmarks/bench_flow.py [--repeat 5] [--record]

Each measurement runs in a fresh process (numba's compiled code cached on disk beforehand): the
first run of a config (its kernels built from scratch) and the median of --repeat runs after it
(the kernels of stays that no plan changes come from the process's cache, as in a sweep's
worker). Wall-clock seconds; the load average at the start is recorded. ``--record`` appends the
table, with the machine and the date, to benchmarks/RESULTS_FLOW.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench_model import cpu_model, revision

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, statistics, sys, time
from hospsim.config import default_config_path, load_config
from hospsim.runs.experiment import load_experiment
from hospsim.model.flow import run_flow
from hospsim.model.engines import run_model

what, repeat = sys.argv[1], int(sys.argv[2])
if what == "footprint":
    cfg = load_config(default_config_path())
else:
    scenario, point = what.split(":")
    loaded = load_experiment("experiments/swl_44pct.yaml")
    cfg = next(v.config for v in loaded.variants if v.scenario == scenario and v.point == int(point))
engine = sys.argv[3]
def timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t
if engine == "flow":
    first = timed(lambda: run_flow(cfg))
    later = [timed(lambda: run_flow(cfg)) for _ in range(repeat)]
else:
    run_model(cfg.model_copy(update={"horizon_days": 3, "warmup_days": 0}), 1, engine)  # loaded
    first = timed(lambda: run_model(cfg, 1, engine))
    later = [timed(lambda: run_model(cfg, 1 + i, engine)) for i in range(repeat)]
print(json.dumps({"first": first, "median": statistics.median(later)}))
"""

CASES = (
    ("default footprint (1,276 days)", "footprint"),
    ("44% plan, fixed-date cut, IC a year late in full", "fixed_date:11"),
    ("44% plan, gated cut, IC 6 months late in full", "gated:7"),
)


def measure(what: str, engine: str, repeat: int) -> dict[str, float]:
    """One case with one engine, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(repeat), engine], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    measure("footprint", "flow", 1)  # compile (or load) the flow kernel once
    rows = [
        "| config | flow: first run (s) | flow: later runs (s) | DES `fast`: one replication (s) | DES / flow |",
        "|---|---|---|---|---|",
    ]
    for label, what in CASES:
        flow = measure(what, "flow", args.repeat)
        des = measure(what, "fast", max(1, args.repeat // 2))
        rows.append(
            f"| {label} | {flow['first']:.3f} | {flow['median']:.3f} | {des['median']:.2f} | {des['median'] / flow['median']:.0f}× |"
        )
    table = "\n".join(rows)
    print(table)
    if args.record:
        load = os.getloadavg()[0]
        head = (
            f"\n## {dt.date.today().isoformat()} — {cpu_model()}, Python {platform.python_version()}, revision {revision()}\n\n"
            f"Wall-clock seconds, one process at a time (load average {load:.1f} at the start); later runs: median of {args.repeat}.\n\n"
        )
        with open(HERE / "RESULTS_FLOW.md", "a", encoding="utf-8") as f:
            f.write(head + table + "\n")


if __name__ == "__main__":
    main()
