"""The Python API (``import hospsim``): configs changed by dotted paths and read-only, runs equal
to the command line's bit for bit, results of runs and sweeps as tables and figures, parallel runs
from a script without a ``__main__`` guard, and the tutorial executed as a script."""

from __future__ import annotations

import copy
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import hospsim
from hospsim.cli import main
from hospsim.config import config_hash, config_to_dict
from hospsim.config import load_config as load_config_file
from hospsim.outputs import plots
from hospsim.outputs.selection import select_cells
from hospsim.runs.reproduce import reproduce
from hospsim.runs.store import FLOAT_FORMAT

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
MINI = DATA / "mini_system.yaml"
TUTORIAL = ROOT / "docs" / "tutorial.py"
# A subprocess imports this checkout's hospsim, whatever the working folder.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def python(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env or ENV)


# ---------------------------------------------------------------------------------------------
# The package


def test_import_hospsim_loads_nothing_else():
    code = "import sys, hospsim; print(sorted(m for m in sys.modules if m.startswith('hospsim')))"
    out = python("-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['hospsim']"


def test_every_exported_name_resolves():
    for name in hospsim.__all__:
        assert getattr(hospsim, name) is not None, name
    assert {"run", "sweep", "load_results", "Config", "with_overrides"} - set(dir(hospsim)) == {"with_overrides"}
    assert hospsim.Config.with_overrides.__doc__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = hospsim.nope  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Configs: with_overrides and read-only containers


def test_with_overrides_is_set_by_dotted_path():
    cfg = hospsim.default_config()
    changed = cfg.with_overrides({"acute.beds": 2000, "services.rehab_bed.capacity": 500})
    assert changed.acute.beds.constant == 2000
    assert changed.services["rehab_bed"].capacity.constant == 500
    assert cfg.acute.beds.constant == 2250  # the original is unchanged
    # Same semantics as --set: the same config, the same hash.
    by_set = load_config_file(
        hospsim.api._config.default_config_path(), ["acute.beds=2000", "services.rehab_bed.capacity=500"]
    )
    assert config_to_dict(changed) == config_to_dict(by_set)
    assert config_hash(changed) == config_hash(by_set) != config_hash(cfg)


def test_with_overrides_takes_schedules_and_numpy_values():
    cfg = hospsim.load_config(MINI)
    changed = cfg.with_overrides({"acute.beds": {"steps": [(0, 45), (150, np.int64(36))]}, "seed": np.int64(7)})
    assert changed.acute.beds.daily_int(151)[[0, 149, 150]].tolist() == [45, 45, 36]
    assert changed.seed == 7 and isinstance(changed.seed, int)
    assert hospsim.load_config(MINI, {"replications": 4}).replications == 4


@pytest.mark.parametrize(
    "overrides, expected",
    [
        # A typo in a service name: refused, naming the override (not a file).
        (
            {"services.rehab_typo.capacity": 500},
            "mini with overrides services.rehab_typo.capacity: services.rehab_typo",
        ),
        ({"acute.bedz": 3}, "mini with overrides acute.bedz: acute.bedz: unknown key"),
        ({"horizon_days": "long"}, "mini with overrides horizon_days: horizon_days: Input should be a valid integer"),
        ({"acute.beds": -5}, "mini with overrides acute.beds: acute.beds: every value must be >= 0 (got -5)"),
        ({"replications": True}, "mini with overrides replications: replications: expected a number or text"),
        ({"seed.x": 1}, "override seed.x: seed is a value, not a section"),
    ],
    ids=["typo", "unknown-key", "type", "range", "boolean", "not-a-section"],
)
def test_with_overrides_errors_are_one_line_naming_the_override(overrides, expected):
    cfg = hospsim.load_config(MINI)
    with pytest.raises(hospsim.ConfigError) as err:
        cfg.with_overrides(overrides)
    message = str(err.value)
    assert "\n" not in message
    # Once --set names unknown sections itself, the typo is refused before validation.
    assert message.startswith((expected, f"override {next(iter(overrides))}")), message
    assert next(iter(overrides)) in message


def test_config_containers_refuse_changes_and_survive_pickling():
    cfg = hospsim.load_config(MINI)
    before = config_hash(cfg)
    changes = [
        lambda: cfg.groups.pop("other"),
        lambda: cfg.groups.__setitem__("x", cfg.groups["other"]),
        lambda: cfg.groups["frail"].pathways.update(home=1.0),
        lambda: cfg.demand.emergency.weekday_factors.__setitem__(0, -1.0),
        lambda: cfg.demand.emergency.hourly_factors.append(1.0),
        lambda: cfg.services.clear(),
    ]
    for change in changes:
        with pytest.raises(TypeError, match=r"read-only; make a changed copy with Config\.with_overrides"):
            change()
    assert config_hash(cfg) == before
    for other in (pickle.loads(pickle.dumps(cfg)), copy.deepcopy(cfg)):
        assert other == cfg and config_hash(other) == before
        with pytest.raises(TypeError):
            other.groups.pop("other")
    # Reading is unchanged: plain dicts and lists out, equal to the containers.
    assert cfg.groups["frail"].pathways == {"home": 0.6, "rehab": 0.4}
    assert type(config_to_dict(cfg)["groups"]) is dict


# ---------------------------------------------------------------------------------------------
# run(): the command line's numbers, in memory or in a folder


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "mini"
    code = main(["run", str(MINI), "--set", "replications=3", "--out", str(out), "--workers", "1", "--no-progress"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def in_memory() -> hospsim.Results:
    return hospsim.run(MINI, replications=3, workers=2, progress=False)


def test_run_in_memory_equals_the_command_line(cli_run, in_memory):
    res = in_memory
    assert res.path is None and res.kind == "run" and res.name == "mini" and res.replications == 3
    assert res.manifest["config_hash"] == yaml.safe_load((cli_run / "manifest.json").read_text())["config_hash"]
    # KPIs per replication: bit for bit (the folder's CSV holds them at FLOAT_FORMAT).
    assert list(res.kpis.columns[:4]) == ["scenario", "point", "replication", "seed"]
    text = res.kpis.drop(columns=["scenario", "point"]).to_csv(index=False, float_format=FLOAT_FORMAT)
    assert text == (cli_run / "replications.csv").read_text()
    summary = res.summary.to_csv(index=False, float_format=FLOAT_FORMAT)
    assert summary == (cli_run / "summary.csv").read_text()
    pd.testing.assert_frame_equal(res.daily, pd.read_parquet(cli_run / "daily.parquet"))
    assert res.monthly is None and res.verdicts is None and res.paired_differences is None
    assert res.config == load_config_file(MINI, ["replications=3"])


def test_run_to_a_folder_writes_the_command_lines_files(cli_run, tmp_path):
    res = hospsim.run(MINI, replications=3, workers=1, progress=False, out=tmp_path / "api")
    assert res.path == tmp_path / "api"
    for name in ("replications.csv", "summary.csv"):
        assert (tmp_path / "api" / name).read_bytes() == (cli_run / name).read_bytes(), name
    pd.testing.assert_frame_equal(res.daily, pd.read_parquet(cli_run / "daily.parquet"))
    pd.testing.assert_frame_equal(res.kpis, hospsim.load_results(cli_run).kpis)


def test_a_config_built_in_python_is_recorded_as_such(tmp_path):
    cfg = hospsim.load_config(MINI, {"replications": 2, "horizon_days": 120, "warmup_days": 20})
    res = hospsim.run(cfg, workers=1, progress=False, out=tmp_path / "py")
    assert res.manifest["config_source"] == "<Python>"
    assert res.manifest["config_hash"] == config_hash(cfg) and res.config == cfg
    assert reproduce(tmp_path / "py", workers=1).ok


def test_run_refuses_bad_arguments_in_one_line():
    with pytest.raises(hospsim.UserError, match=r"^workers: expected a whole number from 1 to \d+, got 0$"):
        hospsim.run(MINI, workers=0)
    with pytest.raises(hospsim.UserError, match=r"^config: expected a Config, a config file or None, got int$"):
        hospsim.run(3)  # type: ignore[arg-type]
    with pytest.raises(hospsim.ConfigError, match="replications: Input should be less than or equal to"):
        hospsim.run(MINI, replications=10**9)


def test_save_and_report(in_memory, tmp_path):
    with pytest.raises(hospsim.UserError, match=r"^mini: these results are in memory only; save them first"):
        in_memory.report(tmp_path / "r.html")
    saved = in_memory.save(tmp_path / "saved")
    assert saved.path == tmp_path / "saved" and (tmp_path / "saved" / "manifest.json").exists()
    pd.testing.assert_frame_equal(saved.daily, in_memory.daily)
    np.testing.assert_allclose(saved.kpis["acute_bed_days"], in_memory.kpis["acute_bed_days"], rtol=1e-9)
    path = saved.report(tmp_path / "report.html")
    html = path.read_text()
    assert path == tmp_path / "report.html" and html.startswith("<!DOCTYPE html>") and "mini" in html
    assert str(tmp_path / "saved") in html  # the report names the folder its manifest re-runs
    report = reproduce(saved.path, workers=1)  # the folder re-runs bit for bit, as the CLI's does
    assert report.ok and report.checked == 3
    with pytest.raises(hospsim.UserError, match="saved already"):
        saved.save(tmp_path / "again")


def _lines(fig) -> list[list[float]]:
    return [np.asarray(line.get_ydata(), dtype=float).tolist() for ax in fig.axes for line in ax.get_lines()]


def test_plot_helpers_draw_the_plot_commands_figures(in_memory, cli_run):
    assert in_memory.figures == ["fan", "delays", "services", "exceedance"]
    folder = hospsim.load_results(cli_run)
    for name in in_memory.figures:
        fig = getattr(in_memory, f"plot_{name}")()
        direct = plots.make_figure(folder.raw, name, select_cells(folder.raw))
        assert type(fig).__name__ == "Figure"
        assert fig.get_suptitle() == direct.get_suptitle() != "", name
        assert "mini" not in fig.get_suptitle()  # a title in words, not the config slug
        assert _lines(fig) == _lines(direct), name  # the same data, from memory or from the folder
    with pytest.raises(hospsim.UserError, match=r"^--what robustness: only for results of `hospsim sweep`"):
        in_memory.plot_robustness()


# ---------------------------------------------------------------------------------------------
# sweep() and load_results() of a sweep


TINY_EXPERIMENT = {
    "name": "tiny-exp",
    "config": "mini_system.yaml",
    "replications": 2,
    "seed": 3,
    "window": {"start_day": 150, "end_day": 300},
    "scenarios": {
        "cut": {
            "overrides": {
                "acute.beds": {"steps": [[0, 45], [150, 38]]},
                "services.rehab.capacity": {"ramp": {"from": 16, "to": 22, "start_day": 60, "duration_days": 40}},
            }
        }
    },
    "sweep": {
        "method": "grid",
        "parameters": {"ic_delay_days": {"path": "plan_delivery.ic_delay_days", "values": [0, 90]}},
    },
    "criteria": [
        {"kpi": "acute_bed_days", "compare": "relative_to_baseline", "at_most": -0.05},
        {"kpi": "mean_occupancy", "at_most": 0.95},
    ],
}


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory) -> tuple[Path, hospsim.Results]:
    folder = tmp_path_factory.mktemp("sweep")
    shutil.copy(MINI, folder / "mini_system.yaml")
    (folder / "tiny.yaml").write_text(yaml.safe_dump(TINY_EXPERIMENT, sort_keys=False))
    loaded = hospsim.load_experiment(folder / "tiny.yaml")
    assert [v.key for v in loaded.variants] == ["baseline", "cut#p000", "cut#p001"]
    res = hospsim.sweep(loaded, folder / "out", workers=1, progress=False)
    return folder / "out", res


def test_sweep_results_have_verdicts_and_paired_differences(tiny_sweep):
    out, res = tiny_sweep
    assert res.kind == "sweep" and res.is_sweep and res.name == "tiny-exp" and res.path == out
    assert len(res.kpis) == 3 * 2 and set(res.kpis["scenario"]) == {"baseline", "cut"}
    assert res.kpis.groupby(["scenario", "point"])["seed"].apply(tuple).nunique() == 1  # same patients
    pd.testing.assert_frame_equal(res.verdicts, pd.read_csv(out / "verdicts.csv"))
    pd.testing.assert_frame_equal(res.paired_differences, pd.read_csv(out / "paired_differences.csv"))
    # A verdict is the share of a cell's replications in which the criterion holds.
    occupancy = res.verdicts[res.verdicts["criterion"] == "mean_occupancy <= 0.95"]
    for row in occupancy.itertuples():
        cell = res.kpis[(res.kpis["scenario"] == row.scenario) & (res.kpis["point"] == row.point)]
        assert row.share_holds == (cell["mean_occupancy"] <= 0.95).mean()
    assert len(occupancy) == 2
    assert len(res.daily) == 6 * 300 and res.monthly is not None and len(res.monthly) > 0
    assert res.config.acute.beds.constant == 45  # the baseline's config
    # The cut happens in the scenario's runs.
    cut = res.daily[(res.daily["scenario"] == "cut") & (res.daily["day"].isin([149, 150]))]
    assert sorted(set(cut["beds_capacity"])) == [38, 45]


def test_load_results_of_a_sweep_and_its_figures(tiny_sweep):
    out, res = tiny_sweep
    again = hospsim.load_results(out)
    pd.testing.assert_frame_equal(again.kpis, res.kpis)
    assert again.figures == ["fan", "delays", "services", "exceedance", "robustness", "forest"]
    fig = again.plot_robustness()
    direct = plots.make_figure(again.raw, "robustness", select_cells(again.raw))
    assert fig.get_suptitle() == direct.get_suptitle() and fig.get_suptitle().startswith("Where the plan holds")
    fan = again.plot_fan(scenario="cut", point=1)
    assert _lines(fan) == _lines(plots.make_figure(again.raw, "fan", select_cells(again.raw, ["cut"], 1)))
    forest = again.plot("forest", point=0)
    assert type(forest).__name__ == "Figure" and forest.axes
    path = again.report()
    assert path == out / "report.html" and "tiny-exp" in path.read_text()


def test_sweep_refuses_a_folder_with_results(tiny_sweep):
    out, res = tiny_sweep
    experiment = out.parent / "tiny.yaml"
    with pytest.raises(hospsim.UserError, match="already holds sweep results; add --resume"):
        hospsim.sweep(experiment, out, workers=1, progress=False)
    resumed = hospsim.sweep(experiment, out, workers=1, progress=False, resume=True)  # nothing left to run
    pd.testing.assert_frame_equal(resumed.kpis, res.kpis)


def test_load_results_of_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(hospsim.UserError, match=r"nope: no such results folder$"):
        hospsim.load_results(tmp_path / "nope")


# ---------------------------------------------------------------------------------------------
# Parallel runs from a plain script, `python -c` and `python -m`, without a __main__ guard


SCRIPT = textwrap.dedent(
    f"""\
    import hospsim

    print("top level", flush=True)  # a worker that ran this script would print it again
    cfg = hospsim.load_config({str(MINI)!r}, {{"replications": 2, "horizon_days": 150, "warmup_days": 30}})
    res = hospsim.run(cfg, workers=2, progress=False)
    print("bed days", res.kpis["acute_bed_days"].tolist())
    """
)


@pytest.fixture(scope="module")
def expected_bed_days() -> str:
    cfg = hospsim.load_config(MINI, {"replications": 2, "horizon_days": 150, "warmup_days": 30})
    return f"bed days {hospsim.run(cfg, workers=1, progress=False).kpis['acute_bed_days'].tolist()}"


def _check_no_guard(out: subprocess.CompletedProcess, expected: str) -> None:
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["top level", expected]


def test_a_script_without_a_main_guard_runs_in_parallel(tmp_path, expected_bed_days):
    (tmp_path / "plain.py").write_text(SCRIPT)
    _check_no_guard(python(str(tmp_path / "plain.py"), cwd=tmp_path), expected_bed_days)


def test_python_c_and_python_m_run_in_parallel(tmp_path, expected_bed_days):
    _check_no_guard(python("-c", SCRIPT, cwd=tmp_path), expected_bed_days)
    (tmp_path / "plain_module.py").write_text(SCRIPT)
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), ENV["PYTHONPATH"]])}
    _check_no_guard(python("-m", "plain_module", cwd=tmp_path, env=env), expected_bed_days)


