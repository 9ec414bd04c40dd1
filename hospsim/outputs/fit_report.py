"""The report of ``hospsim fit``: each fitted LOS against its data, the emergency rate against the
daily admissions, the weekday and hourly factors, one table of every estimate and candidate
(``fit_table.csv``) and a page that shows them all (``fit_report.html``); and the fitted config's
YAML text with a header saying where it came from."""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from ..analysis.fit import FitReport
from ..analysis.fitting.los import LosFit, frozen_dist, kaplan_meier
from ..runs.store import atomic_write, write_csv
from .plots import save

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TABLE_COLUMNS = (
    "item",
    "candidate",
    "mean_days",
    "cv",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "n_censored",
    "loglik",
    "aic",
    "delta_aic",
    "ks_stat",
    "ks_p",
    "chosen",
)


def _los_rows(fit: LosFit) -> list[dict[str, Any]]:
    best_aic = min((c.aic for c in fit.candidates), default=math.nan)
    rows = [
        {
            "item": fit.what,
            "candidate": c.dist,
            "mean_days": c.mean_days,
            "cv": c.cv if c.dist != "exponential" else 1.0,
            "n": fit.n,
            "n_censored": fit.n_censored,
            "loglik": c.loglik,
            "aic": c.aic,
            "delta_aic": c.aic - best_aic,
            "ks_stat": c.ks_stat,
            "ks_p": c.ks_p,
            "chosen": c.dist == fit.chosen,
        }
        for c in fit.candidates
    ]
    if fit.chosen == "empirical":
        values = np.asarray(fit.spec["values_days"])
        rows.append(
            {
                "item": fit.what,
                "candidate": "empirical",
                "mean_days": float(values.mean()),
                "cv": float(values.std() / values.mean()),
                "n": fit.n,
                "n_censored": fit.n_censored,
                "chosen": True,
            }
        )
    return rows


def _rate_rows(report: FitReport) -> list[dict[str, Any]]:
    em = report.emergency
    base = "demand.emergency"
    rows: list[dict[str, Any]] = [
        {
            "item": f"{base}.per_day",
            "estimate": em.per_day,
            "ci_low": em.per_day_ci[0],
            "ci_high": em.per_day_ci[1],
            "n": int(em.counts.sum()),
        },
    ]
    if em.seasonal:
        rows.append({"item": f"{base}.growth_per_year", "estimate": em.growth_per_year,
                     "ci_low": em.growth_ci[0], "ci_high": em.growth_ci[1]})  # fmt: skip
        rows.append({"item": f"{base}.winter.amplitude", "estimate": em.winter_amplitude})
        rows.append({"item": f"{base}.winter.peak_day_of_year", "estimate": em.winter_peak_day})
    rows += [
        {"item": f"{base}.weekday_factors.{d.lower()}", "estimate": f}
        for d, f in zip(WEEKDAYS, em.weekday_factors, strict=True)
    ]
    rows += [{"item": f"{base}.hourly_factors.{h:02d}", "estimate": f} for h, f in enumerate(em.hourly_factors)]
    rows += [{"item": f"groups.{g}.share", "estimate": s} for g, s in report.group_shares.items()]
    for owner, mix in report.pathways.items():
        prefix = "demand.elective" if owner == "elective" else f"groups.{owner}"
        rows += [{"item": f"{prefix}.pathways.{p}", "estimate": s} for p, s in mix.items()]
    rows.append({"item": "acute.beds", "estimate": report.beds})
    rows += [{"item": f"services.{s}.capacity", "estimate": c} for s, c in report.capacities.items()]
    return rows


def fit_table(report: FitReport) -> pd.DataFrame:
    """Every estimate (with its 95% CI where there is one) and every LOS candidate (AIC, KS)."""
    rows = _rate_rows(report) + [r for fit in report.los_fits for r in _los_rows(fit)]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def los_figure(fit: LosFit) -> Figure:
    """The Kaplan-Meier CDF of the stays against each candidate's CDF (log days), and a histogram of
    the ended stays against each candidate's density."""
    fig = Figure(figsize=(10, 4))
    cdf_ax, hist_ax = fig.subplots(1, 2)
    t, km = kaplan_meier(fit.durations_days, fit.censored)
    # The data on top (dashed) so the candidates under it stay visible.
    cdf_ax.step(
        t,
        km,
        where="post",
        color="black",
        lw=1.2,
        ls="--",
        zorder=3,
        label=f"data (Kaplan-Meier, {fit.n_censored:,} censored)",
    )
    done = fit.durations_days[~fit.censored]
    top = float(np.quantile(done, 0.99)) if done.size else 1.0
    if done.size:
        hist_ax.hist(done[done <= top], bins=60, density=True, color="0.8", label="ended stays")
    grid = np.geomspace(max(float(t.min()), 1e-3), float(t.max()), 400)
    lin = np.linspace(0, top, 400)[1:]
    for c in fit.candidates:
        frozen = frozen_dist(c.dist, c.mean_days, c.cv)
        mark = " (chosen)" if c.dist == fit.chosen else ""
        cdf_ax.plot(grid, frozen.cdf(grid), lw=1.2, label=f"{c.dist}{mark}, AIC {c.aic:,.0f}")
        hist_ax.plot(lin, frozen.pdf(lin), lw=1.2, label=c.dist)
    cdf_ax.set_xscale("log")
    cdf_ax.set_xlabel("days (log scale)")
    cdf_ax.set_ylabel("share of stays ended")
    cdf_ax.legend(fontsize=8)
    hist_ax.set_xlabel("days (ended stays, to the 99th percentile)")
    hist_ax.set_ylabel("density")
    fig.suptitle(f"{fit.what}: {fit.n:,} stays; chosen {fit.chosen} ({fit.reason})", fontsize=10)
    return fig


