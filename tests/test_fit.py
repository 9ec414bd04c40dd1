"""`hospsim fit`: LOS candidates chosen by AIC under censoring, the emergency rate, the assembled
config, the fit report and the command; and the round trip synth -> fit against the known config."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from hospsim.analysis.fit import config_name, fit_config
from hospsim.analysis.fitting.demand import fit_emergency_rate
from hospsim.analysis.fitting.los import EMPIRICAL_POINTS, fit_los, kaplan_meier
from hospsim.config import config_from_dict
from hospsim.model.demand import emergency_arrivals

MINUTE = 1 / 1440


@dataclass(frozen=True)
class _Extract:
    """What fit_config reads of an Extract, for hand-made episode tables."""

    episodes: pd.DataFrame
    start_date: dt.date
    end_date: dt.date
    path: str = "/data/Test Extract.csv"
    defaults_used: tuple[str, ...] = field(default=())


def _lognormal(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
    s2 = math.log1p(cv**2)
    return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), n)


def _gamma(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
    return rng.gamma(1 / cv**2, mean * cv**2, n)


# --- LOS candidates ----------------------------------------------------------------------------


@pytest.mark.parametrize(("dist", "draw"), [("lognormal", _lognormal), ("gamma", _gamma)])
def test_aic_picks_the_family_the_stays_come_from(dist, draw):
    rng = np.random.default_rng(11)
    stays = draw(rng, 6.0, 0.9, 20_000)
    fit = fit_los("x", stays, np.zeros(stays.size, bool), MINUTE)
    assert fit.chosen == dist
    aics = {c.dist: c.aic for c in fit.candidates}
    assert min(aics, key=aics.__getitem__) == dist
    # The other families are far worse, not a coin toss.
    assert sorted(aics.values())[1] - aics[dist] > 100
    assert fit.spec["dist"] == dist
    assert fit.spec["mean_days"] == pytest.approx(6.0, rel=0.02)
    assert fit.spec["cv"] == pytest.approx(0.9, rel=0.03)


def test_censored_stays_do_not_bias_the_mean():
    """Admissions over 25 days, stays of mean 10 days: a third still in hospital at the end. The
    completed stays alone say ~6 days; the censored likelihood recovers 10."""
    rng = np.random.default_rng(5)
    n = 20_000
    admitted = rng.uniform(0, 25, n)
    stays = _lognormal(rng, 10.0, 1.0, n)
    censored = admitted + stays > 25
    seen = np.where(censored, 25 - admitted, stays)
    assert censored.mean() > 0.3
    assert seen[~censored].mean() < 7.0  # what ignoring censoring would give
    fit = fit_los("x", seen, censored, MINUTE)
    assert fit.n_censored == censored.sum()
    assert fit.chosen == "lognormal"
    assert fit.spec["mean_days"] == pytest.approx(10.0, rel=0.03)
    assert fit.spec["cv"] == pytest.approx(1.0, rel=0.05)
    for c in fit.candidates:  # every candidate is fitted with the censoring, not just the chosen one
        assert c.mean_days > 9.0


def test_empirical_when_the_best_candidate_fails_ks():
    """Two clear modes (same-day and ~2 weeks): no one-hump family fits; the empirical quantiles do."""
    rng = np.random.default_rng(2)
    stays = np.concatenate([_gamma(rng, 0.3, 0.3, 5_000), _gamma(rng, 14.0, 0.2, 5_000)])
    fit = fit_los("x", stays, np.zeros(stays.size, bool), MINUTE)
    assert fit.chosen == "empirical"
    assert "fails KS" in fit.reason
    values = np.asarray(fit.spec["values_days"])
    assert values.size == EMPIRICAL_POINTS
    assert np.all(np.diff(values) >= 0)
    assert values.mean() == pytest.approx(stays.mean(), rel=0.02)
    assert np.quantile(values, 0.25) < 1.0 < 10.0 < np.quantile(values, 0.75)  # both modes kept


def test_few_stays_get_an_exponential_and_zero_stays_half_the_resolution():
    fit = fit_los("x", np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4, bool), 1.0)
    assert fit.chosen == "exponential"
    assert fit.spec == {"dist": "exponential", "mean_days": pytest.approx((0.5 + 1 + 2 + 3) / 4)}
    assert "only 4 ended stays" in fit.reason


def test_kaplan_meier_is_the_ecdf_without_censoring_and_drops_with_it():
    t, cdf = kaplan_meier(np.array([3.0, 1.0, 2.0, 2.0]), np.zeros(4, bool))
    assert t.tolist() == [1.0, 2.0, 2.0, 3.0]
    assert cdf.tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    # Censored at 1.5: the three at risk after it share the remaining mass.
    t, cdf = kaplan_meier(np.array([1.0, 1.5, 2.0, 3.0]), np.array([False, True, False, False]))
    assert cdf.tolist() == pytest.approx([0.25, 0.25, 0.625, 1.0])


# --- emergency demand --------------------------------------------------------------------------


def _demand_config(growth: float = 0.03):
    return config_from_dict(
        {
            "name": "d",
            "start_date": dt.date(2021, 4, 1),
            "horizon_days": 800,
            "acute": {"beds": 100},
            "demand": {
                "emergency": {
                    "per_day": 150,
                    "growth_per_year": growth,
                    "weekday_factors": [1.10, 1.02, 1.00, 0.99, 1.00, 0.93, 0.96],
                    "hourly_factors": [0.5] * 8 + [1.5] * 12 + [0.75] * 4,
                    "winter": {"amplitude": 0.08, "peak_day_of_year": 20},
                }
            },
            "groups": {"all": {"share": 1, "los": {"dist": "exponential", "mean_days": 1}}},
        }
    )


def _arrivals(cfg, n_days: int, seed: int) -> np.ndarray:
    em = cfg.demand.emergency
    cand = emergency_arrivals(em, cfg.start_date, n_days, np.random.default_rng(seed))
    day = np.floor(cand.time_days).astype(np.int64)
    return cand.time_days[cand.u_accept < em.growth_factors(n_days)[day] / em.headroom]


def test_the_rate_fit_recovers_the_models_own_demand():
    cfg = _demand_config()
    fit = fit_emergency_rate(_arrivals(cfg, 730, 1), cfg.start_date, 730, hours_known=True)
    assert fit.per_day == pytest.approx(150, rel=0.02)
    assert fit.per_day_ci[0] < 150 < fit.per_day_ci[1]
    assert fit.per_day_ci[1] / fit.per_day_ci[0] < 1.04  # two years pin it to about +-1.3%
    assert fit.growth_ci[0] < 0.03 < fit.growth_ci[1]
    assert fit.winter_amplitude == pytest.approx(0.08, abs=0.015)
    assert abs(fit.winter_peak_day - 20) <= 12
    weekday = np.array([1.10, 1.02, 1.00, 0.99, 1.00, 0.93, 0.96])
    assert np.array(fit.weekday_factors) == pytest.approx(weekday / weekday.mean(), abs=0.025)
    assert np.mean(fit.weekday_factors) == pytest.approx(1.0)
    hourly = np.array([0.5] * 8 + [1.5] * 12 + [0.75] * 4)
    assert np.array(fit.hourly_factors) == pytest.approx(hourly / hourly.mean(), abs=0.05)
    assert fit.expected.sum() == pytest.approx(fit.counts.sum())  # a Poisson fit with an intercept keeps the total


def test_a_flat_rate_is_not_given_a_season_or_a_trend():
    cfg = _demand_config(growth=0.0)
    flat = cfg.model_copy(
        update={
            "demand": cfg.demand.model_copy(
                update={"emergency": cfg.demand.emergency.model_copy(update={"winter": None})}
            )
        }
    )
    fit = fit_emergency_rate(_arrivals(flat, 730, 2), cfg.start_date, 730, hours_known=True)
    assert fit.winter_amplitude < 0.02
    assert abs(fit.growth_per_year) < 0.02


def test_less_than_a_year_fits_no_trend_or_winter():
    cfg = _demand_config()
    fit = fit_emergency_rate(_arrivals(cfg, 200, 3), cfg.start_date, 200, hours_known=False)
    assert not fit.seasonal and fit.winter_amplitude is None and fit.growth_per_year == 0.0
    assert fit.hourly_factors == (1.0,) * 24


# --- the config from a hand-made extract -------------------------------------------------------

START = dt.date(2022, 1, 3)


def _handmade(n_days: int = 400, fit_column: bool = True, service_times: bool = True, seed: int = 0) -> _Extract:
    """Emergencies (two groups) and electives; frail patients go home or to rehab after a delay."""
    rng = np.random.default_rng(seed)
    n = 40 * n_days
    admitted = np.sort(rng.uniform(0, n_days, n))
    elective = rng.random(n) < 0.1
    group = np.where(rng.random(n) < 0.3, "frail", "adult")
    stay = np.where(group == "frail", _gamma(rng, 9.0, 0.8, n), _lognormal(rng, 3.0, 1.2, n))
    to_rehab = (group == "frail") & (rng.random(n) < 0.25)
    fit = admitted + stay
    discharged = fit + np.where(to_rehab, _lognormal(rng, 2.5, 0.8, n), 0.0)
    service_start = np.where(to_rehab, discharged, np.nan)
    service_end = service_start + _lognormal(rng, 25.0, 0.6, n)

    def stamp(days: np.ndarray) -> pd.Series:
        days = np.where(days < n_days, days, np.nan)  # after the extract's end: still there
        return pd.Series(pd.Timestamp(START) + pd.to_timedelta(days, unit="D")).dt.round("min")

    table = {
        "admission_datetime": stamp(admitted),
        "admission_method": np.where(elective, "elective", "emergency"),
        "group": group,
        "discharge_datetime": stamp(discharged),
        "discharge_pathway": np.where(to_rehab, "rehab_bed", "home"),
    }
    if fit_column:
        table["medically_fit_datetime"] = stamp(fit)
    if service_times:
        table["service_start_datetime"] = stamp(service_start)
        table["service_end_datetime"] = stamp(service_end)
    missing = tuple(c for c in ("medically_fit_datetime", "service_start_datetime") if c not in table)
    return _Extract(pd.DataFrame(table), START, START + dt.timedelta(days=n_days), defaults_used=missing)


def test_fit_config_writes_a_config_the_model_accepts():
    config, report = fit_config(_handmade())
    cfg = config_from_dict(config)
    assert cfg.name == "test_extract" and cfg.start_date == START and cfg.seed == 20220103
    assert (cfg.horizon_days, cfg.warmup_days) == (365, 180)
    assert cfg.groups["frail"].share == pytest.approx(0.3, abs=0.01)
    assert cfg.groups["frail"].los.dist == "gamma"
    assert cfg.groups["frail"].los.mean_days == pytest.approx(9.0, rel=0.03)
    assert cfg.groups["adult"].los.dist == "lognormal"
    assert cfg.groups["adult"].los.mean_days == pytest.approx(3.0, rel=0.03)
    # ~4,300 frail emergencies: a share's standard error is ~0.0066, so 3 of them.
    assert cfg.groups["frail"].pathways == {
        "home": pytest.approx(0.75, abs=0.02),
        "rehab_bed": pytest.approx(0.25, abs=0.02),
    }
    assert cfg.groups["adult"].pathways == {"home": 1.0}
    rehab = cfg.services["rehab_bed"]
    assert rehab.los.mean_days == pytest.approx(25.0, rel=0.03)
    assert rehab.assessment is not None and rehab.assessment.mean_days == pytest.approx(2.5, rel=0.05)
    # Capacity: the most in rehab at once (~0.3 x 0.25 x 36 a day x 25 days ~ 68 on average).
    assert 68 < rehab.places.daily(1)[0] < 110
    em = cfg.demand.emergency
    assert em.per_day == pytest.approx(36, rel=0.03)
    assert cfg.demand.elective is not None
    assert cfg.demand.elective.referrals_per_week == pytest.approx(4 * 7, rel=0.05)
    assert cfg.demand.elective.per_weekday.daily(1)[0] == math.ceil(
        report.los_fits[-1].n / 286
    )  # 286 weekdays in 400 days
    # Beds: the 99th percentile of the daily peak, said once.
    assert report.beds == math.ceil(np.percentile(report.daily_max_occupancy, 99))
    assert [n for n in report.notes if n.startswith("acute.beds")] == [
        f"acute.beds {report.beds}: the 99th percentile of the daily maximum occupancy (--beds to set it)"
    ]


def test_missing_columns_take_the_documented_defaults_and_say_so():
    config, report = fit_config(_handmade(fit_column=False, service_times=False), beds=120, horizon_days=400)
    cfg = config_from_dict(config)
    assert cfg.acute.beds.daily(1)[0] == 120 and cfg.horizon_days == 400
    rehab = cfg.services["rehab_bed"]
    assert rehab.unlimited and rehab.los.mean_days == 21.0 and rehab.assessment is None
    # Without a fit time the stay runs to discharge: the frail group's LOS includes the delays.
    assert cfg.groups["frail"].los.mean_days > 9.3
    assert report.notes == (
        "no medically_fit_datetime column: fit at discharge, so LOS runs to discharge and there are no delays",
        "no service_start_datetime column: services get default LOS and unlimited capacity",
        "electives: per_weekday = elective admissions per Monday-Friday rounded up, referrals_per_week = "
        "the admissions' weekly rate (the extract holds no referrals)",
        "services.rehab_bed: no service start times: los dist lognormal, mean_days 21.0, cv 0.8 (assumed) and "
        "capacity unlimited (the whole wait is in the assessment)",
        "services.rehab_bed: no delay between medically fit and discharge: no assessment",
    )


def test_a_short_extract_says_it_fits_no_season():
    config, report = fit_config(_handmade(n_days=120))
    assert "winter" not in config["demand"]["emergency"]
    assert config["demand"]["emergency"]["growth_per_year"] == 0.0
    assert "extract shorter than a year: no trend (growth_per_year 0) and no winter seasonality fitted" in report.notes
    config_from_dict(config)


def test_config_name_from_the_file():
    assert config_name("/x/My Extract (2024).csv") == "my_extract_2024"
    assert config_name("/x/---.parquet") == "fitted"


# --- round trip: synth from a known config -> fit -> the known parameters ----------------------

ROUND_TRIP = {
    "name": "round_trip",
    "start_date": dt.date(2020, 4, 1),
    "horizon_days": 400,
    "warmup_days": 90,
    "seed": 7,
    "acute": {"beds": 2500},  # ample: emergencies are admitted as they arrive
    "demand": {
        "emergency": {
            "per_day": 150,
            "growth_per_year": 0.03,
            "weekday_factors": [1.10, 1.02, 1.00, 0.99, 1.00, 0.93, 0.96],
            "hourly_factors": [
                0.45,
                0.4,
                0.35,
                0.3,
                0.3,
                0.35,
                0.5,
                0.8,
                1.2,
                1.5,
                1.6,
                1.6,
                1.55,
                1.5,
                1.45,
                1.4,
                1.4,
                1.35,
                1.3,
                1.2,
                1.05,
                0.9,
                0.75,
                0.6,
            ],
            "winter": {"amplitude": 0.08, "peak_day_of_year": 20},
        },
        "elective": {
            "per_weekday": 65,
            "referrals_per_week": 300,  # ~31,000 in two years: the rate's SE ~0.6%
            "los": {"dist": "lognormal", "mean_days": 3.0, "cv": 1.0},
            "pathways": {"home": 0.95, "rehab_bed": 0.05},
        },
    },
    "groups": {
        "short_stay": {"share": 0.45, "los": {"dist": "lognormal", "mean_days": 0.6, "cv": 1.0}},
        "frail_older": {
            "share": 0.55,
            "los": {"dist": "gamma", "mean_days": 8.0, "cv": 0.8},
            "pathways": {"home": 0.6, "rehab_bed": 0.2, "home_support": 0.2},
        },
    },
    "services": {  # ample places: the delay from fit to discharge is the assessment alone
        "rehab_bed": {
            "capacity": 900,
            "los": {"dist": "lognormal", "mean_days": 30, "cv": 0.6},
            "assessment": {"dist": "lognormal", "mean_days": 2.0, "cv": 0.8},
        },
        "home_support": {
            "capacity": 400,
            "los": {"dist": "gamma", "mean_days": 14, "cv": 0.7},
            "assessment": {"dist": "gamma", "mean_days": 3.0, "cv": 0.8},
        },
    },
}
# The brief's tolerances at 2 years of data; the sampling error is well inside each (150 a day: the
# rate's SE ~0.6%, ~0.65% with trend and winter; referrals ~0.6%; the noisiest LOS mean, home
# support's assessment, ~12,000 with cv 0.8: SE ~0.75%; shares' SE <= 0.003): each tolerance is
# about 3 SE or more (seeds 1-6 and 11: the worst error was 63% of its tolerance).
RATE_REL, LOS_REL, SHARE_ABS = 0.02, 0.03, 0.01


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    from hospsim.config.extract import read_extract
    from hospsim.runs.synth import synth_extract, write_extract

    truth = config_from_dict(ROUND_TRIP)
    path = tmp_path_factory.mktemp("rt") / "synthetic.parquet"
    write_extract(synth_extract(truth, 2, seed=11), path)
    extract = read_extract(path)
    config, report = fit_config(extract)
    return truth, config_from_dict(config), report, path


def round_trip_errors(truth, fitted) -> list[tuple[str, float, float, float, float]]:
    """(parameter, true, fitted, error, tolerance) of every parameter the round trip checks; the
    errors are relative for rates and LOS means, absolute for shares."""
    em, fem = truth.demand.emergency, fitted.demand.emergency
    # The extract starts after the warm-up: the rate there has grown for warmup_days.
    per_day = em.per_day * (1 + em.growth_per_year) ** (truth.warmup_days / 365.25)
    rows = [("demand.emergency.per_day", per_day, fem.per_day, "rel", RATE_REL)]
    el, fel = truth.demand.elective, fitted.demand.elective
    rows.append(("demand.elective.referrals_per_week", el.referrals_per_week, fel.referrals_per_week, "rel", RATE_REL))
    rows.append(("demand.elective.los.mean_days", el.los.mean_days, fel.los.mean_days, "rel", LOS_REL))
    rows += [
        (f"demand.elective.pathways.{p}", s, fel.pathways.get(p, 0.0), "abs", SHARE_ABS) for p, s in el.pathways.items()
    ]
    for name, g in truth.groups.items():
        fg = fitted.groups[name]
        rows.append((f"groups.{name}.share", g.share, fg.share, "abs", SHARE_ABS))
        rows.append((f"groups.{name}.los.mean_days", g.los.mean_days, fg.los.mean_days, "rel", LOS_REL))
        rows += [
            (f"groups.{name}.pathways.{p}", s, fg.pathways.get(p, 0.0), "abs", SHARE_ABS) for p, s in g.pathways.items()
        ]
    for name, s in truth.services.items():
        fs = fitted.services[name]
        rows.append((f"services.{name}.los.mean_days", s.los.mean_days, fs.los.mean_days, "rel", LOS_REL))
        rows.append(
            (f"services.{name}.assessment.mean_days", s.assessment.mean_days, fs.assessment.mean_days, "rel", LOS_REL)
        )
    return [(n, t, f, (f - t) / t if kind == "rel" else f - t, tol) for n, t, f, kind, tol in rows]


def test_round_trip_recovers_the_known_config(round_trip):
    truth, fitted, report, _ = round_trip
    errors = round_trip_errors(truth, fitted)
    assert len(errors) == 17
    failed = [(n, t, f) for n, t, f, err, tol in errors if abs(err) > tol]
    assert failed == []
    # Beyond the tolerances: the 95% CI of the rate holds the truth, and the families are right.
    assert report.emergency.per_day_ci[0] < errors[0][1] < report.emergency.per_day_ci[1]
    chosen = {f.what: f.chosen for f in report.los_fits}
    assert chosen["groups.frail_older.los"] == "gamma" and chosen["groups.short_stay.los"] == "lognormal"
    assert chosen["services.rehab_bed.los"] == "lognormal" and chosen["services.home_support.los"] == "gamma"
    assert fitted.groups["frail_older"].los.cv == pytest.approx(0.8, rel=0.03)
    em = fitted.demand.emergency
    assert em.winter.amplitude == pytest.approx(0.08, abs=0.015) and abs(em.winter.peak_day_of_year - 20) <= 10
    assert em.growth_per_year == pytest.approx(0.03, abs=0.02)
    # Capacity is the most seen at once: below the (ample) true places, above the mean use.
    assert 500 < fitted.services["rehab_bed"].places.daily(1)[0] < 900


def test_the_round_trip_check_fails_a_config_off_by_more_than_sampling_error(round_trip):
    """The checks can fail: a fitted config 3% off in the rate, 5% in a LOS, 0.02 in a share."""
    truth, fitted, _, _ = round_trip
    off = fitted.with_overrides(
        {
            "demand.emergency.per_day": fitted.demand.emergency.per_day * 1.03,
            "groups.frail_older.los.mean_days": fitted.groups["frail_older"].los.mean_days * 1.05,
            "groups.frail_older.share": fitted.groups["frail_older"].share + 0.02,
            "groups.short_stay.share": fitted.groups["short_stay"].share - 0.02,
        }
    )
    failed = {n for n, _, _, err, tol in round_trip_errors(truth, off) if abs(err) > tol}
    assert failed == {
        "demand.emergency.per_day",
        "groups.frail_older.los.mean_days",
        "groups.frail_older.share",
        "groups.short_stay.share",
    }


# --- the command -------------------------------------------------------------------------------


def _fit(argv, capsys):
    from hospsim.cli import main

    code = main(["fit", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_command_writes_the_config_and_the_report_and_the_config_runs(round_trip, tmp_path, capsys):
    from hospsim.cli import main
    from hospsim.config import load_config

    _, _, _, extract = round_trip
    out = tmp_path / "mine" / "fitted.yaml"
    code, stdout, stderr = _fit([extract, "--out", out], capsys)
    assert code == 0, stderr
    text = out.read_text()
    assert text.startswith(f"# Fitted by `hospsim fit` from {extract} at ")
    assert "# - groups.frail_older.los: gamma (lowest AIC; KS p = " in text
    assert load_config(out).demand.emergency.per_day == pytest.approx(150.8, rel=0.01)
    # Each choice said once on stderr, as the header says it.
    lines = stderr.splitlines()
    assert len(lines) == len(set(lines)) == 2
    assert lines[1].startswith("hospsim fit: acute.beds ") and lines[1].endswith("(--beds to set it)")
    assert f"wrote {out}" in stdout
    report = tmp_path / "mine" / "fitted_fit"
    names = {p.name for p in report.iterdir()}
    assert {"fit_report.html", "fit_table.csv", "emergency_rate.png", "los_groups_frail_older_los.png"} <= names
    table = pd.read_csv(report / "fit_table.csv")
    frail = table[table["item"] == "groups.frail_older.los"].set_index("candidate")
    assert set(frail.index) == {"exponential", "lognormal", "gamma"} and frail["chosen"].tolist().count(True) == 1
    assert frail.loc["gamma", "delta_aic"] == 0 and frail.loc["gamma", "chosen"]
    assert "groups.frail_older.los" in (report / "fit_report.html").read_text()
    # The fitted config runs: a few days past its warm-up.
    results = tmp_path / "run"
    argv = [
        "run",
        str(out),
        "-r",
        "1",
        "--workers",
        "1",
        "--no-progress",
        "--set",
        "horizon_days=190",
        "--out",
        str(results),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    summary = pd.read_csv(results / "summary.csv").set_index("kpi")["mean"]
    assert 10 * 130 < summary["emergency_arrivals"] < 10 * 175  # ten measured days of ~150 a day


def test_fit_command_never_overwrites_without_force(round_trip, tmp_path, capsys):
    _, _, _, extract = round_trip
    out = tmp_path / "c.yaml"
    out.write_text("mine\n")
    code, _, stderr = _fit([extract, "--out", out, "--beds", 700], capsys)
    assert code == 2 and out.read_text() == "mine\n"
    assert stderr == f"hospsim: error: {out}: already exists; hospsim fit overwrites nothing without --force\n"
    assert not (tmp_path / "c_fit").exists()
    code, _, stderr = _fit([extract, "--out", out, "--beds", 700, "--force", "--report", tmp_path / "r"], capsys)
    assert code == 0
    assert load_beds(out) == 700 and "acute.beds" not in stderr  # --beds given: no default to say
    assert (tmp_path / "r" / "fit_report.html").exists()


def load_beds(path) -> int:
    from hospsim.config import load_config

    return int(load_config(path).acute.beds.daily(1)[0])


def test_fit_command_period_and_horizon(round_trip, tmp_path, capsys):
    _, _, _, extract = round_trip
    out = tmp_path / "half.yaml"
    argv = [extract, "--out", out, "--from", "2021-01-01", "--to", "2021-05-01", "--horizon-days", 400]
    code, _, stderr = _fit(argv, capsys)
    assert code == 0, stderr
    from hospsim.config import load_config

    cfg = load_config(out)
    assert (cfg.start_date, cfg.horizon_days, cfg.warmup_days) == (dt.date(2021, 1, 1), 400, 180)
    assert (
        "hospsim fit: extract shorter than a year: no trend (growth_per_year 0) and no winter seasonality fitted"
        in stderr
    )
    assert cfg.demand.emergency.winter is None


HEADER = "episode_id,admission_datetime,admission_method,discharge_datetime\n"
FIRST = "A1,2024-01-01 10:00,emergency,2024-01-02 10:00\n"


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("A2,2024-13-03 10:00,emergency,2024-01-04 09:00\n", "admission_datetime"),
        ("A2,2024-01-03 10:00,emergency,2024-01-02 09:00\n", "discharge_datetime"),
        ("A2,2024-01-03 10:00,urgent,2024-01-04 09:00\n", "admission_method"),
    ],
)
def test_a_bad_extract_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, row, column):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + FIRST + row)
    out = tmp_path / "out" / "c.yaml"
    code, stdout, stderr = _fit([bad, "--out", out], capsys)
    assert code == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert stderr.startswith(f"hospsim: error: {bad}: column {column}, row 2 (episode_id A2): ")
    assert not (tmp_path / "out").exists()


def test_missing_optional_columns_are_said_once(tmp_path, capsys):
    rows = ["admission_datetime,admission_method,discharge_datetime"]
    rng = np.random.default_rng(4)
    for _ in range(400):
        admitted = pd.Timestamp("2024-01-01") + pd.Timedelta(days=float(rng.uniform(0, 60)))
        left = admitted + pd.Timedelta(days=float(rng.exponential(3)))
        rows.append(f"{admitted:%Y-%m-%d %H:%M},emergency,{left:%Y-%m-%d %H:%M}")
    path = tmp_path / "few columns.csv"
    path.write_text("\n".join(rows) + "\n")
    code, _, stderr = _fit([path, "--out", tmp_path / "c.yaml", "--beds", 50], capsys)
    assert code == 0, stderr
    lines = stderr.splitlines()
    assert len(lines) == len(set(lines))
    assert "hospsim fit: no group column: one group `all`" in lines
    assert "hospsim fit: no discharge_pathway column: everyone goes home, no services" in lines
    assert "hospsim fit: no elective admissions in the extract: no demand.elective section" in lines
    from hospsim.config import load_config

    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.name == "few_columns" and list(cfg.groups) == ["all"] and cfg.services == {}


def test_dates_only_extract_counts_same_day_stays_as_half_a_day():
    extract = _handmade(n_days=400)
    episodes = extract.episodes.copy()
    for column in [c for c in episodes if c.endswith("_datetime")]:
        episodes[column] = episodes[column].dt.floor("D")
    config, report = fit_config(_Extract(episodes, extract.start_date, extract.end_date))
    cfg = config_from_dict(config)
    assert "admission times are dates only: hourly_factors flat (all 1)" in report.notes
    assert cfg.demand.emergency.hourly_factors == [1.0] * 24
    adult = next(f for f in report.los_fits if f.what == "groups.adult.los")
    assert adult.durations_days.min() == 0.5  # same-day stays: half the day the dates resolve
    assert np.all(adult.durations_days % 1.0 == np.where(adult.durations_days == 0.5, 0.5, 0.0))
    # Whole days blur a 3-day lognormal: the mean is still about right (+/- the rounding).
    assert cfg.groups["adult"].los.mean_days == pytest.approx(3.0, abs=0.25)


def test_a_few_days_of_data_still_make_a_valid_config():
    config, report = fit_config(_handmade(n_days=10))
    cfg = config_from_dict(config)
    assert cfg.demand.emergency.weekday_factors == [1.0] * 7
    assert "extract shorter than four weeks: weekday_factors flat (all 1)" in report.notes
    assert cfg.demand.emergency.per_day == pytest.approx(36, rel=0.1)


def test_implausible_fits_are_held_and_said():
    """Two years whose second has three times the admissions: growth held at 1 (doubling)."""
    rng = np.random.default_rng(8)
    admitted = np.concatenate([rng.uniform(0, 365, 3_000), rng.uniform(365, 730, 12_000)])
    stamps = pd.Series(pd.Timestamp(START) + pd.to_timedelta(np.sort(admitted), unit="D"))
    episodes = pd.DataFrame(
        {
            "admission_datetime": stamps,
            "admission_method": "emergency",
            "discharge_datetime": stamps + pd.to_timedelta(rng.exponential(2, admitted.size), unit="D"),
        }
    )
    extract = _Extract(episodes, START, START + dt.timedelta(days=731))
    config, report = fit_config(extract, beds=10)
    assert config["demand"]["emergency"]["growth_per_year"] == 1.0
    assert any(
        n.startswith("demand.emergency.growth_per_year: fitted ") and n.endswith("held at 1") for n in report.notes
    )
    assert config_from_dict(config).demand.emergency.headroom == 2.0  # doubling in a year: candidates to spare


def test_an_unwritable_report_folder_writes_no_config(round_trip, tmp_path, capsys):
    _, _, _, extract = round_trip
    (tmp_path / "taken").write_text("a file where the report folder would go\n")
    out = tmp_path / "c.yaml"
    code, _, stderr = _fit([extract, "--out", out, "--beds", 900, "--report", tmp_path / "taken"], capsys)
    assert code == 2 and not out.exists()
    assert stderr.splitlines()[-1].startswith(f"hospsim: error: {tmp_path / 'taken'}: cannot write (")


def test_fit_table_holds_every_estimate_and_candidate(round_trip):
    from hospsim.outputs.fit_report import fit_table

    _, fitted, report, _ = round_trip
    table = fit_table(report)
    per_day = table[table["item"] == "demand.emergency.per_day"].iloc[0]
    assert per_day["estimate"] == report.emergency.per_day
    assert per_day["ci_low"] < per_day["estimate"] < per_day["ci_high"]
    weekday = table[table["item"].str.startswith("demand.emergency.weekday_factors.")]
    assert weekday["estimate"].mean() == pytest.approx(1.0) and len(weekday) == 7
    assert len(table[table["item"].str.startswith("demand.emergency.hourly_factors.")]) == 24
    shares = table[table["item"].str.match(r"groups\.\w+\.share$")]["estimate"]
    assert shares.sum() == pytest.approx(1.0)
    # Three candidates per LOS, one chosen, AIC differences from the best.
    los = table[table["candidate"].notna()]
    assert len(los) == 3 * len(report.los_fits)
    assert (los.groupby("item")["chosen"].sum() == 1).all()
    assert (los.groupby("item")["delta_aic"].min() == 0).all()
    rehab = los[(los["item"] == "services.rehab_bed.los") & (los["candidate"] == "lognormal")].iloc[0]
    assert rehab["mean_days"] == pytest.approx(fitted.services["rehab_bed"].los.mean_days, rel=1e-4)


def test_an_extract_of_electives_only_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "electives.csv"
    path.write_text(
        "admission_datetime,admission_method,discharge_datetime\n2024-01-01 10:00,elective,2024-01-03 10:00\n"
    )
    code, _, stderr = _fit([path, "--out", tmp_path / "c.yaml"], capsys)
    assert code == 2 and not (tmp_path / "c.yaml").exists() and not (tmp_path / "c_fit").exists()
    assert (
        stderr == f"hospsim: error: {path}: column admission_method: no emergency admissions (every row is elective)\n"
    )


def test_stays_without_spread_are_empirical_and_drawn(tmp_path):
    """Dates only and every stay the same day or the next: no family has two parameters to fit."""
    from hospsim.outputs.fit_report import _los_rows, los_figure

    stays = np.r_[np.zeros(60), np.ones(40)]
    fit = fit_los("groups.x.los", stays, np.zeros(stays.size, bool), 1.0)
    assert (fit.chosen, fit.candidates) == ("empirical", ())
    assert fit.reason == "fewer than 3 distinct ended stays: empirical"
    values = fit.spec["values_days"]
    assert values.count(0.5) == 120 and values.count(1.0) == 80  # 60% same-day (half a day), 40% one day
    (row,) = _los_rows(fit)
    assert row["candidate"] == "empirical" and row["mean_days"] == pytest.approx(0.7) and row["chosen"]
    los_figure(fit)  # draws the data alone
