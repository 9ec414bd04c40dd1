"""Days of the simulation written as dates: schedules, pathway changes and an experiment's window
take an ISO date or a day number; the validated config holds day numbers only (same dump, same
hash); errors say which day a date is; an experiment without a window whose plan changes after
the warm-up is warned about."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hospsim.cli import main
from hospsim.config import Config, ConfigError, config_hash, default_config_path
from hospsim.config.dates import counting_from, date_of, day_number, day_of
from hospsim.config.loading import config_from_dict, config_to_dict, load_config, read_yaml
from hospsim.config.schedules import Schedule
from hospsim.outputs.report.text import describe_override
from hospsim.runs.experiment import load_experiment, window_warning

DATA = Path(__file__).parent / "data"
MINI_SYSTEM = DATA / "mini_system.yaml"  # start_date 2017-04-01, horizon 300, warm-up 60


def footprint_with(**sections: object) -> dict:
    """The bundled config (start_date 2016-04-01) with top-level sections replaced."""
    raw = read_yaml(default_config_path())
    return {**raw, **sections}


def plan_in(beds: object, rehab_start: object, change_start: object) -> dict:
    """The bundled config with a bed cut, a rehab ramp and a pathway change starting on the days given."""
    raw = read_yaml(default_config_path())
    groups = dict(raw["groups"])
    frail = dict(groups["frail_older"])
    frail["pathways_change"] = {
        "to": {"home": 0.40, "home_support": 0.30, "rehab_bed": 0.20, "care_home": 0.10},
        "start_day": change_start,
        "duration_days": 365,
    }
    groups["frail_older"] = frail
    services = dict(raw["services"])
    services["rehab_bed"] = {
        **services["rehab_bed"],
        "capacity": {"ramp": {"from": 412, "to": 500, "start_day": rehab_start, "duration_days": 540}},
    }
    return {**raw, "acute": {**raw["acute"], "beds": beds}, "groups": groups, "services": services}


# -- a config in dates is the config in day numbers -------------------------------------------


def test_dates_and_day_numbers_give_the_same_config():
    in_days = config_from_dict(plan_in({"steps": [[0, 2250], [400, 2000]]}, 180, 365))
    # 2016-04-01 is day 0: 2017-05-06 is day 400 (2016 is a leap year, but its 29 February is before
    # day 0), 2016-09-28 day 180, 2017-04-01 day 365.
    in_dates = config_from_dict(
        plan_in({"steps": [[dt.date(2016, 4, 1), 2250], ["2017-05-06", 2000]]}, dt.date(2016, 9, 28), "2017-04-01")
    )
    assert in_dates.acute.beds.steps == [(0, 2250.0), (400, 2000.0)]
    assert in_dates.services["rehab_bed"].capacity.ramp.start_day == 180
    assert in_dates.groups["frail_older"].pathways_change.start_day == 365
    assert config_to_dict(in_dates) == config_to_dict(in_days)
    assert config_hash(in_dates) == config_hash(in_days)


def test_yaml_dates_quoted_and_unquoted(tmp_path: Path):
    base = MINI_SYSTEM.read_text()
    days = tmp_path / "days.yaml"
    days.write_text(base.replace("beds: 45", "beds: {steps: [[0, 45], [61, 40], [365, 36]]}"))
    dates = tmp_path / "dates.yaml"
    # Unquoted, YAML reads a datetime.date; quoted, a string: both are dates.
    dates.write_text(
        base.replace("beds: 45", "beds: {steps: [[2017-04-01, 45], [2017-06-01, 40], ['2018-04-01', 36]]}")
    )
    assert isinstance(read_yaml(dates)["acute"]["beds"]["steps"][1][0], dt.date)
    assert isinstance(read_yaml(dates)["acute"]["beds"]["steps"][2][0], str)
    a, b = load_config(days), load_config(dates)
    assert b.acute.beds.steps == [(0, 45.0), (61, 40.0), (365, 36.0)]
    assert config_hash(a) == config_hash(b)


def test_set_override_in_dates_and_a_moved_start_date(tmp_path: Path):
    cfg = load_config(MINI_SYSTEM, ["acute.beds={steps: [[0, 45], [2017-05-01, 40]]}"])
    assert cfg.acute.beds.steps[1][0] == 30
    # A date is a calendar date: moving start_date moves its day number, not the date.
    moved = load_config(MINI_SYSTEM, ["start_date=2017-03-01", "acute.beds={steps: [[0, 45], [2017-05-01, 40]]}"])
    assert moved.acute.beds.steps[1][0] == 61


@pytest.mark.parametrize(
    ("start", "date", "day"),
    [
        ("2016-02-28", "2016-03-01", 2),  # leap year: 29 February counts
        ("2015-02-28", "2015-03-01", 1),
        ("2016-02-29", "2017-02-28", 365),
        ("2016-02-29", "2017-03-01", 366),
        ("2000-02-28", "2000-03-01", 2),  # divisible by 400: a leap year
        ("2100-02-28", "2100-03-01", 1),  # divisible by 100 only: not one
        ("2016-04-01", "2020-04-01", 1461),
    ],
)
def test_leap_years(start: str, date: str, day: int):
    cfg = load_config(MINI_SYSTEM, [f"start_date={start}", f"acute.beds={{steps: [[0, 45], [{date}, 40]]}}"])
    assert cfg.acute.beds.steps[1][0] == day


# -- errors say which day a date is ------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [[0, 2250], ["2016-03-01", 2000]],
            "my.yaml: acute.beds.steps.1.0: 2016-03-01 is day -31, before start_date 2016-04-01",
        ),
        (
            [[0, 2250], ["2017-13-01", 2000]],
            'my.yaml: acute.beds.steps.1.0: "2017-13-01" is not a date (YYYY-MM-DD) or a day number',
        ),
        (
            [[0, 2250], ["1 May 2017", 2000]],
            'my.yaml: acute.beds.steps.1.0: "1 May 2017" is not a date (YYYY-MM-DD) or a day number',
        ),
        (
            [[0, 2250], [dt.datetime(2017, 5, 1, 9, 30), 2000]],
            "my.yaml: acute.beds.steps.1.0: 2017-05-01 09:30:00 has a time of day; give a date (YYYY-MM-DD) or "
            "a day number",
        ),
        (
            [[0, 2250], ["3017-04-01", 2000]],
            "my.yaml: acute.beds.steps.1.0: 3017-04-01 is day 365,607, after the longest horizon hospsim allows "
            "(365,250 days)",
        ),
        ([["2016-04-02", 2250]], "my.yaml: acute.beds: steps must start on day 0 (the start_date)"),
    ],
)
def test_bad_dates_are_one_line_errors(steps: list, message: str):
    data = footprint_with(acute={**read_yaml(default_config_path())["acute"], "beds": {"steps": steps}})
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, "my.yaml")
    assert str(exc.value) == message


def test_a_date_needs_a_valid_start_date():
    data = footprint_with(start_date="2016-02-30")
    data["acute"] = {**data["acute"], "beds": {"steps": [[0, 2250], ["2017-01-01", 2000]]}}
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, "my.yaml")
    assert str(exc.value).startswith("my.yaml: start_date: ")
    assert str(exc.value).endswith("(and 1 more problem)")


def test_a_date_outside_a_config_is_refused():
    with pytest.raises(ValueError, match="a date counts from a config's start_date; give a day number here"):
        Schedule.model_validate({"steps": [[0, 1], ["2017-01-01", 2]]})
    with counting_from("2016-12-31"):
        assert Schedule.model_validate({"steps": [[0, 1], ["2017-01-01", 2]]}).steps == [(0, 1.0), (1, 2.0)]


def test_durations_stay_numbers():
    data = plan_in(2250, 180, 365)
    data["services"]["rehab_bed"]["capacity"]["ramp"]["duration_days"] = "2017-01-01"
    with pytest.raises(ConfigError, match=r"services\.rehab_bed\.capacity\.ramp\.duration_days: Input should be"):
        config_from_dict(data, "my.yaml")


def test_check_cli_names_the_day_in_one_line(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI_SYSTEM.read_text().replace("beds: 45", "beds: {steps: [[0, 45], [2017-03-01, 40]]}"))
    res = subprocess.run(
        [sys.executable, "-m", "hospsim", "check", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"hospsim: error: {bad}: acute.beds.steps.1.0: 2017-03-01 is day -31, before start_date 2017-04-01"
    ]


def test_report_describes_a_plan_written_in_dates():
    text = describe_override("acute.beds", {"steps": [[0, 2250], ["2018-03-22", 1320]]}, "2016-04-01")
    assert text == "2,250, then 1,320 from day 720 (2018-03-22)"


# -- date <-> day -----------------------------------------------------------------------------


@given(
    start=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
    day=st.integers(min_value=0, max_value=40_000),
)
def test_date_day_round_trip(start: dt.date, day: int):
    date = date_of(day, start)
    assert day_of(date, start) == day
    assert date_of(day_of(date, start), start) == date
    with counting_from(start):
        assert day_number(date) == day
        assert day_number(date.isoformat()) == day
        assert day_number(day) == day  # a day number is left as it is


# -- an experiment's window ---------------------------------------------------------------------


def write_experiment(tmp_path: Path, window: str | None) -> Path:
    """A small experiment on the mini system (start 2017-04-01, warm-up 60, horizon 300): beds cut
    on day 150, the step-up share raised on day 80, a rehab ramp from day 60 (the warm-up's end)."""
    lines = [
        "name: dated",
        f"config: {MINI_SYSTEM}",
        "replications: 1",
        *([f"window: {window}"] if window else []),
        "scenarios:",
        "  cut:",
        "    overrides:",
        "      acute.beds: {steps: [[0, 45], [2017-08-29, 36]]}",
        "      groups.frail.step_up_share: {steps: [[0, 0], [80, 0.25]]}",
        "      services.rehab.capacity: {ramp: {from: 16, to: 22, start_day: 2017-05-31, duration_days: 40}}",
    ]
    path = tmp_path / "exp.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_window_in_dates_is_the_window_in_days(tmp_path: Path):
    dated = load_experiment(_exp(tmp_path, "a", "{start_day: 2017-08-29, end_day: '2018-01-26'}"))
    days = load_experiment(_exp(tmp_path, "b", "{start_day: 150, end_day: 300}"))
    assert (dated.experiment.window.start_day, dated.experiment.window.end_day) == (150, 300)
    assert dated.raw["window"] == {"start_day": 150, "end_day": 300}  # as the manifest records it
    assert dated.runs()[0].window == days.runs()[0].window == (150, 300)
    assert dated.hash == days.hash
    assert [config_hash(v.config) for v in dated.variants] == [config_hash(v.config) for v in days.variants]
    assert dated.variants[1].config.acute.beds.steps == [(0, 45.0), (150, 36.0)]


def _exp(tmp_path: Path, name: str, window: str | None) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return write_experiment(folder, window)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            "{start_day: 2017-03-01, end_day: 300}",
            "window.start_day: 2017-03-01 is day -31, before start_date 2017-04-01",
        ),
        (
            "{start_day: 150, end_day: 2030-01-01}",
            "window.end_day: 2030-01-01 is day 4,658, after the horizon (300 days)",
        ),
        (
            "{start_day: 150, end_day: '2018-02-30'}",
            'window.end_day: "2018-02-30" is not a date (YYYY-MM-DD) or a day number',
        ),
        ("{start_day: 2017-08-29, end_day: 2017-08-29}", "window: end_day must be > start_day"),
        ("{start_day: 150, end_day: 301}", "window.end_day: 301 is past horizon_days 300"),
    ],
)
def test_bad_window_is_one_line(tmp_path: Path, window: str, message: str):
    path = _exp(tmp_path, "x", window)
    with pytest.raises(ConfigError) as exc:
        load_experiment(path)
    assert str(exc.value) == f"{path}: {message}"