def rate_figure(report: FitReport) -> Figure:
    """Daily emergency admissions against the fitted rate."""
    em = report.emergency
    dates = pd.date_range(em.start_date, periods=em.counts.size, freq="D")
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.plot(dates, em.counts, color="0.7", lw=0.7, label="emergency admissions a day")
    ax.plot(dates, pd.Series(em.counts).rolling(7, center=True).mean(), color="black", lw=1.2, label="7-day mean")
    ax.plot(dates, em.expected, color="tab:red", lw=0.5, alpha=0.4, label="fitted rate (weekday cycle)")
    fitted_week = pd.Series(em.expected).rolling(7, center=True).mean()
    ax.plot(dates, fitted_week, color="tab:red", lw=1.5, label="fitted rate, 7-day mean")
    ax.set_ylabel("admissions a day")
    ax.legend(fontsize=8)
    ax.set_title(
        f"Emergency admissions: per_day {em.per_day:.1f} at {em.start_date}, growth {em.growth_per_year:+.1%} a year"
    )
    return fig


def factors_figure(report: FitReport) -> Figure:
    """The fitted weekday and hourly factors."""
    em = report.emergency
    fig = Figure(figsize=(10, 3.5))
    wd, hr = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.5]})
    wd.bar(WEEKDAYS, em.weekday_factors, color="tab:blue")
    wd.axhline(1.0, color="black", lw=0.8)
    wd.set_title("weekday factors")
    hr.bar(range(24), em.hourly_factors, color="tab:blue")
    hr.axhline(1.0, color="black", lw=0.8)
    hr.set_xticks(range(0, 24, 3))
    hr.set_xlabel("hour of admission")
    hr.set_title("hourly factors")
    return fig


def occupancy_figure(report: FitReport) -> Figure:
    """Daily maximum acute occupancy reconstructed from the extract, with the fitted beds."""
    dates = pd.date_range(report.start_date, periods=report.daily_max_occupancy.size, freq="D")
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    ax.plot(dates, report.daily_max_occupancy, color="black", lw=0.8, label="most patients in bed on the day")
    ax.axhline(report.beds, color="tab:red", lw=1.2, label=f"acute.beds {report.beds}")
    ax.set_ylabel("patients")
    ax.set_title("Acute occupancy in the extract (its first weeks miss patients admitted before it)", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def _slug(what: str) -> str:
    return what.replace(".", "_")


def write_fit_report(report: FitReport, folder: Path) -> list[Path]:
    """Write the figures, ``fit_table.csv`` and ``fit_report.html`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "emergency_rate.png": rate_figure(report),
        "emergency_factors.png": factors_figure(report),
        "occupancy.png": occupancy_figure(report),
        **{f"los_{_slug(f.what)}.png": los_figure(f) for f in report.los_fits},
    }
    written = [save(fig, folder / name) for name, fig in figures.items()]
    table = fit_table(report)
    written.append(write_csv(folder / "fit_table.csv", table))
    page = _html(report, table, list(figures))
    written.append(atomic_write(folder / "fit_report.html", lambda tmp: tmp.write_text(page, encoding="utf-8")))
    return written


def _html(report: FitReport, table: pd.DataFrame, images: list[str]) -> str:
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    shown = table.copy()
    for col in ("mean_days", "cv", "estimate", "ci_low", "ci_high", "loglik", "aic", "delta_aic", "ks_stat", "ks_p"):
        shown[col] = [_num(v) for v in shown[col]]
    shown = shown.astype(object).where(shown.notna(), "")
    body = shown.to_html(index=False, border=0, escape=True)
    figs = "".join(f'<p><img src="{html.escape(name)}" alt="{html.escape(name)}" width="900"></p>' for name in images)
    title = f"hospsim fit: {html.escape(Path(report.source).name)}"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}table{border-collapse:collapse;"
        "font-size:12px}td,th{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}</style></head><body>"
        f"<h1>{title}</h1><p>{report.start_date} to {report.end_date} (exclusive).</p>"
        f"<h2>Choices and defaults</h2><ul>{notes or '<li>none</li>'}</ul>"
        f"<h2>Figures</h2>{figs}<h2>Estimates and candidates</h2>{body}</body></html>"
    )


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def fitted_config_text(config: dict[str, Any], report: FitReport, when: dt.datetime, report_dir: Path) -> str:
    """The fitted config as YAML, headed by comments: the extract, when, and every choice made."""
    header = [
        f"Fitted by `hospsim fit` from {report.source} at {when:%Y-%m-%d %H:%M} UTC.",
        f"Extract {report.start_date} to {report.end_date} (exclusive); fit report: {report_dir / 'fit_report.html'}.",
        "LOS: the lowest AIC of exponential, lognormal and gamma (right-censored likelihood), or",
        "empirical when that one fails a KS test at 1%. Choices:",
        *(f"- {fit.what}: {fit.chosen} ({fit.reason})" for fit in report.los_fits),
        *(f"- {note}" for note in report.notes),
    ]
    # Flow style for the innermost lists and mappings: factors and LOS on one line each.
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)
    return "".join(f"# {line}\n" for line in header) + body
