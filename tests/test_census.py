"""Starting from a census (issue 12): residual stays from the tail beyond the elapsed time, the
census placed exactly, nobody evicted, and a start from the model's own state equal to a long
warm-up."""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import LONG_RUN_ENGINE
from scipy import stats

from hospsim.analysis.census import census_at
from hospsim.config import ConfigError, config_from_dict, load_config
from hospsim.config.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, ppf, tail_ppf
from hospsim.config.loading import config_to_dict
from hospsim.model.engine import ADMITTED, run_model
from hospsim.model.engines import run_model as run_with
from hospsim.model.kpis import kpis
from hospsim.model.records import FROM_CENSUS, final_states
from hospsim.runs.replications import patient_table

MINI = Path(__file__).resolve().parent / "data" / "mini_system.yaml"


def mini_raw() -> dict:
    """The mini system with a chain (rehab -> a care package that holds the bed), electives and a
    waiting limit: every place a census can name."""
    raw = yaml.safe_load(MINI.read_text())
    raw["acute"].update(max_wait_hours=24)
    raw["services"]["rehab"]["pathways"] = {"home": 0.7, "care_package": 0.3}
    raw["services"]["care_package"] = {
        "capacity": 6,
        "los": {"dist": "exponential", "mean_days": 10},
        "assessment": {"dist": "exponential", "mean_days": 2},
    }
    raw["demand"]["elective"] = {
        "per_weekday": 1,
        "referrals_per_week": 4.5,
        "priorities": {"urgent": 0.3, "routine": 0.7},
        "los": {"dist": "exponential", "mean_days": 2},
    }
    return raw


# --- residual stays ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        Lognormal(dist="lognormal", mean_days=8, cv=1.3),
        Gamma(dist="gamma", mean_days=8, cv=0.7),
        Exponential(dist="exponential", mean_days=4),
        Empirical(dist="empirical", values_days=[1, 2, 2, 5, 9, 30]),
    ],
    ids=lambda s: s.dist,
)
@pytest.mark.parametrize("elapsed", [0.0, 3.0, 20.0])
def test_residual_stays_are_the_tail_beyond_the_elapsed_time(spec, elapsed):
    rng = np.random.default_rng(7)
    whole = ppf(spec, rng.random(1_000_000))
    beyond = whole[whole > elapsed]
    drawn = tail_ppf(spec, np.full(100_000, elapsed), rng.random(100_000))
    assert drawn.min() >= elapsed
    if isinstance(spec, Empirical):
        values = np.unique(drawn)
        expected = np.unique(np.array(spec.values_days)[np.array(spec.values_days) > elapsed])
        assert list(values) == list(expected) or (expected.size == 0 and list(values) == [elapsed])
        return
    assert stats.ks_2samp(beyond[:100_000], drawn).pvalue > 1e-3
    assert drawn.mean() == pytest.approx(beyond.mean(), rel=0.02)
    # Not a uniform guess: a long-stayer's residual stay is longer on average than a new patient's.
    if isinstance(spec, Lognormal) and elapsed >= 20:
        assert drawn.mean() - elapsed > whole.mean()


def test_a_stay_already_past_every_value_ends_now():
    assert tail_ppf(Fixed(dist="fixed", mean_days=5), np.array([3.0, 7.0]), np.array([0.5, 0.5])).tolist() == [5.0, 7.0]
    far = tail_ppf(Lognormal(dist="lognormal", mean_days=2, cv=0.3), np.array([5_000.0]), np.array([0.99]))
    assert np.isfinite(far).all() and far[0] >= 5_000.0


# --- placing the census --------------------------------------------------------------------------


def census_config(census: dict, **changes) -> object:
    raw = mini_raw()
    raw.update(warmup_days=0, horizon_days=60, initial_state=census, **changes)
    return config_from_dict(raw, "<census>")


