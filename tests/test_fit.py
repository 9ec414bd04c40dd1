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
