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
