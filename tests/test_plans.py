"""Plans: gated schedules, IC delivery, pathway and demand changes, on the model itself."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospsim.config import ConfigError, config_from_dict
from hospsim.config.schedules import Schedule
from hospsim.model.engine import ADMITTED, run_model
from hospsim.model.kpis import daily_table
from hospsim.model.plan import build_levers

BASE = {
    "name": "plan-test",
    "start_date": "2017-04-01",
    "horizon_days": 500,
    "warmup_days": 50,
    "acute": {"beds": 80},
    "demand": {"emergency": {"per_day": 12}},
    "groups": {
        "frail": {
            "share": 0.5,
            "los": {"dist": "lognormal", "mean_days": 8, "cv": 0.9},
            "pathways": {"home": 0.7, "rehab": 0.3},
        },
        "other": {"share": 0.5, "los": {"dist": "exponential", "mean_days": 3}},
    },
    "services": {
        "rehab": {
            "capacity": {"ramp": {"from": 15, "to": 35, "start_day": 100, "duration_days": 200}},
            "los": {"dist": "lognormal", "mean_days": 12, "cv": 0.6},
        },
    },
}


def config(**changes):
    raw = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return config_from_dict(raw, "<test>")


# --- schedule arithmetic ----------------------------------------------------------------------


def test_held_and_opened_schedules():
    s = Schedule.model_validate(
        {"steps": [[0, 100], [30, 80], [60, 70]], "gate": {"occupancy_at_most": {"occupancy": 0.9}}}
    )
    assert s.first_change_day() == 30
    held = s.daily_held(100)
    assert (held == 100).all()
    opened = s.daily_opened(100, 45)  # gate opens 15 days late: every change 15 days later
    assert opened[44] == 100 and opened[45] == 80 and opened[74] == 80 and opened[75] == 70
    assert (s.daily_opened(100, 10) == s.daily(100)).all()  # open before the first change: as planned
    r = Schedule.model_validate({"ramp": {"from": 0, "to": 10, "start_day": 20, "duration_days": 10}})
    assert r.first_change_day() == 21
    late = r.daily_opened(60, 31)
    assert late[30] == 0 and late[31] == 1 and late[40] == 10


def test_delivered_schedule_is_late_and_partial():
    r = Schedule.model_validate({"ramp": {"from": 100, "to": 300, "start_day": 50, "duration_days": 100}})
    d = r.delivered(30, 0.25).daily(400)
    assert d[80] == 100 and d[130] == pytest.approx(125) and d[180] == pytest.approx(150) and d[399] == 150
    s = Schedule.model_validate({"steps": [[0, 10], [40, 20]]}).delivered(10, 0.5).daily(100)
    assert s[49] == 10 and s[50] == 15
    c = Schedule.model_validate(5)
    assert c.delivered(100, 0.1) == c


def test_gate_validation_errors():
    with pytest.raises(ConfigError, match=r"acute.beds.*cannot be gated"):
        config(acute={"beds": {"constant": 80, "gate": {"occupancy_at_most": {"occupancy": 0.9}}}})
    with pytest.raises(ConfigError, match=r"gate.service_capacity_at_least.service: no service 'rehub'"):
        config(
            acute={
                "beds": {
                    "steps": [[0, 80], [200, 70]],
                    "gate": {"service_capacity_at_least": {"service": "rehub", "places": 30}},
                }
            }
        )
    with pytest.raises(ConfigError, match="cannot wait for itself"):
        config(
            services__rehab__capacity={
                "steps": [[0, 15], [100, 35]],
                "gate": {"service_capacity_at_least": {"service": "rehab", "places": 30}},
            }
        )
    with pytest.raises(ConfigError, match="exactly one of"):
        config(
            acute={
                "beds": {
                    "steps": [[0, 80], [200, 70]],
                    "gate": {"occupancy_at_most": {"occupancy": 0.9}, "delayed_patients_at_most": {"patients": 2}},
                }
            }
        )
    with pytest.raises(ConfigError, match=r"plan_delivery.applies_to: 'services.x.capacity' is not a plan schedule"):
        config(plan_delivery={"applies_to": ["services.x.capacity"]})


# --- gates in the model -------------------------------------------------------------------------


def test_bed_cut_waits_for_community_capacity():
    gate = {"service_capacity_at_least": {"service": "rehab", "places": 30}}
    cfg = config(acute={"beds": {"steps": [[0, 80], [120, 65]], "gate": gate}})
    rep = run_model(cfg, 1)
    rehab = rep.capacity.service_places[0]
    first_ok = int(np.argmax(rehab >= 30))
    assert rep.records.gate_open_days == {"acute.beds": first_ok}
    beds = rep.capacity.core_beds
    assert (beds[:first_ok] == 80).all() and (beds[first_ok:] == 65).all()
    # Fixed date: cut on day 120 whatever the community capacity.
    fixed = run_model(config(acute={"beds": {"steps": [[0, 80], [120, 65]]}}), 1)
    assert fixed.capacity.core_beds[119] == 80 and fixed.capacity.core_beds[120] == 65
    # IC never reaches 30 places (half the growth): the gated cut never happens.
    slow = run_model(
        config(
            acute={"beds": {"steps": [[0, 80], [120, 65]], "gate": gate}}, plan_delivery={"ic_growth_achieved": 0.5}
        ),
        1,
    )
    assert slow.records.gate_open_days == {"acute.beds": None}
    assert (slow.capacity.core_beds == 80).all()
    assert slow.capacity.service_places[0].max() == 25


def test_occupancy_gate_opens_on_the_first_qualifying_midnight():
    cond = {"occupancy_at_most": {"days": 14, "occupancy": 0.8}}
    cfg = config(acute={"beds": {"steps": [[0, 80], [100, 70]], "gate": cond}})
    rep = run_model(cfg, 2)
    daily = daily_table(cfg, rep)
    occupied = daily["occupied_beds_mean"].to_numpy()
    beds = daily["beds_capacity"].to_numpy()
    opened = rep.records.gate_open_days["acute.beds"]
    assert opened is not None

    def trailing(d):
        return occupied[d - 14 : d].sum() / beds[d - 14 : d].sum()

    assert trailing(opened) <= 0.8 + 1e-9
    assert all(trailing(d) > 0.8 for d in range(14, opened))
    assert beds[opened - 1] == 80 and beds[max(opened, 100)] == 70


def test_delayed_gate_and_los_gate():
    cond = {"delayed_patients_at_most": {"days": 7, "patients": 0.5}}
    cfg = config(groups__frail__los_multiplier={"steps": [[0, 1.0], [60, 0.5]], "gate": cond})
    rep = run_model(cfg, 3)
    opened = rep.records.gate_open_days["groups.frail.los_multiplier"]
    daily = daily_table(cfg, rep)
    delayed = daily["delayed_patients_mean"].to_numpy()
    assert opened is not None and delayed[opened - 7 : opened].mean() <= 0.5 + 1e-9
    assert all(delayed[d - 7 : d].mean() > 0.5 for d in range(7, opened))
    co = rep.cohort
    frail = co.group == 0
    day = co.arrival_days.astype(int)
    base = run_model(config(), 3).cohort
    # Same patients (CRN): frail LOS halves exactly from the opening day on, unchanged before.
    assert np.array_equal(co.arrival_days, base.arrival_days)
    after = frail & (day >= max(opened, 60))
    before = frail & (day < max(opened, 60))
    assert np.allclose(co.acute_los_days[after], 0.5 * base.acute_los_days[after])
    assert np.array_equal(co.acute_los_days[before], base.acute_los_days[before])


def test_demand_reduction_keeps_a_subset_of_the_same_patients():
    base = run_model(config(), 4).cohort
    cut = run_model(
        config(
            demand={
                "emergency": {
                    "per_day": 12,
                    "multiplier": {"ramp": {"from": 1, "to": 0.7, "start_day": 100, "duration_days": 100}},
                }
            }
        ),
        4,
    ).cohort
    common, i_base, i_cut = np.intersect1d(base.arrival_days, cut.arrival_days, return_indices=True)
    assert len(common) == len(cut)  # every arrival of the plan is a baseline arrival
    assert np.array_equal(base.group[i_base], cut.group[i_cut])
    assert np.array_equal(base.acute_los_days[i_base], cut.acute_los_days[i_cut])
    before = base.arrival_days < 100
    assert (base.arrival_days < 100).sum() == (cut.arrival_days < 100).sum()
    late = (base.arrival_days >= 200).sum(), (cut.arrival_days >= 200).sum()
    assert late[1] / late[0] == pytest.approx(0.7, abs=0.03)
    assert before.any()


def test_pathway_change_moves_the_mix():
    change = {"to": {"home": 0.4, "rehab": 0.6}, "start_day": 200, "duration_days": 0}
    cfg = config(groups__frail__pathways_change=change, services__rehab__capacity=200)
    rep = run_model(cfg, 5)
    co = rep.cohort
    frail = (co.group == 0) & (rep.records.outcome == ADMITTED)
    early = frail & (co.arrival_days < 200)
    late = frail & (co.arrival_days >= 200)
    assert (co.service[early] == 0).mean() == pytest.approx(0.3, abs=0.04)
    assert (co.service[late] == 0).mean() == pytest.approx(0.6, abs=0.04)
    # Same uniforms: nobody who went to rehab before the change would go home after it.
    base = run_model(config(services__rehab__capacity=200), 5).cohort
    assert np.all(co.service[base.service == 0] == 0)


def test_plan_delivery_applies_to_listed_schedules():
    raw_services = {
        "rehab": BASE["services"]["rehab"],
        "home_support": {
            "capacity": {"ramp": {"from": 10, "to": 20, "start_day": 100, "duration_days": 100}},
            "los": {"dist": "exponential", "mean_days": 10},
        },
    }
    cfg = config(
        services=raw_services,
        plan_delivery={
            "ic_delay_days": 100,
            "ic_growth_achieved": 0.5,
            "applies_to": ["services.rehab.capacity", "groups.frail.los_multiplier"],
        },
        groups__frail__los_multiplier={"ramp": {"from": 1.0, "to": 0.6, "start_day": 100, "duration_days": 100}},
    )
    rep = run_model(cfg, 6)
    rehab, home = rep.capacity.service_places
    assert rehab[199] == 15 and rehab[499] == 25  # late and half
    assert home[200] == 20  # as planned
    # The IC-dependent LOS cut is late and half too: x0.8 from day 300, not x0.6 from day 200.
    base = run_model(config(services=raw_services), 6).cohort
    co = rep.cohort
    frail = co.group == 0
    day = co.arrival_days.astype(int)
    assert np.array_equal(co.arrival_days, base.arrival_days)
    np.testing.assert_allclose(co.acute_los_days[frail & (day < 200)], base.acute_los_days[frail & (day < 200)])
    np.testing.assert_allclose(co.acute_los_days[frail & (day >= 300)], 0.8 * base.acute_los_days[frail & (day >= 300)])
    # Default: every service capacity, and nothing else.
    default = config(services=raw_services, plan_delivery={"ic_delay_days": 100})
    assert run_model(default, 6).capacity.service_places[1][250] == 15  # home support ramp 100 days late


def test_assessment_time_counts_as_delay_but_not_as_waiting_for_a_place():
    cfg = config(
        services__rehab={
            "capacity": 500,
            "los": {"dist": "fixed", "mean_days": 10},
            "assessment": {"dist": "fixed", "mean_days": 2},
        }
    )
    rep = run_model(cfg, 7)
    rec, co = rep.records, rep.cohort
    moved = ~np.isnan(rec.service_start_days) & (rec.service == 0)
    assert moved.sum() > 100
    # Plenty of places: everyone transfers exactly 2 days after being fit.
    assert np.allclose(rec.bed_leave_days[moved] - rec.fit_days[moved], 2.0)
    assert np.allclose(rec.ready_days[moved], rec.fit_days[moved] + 2.0)
    from hospsim.model.kpis import kpis

    k = kpis(cfg, rep)
    assert k["rehab_mean_delay_days"] == pytest.approx(2.0, abs=0.02)  # a few still assessing at the end
    assert k["rehab_mean_wait_days"] == 0.0 and k["rehab_p_wait"] == 0.0
    # Delayed bed days = 2 days per referral (Little's law over the window, edge effects aside).
    referrals_per_day = ((co.service == 0) & (rec.outcome == ADMITTED)).sum() / cfg.horizon_days
    assert k["mean_delayed_patients"] == pytest.approx(2.0 * referrals_per_day, rel=0.08)
    with pytest.raises(ConfigError, match=r"services.step_up.assessment"):
        config(
            services__step_up={
                "capacity": 5,
                "los": {"dist": "fixed", "mean_days": 3},
                "assessment": {"dist": "fixed", "mean_days": 1},
            }
        )


def test_assessment_multiplier_applies_from_the_arrival_day():
    cfg = config(
        services__rehab={
            "capacity": 500,
            "los": {"dist": "fixed", "mean_days": 10},
            "assessment": {"dist": "fixed", "mean_days": 2},
            "assessment_multiplier": {"steps": [[0, 1.0], [200, 0.5]]},
        }
    )
    rep = run_model(cfg, 8)
    rec, co = rep.records, rep.cohort
    moved = ~np.isnan(rec.service_start_days) & (rec.service == 0)
    early = moved & (co.arrival_days < 200)
    late = moved & (co.arrival_days >= 200)
    assert np.allclose(rec.bed_leave_days[early] - rec.fit_days[early], 2.0)
    assert np.allclose(rec.bed_leave_days[late] - rec.fit_days[late], 1.0)


def test_plan_delivery_may_name_a_pathway_change_the_config_lacks():
    # An experiment-wide list of IC-dependent levers must also validate for the baseline.
    cfg = config(plan_delivery={"applies_to": ["groups.frail.pathways_change"]})
    assert cfg.plan_delivery.applies_to == ["groups.frail.pathways_change"]


def test_max_wait_transfers_long_waiters_elsewhere():
    from hospsim.model.engine import TRANSFERRED, WAITING
    from hospsim.model.kpis import kpis

    crowded = {"beds": 40, "max_wait_hours": 12}
    cfg = config(acute=crowded, demand={"emergency": {"per_day": 14}})
    rep = run_model(cfg, 9)
    rec, co = rep.records, rep.cohort
    out = rec.outcome
    moved = out == TRANSFERRED
    assert moved.sum() > 50  # the setup: a hospital short of beds
    assert np.all(np.isnan(rec.admit_days[moved]))  # never admitted
    # Nobody is admitted after waiting longer than the limit, nobody still waits past it.
    admitted = out == ADMITTED
    assert np.all(rec.admit_days[admitted] - co.arrival_days[admitted] <= 0.5 + 1e-9)
    assert np.all(co.arrival_days[out == WAITING] > cfg.horizon_days - 0.5)
    k = kpis(cfg, rep)
    assert k["waits_over_12h_per_1000"] == 0
    assert k["transferred_out"] == ((co.arrival_days >= cfg.warmup_days) & moved).sum()
    assert 0 < k["p_transferred_out"] < 1
    # Same patients without a limit: the same people wait, some for longer than 12 hours.
    unlimited = config(acute={"beds": 40}, demand={"emergency": {"per_day": 14}})
    k_unlimited = kpis(unlimited, run_model(unlimited, 9))
    assert k_unlimited["waits_over_12h_per_1000"] > 0 and k_unlimited["transferred_out"] == 0
    # A limit nobody reaches (the ceiling, a year) changes nothing.
    lax = config(acute={"beds": 40, "max_wait_hours": 8760}, demand={"emergency": {"per_day": 14}})
    assert kpis(lax, run_model(lax, 9)) == k_unlimited
    with pytest.raises(ConfigError, match=r"acute.max_wait_hours: only with when_full: queue"):
        config(acute={"beds": 40, "when_full": "refuse", "max_wait_hours": 4})


# --- plans validated as delivered ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lever", "planned", "achieved", "message"),
    [
        ("groups__frail__step_up_share", {"ramp": {"from": 0.1, "to": 0.8, "start_day": 50, "duration_days": 50}},
         1.5, "groups.frail.step_up_share out of range as delivered (every value must be <= 1 (got 1.15))"),
        ("groups__frail__los_multiplier", {"steps": [[0, 1.0], [60, 0.4]]},
         2.0, "groups.frail.los_multiplier out of range as delivered (every value must be > 0 (got -0.2))"),
        ("services__rehab__capacity", {"steps": [[0, 30], [60, 10]]},
         2.0, "services.rehab.capacity out of range as delivered (every value must be >= 0 (got -10))"),
    ],
)  # fmt: skip
def test_an_over_delivered_plan_is_a_one_line_error(lever, planned, achieved, message):
    path = lever.replace("__", ".")
    step_up = {"kind": "step_up", "capacity": 5, "los": {"dist": "fixed", "mean_days": 2}}
    with pytest.raises(ConfigError) as err:
        config(**{lever: planned, "services__step_up": step_up,
                  "plan_delivery": {"ic_growth_achieved": achieved, "applies_to": [path]}})  # fmt: skip
    text = str(err.value)
    assert text.startswith(f"<test>: plan_delivery.ic_growth_achieved: {achieved:g} makes ") and "\n" not in text
    assert message in text  # a share of 0.1 + 1.5 x 0.7 = 1.15 is out of [0, 1]


def test_a_pathway_change_may_overshoot_while_no_share_goes_negative():
    change = {"to": {"home": 0.2, "rehab": 0.8}, "start_day": 50}
    delivery = {"applies_to": ["groups.frail.pathways_change"]}
    ok = config(groups__frail__pathways_change=change, plan_delivery={**delivery, "ic_growth_achieved": 1.2})
    rep = run_model(ok, 3)  # home 0.1, rehab 0.9 once the change is complete: a valid mix
    frail_late = (rep.cohort.group == 0) & (rep.cohort.arrival_days >= 60)
    assert np.mean(rep.cohort.service[frail_late] == 0) == pytest.approx(0.9, abs=0.03)
    with pytest.raises(
        ConfigError, match=r"pathways_change out of range as delivered \(the share of home would be -0\.25"
    ):
        config(groups__frail__pathways_change=change, plan_delivery={**delivery, "ic_growth_achieved": 1.9})


def test_an_over_delivered_sweep_point_is_named_before_anything_runs(tmp_path):
    import yaml

    from hospsim.runs.experiment import load_experiment

    data = Path(__file__).parent / "data"
    raw = yaml.safe_load((data / "mini_experiment.yaml").read_text())
    raw["config"] = str(data / "mini_system.yaml")
    raw["overrides"] = {"plan_delivery.applies_to": ["services.rehab.capacity", "groups.frail.los_multiplier"]}
    raw["sweep"]["parameters"]["ic_growth_achieved"]["values"] = [1.0, 2.0]
    raw["scenarios"]["fixed_date"]["overrides"]["groups.frail.los_multiplier"] = {"steps": [[0, 1], [80, 0.4]]}
    path = tmp_path / "over.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "scenarios.fixed_date at sweep point" in text and "'ic_growth_achieved': 2.0" in text
    assert "groups.frail.los_multiplier out of range as delivered" in text and "\n" not in text


def test_a_gate_waiting_on_another_gated_lever_opens_the_same_midnight():
    """Beds wait for rehab capacity, which itself waits for occupancy: when the rehab gate opens,
    the bed gate (registered first) opens at the same midnight, not a day later."""
    cfg = config(
        acute={"beds": {"steps": [[0, 80], [1, 70]], "gate": {"service_capacity_at_least": {"service": "rehab", "places": 30}}}},
        services__rehab__capacity={"steps": [[0, 15], [1, 35]], "gate": {"occupancy_at_most": {"days": 7, "occupancy": 0.99}}},
    )  # fmt: skip
    rep = run_model(cfg, 2)
    opened = rep.records.gate_open_days
    assert opened["services.rehab.capacity"] is not None
    assert opened["acute.beds"] == opened["services.rehab.capacity"]
    day = opened["acute.beds"]
    assert rep.capacity.service_places[0][day] == 35 and rep.capacity.core_beds[day] == 70
    assert rep.capacity.core_beds[day - 1] == 80


# --- displaced demand ------------------------------------------------------------------------


def test_refused_patients_displace_their_own_bed_days():
    """With a fixed 3-day stay, every refused emergency displaces exactly 3 bed days, and the bed
    days demanded are those used plus those displaced."""
    from conftest import queue_config

    from hospsim.model.kpis import kpis

    cfg = queue_config(4, 2.0, {"dist": "fixed", "mean_days": 3}, when_full="refuse", horizon_days=400, warmup_days=0)
    k = kpis(cfg, run_model(cfg, 5))
    assert k["refused_admissions"] > 20
    assert k["displaced_bed_days"] == pytest.approx(3 * k["refused_admissions"])
    assert k["bed_days_demanded"] == pytest.approx(k["acute_bed_days"] + 3 * k["refused_admissions"])


def test_transferred_patients_displace_their_own_bed_days():
    from conftest import queue_config

    from hospsim.model.kpis import daily_table, kpis

    cfg = queue_config(
        3,
        2.0,
        {"dist": "fixed", "mean_days": 2},
        horizon_days=400,
        warmup_days=0,
        acute={"beds": 3, "max_wait_hours": 6},
    )
    rep = run_model(cfg, 8)
    k = kpis(cfg, rep)
    assert k["transferred_out"] > 20 and k["refused_admissions"] == 0
    # Every transfer happens before the horizon here, so counting by arrival or by transfer agrees.
    assert k["displaced_bed_days"] == pytest.approx(2 * k["transferred_out"])
    assert k["transferred_out_per_1000"] == pytest.approx(1000 * k["p_transferred_out"])
    assert daily_table(cfg, rep)["displaced_bed_days"].sum() == pytest.approx(k["displaced_bed_days"])


# --- onward routes between services as plan levers ----------------------------------------------


def _onward(**rehab) -> dict:
    """BASE with rehab sending patients home or on to a care package (unlimited, a 2-day
    assessment spent in the rehab place, a 5-day stay); ``rehab`` updates the rehab service."""
    raw = copy.deepcopy(BASE)
    raw["services"]["rehab"].update(rehab)
    raw["services"]["care_package"] = {
        "capacity": "unlimited",
        "los": {"dist": "fixed", "mean_days": 5},
        "assessment": {"dist": "fixed", "mean_days": 2},
    }
    return raw


def _sent_on(rep) -> tuple[np.ndarray, np.ndarray]:
    """Per rehab stay that ended: the patient and whether it went on to the care package."""
    v = rep.records.visits
    ended = (v.service == 0) & ~np.isnan(v.stay_end_days)
    onward = {int(p) for p in v.patient[(v.service == 1) & (v.depth == 1)]}
    patients = v.patient[ended]
    return patients, np.array([int(p) in onward for p in patients], dtype=bool)


def test_a_gated_onward_change_opens_on_its_condition_and_routes_later_arrivals():
    """rehab's route change (all home -> half on to a care package from day 50) waits for rehab to
    have 30 places (its ramp 15 -> 35 over days 100-300 gets there on day 245). Patients who
    arrived before the gate opened all go home from rehab; later ones go on exactly when their
    own route uniform says so - the same patients as with the ungated change."""
    change = {"to": {"home": 0.5, "care_package": 0.5}, "start_day": 50}
    gate = {"service_capacity_at_least": {"service": "rehab", "places": 30}}
    gated = config_from_dict(_onward(pathways_change={**change, "gate": gate}), "<test>")
    rep = run_model(gated, 9)
    opened = rep.records.gate_open_days["services.rehab.pathways_change"]
    # 15 + 20 x (245 - 100) / 200 = 29.5 places on day 245, rounded to 30 (whole places).
    assert opened == int(np.argmax(rep.capacity.service_places[0] >= 30)) == 245
    patients, onward = _sent_on(rep)
    day = np.floor(rep.cohort.arrival_days[patients])
    assert not onward[day < opened].any() and onward[day >= opened].mean() == pytest.approx(0.5, abs=0.08)
    ungated = run_model(config_from_dict(_onward(pathways_change=change), "<test>"), 9)
    assert np.array_equal(ungated.cohort.arrival_days, rep.cohort.arrival_days)
    u_patients, u_onward = _sent_on(ungated)
    assert onward[day < opened].size > 50 and u_onward[np.floor(ungated.cohort.arrival_days[u_patients]) >= 50].any()
    both, i, j = np.intersect1d(patients, u_patients, return_indices=True)
    late = np.floor(rep.cohort.arrival_days[both]) >= opened
    assert late.sum() > 20 and np.array_equal(onward[i][late], u_onward[j][late])


def test_plan_delivery_makes_an_onward_change_late_and_partial_when_listed():
    """The change (all home -> half on, on day 100) listed in ``applies_to``, delivered 100 days
    late and half-way: a quarter go on from day 200; not listed, it comes as planned."""
    change = {"to": {"home": 0.5, "care_package": 0.5}, "start_day": 100}
    delivery = {"ic_delay_days": 100, "ic_growth_achieved": 0.5}
    listed = _onward(pathways_change=change)
    listed["plan_delivery"] = {**delivery, "applies_to": ["services.rehab.pathways_change"]}
    not_listed = _onward(pathways_change=change)
    not_listed["plan_delivery"] = delivery
    lv_listed = build_levers(config_from_dict(listed, "<test>"))[0]
    lv_planned = build_levers(config_from_dict(not_listed, "<test>"))[0]
    assert lv_listed.onward_service[0] == (-1, 1)  # home, care package
    assert lv_listed.onward_cumulative[0][199] == pytest.approx((1.0, 1.0))
    assert lv_listed.onward_cumulative[0][200] == pytest.approx((0.75, 1.0))
    assert lv_planned.onward_cumulative[0][99] == pytest.approx((1.0, 1.0))
    assert lv_planned.onward_cumulative[0][100] == pytest.approx((0.5, 1.0))
    # In the model: the patients sent on are those of the full change whose uniform is >= 0.75.
    late, full = (
        run_model(config_from_dict(listed, "<test>"), 10),
        run_model(config_from_dict(not_listed, "<test>"), 10),
    )
    p_late, on_late = _sent_on(late)
    p_full, on_full = _sent_on(full)
    day = np.floor(late.cohort.arrival_days[p_late])
    assert not on_late[day < 200].any() and on_late[day >= 200].mean() == pytest.approx(0.25, abs=0.06)
    _, i, j = np.intersect1d(p_late, p_full, return_indices=True)
    assert np.all(on_full[j][on_late[i]])  # sent on when half-delivered: sent on when delivered in full


def test_service_places_change_at_midnight_and_a_rise_cascades_back_to_acute_beds():
    """acute -> a (1 place, 1-day stay) -> b (0 places, 2 from day 5, none from day 9). Until day
    5 a's patient is blocked and the rest wait in acute beds; at t = 5.0 exactly a's patient moves
    into b and the first acute patient waiting moves into a; no one starts in b from day 9."""
    raw = {
        "name": "cascade",
        "start_date": "2017-04-03",
        "horizon_days": 12,
        "acute": {"beds": 100},
        "demand": {"emergency": {"per_day": 8}},
        "groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 0.5}, "pathways": {"a": 1.0}}},
        "services": {
            "a": {"capacity": 1, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"b": 1.0}},
            "b": {"capacity": {"steps": [[0, 0], [5, 2], [9, 0]]}, "los": {"dist": "fixed", "mean_days": 20}},
        },
    }
    cfg = config_from_dict(raw, "<test>")
    rep = run_model(cfg, 4)
    v, rec = rep.records.visits, rep.records
    a, b = v.service == 0, v.service == 1
    b_starts = np.sort(v.start_days[b & ~np.isnan(v.start_days)])
    assert b_starts.size == 2 and b_starts[0] == 5.0 and 5.0 < b_starts[1] < 9.0
    first_a = np.flatnonzero(a & (v.start_days < 5.0))
    assert first_a.size == 1 and v.stay_end_days[first_a[0]] < 5.0 and v.leave_days[first_a[0]] == 5.0
    moved_in = np.flatnonzero(a & (v.start_days == 5.0))
    assert moved_in.size == 1 and rec.bed_leave_days[v.patient[moved_in[0]]] == 5.0
    # The second b place goes to that patient when its day in a ends; then b is full to the end.
    assert b_starts[1] == v.stay_end_days[moved_in[0]] == 6.0
    daily = daily_table(cfg, rep)
    assert daily["b_capacity"].tolist() == [0] * 5 + [2] * 4 + [0] * 3
    # Blocked in a from the end of its first stay (fit at ~0.5, then 1 day) to midnight of day 5.
    blocked = daily["a_blocked_mean"].to_numpy()
    assert 0 < blocked[1] < 1 and np.all(blocked[2:5] == 1.0)


def test_an_over_delivered_onward_change_is_refused_once_a_share_goes_negative():
    """Twice the planned shift of rehab's routes (home 0.8 -> 0.2) would send home -0.4 of its
    patients: one line naming the lever; twice a shift that ends at home 0.5 is fine (home 0.2)."""
    change = {"to": {"home": 0.2, "care_package": 0.8}, "start_day": 100}
    raw = _onward(pathways={"home": 0.8, "care_package": 0.2}, pathways_change=change)
    raw["plan_delivery"] = {"ic_growth_achieved": 2.0, "applies_to": ["services.rehab.pathways_change"]}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, "<test>")
    assert str(err.value) == (
        "<test>: plan_delivery.ic_growth_achieved: 2 makes services.rehab.pathways_change out of range as "
        "delivered (the share of home would be -0.4)"
    )
    raw["services"]["rehab"]["pathways_change"]["to"] = {"home": 0.5, "care_package": 0.5}
    levers = build_levers(config_from_dict(raw, "<test>"))[0]
    assert levers.onward_cumulative[0][99] == pytest.approx((0.8, 1.0))
    assert levers.onward_cumulative[0][100] == pytest.approx((0.2, 1.0))


@settings(max_examples=200, deadline=None)
@given(
    shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    targets=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    fracs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
)
def test_every_days_mix_at_once_is_each_days_mix_bit_for_bit(shares, targets, fracs):
    """The pathway mixes of a ramp, computed for all days at once, equal those computed day by
    day (the arithmetic the levers were built with before), bit for bit."""
    from hospsim.model.plan import _cumulative_mix, _mixes

    names = [f"p{i}" for i in range(max(len(shares), len(targets)))]
    base, to = dict(zip(names, shares)), dict(zip(names[::-1], targets))
    frac = np.array(fracs)
    assert _mixes(names, base, to, frac) == [_cumulative_mix(names, base, to, f) for f in frac.tolist()]