def test_the_main_module_is_hidden_only_while_a_worker_starts(monkeypatch):
    from hospsim.runs.executors import _main_hidden

    main_module = sys.modules["__main__"]
    monkeypatch.setattr(main_module, "__file__", "/somewhere/script.py", raising=False)
    before = (main_module.__file__, main_module.__spec__)
    with _main_hidden():
        assert not hasattr(main_module, "__file__") and main_module.__spec__ is None
    assert (main_module.__file__, main_module.__spec__) == before


# ---------------------------------------------------------------------------------------------
# The tutorial, run as a plain script


def test_the_tutorial_runs_as_a_script(tmp_path):
    env = {**ENV, "HOSPSIM_TUTORIAL_OUT": str(tmp_path / "tutorial"), "HOSPSIM_TUTORIAL_REPLICATIONS": "2"}
    out = python(str(TUTORIAL), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "footprint-1.2m: 2250 beds" in text
    assert "with the cut: 2000 beds" in text
    assert "mean occupancy" in text and "12-hour waits per 1,000" in text
    folder = tmp_path / "tutorial"
    assert (folder / "fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "results" / "manifest.json").exists()
    report = (folder / "report.html").read_text()
    assert "footprint-2000-beds" in report
    assert f"report written to {folder / 'report.html'}" in text


# ---------------------------------------------------------------------------------------------
# The README's section


def test_the_readmes_python_example_uses_only_the_api():
    """The README's Python example compiles, and every name it uses exists (running it takes the
    full footprint and the fast sweep: too long for the suite; the tutorial test runs the API)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API") : readme.index("## Plots and report")]
    code = section.split("```python\n")[1].split("```")[0]
    compile(code, "README.md", "exec")
    used = {
        hospsim: re.findall(r"\bhospsim\.(\w+)", code),
        hospsim.Results: re.findall(r"\b(?:res|res_cut|sw)\.(\w+)", code),
        hospsim.Config: re.findall(r"\bcfg\.(\w+)", code),
    }
    for owner, names in used.items():
        assert names
        for name in names:
            assert hasattr(owner, name), name
    for path in re.findall(r'"(experiments/[\w.]+\.yaml)"', code):
        assert (ROOT / path).exists(), path
    assert "- [Python API](#python-api)" in readme
