"""The KPI registry: one definition per KPI, and everything that lists KPIs agrees with it."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import yaml

from hospsim.analysis.verdicts import monthly_table
from hospsim.config import ConfigError, config_from_dict
from hospsim.model import kpi_registry as registry
from hospsim.model.engine import run_model
from hospsim.model.kpis import daily_and_kpis, kpi_names, kpis
from hospsim.runs.experiment import load_experiment

MINI = Path(__file__).resolve().parent / "data" / "mini_system.yaml"
MONTH = (153, 183)  # September 2017 (from a start on 2017-04-01), after the bed cut


def full_config(**acute):
    """The mini system with every kind of KPI: services (step-up too), a gate, both costs, and
    beds tight enough that emergencies wait, some past ``max_wait_hours``."""
    raw = yaml.safe_load(MINI.read_text())
    raw["acute"] = {
        "beds": {
            "steps": [[0, 40], [150, 34]],
            "gate": {"service_capacity_at_least": {"service": "rehab", "places": 13}},
        },
        "delayed_day_cost_gbp": 400.0,
        "max_wait_hours": 24,
        **acute,
    }
    raw["demand"]["elective"] = {
        "per_weekday": 2,
        # More referrals than slots, urgent ones first and a long starting list: routine patients
        # wait past 18 and 52 weeks.
        "referrals_per_week": 12,
        "priorities": {"urgent": 0.6, "routine": 0.4},
        "initial_list": {"patients": 300, "max_wait_weeks": 80},
        "los": {"dist": "exponential", "mean_days": 2},
    }
    raw["groups"]["frail"]["step_up_share"] = 0.3
    raw["services"]["step_up"]["capacity"] = 4
    raw["services"]["rehab"]["capacity"] = {"ramp": {"from": 10, "to": 14, "start_day": 60, "duration_days": 60}}
    raw["services"]["rehab"]["place_day_cost_gbp"] = 150.0
    # An onward pathway (blocking KPIs) into a service with no capacity limit (no utilisation).
    raw["services"]["rehab"]["pathways"] = {"home": 0.7, "care_package": 0.3}
    raw["services"]["care_package"] = {
        "capacity": "unlimited",
        "los": {"dist": "exponential", "mean_days": 20},
        "assessment": {"dist": "exponential", "mean_days": 3},
    }
    return config_from_dict(raw, "<test>")


@pytest.fixture(scope="module")
def run():
    cfg = full_config()
    # A seed whose September has delays and long waits (test_the_check_is_not_vacuous); some
    # seeds have none in that one month.
    return cfg, run_model(cfg, 16)


# ---------------------------------------------------------------------------------------------
# The registry itself


def test_the_registry_has_no_problems():
    assert registry.problems() == []


def test_names_are_unique():
    names = [k.name for k in registry.KPIS]
    assert len(names) == len(set(names))
    shown = [k.display_name for k in registry.KPIS]
    assert len(shown) == len(set(shown))


@pytest.mark.parametrize("kpi", registry.KPIS, ids=lambda k: k.name)
def test_every_kpi_is_described(kpi):
    assert kpi.label.strip() and kpi.unit.strip() and kpi.description.strip()
    assert kpi.group in registry.GROUPS
    assert kpi.verdict or kpi.not_for_verdicts.strip()


def test_problems_are_found():
    k = registry.get("acute_bed_days").kpi
    bad = (
        k,
        dataclasses.replace(k, unit=" "),  # a duplicate, and an empty unit
        dataclasses.replace(k, name="x_{service}"),  # a system KPI with a placeholder
        dataclasses.replace(k, name="y", group="nowhere", monthly=None),
    )
    found = registry.problems(bad, monthly_order=("acute_bed_days",))
    assert any("more than once" in p for p in found)
    assert any("must not be empty" in p for p in found)
    assert any("must not hold" in p for p in found)
    assert any("unknown group" in p for p in found)
    assert any("monthly order" in p for p in found)


def test_a_monthly_form_is_checked():
    with pytest.raises(ValueError, match="denominator"):
        registry.Monthly("ratio", "a")
    with pytest.raises(ValueError, match="level"):
        registry.Monthly("share_above", "a")


# ---------------------------------------------------------------------------------------------
# Names: the model produces exactly the registry's KPIs


def test_the_model_produces_exactly_the_names_of_the_config(run):
    cfg, rep = run
    produced = list(kpis(cfg, rep))
    assert produced == kpi_names(cfg)
    assert "delayed_cost_gbp" in produced and "rehab_capacity_cost_gbp" in produced
    assert "step_up_capacity_cost_gbp" not in produced  # no cost given for step-up
    assert {"gate_acute_beds_opened", "gate_acute_beds_open_day"} <= set(produced)
    # Blocking KPIs only where patients can be blocked; no places to use in an unlimited service.
    assert {"rehab_mean_blocked", "rehab_blocked_share", "community_delayed_bed_days"} <= set(produced)
    assert "step_up_mean_blocked" not in produced and "care_package_mean_blocked" not in produced
    assert "care_package_utilisation" not in produced and "care_package_mean_occupied" in produced


def test_every_produced_kpi_is_in_the_registry_and_vice_versa(run):
    cfg, rep = run
    produced = list(kpis(cfg, rep))
    assert {registry.get(name).kpi.name for name in produced} == {k.name for k in registry.KPIS}
    # Resolving a name alone (templates) agrees with resolving it against the config.
    exact = registry.for_config(cfg)
    assert [(r.kpi.name, r.subject) for r in exact.values()] == [
        (registry.get(n).kpi.name, registry.get(n).subject) for n in produced
    ]


def test_costs_exist_only_when_configured():
    raw = yaml.safe_load(MINI.read_text())
    names = kpi_names(config_from_dict(raw, "<test>"))
    assert not [n for n in names if n.endswith("_gbp") or n.startswith("gate_")]


def test_get_resolves_templates():
    ref = registry.get("home_support_mean_wait_days")
    assert ref.kpi.name == "{service}_mean_wait_days" and ref.subject == "home_support"
    assert ref.label == "home support: mean wait for a place" and ref.unit == "days"
    gate = registry.get("gate_services_rehab_capacity_opened")
    assert gate.kpi.scope == "gate" and gate.subject == "services_rehab_capacity"
    assert registry.get("rehab_capacity_cost_gbp").kpi.name == "{service}_capacity_cost_gbp"
    system = registry.get("mean_occupancy")
    assert system.subject is None and system.label == "mean occupancy" and system.monthly is not None


def test_get_suggests_close_names():
    with pytest.raises(KeyError, match="did you mean 'acute_bed_days'"):
        registry.get("acute_bed_day")
    with pytest.raises(registry.UnknownKpiError, match="KPI dictionary"):
        registry.get("zzz")


# ---------------------------------------------------------------------------------------------
# Monthly forms reproduce the KPI


@pytest.mark.parametrize("name", [n for n, _ in registry.monthly_forms()])
def test_monthly_form_over_a_one_month_window_is_the_kpi(run, name):
    cfg, rep = run
    daily, k = daily_and_kpis(cfg, rep, MONTH)
    month = monthly_table(daily, MONTH)
    assert list(month["month"]) == ["2017-09"]
    assert month[name].iloc[0] == pytest.approx(k[name], rel=1e-12, abs=1e-12, nan_ok=True)


def test_the_check_is_not_vacuous(run):
    """The month has every monthly KPI but refusals (the beds queue) above 0: the forms are tested
    on real values."""
    cfg, rep = run
    k = kpis(cfg, rep, MONTH)
    zero = [name for name, _ in registry.monthly_forms() if not k[name] > 0]
    assert zero == ["refused_admissions"]
    assert 0 < k["share_days_over_92pct"] < 1


@pytest.mark.parametrize("name", [n for n, f in registry.monthly_forms() if f.how == "sum"])
def test_monthly_sums_add_up_to_the_kpi(run, name):
    cfg, rep = run
    window = (cfg.warmup_days, cfg.horizon_days)
    daily, k = daily_and_kpis(cfg, rep)
    month = monthly_table(daily, window)
    assert len(month) > 3
    assert month[name].sum() == pytest.approx(k[name], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Criteria


def experiment_with(tmp_path, kpi: str) -> Path:
    exp = {
        "name": "t",
        "config": str(MINI),
        "replications": 1,
        "scenarios": {"plan": {"overrides": {"acute.beds": 40}}},
        "criteria": [{"kpi": "mean_occupancy", "at_most": 0.9}, {"kpi": kpi, "at_most": 1.0}],
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def test_an_unknown_criterion_kpi_says_did_you_mean(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_experiment(experiment_with(tmp_path, "acute_bed_day"))
    msg = str(err.value)
    assert "criteria.1.kpi: unknown KPI 'acute_bed_day' (did you mean 'acute_bed_days'" in msg
    assert "\n" not in msg


def test_an_unknown_service_kpi_suggests_the_configured_service(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'rehab_utilisation'"):
        load_experiment(experiment_with(tmp_path, "rehab_utilization"))


def test_a_kpi_not_for_verdicts_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_experiment(experiment_with(tmp_path, "emergency_arrivals"))
    msg = str(err.value)
    assert "criteria.1.kpi: 'emergency_arrivals' cannot be a criterion: " in msg and "\n" not in msg


def test_a_verdict_kpi_is_accepted(tmp_path):
    loaded = load_experiment(experiment_with(tmp_path, "rehab_mean_delay_days"))
    assert [c.kpi for c in loaded.experiment.criteria] == ["mean_occupancy", "rehab_mean_delay_days"]


def test_kpi_values_are_floats(run):
    cfg, rep = run
    values = kpis(cfg, rep)
    assert all(type(v) is float for v in values.values())
    assert math.isnan(values["gate_acute_beds_open_day"]) is (values["gate_acute_beds_opened"] == 0.0)
