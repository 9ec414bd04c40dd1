"""Worker processes import only what they use: a replication or a sweep run, done in a fresh
interpreter as a worker of the process executor does it (import the task's module, run the
task), leaves the heavy modules only the parent needs (figures, reports, workbooks, scipy.stats:
about a second per worker) unimported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "data" / "mini_system.yaml"
# Needed only by the parent (summaries, verdicts, figures, reports, workbooks, progress bars).
PARENT_ONLY = ("matplotlib", "scipy.stats", "jinja2", "openpyxl", "docx", "hospsim.outputs", "tqdm")

WORKER = """
import json, sys
import {module} as tasks
from hospsim.config import load_config
from hospsim.runs.experiment import RunSpec  # what a sweep run's task carries

cfg = load_config({config!r}, ["horizon_days=60", "warmup_days=10"])
result = {run}
loaded = sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in {heavy!r}))
print(json.dumps({{"heavy": loaded, "ran": {ran}}}))
"""

TASKS = {
    "replication": (
        "hospsim.runs.replications",
        "tasks.replication_task(tasks.ReplicationTask(cfg, 0, 7, patients=True))",
        "result.events",
    ),
    "sweep run": (
        "hospsim.runs.sweep",
        "tasks.execute_run_task((RunSpec('b#r000', 'b', -1, (), 0, 7, cfg, (10, 60)), True, None))",
        "result[0]['events']",
    ),
}


@pytest.mark.parametrize("task", TASKS)
def test_a_worker_imports_only_what_the_task_uses(task):
    module, run, ran = TASKS[task]
    code = WORKER.format(module=module, config=str(MINI), run=run, heavy=PARENT_ONLY, ran=ran)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["ran"] > 0  # the task really ran
    assert found["heavy"] == []


def test_the_parent_still_summarises():
    """The imports moved into functions still work where they are used."""
    import numpy as np

    from hospsim.analysis.stats import t_interval
    from hospsim.analysis.verdicts import wilson_interval

    mean, low, high, n = t_interval(np.array([1.0, 2.0, 3.0]))
    assert (mean, n) == (2.0, 3) and round(low, 4) == -0.4841 and round(high, 4) == 4.4841
    assert tuple(round(x, 4) for x in wilson_interval(5, 10)) == (0.2366, 0.7634)


CHECK = """
import json, sys
from hospsim.cli import main

code = main(["check", {config!r}])
heavy = ("pandas", "scipy.stats", "matplotlib", "pyarrow", "numba", "simpy")
print(json.dumps({{"code": code, "heavy": sorted(m for m in heavy if m in sys.modules)}}))
"""


def test_the_command_line_starts_without_the_heavy_modules():
    """``hospsim check`` (and building the parser of every command) needs the config layer only:
    not pandas, scipy.stats, the engines or the figures (each command imports what it runs)."""
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(config=str(MINI))], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}