def test_window_ends_on_the_horizon_as_a_date(tmp_path: Path):
    # end_day is the first day not measured: the horizon's day (2018-01-26 = day 300) is allowed.
    loaded = load_experiment(_exp(tmp_path, "x", "{start_day: 2017-08-29, end_day: 2018-01-26}"))
    assert loaded.runs()[0].window == (150, 300)


# -- the warning when there is no window ------------------------------------------------------


def test_warning_names_the_first_change_after_the_warm_up(tmp_path: Path):
    path = _exp(tmp_path, "x", None)
    # The rehab ramp starts on day 60, the warm-up's end: not after it. The step-up share is next.
    assert window_warning(load_experiment(path)) == (
        f"{path}: no window: KPIs are measured from the end of the warm-up (day 60, 2017-05-31), but the plan "
        "first changes on day 80 (2017-06-20, scenarios.cut: groups.frail.step_up_share); set window: "
        "{start_day: 80, end_day: 300} to measure from the change"
    )


def test_no_warning_with_a_window_or_no_change_after_the_warm_up(tmp_path: Path):
    assert window_warning(load_experiment(_exp(tmp_path, "a", "{start_day: 2017-08-29, end_day: 300}"))) is None
    assert window_warning(load_experiment(_exp(tmp_path, "b", "null"))) is not None  # window: null is no window
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text(
        f"name: quiet\nconfig: {MINI_SYSTEM}\nscenarios:\n  early:\n    overrides:\n"
        "      acute.beds: {steps: [[0, 45], [2017-05-31, 40]]}\n"
    )
    assert window_warning(load_experiment(quiet)) is None