def test_each_census_patient_is_where_the_census_says():
    census = {
        "acute": [
            {"group": "frail", "elapsed_days": 4.0},
            {"group": "frail", "elapsed_days": 9.0, "fit_elapsed_days": 2.5, "waiting_for": "rehab"},
            {"group": "elective", "elapsed_days": 1.0},
        ],
        "services": [
            {"service": "rehab", "elapsed_days": 5.0},
            {"service": "rehab", "elapsed_days": 20.0, "finished_elapsed_days": 1.0, "waiting_for": "care_package"},
        ],
        "boarding": [{"group": "other", "elapsed_days": 0.1}],
        "waiting_list": [{"priority": "routine", "elapsed_days": 100.0}, {"priority": "urgent", "elapsed_days": 3.0}],
    }
    cfg = census_config(census)
    rep = run_model(cfg, 3)
    co, rec = rep.cohort, rep.records
    census_rows = co.arrival_days < 0
    # 3 in acute beds, 2 in rehab, 1 boarding and the list's 2 (electives referred before day 0).
    assert int(census_rows.sum()) == 8
    states = final_states(rec)
    assert sum(states.values()) == len(co)
    # The acute ones: admitted before day 0 by their elapsed time, fit after it (the not-yet-fit).
    admitted_before = np.sort(-rec.admit_days[rec.admit_days < 0])
    assert admitted_before.tolist() == [1.0, 4.0, 9.0]
    first = np.flatnonzero(np.isclose(rec.admit_days, -4.0))[0]
    assert rec.fit_days[first] > 0 and rec.fit_days[first] - rec.admit_days[first] > 4.0
    fit = np.flatnonzero(np.isclose(rec.admit_days, -9.0))[0]
    assert rec.fit_days[fit] == -2.5 and co.service[fit] == list(cfg.services).index("rehab")
    # The service ones: visits from the census, one blocked since day -1 waiting for care_package.
    v = rec.visits
    from_census = v.origin == FROM_CENSUS
    assert sorted((-v.start_days[from_census]).tolist()) == [5.0, 20.0]
    blocked = from_census & (v.stay_end_days == -1.0)
    assert blocked.sum() == 1
    onward = (v.patient == v.patient[blocked][0]) & (v.depth == 1)
    assert v.referred_days[onward][0] == -1.0
    # The boarder arrived 0.1 days before day 0 and had a bed at once (beds free at day 0).
    boarder = np.flatnonzero(np.isclose(co.arrival_days, -0.1))[0]
    assert rec.outcome[boarder] == ADMITTED and rec.admit_days[boarder] == 0.0
    # The list: oldest first, priorities as given.
    listed = co.is_elective & (co.arrival_days <= -3.0)
    assert sorted(co.arrival_days[listed].tolist()) == [-100.0, -3.0]
    assert patient_table(rep).shape[0] == len(co)


def test_a_census_over_capacity_evicts_nobody():
    """2,400 patients in 2,250 beds (the default footprint): nobody leaves before their stay ends,
    and nobody is admitted until occupancy falls below the beds."""
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "footprint.yaml")
    rng = np.random.default_rng(1)
    groups = list(cfg.groups)
    census = {
        "acute": [{"group": str(rng.choice(groups)), "elapsed_days": float(e)} for e in rng.exponential(6, 2_400)]
    }
    data = config_to_dict(cfg)
    data.update(horizon_days=20, warmup_days=0, initial_state=census)
    data["acute"]["beds"] = 2250
    data["acute"].pop("escalation", None)
    data["demand"]["elective"].pop("initial_list", None)
    cfg = config_from_dict(data, "<2400>")
    rep = run_model(cfg, 5)
    rec = rep.records
    before = rec.admit_days < 0
    assert before.sum() == 2_400
    # Each left its bed only once medically fit (home at once, or later as a delayed transfer).
    left = before & ~np.isnan(rec.bed_leave_days)
    assert np.all(rec.bed_leave_days[left] >= rec.fit_days[left])
    # Occupancy path: admissions after day 0 happen only with a free bed.
    starts, ends = rec.admit_days[rec.admit_days >= 0], rec.bed_leave_days[~np.isnan(rec.bed_leave_days)]
    times = np.concatenate([ends, starts])
    delta = np.concatenate([-np.ones(ends.size), np.ones(starts.size)])
    order = np.lexsort((delta, times))
    level = 2_400 + np.cumsum(delta[order])
    admissions = delta[order] > 0
    assert np.all(level[admissions] <= 2_250)
    assert level[admissions].size > 0  # the hospital does admit again once below capacity


