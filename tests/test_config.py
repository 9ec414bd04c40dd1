"""Config loading and validation: every bad input is a one-line ConfigError naming the file and
the field; overrides; hashing; immutability."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from hospsim.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_hash,
    config_to_dict,
    default_config_path,
    load_config,
    parse_value,
    read_yaml,
)

FOOTPRINT = Path(__file__).resolve().parents[1] / "hospsim" / "configs" / "footprint.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return read_yaml(FOOTPRINT)


def write(tmp_path: Path, data, name: str = "system.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one_line_error(path: Path, *fields: str, overrides=()) -> str:
    """Load ``path``; it must fail with a one-line ConfigError naming the file and ``fields``."""
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.startswith(f"{path}: "), msg
    for f in fields:
        assert f in msg, (f, msg)
    return msg


# ---------------------------------------------------------------------------------------------
# The bundled config


def test_footprint_loads(raw):
    """The bundled config loads and says what its YAML says (values are the calibrators' to
    change, so they are read from the file rather than written here)."""
    assert default_config_path() == FOOTPRINT
    cfg = load_config(FOOTPRINT)
    assert isinstance(cfg, Config)
    assert cfg.name == raw["name"]
    assert cfg.start_date == raw["start_date"]
    assert (cfg.horizon_days, cfg.warmup_days) == (raw["horizon_days"], raw["warmup_days"])
    assert cfg.measured_days == raw["horizon_days"] - raw["warmup_days"]
    assert cfg.acute.beds.daily(1)[0] == raw["acute"]["beds"]
    assert list(cfg.groups) == list(raw["groups"])
    assert list(cfg.services) == list(raw["services"])
    assert sum(g.share for g in cfg.groups.values()) == pytest.approx(1.0)
    for name, g in raw["groups"].items():
        assert cfg.groups[name].los.dist == g["los"]["dist"]
        assert cfg.groups[name].share == g["share"]
    for name, s in raw["services"].items():
        assert cfg.services[name].capacity.daily(1)[0] == s["capacity"]
    assert cfg.demand.emergency.per_day == raw["demand"]["emergency"]["per_day"]


def test_footprint_round_trips_through_to_dict(raw):
    cfg = load_config(FOOTPRINT)
    again = config_from_dict(config_to_dict(cfg))
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)


# ---------------------------------------------------------------------------------------------
# Bad values: one line, file and field named


def _set(path: str, value):
    def change(r: dict) -> None:
        *parents, last = path.split(".")
        node = r
        for p in parents:
            node = node[p]
        node[last] = value

    return change


def _drop(path: str):
    def change(r: dict) -> None:
        *parents, last = path.split(".")
        node = r
        for p in parents:
            node = node[p]
        del node[last]

    return change


def _add(path: str, delta: float):
    def change(r: dict) -> None:
        *parents, last = path.split(".")
        node = r
        for p in parents:
            node = node[p]
        node[last] += delta

    return change


# Field names follow the bundled footprint config; values are chosen to be bad whatever the
# calibrated values in it are.
BAD = {
    "unknown key, top level": (_set("bogus", 1), ["bogus", "unknown key"]),
    "unknown key, nested": (_set("groups.frail_older.loss", 0.1), ["groups.frail_older.loss", "unknown key"]),
    "unknown key, in a schedule": (
        _set("acute.beds", {"ramp": {"from": 1, "to": 2, "start_day": 0, "duration_days": 1, "x": 1}}),
        ["acute.beds.ramp.x", "unknown key"],
    ),
    "unknown key, in a los": (
        _set("services.care_home.los", {"dist": "fixed", "mean_days": 3, "cv": 1}),
        ["services.care_home.los.cv", "unknown key"],
    ),
    "wrong type, integer": (_set("horizon_days", "a long time"), ["horizon_days", "valid integer"]),
    "wrong type, schedule": (_set("acute.beds", "many"), ["acute.beds"]),
    "wrong type, boolean schedule": (_set("acute.beds", True), ["acute.beds", "boolean"]),
    "wrong type, mapping": (_set("groups", ["a", "b"]), ["groups", "dictionary"]),
    "wrong type, los": (_set("groups.short_stay.los", 3), ["groups.short_stay.los"]),
    "wrong type, date": (_set("start_date", "2016-13-01"), ["start_date"]),
    "wrong choice": (_set("acute.when_full", "drop"), ["acute.when_full", "queue", "refuse"]),
    "negative capacity": (_set("services.rehab_bed.capacity", -5), ["services.rehab_bed.capacity", ">= 0", "-5"]),
    "negative capacity in a ramp": (
        _set("services.rehab_bed.capacity", {"ramp": {"from": 420, "to": -5, "start_day": 10, "duration_days": 30}}),
        ["services.rehab_bed.capacity", ">= 0", "-5"],
    ),
    "negative capacity in steps": (
        _set("services.rehab_bed.capacity", {"steps": [[0, 420], [100, -5]]}),
        ["services.rehab_bed.capacity", "-5"],
    ),
    "negative beds": (_set("acute.beds", -1), ["acute.beds"]),
    "negative escalation": (_set("acute.escalation", {"beds": -3}), ["acute.escalation.beds"]),
    "bad escalation month": (
        _set("acute.escalation", {"beds": 3, "months": [1, 13]}),
        ["acute.escalation.months", "13"],
    ),
    "share of a step-up over 1": (
        _set("groups.frail_older.step_up_share", 1.5),
        ["groups.frail_older.step_up_share", "<= 1"],
    ),
    "group shares not summing to 1": (_add("groups.frail_older.share", 0.25), ["groups", "shares must sum to 1 (got "]),
    "pathway shares not summing to 1": (
        _set("groups.frail_older.pathways", {"home": 0.5, "rehab_bed": 0.3}),
        ["groups.frail_older.pathways", "sum to 1", "0.8"],
    ),
    "elective pathway shares not summing to 1": (
        _set("demand.elective.pathways", {"home": 0.9}),
        ["demand.elective.pathways", "sum to 1"],
    ),
    "unknown pathway": (
        _set("groups.frail_older.pathways", {"home": 0.5, "rehab": 0.5}),
        [
            "groups.frail_older.pathways.rehab",
            "no pathway 'rehab' (did you mean 'rehab_bed'? pathways: care_home, home, home_support, rehab_bed)",
        ],
    ),
    "unknown elective pathway": (
        _set("demand.elective.pathways", {"home": 0.5, "hospice": 0.5}),
        [
            "demand.elective.pathways.hospice",
            "no pathway 'hospice' (pathways: care_home, home, home_support, rehab_bed)",
        ],
    ),
    "step-up as a discharge pathway": (
        _set("groups.frail_older.pathways", {"home": 0.5, "step_up": 0.5}),
        ["groups.frail_older.pathways.step_up"],
    ),
    "cv zero": (
        _set("groups.frail_older.los", {"dist": "lognormal", "mean_days": 11, "cv": 0}),
        ["groups.frail_older.los.cv", "greater than 0"],
    ),
    "cv negative": (
        _set("services.care_home.los", {"dist": "gamma", "mean_days": 40, "cv": -0.5}),
        ["services.care_home.los.cv", "greater than 0"],
    ),
    "mean zero": (
        _set("groups.short_stay.los", {"dist": "exponential", "mean_days": 0}),
        ["groups.short_stay.los.mean_days"],
    ),
    "empirical without values": (
        _set("groups.short_stay.los", {"dist": "empirical", "values_days": []}),
        ["groups.short_stay.los.values_days"],
    ),
    "unknown dist": (
        _set("groups.frail_older.los", {"dist": "weibull", "mean_days": 11}),
        ["groups.frail_older.los", "dist must be one of", "lognormal"],
    ),
    "missing dist": (
        _set("groups.frail_older.los", {"mean_days": 11}),
        ["groups.frail_older.los", "dist must be one of"],
    ),
    "warmup equal to horizon": (lambda r: r.update(warmup_days=r["horizon_days"]), ["warmup_days", "horizon_days"]),
    "warmup beyond horizon": (_set("warmup_days", 5000), ["warmup_days", "horizon_days"]),
    "step_up_share without a step_up service": (
        _drop("services.step_up"),
        ["groups.other_adults.step_up_share", "step_up"],
    ),
    "steps not starting at 0": (_set("acute.beds", {"steps": [[1, 2250]]}), ["acute.beds", "day 0"]),
    "steps not increasing": (
        _set("acute.beds", {"steps": [[0, 2250], [10, 2200], [10, 2100]]}),
        ["acute.beds", "increasing"],
    ),
    "steps and ramp": (
        _set("acute.beds", {"steps": [[0, 2250]], "ramp": {"from": 1, "to": 2, "start_day": 0, "duration_days": 1}}),
        ["acute.beds", "a schedule is a number"],
    ),
    "weekday factors of the wrong length": (
        _set("demand.emergency.weekday_factors", [1, 1]),
        ["demand.emergency.weekday_factors"],
    ),
    "weekday factor zero": (
        _set("demand.emergency.weekday_factors", [1, 1, 1, 1, 1, 1, 0]),
        ["demand.emergency.weekday_factors.6", "greater than 0"],
    ),
    "hourly factors all zero": (_set("demand.emergency.hourly_factors", [0] * 24), ["demand.emergency.hourly_factors"]),
    "winter amplitude 1": (_set("demand.emergency.winter", {"amplitude": 1.0}), ["demand.emergency.winter.amplitude"]),
    "electives past midnight": (
        _set("demand.elective.admit_hour", 22),
        ["demand.elective", "admit_hour + spread_hours"],
    ),
    "service name not snake case": (
        _set("services.Rehab", {"capacity": 1, "los": {"dist": "fixed", "mean_days": 1}}),
        ["services", "'Rehab'", "lower_snake_case"],
    ),
    "missing section": (_drop("acute"), ["acute", "required field is missing"]),
    "missing field": (_drop("start_date"), ["start_date", "required field is missing"]),
    "no groups": (_set("groups", {}), ["groups"]),
    "negative seed": (_set("seed", -1), ["seed"]),
    "zero replications": (_set("replications", 0), ["replications"]),
    "empty gate": (
        _set("acute.beds", {"steps": [[0, 100], [10, 90]], "gate": []}),
        ["acute.beds.gate", "an empty list", "occupancy_at_most", "or remove the gate"],
    ),
    "assessment distribution field": (
        _set("services.rehab_bed.assessment", {"dist": "lognormal", "mean_days": 2, "cv": -1}),
        ["services.rehab_bed.assessment.cv", "greater than 0"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_value_is_one_line_naming_file_and_field(case, raw, tmp_path):
    change, fields = BAD[case]
    data = copy.deepcopy(raw)
    change(data)
    one_line_error(write(tmp_path, data), *fields)


def test_bad_value_from_a_dict_names_the_source(raw):
    data = copy.deepcopy(raw)
    data["services"]["rehab_bed"]["capacity"] = -5
    with pytest.raises(ConfigError, match=r"^scenario B: services\.rehab_bed\.capacity: ") as info:
        config_from_dict(data, "scenario B")
    assert "\n" not in str(info.value)


def test_several_problems_still_one_line(raw, tmp_path):
    data = copy.deepcopy(raw)
    data["bogus"] = 1
    data["horizon_days"] = -1
    data["seed"] = -1
    msg = one_line_error(write(tmp_path, data))
    assert msg.endswith("(and 2 more problems)")
    data = copy.deepcopy(raw)
    data["bogus"] = 1
    data["seed"] = -1
    assert one_line_error(write(tmp_path, data)).endswith("(and 1 more problem)")


# ---------------------------------------------------------------------------------------------
# Bad files


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    msg = one_line_error(path)
    assert msg == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path):
    msg = one_line_error(tmp_path)
    assert "cannot read" in msg


@pytest.mark.parametrize(
    "text, line",
    [
        ("name: x\nacute:\n  beds: [1, 2\nhorizon_days: 5\n", 4),
        ("name: x\n  bad: indent\n", 2),
        ("name: x\nhorizon_days: 3\n\tseed: 1\n", 3),
        ('name: x\ndescription: "unterminated\nseed: 1\n', 4),
    ],
)
def test_malformed_yaml_names_the_line(text, line, tmp_path):
    one_line_error(write(tmp_path, text), "malformed YAML", f"line {line},")


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a sentence\n", "42\n", "", "# only a comment\n", "~\n"])
def test_yaml_that_is_not_a_mapping(text, tmp_path):
    msg = one_line_error(write(tmp_path, text))
    assert msg.endswith("expected a mapping of settings at the top level")


# ---------------------------------------------------------------------------------------------
# Overrides (--set dotted.key=value)


def test_override_values_are_parsed_as_yaml(raw, tmp_path):
    assert parse_value("2100") == 2100 and isinstance(parse_value("2100"), int)
    assert parse_value("0.9") == 0.9
    assert parse_value("[1, 2, 3]") == [1, 2, 3]
    assert parse_value("{steps: [[0, 5], [10, 3]]}") == {"steps": [[0, 5], [10, 3]]}
    assert parse_value("refuse") == "refuse"
    assert parse_value("") == "" and parse_value("   ") == ""

    out = apply_overrides(
        raw,
        [
            "acute.beds=2100",
            "demand.emergency.per_day=362.5",
            "demand.emergency.weekday_factors=[1, 1, 1, 1, 1, 0.9, 0.9]",
            "services.rehab_bed.capacity={ramp: {from: 420, to: 300, start_day: 365, duration_days: 180}}",
            "acute.when_full=refuse",
            "description=",
        ],
    )
    assert out["acute"]["beds"] == 2100
    assert out["demand"]["emergency"]["per_day"] == 362.5
    assert out["demand"]["emergency"]["weekday_factors"] == [1, 1, 1, 1, 1, 0.9, 0.9]
    assert out["services"]["rehab_bed"]["capacity"]["ramp"]["to"] == 300
    assert out["description"] == ""
    cfg = load_config(
        FOOTPRINT,
        [
            "acute.beds=2100",
            "services.rehab_bed.capacity={ramp: {from: 420, to: 300, start_day: 365, duration_days: 180}}",
        ],
    )
    assert cfg.acute.beds.constant == 2100
    assert cfg.services["rehab_bed"].capacity.daily_int(600)[[0, 365, 455, 545, 599]].tolist() == [
        420,
        420,
        360,
        300,
        300,
    ]
    # The original mapping is untouched.
    assert raw == read_yaml(FOOTPRINT)


def override_error(overrides: list[str]) -> str:
    """Load the footprint with ``overrides``: it must fail with one line (the override's, not the file's)."""
    with pytest.raises(ConfigError) as info:
        load_config(FOOTPRINT, overrides)
    msg = str(info.value)
    assert "\n" not in msg and str(FOOTPRINT) not in msg, msg
    return msg


def test_override_may_create_only_its_last_key(raw):
    out = apply_overrides(raw, ["acute.escalation.bedz=5"])
    assert out["acute"]["escalation"]["bedz"] == 5  # accepted by the override step, judged by validation
    assert override_error(["acute.escalation.bedz=5"]) == (
        "--set acute.escalation.bedz=5: acute.escalation.bedz: unknown key "
        "(did you mean 'beds'? acute.escalation: beds, months)"
    )
    assert override_error(["horizon_dayz=10"]).startswith("--set horizon_dayz=10: horizon_dayz: unknown key")
    # A section the schema has but the file does not write is no typo: created.
    assert apply_overrides(raw, ["plan_delivery.ic_delay_days=30"])["plan_delivery"] == {"ic_delay_days": 30}
    # Any other missing key before the last is refused, with the names that exist.
    with pytest.raises(ConfigError) as info:
        apply_overrides(raw, ["acute.surge.beds=3"])
    assert str(info.value) == (
        "--set acute.surge.beds: no 'surge' in acute (acute: beds, delayed_day_cost_gbp, escalation, "
        "max_wait_hours, when_full)"
    )
    with pytest.raises(ConfigError) as info:
        apply_overrides(raw, ["services.rehab.capacity=500"])
    assert str(info.value) == (
        "--set services.rehab.capacity: no 'rehab' in services "
        "(did you mean 'rehab_bed'? services: care_home, home_support, rehab_bed, step_up)"
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("acute.beds.steps=[[0, 5]]", "--set acute.beds.steps: acute.beds is a value, not a section"),
        ("name.first=x", "--set name.first: name is a value, not a section"),
        (
            "acute.escalation.months.0=5",
            "--set acute.escalation.months.0: acute.escalation.months is a value, not a section",
        ),
        ("acute.beds", "--set acute.beds: expected dotted.key=value"),
        ("acute..beds=3", "empty name in dotted key"),
        (".beds=3", "empty name in dotted key"),
    ],
)
def test_bad_override_is_a_clear_one_line_error(override, message, raw):
    with pytest.raises(ConfigError) as info:
        apply_overrides(raw, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_override_with_a_bad_value_names_the_override_and_the_field():
    assert override_error(["services.rehab_bed.capacity=-5"]) == (
        "--set services.rehab_bed.capacity=-5: services.rehab_bed.capacity: every value must be >= 0 (got -5)"
    )
    assert override_error(["acute.beds=1", "acute.beds=lots"]).startswith("--set acute.beds=lots: acute.beds: ")
    # An error in a section holding the override is the override's too.
    assert override_error(["groups.frail_older.share=0.5"]) == (
        "--set groups.frail_older.share=0.5: groups: shares must sum to 1 (got 1.28)"
    )
    # An error in a field no override set is the file's.
    msg = one_line_error(FOOTPRINT, overrides=["acute.beds=5", "horizon_days=100"])
    assert msg == f"{FOOTPRINT}: warmup_days: must be < horizon_days (180 >= 100)"


def test_later_override_wins(raw):
    out = apply_overrides(raw, ["acute.beds=1", "acute.beds=2"])
    assert out["acute"]["beds"] == 2


# ---------------------------------------------------------------------------------------------
# Hash


def test_config_hash_stable_for_equal_configs(raw):
    a = load_config(FOOTPRINT)
    b = load_config(FOOTPRINT)
    assert a is not b and a == b
    assert config_hash(a) == config_hash(b)
    assert len(config_hash(a)) == 64 and int(config_hash(a), 16) >= 0
    # Key order in the file does not matter, nor does writing 2250 as 2250.0.
    reordered = dict(reversed(list(copy.deepcopy(raw).items())))
    reordered["acute"] = dict(reversed(list(reordered["acute"].items())))
    assert config_hash(config_from_dict(reordered)) == config_hash(a)
    beds = raw["acute"]["beds"]
    assert isinstance(beds, int)
    assert config_hash(load_config(FOOTPRINT, [f"acute.beds={float(beds)}"])) == config_hash(a)
    # Setting a value to what it already is, or spelling out a default, is the same config.
    assert config_hash(load_config(FOOTPRINT, [f"seed={raw['seed']}"])) == config_hash(a)
    no_default = copy.deepcopy(raw)
    no_default["demand"]["emergency"].pop("growth_per_year", None)
    with_default = copy.deepcopy(no_default)
    with_default["demand"]["emergency"]["growth_per_year"] = 0.0
    assert config_hash(config_from_dict(no_default)) == config_hash(config_from_dict(with_default))


@pytest.mark.parametrize(
    "override",
    [
        lambda r: f"acute.beds={r['acute']['beds'] - 1}",
        lambda r: f"seed={r['seed'] + 1}",
        lambda r: f"replications={r['replications'] + 1}",
        lambda r: f"demand.emergency.per_day={r['demand']['emergency']['per_day'] + 0.0001}",
        lambda r: f"groups.frail_older.los.cv={r['groups']['frail_older']['los']['cv'] + 0.1}",
        lambda r: "description=something else",
        lambda r: "acute.escalation.months=[6]",
        lambda r: "acute.escalation.beds=0",
    ],
    ids=["beds", "seed", "replications", "per_day", "cv", "description", "months", "escalation"],
)
def test_config_hash_changes_with_any_value(override, raw):
    assert config_hash(load_config(FOOTPRINT, [override(raw)])) != config_hash(load_config(FOOTPRINT))


# ---------------------------------------------------------------------------------------------
# Immutability


def test_config_objects_are_frozen():
    cfg = load_config(FOOTPRINT)
    with pytest.raises(ValidationError):
        cfg.horizon_days = 10
    with pytest.raises(ValidationError):
        cfg.acute.when_full = "refuse"
    with pytest.raises(ValidationError):
        cfg.acute.beds.constant = 1.0
    with pytest.raises(ValidationError):
        cfg.groups["frail_older"].share = 0.5
    with pytest.raises(ValidationError):
        cfg.groups["frail_older"].los.mean_days = 1.0
    with pytest.raises(ValidationError):
        cfg.services["rehab_bed"].capacity = 10
    with pytest.raises(ValidationError):
        cfg.demand.emergency.winter.amplitude = 0.5
    assert cfg == load_config(FOOTPRINT)


def test_config_containers_are_read_only():
    cfg = load_config(FOOTPRINT)
    before = config_hash(cfg)
    with contextlib.suppress(TypeError, AttributeError):
        cfg.groups.pop("short_stay")  # shares no longer sum to 1
    with contextlib.suppress(TypeError, AttributeError):
        cfg.demand.emergency.weekday_factors[0] = -1.0  # a negative factor
    assert config_hash(cfg) == before


@pytest.mark.parametrize("field, value", [("replications", True), ("seed", False), ("warmup_days", True)])
def test_boolean_is_a_wrong_type_for_an_integer(field, value, raw, tmp_path):
    data = copy.deepcopy(raw)
    data[field] = value
    one_line_error(write(tmp_path, data), field)


# ---------------------------------------------------------------------------------------------
# Onward routes between community services (a network) and unlimited services


def _unlimited(name: str):
    """The service ``name`` as a pure delay: capacity unlimited, no place cost."""

    def change(r: dict) -> None:
        r["services"][name]["capacity"] = "unlimited"
        r["services"][name].pop("place_day_cost_gbp", None)

    return change


def _all(*changes):
    def change(r: dict) -> None:
        for c in changes:
            c(r)

    return change


CYCLE = "form a cycle of services with limited capacity, which can lock"
ROUTE_BAD = {
    "unknown onward service": (
        _set("services.rehab_bed.pathways", {"home": 0.5, "care_hom": 0.5}),
        ["services.rehab_bed.pathways.care_hom",
         "no pathway 'care_hom' (did you mean 'care_home'? pathways: care_home, home, home_support, rehab_bed)"],
    ),
    "unknown service in an onward change": (
        _set("services.rehab_bed.pathways_change", {"to": {"home": 0.5, "rehab": 0.5}, "start_day": 10}),
        ["services.rehab_bed.pathways_change.to.rehab", "no pathway 'rehab' (did you mean 'rehab_bed'?"],
    ),
    "onward shares not summing to 1": (
        _set("services.rehab_bed.pathways", {"home": 0.5, "care_home": 0.4}),
        ["services.rehab_bed.pathways", "shares must sum to 1 (got 0.9)"],
    ),
    "onward share above 1": (
        _set("services.rehab_bed.pathways", {"home": 1.5, "care_home": -0.5}),
        ["services.rehab_bed.pathways.home", "a share must be in [0, 1] (got 1.5)"],
    ),
    "onward to a step-up service": (
        _set("services.rehab_bed.pathways", {"home": 0.5, "step_up": 0.5}),
        ["services.rehab_bed.pathways.step_up", "a service of kind step_up takes no discharges"],
    ),
    "onward self-loop": (
        _set("services.rehab_bed.pathways", {"home": 0.5, "rehab_bed": 0.5}),
        ["services.rehab_bed.pathways.rehab_bed", f"the onward routes rehab_bed -> rehab_bed {CYCLE}",
         "break it with a service of capacity: unlimited"],
    ),
    "onward cycle of limited services, with leave shares": (
        _all(
            _set("services.rehab_bed.pathways", {"home": 0.5, "care_home": 0.5}),
            _set("services.care_home.pathways", {"home": 0.5, "home_support": 0.5}),
            _set("services.home_support.pathways", {"home": 0.9, "rehab_bed": 0.1}),
        ),
        ["services.care_home.pathways.home_support",
         f"the onward routes home_support -> rehab_bed -> care_home -> home_support {CYCLE}"],
    ),
    "unlimited service with a place cost": (
        _set("services.home_support.capacity", "unlimited"),
        ["services.home_support.place_day_cost_gbp", "a service with capacity: unlimited has no places to cost"],
    ),
    "gate on the places of an unlimited service": (
        _all(
            _unlimited("home_support"),
            _set("services.rehab_bed.capacity", {"steps": [[0, 412], [100, 450]],
                 "gate": {"service_capacity_at_least": {"service": "home_support", "places": 3}}}),
        ),
        ["services.rehab_bed.capacity.gate.service_capacity_at_least.service", "home_support has capacity: unlimited"],
    ),
    "misspelt unlimited": (
        _set("services.home_support.capacity", "unlimted"),
        ["services.home_support.capacity", "'unlimited'"],
    ),
    "delivery of an unknown service's onward change": (
        _set("plan_delivery", {"applies_to": ["services.rehab_bd.pathways_change"]}),
        ["plan_delivery.applies_to", "'services.rehab_bd.pathways_change' is not a plan schedule",
         "did you mean 'services.rehab_bed.pathways_change'"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ROUTE_BAD))
def test_bad_route_is_one_line_naming_file_and_field(case, raw, tmp_path):
    change, fields = ROUTE_BAD[case]
    data = copy.deepcopy(raw)
    change(data)
    msg = one_line_error(write(tmp_path, data), *fields)
    assert "capacity.places" not in msg and "capacity.unlimited" not in msg  # pydantic's union tags


ROUTE_GOOD = {
    "a cycle through an unlimited service": _all(
        _unlimited("home_support"),
        _set("services.home_support.pathways", {"home": 0.5, "rehab_bed": 0.5}),
        _set("services.rehab_bed.pathways", {"home": 0.5, "home_support": 0.5}),
    ),
    "a self-loop of an unlimited service": _all(
        _unlimited("home_support"), _set("services.home_support.pathways", {"home": 0.5, "home_support": 0.5})
    ),
    "a step-up service sending on": _set("services.step_up.pathways", {"home": 0.5, "rehab_bed": 0.5}),
    "a chain that sends everyone on": _all(
        _set("services.rehab_bed.pathways", {"care_home": 1.0}),
        _set("services.care_home.pathways", {"home": 0.8, "home_support": 0.2}),
    ),
    "delivery of a service's onward change": _all(
        _set("services.rehab_bed.pathways_change",
             {"to": {"home": 0.5, "care_home": 0.5}, "start_day": 10, "gate": {"occupancy_at_most": {"occupancy": 0.9}}}),
        _set("plan_delivery", {"ic_delay_days": 30, "applies_to": ["services.rehab_bed.pathways_change"]}),
    ),
    # An experiment-wide list of IC-dependent levers must also validate for a config without them.
    "delivery naming an onward change the config lacks": _set(
        "plan_delivery", {"applies_to": ["services.care_home.pathways_change", "services.rehab_bed.capacity"]}
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ROUTE_GOOD))
def test_good_routes_load(case, raw, tmp_path):
    data = copy.deepcopy(raw)
    ROUTE_GOOD[case](data)
    cfg = load_config(write(tmp_path, data))
    assert config_from_dict(config_to_dict(cfg)) == cfg  # round-trips, "unlimited" included
    if "unlimited" in case:
        assert cfg.services["home_support"].unlimited and cfg.services["home_support"].capacity == "unlimited"
    if "delivery" in case:
        assert cfg.plan_delivery.applies_to == data["plan_delivery"]["applies_to"]


def test_a_bad_route_stops_the_cli_with_exit_code_2(raw, tmp_path, capsys):
    from hospsim.cli import main

    data = copy.deepcopy(raw)
    data["services"]["rehab_bed"]["pathways"] = {"home": 0.5, "rehab_bed": 0.5}
    path = write(tmp_path, data)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert str(path) in err[0] and "services.rehab_bed.pathways.rehab_bed: the onward routes" in err[0]


def test_a_cycle_made_by_a_pathway_change_names_the_change(raw, tmp_path):
    data = copy.deepcopy(raw)
    data["services"]["rehab_bed"]["pathways"] = {"home": 0.5, "care_home": 0.5}
    data["services"]["care_home"]["pathways_change"] = {"to": {"home": 0.5, "rehab_bed": 0.5}, "start_day": 10}
    one_line_error(write(tmp_path, data), "services.care_home.pathways_change.to.rehab_bed", CYCLE)


def test_a_cycle_no_patient_can_leave_is_refused(raw, tmp_path):
    data = copy.deepcopy(raw)
    _unlimited("home_support")(data)
    data["services"]["home_support"]["pathways"] = {"rehab_bed": 1.0}
    data["services"]["rehab_bed"]["pathways"] = {"home_support": 1.0}
    one_line_error(write(tmp_path, data), "services.", "rehab_bed", "home_support")
