"""`hospsim check` of experiments, `hospsim init`, `hospsim schema`, and the "did you mean" hints
for unknown names, end to end through :func:`hospsim.cli.main` (nothing is simulated)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hospsim.cli import main
from hospsim.config import default_config_path, load_config, read_yaml
from hospsim.config.errors import did_you_mean
from hospsim.config.json_schema import json_schema, json_schema_text
from hospsim.config.loading import copy_raw, example_experiment_path
from hospsim.model import kpi_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = example_experiment_path()
SERVICES = "services: care_home, home_support, rehab_bed, step_up"
KPI_COUNT = len(kpi_registry.names(load_config(default_config_path())))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv: str) -> str:
    """The command must stop with exit code 2 and one line on stderr; returns the line's message."""
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hospsim: error: "), err
    return lines[0].removeprefix("hospsim: error: ")


@pytest.fixture
def folder(tmp_path: Path, capsys) -> Path:
    """The default config and the example experiment, as `hospsim init --experiment` writes them."""
    assert main(["init", "--experiment", str(tmp_path / "plan")]) == 0
    capsys.readouterr()
    return tmp_path / "plan"


def edited(folder: Path, old: str, new: str, name: str = "edited.yaml") -> Path:
    """A copy of the example experiment with one text replaced (which must be there)."""
    text = (folder / EXAMPLE.name).read_text()
    assert old in text, old
    path = folder / name
    path.write_text(text.replace(old, new))
    return path


# ---------------------------------------------------------------------------------------------
# hospsim check EXPERIMENT


def test_check_of_an_experiment_validates_every_cell_and_summarises(capsys, folder: Path):
    path = folder / EXAMPLE.name
    code, out, err = run(capsys, "check", str(path))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"{path}: OK: experiment example-10pct-cut, every cell valid (nothing run)",
        f"  config: {(folder / 'footprint.yaml').resolve()} (footprint-1.2m)",
        "  cells: baseline + 2 scenarios, swept over 4 points of ic_delay_days, ic_growth_achieved (grid) = 9 cells",
        "  runs: 9 cells x 3 replications = 27 runs, seed 10",
        "  window: 28 Sep 2017 to 28 Sep 2019 (days 545 to 1275)",
        "  criteria (3): at least 5% fewer acute bed days demanded; mean occupancy at most 92%; "
        "12-hour waits no worse than baseline + 1 per 1,000",
    ]


def test_check_of_the_shipped_experiments_counts_their_runs(capsys):
    code, out, _ = run(capsys, "check", str(ROOT / "experiments" / "swl_44pct_fast.yaml"))
    assert code == 0
    assert "  runs: 19 cells x 3 replications = 57 runs, seed 44" in out.splitlines()
    code, out, _ = run(capsys, "check", str(ROOT / "experiments" / "swl_44pct.yaml"))
    assert code == 0
    assert "  runs: 41 cells x 10 replications = 410 runs, seed 44" in out.splitlines()


def test_an_experiment_without_a_window_says_so(capsys, folder: Path):
    path = edited(folder, "window: {start_day: 545, end_day: 1276}", "")
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0
    assert "  window: 28 Sep 2016 to 28 Sep 2019 (days 180 to 1275): no window set, so from the end of the warm-up" in (
        out.splitlines()
    )


def test_experiment_or_config_is_told_by_its_keys_not_its_name(capsys, folder: Path):
    as_config = folder / "config.yaml"
    as_config.write_text((folder / EXAMPLE.name).read_text())
    code, out, _ = run(capsys, "check", str(as_config))
    assert code == 0 and out.startswith(f"{as_config}: OK: experiment example-10pct-cut")
    as_experiment = folder / "experiment.yaml"
    as_experiment.write_text((folder / "footprint.yaml").read_text())
    code, out, _ = run(capsys, "check", str(as_experiment))
    assert code == 0 and out.startswith(f"{as_experiment}: OK: footprint-1.2m: 1276 days")