def test_the_census_draws_its_own_numbers():
    """Patients who arrive after day 0 are the same with and without a census (their streams are
    their own), and a census patient keeps its draws when a plan lever changes."""
    census = {"acute": [{"group": "frail", "elapsed_days": float(e)} for e in (1, 2, 3, 5, 8)]}
    with_census, without = census_config(census), census_config({})
    a, b = run_model(with_census, 11), run_model(without, 11)
    later_a = a.cohort.arrival_days >= 0
    assert np.array_equal(a.cohort.arrival_days[later_a], b.cohort.arrival_days)
    assert np.array_equal(a.cohort.group[later_a], b.cohort.group)
    more_beds = census_config(census, acute={"beds": 60, "max_wait_hours": 24})
    c = run_model(more_beds, 11)
    mask = a.cohort.arrival_days < 0
    assert np.array_equal(a.cohort.acute_los_days[mask], c.cohort.acute_los_days[c.cohort.arrival_days < 0])


# --- the steady state --------------------------------------------------------------------------

# KPI: the largest relative error the check must be able to see (the 99% CI of the difference of
# the two means must be narrower than this share of the mean). Queue-like KPIs vary much more
# between replications than occupancies do.
KPIS = {
    "mean_occupancy": 0.02,
    "mean_delayed_patients": 0.2,
    "rehab_mean_occupied": 0.03,
    "rehab_mean_blocked": 0.25,
    "care_package_p_wait": 0.3,
    "elective_waiting_list_mean": 0.4,
}


def test_a_start_from_the_models_own_census_gives_the_long_run_kpis():
    """Each replication: run with a long warm-up, take the census at its end from an independent
    run, start there with no warm-up, and measure the same year. The two sets of replications
    agree within the 99% CI of their difference on every KPI (which a 5% shift would fail)."""
    raw = mini_raw()
    # Four times the mini system: tighter intervals for the same number of runs.
    raw["acute"]["beds"] = 180
    raw["demand"]["emergency"]["per_day"] = 28
    raw["services"]["rehab"]["capacity"] = 70
    raw["services"]["rehab"]["assessment"] = {"dist": "lognormal", "mean_days": 1.5, "cv": 0.8}
    raw["services"]["care_package"]["capacity"] = 16
    raw["demand"]["elective"].update(
        per_weekday=5, referrals_per_week=20, bookable_after={"dist": "exponential", "mean_days": 20}
    )
    raw.update(warmup_days=200, horizon_days=200 + 365)
    base = config_from_dict(raw, "<warm-up>")
    reps = 30
    warm, started = {k: [] for k in KPIS}, {k: [] for k in KPIS}
    for i in range(reps):
        kp = kpis(base, run_with(base, 100 + i, LONG_RUN_ENGINE))
        census = census_at(base, run_with(base, 500 + i, LONG_RUN_ENGINE), 200.0)
        data = copy.deepcopy(raw)
        data.update(
            start_date=str(base.start_date + dt.timedelta(days=200)), warmup_days=0, horizon_days=365,
            initial_state=census,
        )  # fmt: skip
        cfg = config_from_dict(data, "<census>")
        kc = kpis(cfg, run_with(cfg, 900 + i, LONG_RUN_ENGINE))
        for k in KPIS:
            warm[k].append(kp[k])
            started[k].append(kc[k])
    for k in KPIS:
        a, b = np.array(warm[k]), np.array(started[k])
        se = np.sqrt(a.var(ddof=1) / reps + b.var(ddof=1) / reps)
        half = stats.t.ppf(0.995, 2 * reps - 2) * se
        assert abs(a.mean() - b.mean()) <= half, (k, a.mean(), b.mean(), half)
        assert half < KPIS[k] * abs(a.mean()), (k, f"too noisy to tell a {KPIS[k]:.0%} error", half, a.mean())