@pytest.mark.parametrize("name", ["swl_44pct.yaml", "swl_44pct_fast.yaml"])
def test_bundled_experiments_have_a_window(name: str):
    loaded = load_experiment(Path(__file__).resolve().parents[1] / "experiments" / name)
    assert loaded.experiment.window is not None
    assert window_warning(loaded) is None


def test_bundled_experiment_without_its_window_is_warned_about_the_cut(tmp_path: Path):
    root = Path(__file__).resolve().parents[1]
    text = (root / "experiments" / "swl_44pct.yaml").read_text()
    path = tmp_path / "nowin.yaml"
    path.write_text(
        re.sub(r"^window:.*\n", "", text.replace("../configs/footprint.yaml", str(default_config_path())), flags=re.M)
    )
    warning = window_warning(load_experiment(path))
    assert warning is not None
    # The plan ramps in from the warm-up's end (day 180): the bed cut on day 720 is the first change after it.
    assert "but the plan first changes on day 720 (2018-03-22, scenarios.fixed_date: acute.beds)" in warning


def test_sweep_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _exp(tmp_path, "x", None)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [f"hospsim: warning: {window_warning(load_experiment(path))}"]


def test_json_schema_offers_a_day_number_or_a_date():
    """Editors completing a config from its JSON Schema accept a date where the config does."""
    defs = Config.model_json_schema()["$defs"]
    day_or_date = [
        {"maximum": 365250, "minimum": 0, "type": "integer"},
        {"format": "date", "type": "string"},
    ]
    assert defs["Ramp"]["properties"]["start_day"]["anyOf"] == day_or_date
    assert defs["PathwayChange"]["properties"]["start_day"]["anyOf"] == day_or_date
    step = defs["Schedule"]["properties"]["steps"]["anyOf"][0]["items"]["prefixItems"][0]
    assert step["anyOf"] == day_or_date
    assert defs["Ramp"]["properties"]["duration_days"]["type"] == "integer"  # a duration: a number only