@pytest.mark.parametrize(
    "old, new, message",
    [
        (  # a value a sweep point makes invalid: the scenario, the point and the field
            "values: [0.5, 1.0]",
            "values: [0.5, 3.0]",
            "scenarios.fixed_date at sweep point {'ic_delay_days': 0, 'ic_growth_achieved': 3.0}: "
            "plan_delivery.ic_growth_achieved: Input should be less than or equal to 2 (got 3)",
        ),
        (  # a typo in a scenario's override path
            "services.step_up.capacity: {ramp",
            "services.step_upp.capacity: {ramp",
            "scenarios.fixed_date.overrides services.step_upp.capacity: no 'step_upp' in services "
            f"(did you mean 'step_up'? {SERVICES})",
        ),
        (  # a sweep path whose section does not exist
            "path: plan_delivery.ic_delay_days",
            "path: plan_deliveryy.ic_delay_days",
            "sweep.parameters plan_deliveryy.ic_delay_days: no 'plan_deliveryy' in the config (did you mean "
            "'plan_delivery'? top-level keys: acute, demand, description, engine, groups, horizon_days, initial_state, name, "
            "plan_delivery, replications, seed, services, start_date, warmup_days)",
        ),
        (  # a sweep path whose last key does not exist
            "path: plan_delivery.ic_delay_days",
            "path: plan_delivery.ic_delay_dayz",
            "scenarios.fixed_date at sweep point {'ic_delay_days': 0, 'ic_growth_achieved': 0.5}: "
            "plan_delivery.ic_delay_dayz: unknown key (did you mean 'ic_delay_days'? "
            "plan_delivery: applies_to, ic_delay_days, ic_growth_achieved)",
        ),
        (  # a bad value in a scenario's override: the override, not the cell, is at fault
            "acute.beds: {steps: [[0, 2250], [545, 2025]]}",
            "acute.beds: -5",
            "scenarios.fixed_date.overrides: acute.beds: every value must be >= 0 (got -5)",
        ),
        (
            "extends: fixed_date ",
            "extends: fixed_dat ",
            "scenarios.gated.extends: no scenario 'fixed_dat' (did you mean 'fixed_date'? scenarios: fixed_date, gated)",
        ),
        (
            "kpi: mean_occupancy,",
            "kpi: mean_occupancyy,",
            "criteria.1.kpi: unknown KPI 'mean_occupancyy' (did you mean 'mean_occupancy', "
            f"'mean_occupancy_winter' or 'mean_occupancy_summer'? {KPI_COUNT} KPIs: see the KPI dictionary in the README)",
        ),
        (
            "{service: step_up, places: 155}",
            "{service: stepup, places: 155}",
            "scenarios.gated.overrides: acute.beds.gate.service_capacity_at_least.service: no service 'stepup' "
            f"(did you mean 'step_up'? {SERVICES})",
        ),
    ],
)
def test_an_invalid_cell_is_one_line_naming_the_file_the_cell_and_the_field(capsys, folder, old, new, message):
    path = edited(folder, old, new)
    assert refused(capsys, "check", str(path)) == f"{path}: {message}"


def test_plan_delivery_target_typo_lists_the_plan_schedules(capsys, folder: Path):
    path = edited(folder, "    - services.step_up.capacity", "    - services.stepup.capacity")
    msg = refused(capsys, "check", str(path))
    assert msg.startswith(
        f"{path}: overrides: plan_delivery.applies_to: 'services.stepup.capacity' is not a plan schedule "
        "(did you mean 'services.step_up.capacity', 'services.home_support.capacity' or "
        "'services.rehab_bed.capacity'? plan schedules: acute.beds, demand.elective.per_weekday, "
    )


def test_set_is_for_configs_not_experiments(capsys, folder: Path):
    path = folder / EXAMPLE.name
    assert refused(capsys, "check", str(path), "--set", "acute.beds=3") == (
        f"--set: applies to configs; change {path} (its overrides:) instead"
    )


def test_sweep_help_names_check_as_the_dry_run(capsys):
    code, out, _ = run(capsys, "sweep", "--help")
    assert code == 0
    assert "Dry run: `hospsim check EXPERIMENT` validates the experiment and every cell" in " ".join(out.split())


# ---------------------------------------------------------------------------------------------
# --set: the override is blamed, and may create only its last key


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "services.rehab.capacity=500",
            f"--set services.rehab.capacity: no 'rehab' in services (did you mean 'rehab_bed'? {SERVICES})",
        ),
        (
            "acute.surge.beds=3",
            "--set acute.surge.beds: no 'surge' in acute "
            "(acute: beds, delayed_day_cost_gbp, escalation, max_wait_hours, when_full)",
        ),
        ("acute.beds=-5", "--set acute.beds=-5: acute.beds: every value must be >= 0 (got -5)"),
        (
            "acute.bedz=3",
            "--set acute.bedz=3: acute.bedz: unknown key "
            "(did you mean 'beds'? acute: beds, delayed_day_cost_gbp, escalation, max_wait_hours, when_full)",
        ),
        (
            "services.rehab={capacity: 500}",
            "--set services.rehab={capacity: 500}: services.rehab.los: required field is missing",
        ),
        (
            "groups.frail_older.pathways.rehab=0.1",
            "--set groups.frail_older.pathways.rehab=0.1: groups.frail_older.pathways.rehab: no pathway 'rehab' "
            "(did you mean 'rehab_bed'? pathways: care_home, home, home_support, rehab_bed)",
        ),
    ],
)
def test_set_errors_name_the_override_not_the_file(capsys, override, message):
    msg = refused(capsys, "check", "--set", override)
    assert msg == message
    assert str(default_config_path()) not in msg


def test_set_may_create_a_section_the_schema_has(capsys):
    code, out, _ = run(capsys, "check", "--set", "plan_delivery.ic_delay_days=30")
    assert code == 0 and ": OK: footprint-1.2m" in out