# --- census files ------------------------------------------------------------------------------

CSV = """place,group,elapsed_days,fit_elapsed_days,waiting_for,priority
acute,frail,4,,,
acute,frail,9,2.5,rehab,
rehab,,5,,,
rehab,,20,1,care_package,
boarding,other,0.1,,,
waiting_list,,100,,,routine
"""


def _write(tmp_path: Path, csv_text: str) -> Path:
    raw = mini_raw()
    raw.update(warmup_days=0, horizon_days=30, initial_state="census.csv")
    (tmp_path / "census.csv").write_text(csv_text)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_census_file_reads_as_the_inline_census(tmp_path):
    cfg = load_config(_write(tmp_path, CSV))
    state = cfg.initial_state
    assert [a.elapsed_days for a in state.acute] == [4.0, 9.0] and state.acute[1].waiting_for == "rehab"
    assert state.services[1].finished_elapsed_days == 1.0 and state.services[1].waiting_for == "care_package"
    assert state.boarding[0].group == "other" and state.waiting_list[0].priority == "routine"
    assert final_states(run_model(cfg, 1).records)["in an acute bed"] >= 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            CSV.replace("acute,frail,4", "acute,frial,4"),
            "initial_state.acute.0.group: no group 'frial' (did you mean 'frail'",
        ),
        (CSV.replace("9,2.5,rehab", "9,12.5,rehab"), "fit_elapsed_days: 12.5 is more than elapsed_days 9"),
        (CSV.replace("acute,frail,4,,,", "acute,frail,four,,,"), "row 1, column elapsed_days: 'four' is not a number"),
        (CSV.replace("rehab,,5", "rehabb,,5"), "initial_state.services.0.service: no service 'rehabb'"),
        (
            CSV.replace("boarding,other,0.1,,,", "boarding,other,0.1,,,urgent"),
            "row 5, column priority: not used for place 'boarding'",
        ),
        ("place,ward,elapsed_days\nacute,3,1\n", "column 'ward' is not a census column"),
        (CSV.replace("acute,frail,4,,,", "acute,frail,-4,,,"), "initial_state.acute.0.elapsed_days"),
    ],
)
def test_a_bad_census_is_one_line_naming_the_row_or_field(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    run = subprocess.run([sys.executable, "-m", "hospsim", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


# --- properties over generated systems with a census --------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_properties import SETTINGS, build, seeds, systems  # noqa: E402


@st.composite
def censuses(draw, raw: dict) -> dict:
    """A random census of a generated system: patients in acute beds (in their stay or fit and
    waiting), in services (in their stay or blocked), boarding and on the list."""
    groups = list(raw["groups"])
    cfg = build(raw)
    takers = [n for n, s in cfg.services.items() if s.service_kind.takes_transfers]
    elapsed = st.floats(0.0, 40.0)
    acute = []
    for _ in range(draw(st.integers(0, 40))):
        row = {"group": draw(st.sampled_from(groups)), "elapsed_days": draw(elapsed)}
        if takers and draw(st.booleans()):
            row["fit_elapsed_days"] = draw(st.floats(0.0, row["elapsed_days"]))
            row["waiting_for"] = draw(st.sampled_from(takers))
        acute.append(row)
    services = []
    for _ in range(draw(st.integers(0, 15)) if raw["services"] else 0):
        name = draw(st.sampled_from(list(raw["services"])))
        row = {"service": name, "elapsed_days": draw(elapsed)}
        others = [t for t in takers if t != name]
        if others and draw(st.booleans()):
            row["finished_elapsed_days"] = draw(st.floats(0.0, row["elapsed_days"]))
            row["waiting_for"] = draw(st.sampled_from(others))
        services.append(row)
    state: dict = {"acute": acute, "services": services}
    if raw["acute"]["when_full"] == "queue":
        state["boarding"] = [
            {"group": draw(st.sampled_from(groups)), "elapsed_days": draw(st.floats(0.0, 2.0))}
            for _ in range(draw(st.integers(0, 10)))
        ]
    el = raw["demand"].get("elective")
    if el is not None and "initial_list" not in el:
        priorities = list(el.get("priorities", {"routine": 1.0}))
        state["waiting_list"] = [
            {"priority": draw(st.sampled_from(priorities)), "elapsed_days": draw(st.floats(0.0, 200.0))}
            for _ in range(draw(st.integers(0, 20)))
        ]
    return state


@settings(max_examples=150, **SETTINGS)
@given(data=st.data(), seed=seeds)
def test_every_census_patient_is_accounted_for_and_nobody_jumps_the_queue(data, seed):
    """On generated systems (networks, electives, step-up...) with a generated census: each
    patient ends in exactly one state, every visit's times are in order, census patients leave an
    acute bed only once medically fit, nobody is admitted into a full hospital after day 0, each
    service takes its ready patients first come first served across census and new patients, and
    the census draws nothing from the streams of those who arrive later."""
    raw = data.draw(systems(plans=None))
    raw["initial_state"] = data.draw(censuses(raw))
    cfg = build(raw)
    rep = run_model(cfg, seed)
    co, rec, v = rep.cohort, rep.records, rep.records.visits
    assert sum(final_states(rec).values()) == len(co)  # each patient in exactly one state
    census_acute = (rec.admit_days < 0) & (rec.outcome == ADMITTED)
    assert int(census_acute.sum()) == len(cfg.initial_state.acute)
    left = census_acute & ~np.isnan(rec.bed_leave_days)
    assert np.all(rec.bed_leave_days[left] >= np.maximum(rec.fit_days[left], 0.0))
    # Visit times in order (NaN only once a time had not come by the horizon).
    times = np.column_stack([v.referred_days, v.ready_days, v.start_days, v.stay_end_days, v.leave_days])
    filled = np.where(np.isnan(times), np.inf, times)
    assert np.all(filled[:, 1:] >= filled[:, :-1])
    # After day 0 nobody is admitted while the beds in force are all taken.
    admits = rec.admit_days[(rec.outcome == ADMITTED) & (rec.admit_days >= 0)]
    leaves = rec.bed_leave_days[~np.isnan(rec.bed_leave_days) & (rec.bed_leave_days >= 0)]
    t = np.concatenate([leaves, admits])
    delta = np.concatenate([-np.ones(leaves.size), np.ones(admits.size)])
    order = np.lexsort((delta, t))
    level = int(census_acute.sum()) + np.cumsum(delta[order])
    beds = rep.capacity.total_beds[np.minimum(t[order].astype(np.int64), cfg.horizon_days - 1)]
    assert np.all(level[delta[order] > 0] <= beds[delta[order] > 0])
    # Each service takes ready patients in the order they became ready.
    for si, name in enumerate(co.service_names):
        ref = np.flatnonzero((v.service == si) & ~np.isnan(v.ready_days) & (v.origin != FROM_CENSUS))
        if name == cfg.step_up_service or not ref.size:
            continue
        start = np.where(np.isnan(v.start_days[ref]), np.inf, v.start_days[ref])
        by_ready = start[np.lexsort((start, v.ready_days[ref]))]
        assert np.all(by_ready[1:] >= by_ready[:-1]), f"{name} not taken in order of readiness"
    without = build({k: val for k, val in raw.items() if k != "initial_state"})
    other = run_model(without, seed)
    later = co.arrival_days >= 0
    assert np.array_equal(co.arrival_days[later], other.cohort.arrival_days[other.cohort.arrival_days >= 0])