def test_did_you_mean_lists_the_valid_names_or_says_where_they_are():
    names = ["step_up", "rehab_bed", "home_support"]
    assert did_you_mean("rehab", names, "services") == (
        " (did you mean 'rehab_bed'? services: home_support, rehab_bed, step_up)"
    )
    assert did_you_mean("xyz", names, "services") == " (services: home_support, rehab_bed, step_up)"
    assert did_you_mean("x", [], "services") == " (no services defined)"
    many = ["bed_days", *(f"kpi_{i:02d}" for i in range(40))]
    assert (
        did_you_mean("bed_day", many, "KPIs", see="see the list") == " (did you mean 'bed_days'? 41 KPIs: see the list)"
    )


# ---------------------------------------------------------------------------------------------
# hospsim init


def test_init_writes_the_bundled_files_and_the_next_command(capsys, tmp_path: Path):
    target = tmp_path / "new" / "plan"
    code, out, err = run(capsys, "init", "--experiment", str(target))
    assert code == 0 and err == ""
    config, experiment = target / "footprint.yaml", target / "example_experiment.yaml"
    assert out.splitlines() == [
        f"wrote {config}",
        f"wrote {experiment}",
        f"next: edit it, then: hospsim check {experiment} && hospsim sweep {experiment}",
    ]
    assert config.read_bytes() == default_config_path().read_bytes()
    assert experiment.read_bytes() == EXAMPLE.read_bytes()
    assert run(capsys, "check", str(config))[0] == 0
    assert run(capsys, "check", str(experiment))[0] == 0


def test_init_without_experiment_writes_only_the_config(capsys, tmp_path: Path):
    code, out, _ = run(capsys, "init", str(tmp_path))
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["footprint.yaml"]
    config = tmp_path / "footprint.yaml"
    assert out.splitlines()[-1] == f"next: edit it, then: hospsim check {config} && hospsim run {config}"


def test_init_never_overwrites_a_file_without_force(capsys, tmp_path: Path):
    mine = tmp_path / "example_experiment.yaml"
    mine.write_text("my work\n")
    assert refused(capsys, "init", "--experiment", str(tmp_path)) == (
        f"{mine}: already exists; hospsim init overwrites nothing without --force"
    )
    assert mine.read_text() == "my work\n"
    assert not (tmp_path / "footprint.yaml").exists()  # nothing written when anything is refused
    assert run(capsys, "init", "--experiment", "--force", str(tmp_path))[0] == 0
    assert mine.read_bytes() == EXAMPLE.read_bytes()


def test_init_into_a_file_is_refused(capsys, tmp_path: Path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert refused(capsys, "init", str(a_file)) == f"{a_file}: not a folder"


# ---------------------------------------------------------------------------------------------
# hospsim schema


@pytest.mark.parametrize("kind", ["config", "experiment"])
def test_published_schemas_are_up_to_date(kind):
    """docs/*.schema.json are generated from the models; regenerate them after changing the schema."""
    doc = ROOT / "docs" / f"{kind}.schema.json"
    flag = " --experiment" if kind == "experiment" else ""
    assert doc.read_text() == json_schema_text(kind), (
        f"{doc.name} is out of date: run `hospsim schema{flag} --out docs/{doc.name}`"
    )


def test_schema_prints_or_writes_the_schema(capsys, tmp_path: Path):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and out == json_schema_text("config")
    assert json.loads(out)["title"] == "hospsim config"
    out_file = tmp_path / "e.json"
    code, out, _ = run(capsys, "schema", "--experiment", "--out", str(out_file))
    assert code == 0 and out == f"schema written to {out_file}\n"
    assert out_file.read_text() == json_schema_text("experiment")
    assert refused(capsys, "schema", "--out", str(tmp_path / "no" / "such" / "x.json")).startswith(
        f"{tmp_path / 'no' / 'such' / 'x.json'}: cannot write ("
    )


def test_every_shipped_file_is_valid_against_the_schema_and_a_typo_is_not():
    jsonschema = pytest.importorskip("jsonschema")
    configs = [default_config_path(), ROOT / "tests" / "data" / "mini_system.yaml"]
    experiments = [
        EXAMPLE,
        *sorted((ROOT / "experiments").glob("*.yaml")),
        ROOT / "tests" / "data" / "mini_experiment.yaml",
    ]
    for kind, paths in (("config", configs), ("experiment", experiments)):
        validator = jsonschema.Draft202012Validator(json_schema(kind))
        for path in paths:
            errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(copy_raw(read_yaml(path)))]
            assert errors == [], (path, errors)
    raw = copy_raw(read_yaml(default_config_path()))
    raw["acute"]["bedz"] = raw["acute"].pop("beds")
    messages = [e.message for e in jsonschema.Draft202012Validator(json_schema("config")).iter_errors(raw)]
    assert any("'bedz' was unexpected" in m for m in messages) and any("'beds' is a required" in m for m in messages)
