"""A single-file HTML report of a results folder, for a planning board.

``hospsim report RESULTS`` writes one self-contained HTML file: figures embedded as base64 PNG,
styles inline, no network and no external CSS or JavaScript, so it opens offline in any browser
and can be mailed as it is. Its sections:

1. the question and the answer (for sweeps: where the plan holds and where it breaks, the share
   of replications holding per cell with its 95% CI, what gating buys);
2. the key figures (see :mod:`hospsim.plots`);
3. KPI tables with 95% confidence intervals, and paired differences from the baseline;
4. the plan and its criteria;
5. a model description generated from the config, following the STRESS-DES reporting checklist
   (objectives, logic, data and inputs, experimentation, implementation);
6. the manifest: versions, git revision, hashes, seeds and timings.

A small inline script only marks ``<body>`` with how many images loaded and how many script
errors happened (``data-images``, ``data-images-loaded``, ``data-errors``), so a headless
browser can check the file.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..config import ConfigError
from . import plots
from .plots import ALL_CRITERIA, Cell, Results
from .tables import fmt_number

HOLDS = 0.9  # the plan "holds" at a cell when it holds in at least this share of replications
BREAKS = 0.5  # ...and "breaks" when it holds in fewer than this share
KEY_KPIS = (
    "mean_occupied_beds",
    "mean_occupancy",
    "share_days_over_85pct",
    "share_days_over_92pct",
    "acute_bed_days",
    "delayed_bed_days",
    "mean_delayed_patients",
    "p_wait_over_4h",
    "waits_over_12h_per_1000",
    "mean_wait_hours",
    "elective_cancellations",
    "admissions_avoided",
)
FIGURE_DPI = 90

CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #d9d9d9; --accent: #0072B2; --warn: #D55E00; --ok: #009E73; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       line-height: 1.45; margin: 0; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
h1 { font-size: 1.8rem; margin: 0.2rem 0 0.3rem; }
h2 { font-size: 1.35rem; border-bottom: 2px solid var(--accent); padding-bottom: 0.2rem; margin-top: 2.4rem; }
h3 { font-size: 1.08rem; margin-top: 1.6rem; }
p.sub { color: var(--muted); margin-top: 0; }
nav { background: #f5f7fa; border: 1px solid var(--rule); padding: 0.6rem 1rem; border-radius: 4px; font-size: 0.95rem; }
nav a { margin-right: 1.1rem; color: var(--accent); text-decoration: none; }
.question { font-size: 1.25rem; font-weight: 600; border-left: 5px solid var(--accent); padding: 0.4rem 0.9rem;
            background: #f2f7fb; margin: 1rem 0; }
.verdict { font-size: 1.05rem; border: 1px solid var(--rule); border-radius: 4px; padding: 0.6rem 1.1rem; }
.verdict li { margin: 0.35rem 0; }
.note { color: var(--muted); font-size: 0.92rem; }
.bad { color: var(--warn); font-weight: 600; }
.good { color: var(--ok); font-weight: 600; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--rule); padding: 0.28rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.share { text-align: center; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 0.3rem; }
code, pre { font-family: "SFMono-Regular", Consolas, "Liberation Mono", Menlo, monospace; font-size: 0.85rem; }
pre { background: #f7f7f7; border: 1px solid #eee; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
details { margin: 0.6rem 0; }
summary { cursor: pointer; color: var(--accent); }
.wide { overflow-x: auto; }
@media print { nav { display: none; } h2 { page-break-before: auto; } figure { page-break-inside: avoid; } }
"""

# Marks <body> once the page has loaded: images that loaded and script errors (for checks).
CHECK_SCRIPT = """
(function () {
  var errors = 0;
  window.addEventListener('error', function () { errors += 1; }, true);
  var original = console.error;
  console.error = function () { errors += 1; return original.apply(console, arguments); };
  window.addEventListener('load', function () {
    var images = document.images, loaded = 0;
    for (var i = 0; i < images.length; i++) {
      if (images[i].complete && images[i].naturalWidth > 0) { loaded += 1; }
    }
    var body = document.body;
    body.setAttribute('data-images', String(images.length));
    body.setAttribute('data-images-loaded', String(loaded));
    body.setAttribute('data-errors', String(errors));
    body.setAttribute('data-ready', 'yes');
  });
})();
"""

FIGURE_CAPTIONS = {
    "fan": "Occupied acute beds per day (time-weighted daily mean): the line is the median across "
    "replications, the shaded bands hold the middle 50% and 90% of replications. The black step line "
    "is the beds open; dashed and dotted lines are 92% and 85% of it. Bed cuts in the plan and gate "
    "openings are marked. Hatched: days not counted in the KPIs.",
    "exceedance": "For each occupancy level on the x-axis, the share of measured days whose occupancy "
    "(of beds open) was above it, pooled over replications. A curve further right means "
    "more days at high occupancy; read off the share of days above 85% and 92%.",
    "robustness": "Share of replications in which every criterion of the plan holds, for each combination "
    "of the swept parameters (95% Wilson interval in brackets). Dashed contour: 50%; "
    "solid white contour: 90%.",
    "forest": "Change from the baseline, replication by replication (same patients), as a share of the "
    "baseline mean, with 95% confidence intervals. Thick red marks: where a criterion's limit "
    "falls, at the baseline mean.",
    "delays": "Delayed transfers of care (medically fit patients still in an acute bed) and emergencies "
    "waiting over 4 and 12 hours for a bed, per week of arrival: median across replications "
    "with the middle 50% shaded.",
    "services": "Each community service: occupied places against its capacity as delivered (thick line), "
    "and its waiting list (patients ready to transfer with no place yet).",
}
FIGURE_TITLES = {
    "fan": "Acute bed occupancy over time",
    "exceedance": "Days at high occupancy",
    "robustness": "Where the plan holds: robustness map",
    "forest": "What the plan changes",
    "delays": "Delayed transfers and ED waits",
    "services": "Community services",
}


# ---------------------------------------------------------------------------------------------
# Small formatting helpers


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(x: float, digits: int = 0) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def _num(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x)
    return fmt_number(v)


def _ci(lo: float, hi: float, fmt=_num) -> str:
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "n/a"
    return f"{fmt(lo)} \u2013 {fmt(hi)}"


def _table(header: list[str], rows: list[list[str]], num: set[int] | None = None, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    num = num or set()
    head = "".join(f'<th class="num">{_e(h)}</th>' if i in num else f"<th>{_e(h)}</th>" for i, h in enumerate(header))
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            text = c if raw else _e(c)
            cells.append(f'<td class="num">{text}</td>' if i in num else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _kv(pairs: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<div class="wide"><table><tbody>{rows}</tbody></table></div>'


def _share_colour(share: float) -> tuple[str, str]:
    """Background (cividis, as the robustness map) and a readable text colour."""
    import matplotlib

    if not np.isfinite(share):
        return "#ffffff", "#000000"
    rgba = matplotlib.colormaps[plots.MAP_CMAP](float(share))
    return matplotlib.colors.to_hex(rgba), ("#ffffff" if share < 0.55 else "#000000")


def _date(start: str, day: float) -> str:
    return str(np.datetime64(str(start), "D") + int(day))


# ---------------------------------------------------------------------------------------------
# Describing configs (STRESS-DES style)


def describe_gate(gate: Any) -> str:
    """A gate (one condition or a list) in words."""
    conds = gate if isinstance(gate, list) else [gate]
    parts = []
    for c in conds:
        if not isinstance(c, dict):
            parts.append(str(c))
            continue
        if "service_capacity_at_least" in c:
            s = c["service_capacity_at_least"]
            parts.append(f"{s.get('service')} has at least {_num(s.get('places'))} places")
        elif "occupancy_at_most" in c:
            s = c["occupancy_at_most"]
            parts.append(
                f"acute occupancy over the last {s.get('days', 28)} days is at most {_pct(float(s.get('occupancy')))}"
            )
        elif "delayed_patients_at_most" in c:
            s = c["delayed_patients_at_most"]
            parts.append(
                f"delayed-transfer patients over the last {s.get('days', 28)} days average at most "
                f"{_num(s.get('patients'))}"
            )
        else:
            parts.append(json.dumps(c))
    return " and ".join(parts)


def describe_schedule(spec: Any, start_date: str | None = None, unit: str = "") -> str:
    """A schedule (constant, steps, ramp, optionally gated) in words."""
    u = f" {unit}" if unit else ""

    def day(d: Any) -> str:
        return f"day {int(d)} ({_date(start_date, d)})" if start_date else f"day {int(d)}"

    if spec is None:
        return "none"
    if isinstance(spec, (int, float)):
        return f"{_num(spec)}{u}"
    if not isinstance(spec, dict):
        return _e(spec)
    if spec.get("constant") is not None:
        text = f"{_num(spec['constant'])}{u}"
    elif spec.get("steps") is not None:
        steps = spec["steps"]
        text = f"{_num(steps[0][1])}{u}" + "".join(f", then {_num(v)}{u} from {day(d)}" for d, v in steps[1:])
    elif spec.get("ramp") is not None:
        r = spec["ramp"]
        frm = r.get("from", r.get("from_value"))
        if int(r.get("duration_days", 0)) == 0:
            text = f"{_num(frm)}{u}, then {_num(r['to'])}{u} from {day(r['start_day'])}"
        else:
            text = (
                f"{_num(frm)}{u}, changing linearly to {_num(r['to'])}{u} over {int(r['duration_days'])} days "
                f"from {day(r['start_day'])}"
            )
    else:
        text = json.dumps(spec)
    if spec.get("gate"):
        text += f"; held until {describe_gate(spec['gate'])} (checked each midnight)"
    return text


def describe_los(d: Any) -> str:
    if not isinstance(d, dict):
        return "none"
    kind = d.get("dist")
    if kind == "empirical":
        vals = d.get("values_days") or []
        return f"empirical, {len(vals)} values (mean {_num(float(np.mean(vals)) if vals else math.nan)} days)"
    if kind in ("lognormal", "gamma"):
        return f"{kind}, mean {_num(d.get('mean_days'))} days, CV {_num(d.get('cv'))}"
    return f"{kind}, mean {_num(d.get('mean_days'))} days"


def _mix(m: dict | None) -> str:
    if not m:
        return "home 100%"
    return ", ".join(f"{k} {_pct(float(v), 1 if 100 * float(v) % 1 else 0)}" for k, v in m.items())


def _changes(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    if spec.get("steps"):
        return len({v for _, v in spec["steps"]}) > 1
    if spec.get("ramp"):
        r = spec["ramp"]
        return r.get("from", r.get("from_value")) != r.get("to")
    return False


def model_description(cfg: dict, res: Results) -> str:
    """STRESS-DES-style description of the model as configured (``cfg``: a resolved config)."""
    start = str(cfg.get("start_date"))
    H = int(cfg.get("horizon_days", 0))
    W = int(cfg.get("warmup_days", 0))
    acute = cfg.get("acute") or {}
    dem = cfg.get("demand") or {}
    em = dem.get("emergency") or {}
    el = dem.get("elective")
    groups = cfg.get("groups") or {}
    services = cfg.get("services") or {}
    pdv = cfg.get("plan_delivery") or {}
    out: list[str] = []

    out.append("<h3>1. Objectives</h3>")
    if res.is_sweep:
        exp = res.experiment
        out.append(
            f"<p>{_e(exp.get('question') or 'Compare the scenarios with the baseline.')} "
            f"{_e(exp.get('description') or '')}</p>"
        )
        out.append(
            "<p>Outputs: the KPIs of the KPI dictionary (README), measured per replication over the "
            "window; the plan's criteria are tested replication by replication against the baseline "
            "on the same patients.</p>"
        )
    else:
        out.append(
            f"<p>Describe the performance of the system <b>{_e(cfg.get('name'))}</b> "
            f"({_e(cfg.get('description') or 'no description')}) with confidence intervals.</p>"
        )

    out.append("<h3>2. Logic</h3>")
    when_full = acute.get("when_full", "queue")
    full_text = (
        "an emergency that finds no free bed waits for one (ED boarding, first come first served)"
        if when_full == "queue"
        else "an emergency that finds no free bed is refused (lost)"
    )
    out.append(
        "<ol>"
        "<li><b>Entities</b>: patients. Emergencies arrive as a non-homogeneous Poisson process (base rate "
        "&times; annual growth &times; day-of-week &times; winter seasonality &times; hour-of-day profile "
        "&times; the plan's demand multiplier); electives are booked each weekday.</li>"
        "<li><b>Admission avoidance</b>: a share of each group is suitable for step-up care and is diverted "
        "only if a step-up place is free at that moment; otherwise admitted.</li>"
        f"<li><b>Resource: acute beds</b>, a capacity schedule plus winter escalation beds; {full_text}. An "
        "elective that finds no free bed, or emergencies waiting, is cancelled. A cut below current "
        "occupancy evicts nobody: admissions wait until occupancy falls below the new capacity.</li>"
        "<li><b>Activity: acute stay</b> until medically fit, drawn from the group's length-of-stay "
        "distribution times the plan's LOS multiplier on the arrival day.</li>"
        "<li><b>Queues: discharge</b>. Each patient follows a discharge pathway drawn from the group's mix: "
        "home, or a community service, possibly after an assessment. Waiting for assessment or for a place "
        "happens in the acute bed and counts as a delayed transfer of care (first come first served per "
        "service).</li>"
        "<li><b>Resources: community services</b> with time-varying capacity and their own length of stay; "
        "patients leave the system after them.</li>"
        "<li><b>Plans</b>: anything a plan changes is a schedule; any schedule can be gated (held until a "
        "condition holds at a midnight); the intermediate-care part can be delivered late or in part "
        "(plan_delivery).</li>"
        "</ol>"
    )

    out.append("<h3>3. Data and inputs</h3>")
    esc = acute.get("escalation")
    pairs = [
        ("calendar", f"day 0 = {_e(start)}; horizon {H} days (to {_e(_date(start, H - 1))})"),
        ("acute beds", _e(describe_schedule(acute.get("beds"), start, "beds"))),
        ("when full", _e(when_full)),
        (
            "winter escalation",
            _e(f"{esc['beds']} beds in months {', '.join(str(m) for m in esc.get('months', []))}" if esc else "none"),
        ),
    ]
    if acute.get("delayed_day_cost_gbp") is not None:
        pairs.append(("cost of a delayed bed day", f"&pound;{_num(acute['delayed_day_cost_gbp'])}"))
    wf = em.get("weekday_factors") or [1] * 7
    hf = em.get("hourly_factors") or [1] * 24
    winter = em.get("winter")
    pairs += [
        (
            "emergency arrivals",
            _e(f"{_num(em.get('per_day'))} a day, growth {_pct(float(em.get('growth_per_year', 0)), 1)} a year"),
        ),
        ("day-of-week factors (Mon..Sun)", _e(", ".join(_num(x) for x in wf))),
        (
            "hour-of-day profile",
            _e(
                "flat"
                if min(hf) == max(hf)
                else f"peak at {int(np.argmax(hf))}:00, lowest at {int(np.argmin(hf))}:00 "
                f"(peak/trough {_num(max(hf) / max(min(hf), 1e-9))})"
            ),
        ),
        (
            "winter seasonality",
            _e(
                f"amplitude {_pct(float(winter['amplitude']))}, peak on day {winter.get('peak_day_of_year', 15)} of the year"
                if winter
                else "none"
            ),
        ),
        ("demand multiplier (plan)", _e(describe_schedule(em.get("multiplier", 1.0), start))),
    ]
    if el:
        pairs += [
            (
                "elective admissions",
                _e(
                    describe_schedule(el.get("per_weekday"), start, "per weekday")
                    + f", from {_num(el.get('admit_hour', 8))}:00 over {_num(el.get('spread_hours', 4))} h"
                ),
            ),
            ("elective length of stay", _e(describe_los(el.get("los")))),
            ("elective pathways", _e(_mix(el.get("pathways")))),
        ]
    out.append(_kv(pairs))
    grows = []
    for name, g in groups.items():
        change = g.get("pathways_change")
        ch = ""
        if change:
            ch = (
                f"; shifting to {_mix(change.get('to'))} over {change.get('duration_days', 0)} days from day "
                f"{change.get('start_day')}"
                + (f", held until {describe_gate(change['gate'])}" if change.get("gate") else "")
            )
        grows.append(
            [
                name,
                _pct(float(g.get("share", 0)), 1),
                describe_los(g.get("los")),
                describe_schedule(g.get("los_multiplier", 1.0), start),
                describe_schedule(g.get("step_up_share", 0.0), start),
                _mix(g.get("pathways")) + ch,
            ]
        )
    out.append("<p><b>Patient groups</b> (emergencies)</p>")
    out.append(
        _table(
            [
                "group",
                "share",
                "length of stay until medically fit",
                "LOS multiplier (plan)",
                "suitable for step-up",
                "discharge pathways",
            ],
            grows,
        )
    )
    srows = []
    for name, s in services.items():
        delivered = ""
        only = pdv.get("services")
        if (
            (int(pdv.get("ic_delay_days", 0)) or float(pdv.get("ic_growth_achieved", 1.0)) != 1.0)
            and (only is None or name in only)
            and _changes(s.get("capacity"))
        ):
            delivered = (
                f" (delivered {int(pdv.get('ic_delay_days', 0))} days late, "
                f"{_pct(float(pdv.get('ic_growth_achieved', 1.0)))} of planned growth)"
            )
        srows.append(
            [
                name,
                describe_schedule(s.get("capacity"), start, "places") + delivered,
                describe_los(s.get("los")),
                describe_los(s.get("assessment")) if s.get("assessment") else "none",
                "" if s.get("place_day_cost_gbp") is None else f"£{_num(s['place_day_cost_gbp'])}",
            ]
        )
    if srows:
        out.append("<p><b>Community services</b> (capacity as planned in this config)</p>")
        out.append(
            _table(
                ["service", "capacity (places)", "length of stay", "assessment before transfer", "cost per place-day"],
                srows,
            )
        )
    out.append(
        f"<p><b>Plan delivery</b>: intermediate-care capacity changes {int(pdv.get('ic_delay_days', 0))} days "
        f"late, reaching {_pct(float(pdv.get('ic_growth_achieved', 1.0)))} of their planned size"
        f"{' (services: ' + _e(', '.join(pdv['services'])) + ')' if pdv.get('services') else ''}.</p>"
    )
    if cfg.get("description"):
        out.append(f"<p><b>Source</b>: {_e(cfg['description'])}</p>")
    out.append(
        "<p><b>Assumptions</b></p><ul>"
        "<li>Queues for a bed and for community places are first come, first served; no priorities.</li>"
        "<li>Lengths of stay are independent of occupancy; the plan's LOS multiplier applies on the arrival day.</li>"
        "<li>Capacity changes happen at midnight; a cut evicts nobody.</li>"
        "<li>Step-up (admission avoidance) has no queue: a suitable patient who finds it full is admitted.</li>"
        "<li>Patients leave the system after a community service (no readmissions).</li>"
        "<li>The system starts empty; days before the warm-up ends are not measured.</li>"
        "</ul>"
    )

    out.append("<h3>4. Experimentation</h3>")
    seeds = res.manifest.get("replication_seeds") or []
    exp_pairs = [
        ("warm-up", f"{W} days (start empty; not measured)"),
        (
            "measured",
            _e(
                f"days {res.window[0]} to {res.window[1] - 1} "
                f"({_date(start, res.window[0])} to {_date(start, res.window[1] - 1)})"
            ),
        ),
        (
            "replications",
            f"{res.replications} independent replications per {'scenario cell' if res.is_sweep else 'config'}",
        ),
        ("root seed", _e(res.manifest.get("root_seed"))),
        ("replication seeds", _e(", ".join(str(s) for s in seeds[:12]) + (" …" if len(seeds) > 12 else ""))),
        (
            "random numbers",
            "numpy SeedSequence: one seed per replication, one generator per named stream "
            "(arrivals, groups, LOS, pathways, …). Every scenario uses the same replication "
            "seeds and patients are drawn independently of the plan (common random numbers), "
            "so differences are paired replication by replication.",
        ),
        (
            "estimation",
            "KPIs per replication; means with t-based 95% confidence intervals across replications; "
            "shares of replications in which the plan holds with Wilson 95% intervals.",
        ),
    ]
    out.append(_kv(exp_pairs))

    out.append("<h3>5. Implementation</h3>")
    versions = res.manifest.get("versions") or {}
    out.append(
        _kv(
            [
                (
                    "software",
                    _e(
                        f"hospsim {versions.get('hospsim', '?')} (Python {versions.get('python', '?')}, SimPy "
                        f"{versions.get('simpy', '?')}, numpy {versions.get('numpy', '?')})"
                    ),
                ),
                ("git revision", f"<code>{_e(res.manifest.get('git_revision') or 'not from a git checkout')}</code>"),
                ("re-run", f"<code>hospsim reproduce {_e(res.path)}</code> re-runs every number from the manifest"),
            ]
        )
    )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# The answer


def _all_rows(res: Results) -> pd.DataFrame:
    v = res.verdicts
    if v is None or v.empty:
        return pd.DataFrame()
    return v[v["criterion"] == ALL_CRITERIA]


def _cell_name(r: pd.Series | dict, params: list[str]) -> str:
    vals = [f"{p[len('param_') :]}={fmt_number(float(r[p]))}" for p in params if pd.notna(r[p])]
    return ", ".join(vals) if vals else "(not swept)"


def _gated(res: Results) -> list[str]:
    def has_gate(x: Any) -> bool:
        if isinstance(x, dict):
            return bool(x.get("gate")) or any(has_gate(v) for v in x.values())
        if isinstance(x, list):
            return any(has_gate(v) for v in x)
        return False

    base_gated = has_gate(res.cells[0].config)
    return [
        s
        for s in plots.scenarios(res)
        if not base_gated and any(has_gate(c.config) for c in res.cells if c.scenario == s)
    ]


def verdict_section(res: Results, cells: list[Cell]) -> str:
    """Where the plan holds and where it breaks; share holding per cell; what gating buys."""
    allv = _all_rows(res)
    if allv.empty:
        return (
            '<p class="verdict">This experiment states no criteria, so there is no verdict: see the paired '
            "differences from the baseline below.</p>"
        )
    params = [c for c in allv.columns if c.startswith("param_")]
    at = cells[-1].point if cells else -1
    items = []
    for scen, g in allv.groupby("scenario", sort=False):
        swept = g[g["point"] >= 0]
        if swept.empty:
            r = g.iloc[0]
            cls = "good" if r["share_holds"] >= HOLDS else ("bad" if r["share_holds"] < BREAKS else "")
            items.append(
                f'<li><b>{_e(scen)}</b>: the plan holds in <span class="{cls}">{_pct(r["share_holds"])}</span> '
                f"of replications (95% CI {_ci(r['ci_low'], r['ci_high'], _pct)}).</li>"
            )
            continue
        n = len(swept)
        ok = swept[swept["share_holds"] >= HOLDS]
        bad = swept[swept["share_holds"] < BREAKS]
        mid = swept[(swept["share_holds"] >= BREAKS) & (swept["share_holds"] < HOLDS)]
        text = (
            f"<b>{_e(scen)}</b>: holds (in at least {_pct(HOLDS)} of replications) at "
            f'<span class="good">{len(ok)} of {n}</span> sweep points'
        )
        if len(bad):
            where = "; ".join(
                f"{_e(_cell_name(r, params))} ({_pct(r['share_holds'])}, CI {_ci(r['ci_low'], r['ci_high'], _pct)}"
                + (
                    f", first breached {_e(r['first_breach_month_median'])}"
                    if str(r.get("first_breach_month_median")) not in ("never", "n/a", "nan")
                    else ""
                )
                + ")"
                for _, r in bad.head(8).iterrows()
            )
            more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
            text += f'; <span class="bad">breaks (holds in under {_pct(BREAKS)})</span> at {len(bad)}: {where}{more}'
        else:
            text += "; it breaks (holds in under half of replications) at none"
        if len(mid):
            text += f"; uncertain ({_pct(BREAKS)}\u2013{_pct(HOLDS)}) at {len(mid)}"
        here = swept[swept["point"] == at]
        if len(here):
            r = here.iloc[0]
            text += (
                f". At {_e(_cell_name(r, params))}: {_pct(r['share_holds'])} "
                f"(95% CI {_ci(r['ci_low'], r['ci_high'], _pct)})"
            )
        items.append(f"<li>{text}.</li>")
    n_rep = int(allv["n"].max()) if len(allv) else 0
    out = [f'<ul class="verdict">{"".join(items)}</ul>']
    if n_rep < 10:
        out.append(
            f'<p class="note">With only {n_rep} replications per cell the intervals are wide: '
            f"run more replications for a firmer answer.</p>"
        )
    out.append(share_grid(res))
    out.append(failing_criteria(res))
    out.append(gating_section(res))
    return "\n".join(out)


def share_grid(res: Results) -> str:
    """Share of replications holding (all criteria) per cell with its CI, coloured as the map."""
    allv = _all_rows(res)
    params = [c for c in allv.columns if c.startswith("param_")]
    scen = list(dict.fromkeys(allv["scenario"]))
    swept = allv[allv["point"] >= 0]
    rows = []
    if not swept.empty:
        for pt, g in swept.groupby("point", sort=True):
            r0 = g.iloc[0]
            row = [f'<td class="num">{int(pt)}</td>'] + [f'<td class="num">{_num(r0[p])}</td>' for p in params]
            for s in scen:
                r = g[g["scenario"] == s]
                if r.empty:
                    row.append("<td></td>")
                    continue
                r = r.iloc[0]
                bg, fg = _share_colour(float(r["share_holds"]))
                row.append(
                    f'<td class="share" style="background:{bg};color:{fg}">{_pct(r["share_holds"])}'
                    f"<br><small>{_ci(r['ci_low'], r['ci_high'], _pct)}</small></td>"
                )
            rows.append("<tr>" + "".join(row) + "</tr>")
    head = ["point", *[p[len("param_") :] for p in params], *scen]
    heads = "".join(f"<th>{_e(h)}</th>" for h in head)
    fixed = allv[allv["point"] < 0]
    extra = ""
    if not fixed.empty:
        extra = (
            "<p>Scenarios not swept: "
            + "; ".join(
                f"<b>{_e(r['scenario'])}</b> {_pct(r['share_holds'])} (95% CI {_ci(r['ci_low'], r['ci_high'], _pct)})"
                for _, r in fixed.iterrows()
            )
            + ".</p>"
        )
    grid = (
        f'<div class="wide"><table><thead><tr>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
        if rows
        else ""
    )
    return "<h3>Share of replications in which the plan holds, per cell (95% Wilson CI)</h3>" + grid + extra


def failing_criteria(res: Results) -> str:
    """Which criteria fail where the plan breaks."""
    v = res.verdicts
    crit = v[(v["criterion"] != ALL_CRITERIA)]
    weak = crit[crit["share_holds"] < BREAKS]
    if weak.empty:
        return "<p>No single criterion holds in under half of replications in any cell.</p>"
    counts = weak.groupby("criterion", sort=False).size()
    total = crit.groupby("criterion", sort=False).size()
    items = "".join(
        f"<li>{_e(c)}: fails (holds in under {_pct(BREAKS)}) in {int(k)} of {int(total[c])} cells</li>"
        for c, k in counts.items()
    )
    return f"<p>What breaks it:</p><ul>{items}</ul>"


def gating_section(res: Results) -> str:
    """Gated scenarios against their ungated counterpart: safety bought, savings given up."""
    gated = _gated(res)
    if not gated:
        return ""
    allv = _all_rows(res)
    ungated = [s for s in plots.scenarios(res) if s not in gated]
    exp_sc = res.experiment.get("scenarios") or {}
    paired = res.paired if res.paired is not None else pd.DataFrame()
    out = ["<h3>What gating buys</h3>"]
    params = [c for c in allv.columns if c.startswith("param_")]
    for g in gated:
        parent = (exp_sc.get(g) or {}).get("extends")
        ref = parent if parent in ungated else (ungated[0] if ungated else None)
        if ref is None:
            continue
        kg = res.kpis[res.kpis["scenario"] == g]
        open_cols = [c for c in kg.columns if c.startswith("gate_") and c.endswith("_opened")]
        rows = []
        gains, opened_all = [], []
        for pt in sorted(set(allv.loc[allv["scenario"] == g, "point"])):
            a = allv[(allv["scenario"] == ref) & (allv["point"] == pt)]
            b = allv[(allv["scenario"] == g) & (allv["point"] == pt)]
            if a.empty or b.empty:
                continue
            a, b = a.iloc[0], b.iloc[0]
            gains.append(float(b["share_holds"] - a["share_holds"]))
            kp = kg[kg["point"] == pt]
            opened = "n/a"
            if open_cols:
                o = kp[open_cols].to_numpy(dtype=float)
                share_open = float(np.nanmean(o.min(axis=1))) if o.size else math.nan
                opened_all.append(share_open)
                days = kp[[c.replace("_opened", "_open_day") for c in open_cols]].to_numpy(dtype=float).max(axis=1)
                days = days[np.isfinite(days)]
                start = res.cell(g, int(pt)).config["start_date"]
                opened = _pct(share_open) + (f", median {_date(start, float(np.median(days)))}" if days.size else "")
            rel = {}
            for s in (ref, g):
                r = (
                    paired[(paired["scenario"] == s) & (paired["point"] == pt) & (paired["kpi"] == "acute_bed_days")]
                    if not paired.empty
                    else pd.DataFrame()
                )
                rel[s] = _pct(float(r["relative_change"].iloc[0]), 1) if len(r) else "n/a"
            rows.append(
                [
                    str(int(pt)) if pt >= 0 else "-",
                    _cell_name(b, params),
                    _pct(a["share_holds"]),
                    _pct(b["share_holds"]),
                    opened,
                    rel[ref],
                    rel[g],
                ]
            )
        if not rows:
            continue
        mean_gain = float(np.mean(gains)) if gains else math.nan
        sentence = (
            f"<p><b>{_e(g)}</b> against <b>{_e(ref)}</b>: over {len(rows)} cell{'s' if len(rows) != 1 else ''}, "
            f"gating changes the share of replications in which the plan holds by "
            f"{'+' if mean_gain >= 0 else ''}{_pct(mean_gain)} on average"
        )
        if opened_all:
            sentence += (
                f"; the gated change went ahead in {_pct(float(np.mean(opened_all)))} of replications "
                f"(so the savings it waits for are given up in the rest)"
            )
        out.append(sentence + ". Acute bed days against the baseline in the last two columns.</p>")
        out.append(
            _table(
                [
                    "point",
                    "sweep values",
                    f"holds: {ref}",
                    f"holds: {g}",
                    "gate opened (replications)",
                    f"bed days: {ref}",
                    f"bed days: {g}",
                ],
                rows,
            )
        )
    return "\n".join(out) if len(out) > 1 else ""


# ---------------------------------------------------------------------------------------------
# KPI tables


def _kpi_order(res: Results) -> list[str]:
    crit = [c.get("kpi") for c in (res.experiment.get("criteria") or [])]
    known = set(res.summary["kpi"])
    svc = [k for k in dict.fromkeys(res.summary["kpi"]) if k.endswith(("_utilisation", "_mean_delay_days"))]
    return [k for k in dict.fromkeys([*crit, *KEY_KPIS, *svc]) if k in known]


def kpi_table(res: Results, cells: list[Cell], kpis: list[str]) -> str:
    s = res.summary
    header = ["KPI", *[c.label for c in cells]]
    rows = []
    for k in kpis:
        row = [f"<code>{_e(k)}</code>"]
        for c in cells:
            if res.is_sweep:
                r = s[(s["scenario"] == c.scenario) & (s["point"] == c.point) & (s["kpi"] == k)]
            else:
                r = s[s["kpi"] == k]
            if r.empty:
                row.append("n/a")
                continue
            r = r.iloc[0]
            row.append(f"{_num(r['mean'])}<br><small>{_ci(r['ci_low'], r['ci_high'])}</small>")
        rows.append(row)
    return _table(header, rows, num=set(range(1, len(header))), raw=True)


def paired_table(res: Results, cells: list[Cell], kpis: list[str]) -> str:
    p = res.paired
    if p is None or p.empty:
        return ""
    rows = []
    for c in cells[1:]:
        g = p[(p["scenario"] == c.scenario) & (p["point"] == c.point)].set_index("kpi")
        for k in kpis:
            if k not in g.index:
                continue
            r = g.loc[k]
            rows.append(
                [
                    _e(c.label),
                    f"<code>{_e(k)}</code>",
                    _num(r["baseline_mean"]),
                    _num(r["scenario_mean"]),
                    _num(r["difference"]),
                    _ci(r["ci_low"], r["ci_high"]),
                    _pct(r["relative_change"], 1),
                ]
            )
    return _table(
        ["scenario", "KPI", "baseline", "scenario", "difference", "95% CI", "relative"],
        rows,
        num={2, 3, 4, 5, 6},
        raw=True,
    )


def verdict_table_html(res: Results) -> str:
    v = res.verdicts
    if v is None or v.empty:
        return ""
    params = [c for c in v.columns if c.startswith("param_")]
    rows = [
        [
            _e(r["scenario"]),
            _e(_cell_name(r, params)),
            _e(r["criterion"]),
            _pct(r["share_holds"]),
            _ci(r["ci_low"], r["ci_high"], _pct),
            _num(r["value_mean"]),
            _e(r["first_breach_month_median"]),
        ]
        for _, r in v.iterrows()
    ]
    return _table(
        [
            "scenario",
            "sweep values",
            "criterion",
            "holds",
            "95% CI",
            "mean value tested",
            "first month breached (median)",
        ],
        rows,
        num={3, 4, 5},
        raw=True,
    )


# ---------------------------------------------------------------------------------------------
# The plan


def plan_section(res: Results) -> str:
    if not res.is_sweep:
        cfg = res.cells[0].config
        start = str(cfg.get("start_date"))
        changing = []
        for path, spec in _schedules(cfg):
            if _changes(spec) or (isinstance(spec, dict) and spec.get("gate")):
                changing.append([path, describe_schedule(spec, start)])
        body = (
            (
                "<p>A single config: no scenarios or criteria. Schedules that change over the run:</p>"
                + _table(["schedule", "value"], changing)
            )
            if changing
            else "<p>A single config with no plan: nothing changes over the run, and there are no criteria.</p>"
        )
        return body
    exp = res.experiment
    base = res.cells[0].config
    start = str(base.get("start_date"))
    out = [
        _kv(
            [
                ("experiment", _e(exp.get("name"))),
                ("description", _e(exp.get("description") or "")),
                ("base config", f"<code>{_e(res.manifest.get('base_config_source'))}</code> ({_e(base.get('name'))})"),
                ("replications", _e(exp.get("replications"))),
                ("root seed", _e(exp.get("seed"))),
                (
                    "verdict window",
                    _e(
                        f"days {res.window[0]}–{res.window[1] - 1} ({_date(start, res.window[0])} to "
                        f"{_date(start, res.window[1] - 1)})"
                    ),
                ),
            ]
        )
    ]
    rows = []
    bl = (exp.get("baseline") or {}).get("overrides") or {}
    rows.append(
        [
            "baseline",
            "the comparison",
            "<br>".join(f"<code>{_e(k)}</code>: {_e(describe_schedule(v, start))}" for k, v in bl.items())
            or "base config as it is",
        ]
    )
    for name, sc in (exp.get("scenarios") or {}).items():
        ov = sc.get("overrides") or {}
        desc = _e(sc.get("description") or "") + (f" (extends {_e(sc['extends'])})" if sc.get("extends") else "")
        rows.append(
            [
                _e(name),
                desc,
                "<br>".join(f"<code>{_e(k)}</code>: {_e(describe_schedule(v, start))}" for k, v in ov.items()),
            ]
        )
    out.append("<h3>Scenarios</h3>" + _table(["scenario", "description", "changes to the base config"], rows, raw=True))
    sweep = exp.get("sweep")
    if sweep:
        prow = []
        for n, spec in (sweep.get("parameters") or {}).items():
            rng = (
                ", ".join(_num(v) for v in spec["values"])
                if spec.get("values") is not None
                else f"{_num(spec.get('low'))} to {_num(spec.get('high'))}"
                + (" (whole numbers)" if spec.get("integer") else "")
            )
            prow.append([n, f"<code>{_e(spec.get('path'))}</code>", _e(rng)])
        method = sweep.get("method", "grid")
        extra = f", {sweep.get('samples')} samples" if method != "grid" else ""
        which = ", ".join(sweep.get("scenarios") or plots.scenarios(res))
        out.append(
            f"<h3>Sweep</h3><p>{_e(method)}{_e(extra)}, crossing scenarios: {_e(which)}; "
            f"{len(plots.points(res))} points.</p>"
        )
        out.append(_table(["parameter", "config path", "values"], prow, raw=True))
    crit = exp.get("criteria") or []
    if crit:
        crows = []
        for c in crit:
            bound = ("at most", c["at_most"]) if c.get("at_most") is not None else ("at least", c.get("at_least"))
            compare = {
                "absolute": "the KPI itself",
                "relative_to_baseline": "(scenario − baseline) / baseline",
                "difference_from_baseline": "scenario − baseline",
            }.get(c.get("compare", "absolute"), c.get("compare"))
            crows.append(
                [
                    _e(c.get("name") or ""),
                    f"<code>{_e(c.get('kpi'))}</code>",
                    _e(compare),
                    _e(f"{bound[0]} {_num(bound[1])}"),
                ]
            )
        out.append(
            "<h3>Criteria</h3><p>The plan holds in a replication when every criterion does, "
            "comparing with the baseline in the same replication (same patients).</p>"
        )
        out.append(_table(["name", "KPI", "tested on", "bound"], crows, raw=True))
    else:
        out.append("<h3>Criteria</h3><p>None stated.</p>")
    return "\n".join(out)


def _schedules(cfg: dict) -> list[tuple[str, Any]]:
    out = [("acute.beds", (cfg.get("acute") or {}).get("beds"))]
    em = (cfg.get("demand") or {}).get("emergency") or {}
    out.append(("demand.emergency.multiplier", em.get("multiplier")))
    el = (cfg.get("demand") or {}).get("elective")
    if el:
        out.append(("demand.elective.per_weekday", el.get("per_weekday")))
    for n, g in (cfg.get("groups") or {}).items():
        out += [
            (f"groups.{n}.los_multiplier", g.get("los_multiplier")),
            (f"groups.{n}.step_up_share", g.get("step_up_share")),
        ]
    for n, s in (cfg.get("services") or {}).items():
        out += [
            (f"services.{n}.capacity", s.get("capacity")),
            (f"services.{n}.assessment_multiplier", s.get("assessment_multiplier")),
        ]
    return out


# ---------------------------------------------------------------------------------------------
# The manifest


def manifest_section(res: Results) -> str:
    m = res.manifest
    versions = m.get("versions") or {}
    pairs: list[tuple[str, str]] = [
        ("kind", _e(m.get("kind"))),
        ("results folder", f"<code>{_e(res.path)}</code>"),
        ("git revision", f"<code>{_e(m.get('git_revision') or 'n/a')}</code>"),
    ]
    if res.is_sweep:
        pairs += [
            ("experiment", f"<code>{_e(m.get('experiment_source'))}</code>"),
            ("experiment hash (SHA-256)", f"<code>{_e(m.get('experiment_hash'))}</code>"),
            ("base config", f"<code>{_e(m.get('base_config_source'))}</code>"),
            (
                "runs",
                _e(
                    f"{m.get('runs')} ({len(res.cells)} cells × {m.get('replications')} replications); "
                    f"complete: {'yes' if m.get('complete') else 'no'}"
                ),
            ),
        ]
    else:
        pairs += [
            ("config", f"<code>{_e(m.get('config_source'))}</code>"),
            ("config hash (SHA-256)", f"<code>{_e(m.get('config_hash'))}</code>"),
            ("command", f"<code>{_e(' '.join(str(a) for a in m.get('command') or []))}</code>"),
            ("platform", _e(m.get("platform"))),
            ("workers", _e(m.get("workers"))),
            ("SimPy events", _e(fmt_number(float(m.get("simpy_events") or 0)))),
            ("started / finished", _e(f"{m.get('started_at')} / {m.get('finished_at')}")),
            ("wall time", _e(f"{m.get('wall_seconds')} s")),
        ]
    pairs.append(("root seed", _e(m.get("root_seed"))))
    out = [_kv(pairs)]
    out.append("<h3>Versions</h3>" + _table(["package", "version"], [[k, str(v)] for k, v in versions.items()]))
    if res.is_sweep:
        sess = [
            [
                str(i + 1),
                str(s.get("started_at")),
                str(s.get("finished_at")),
                f"{s.get('wall_seconds')} s",
                str(s.get("backend")),
                str(s.get("workers")),
            ]
            for i, s in enumerate(m.get("sessions") or [])
        ]
        out.append(
            "<h3>Sessions</h3>"
            + _table(["session", "started", "finished", "wall time", "backend", "workers"], sess, num={3})
        )
        cells = [
            [
                c.get("key"),
                _cell_name(
                    {f"param_{k}": v for k, v in (c.get("params") or {}).items()},
                    [f"param_{k}" for k in (c.get("params") or {})],
                ),
                f"<code>{_e(c.get('config_hash'))}</code>",
            ]
            for c in m.get("cells") or []
        ]
        out.append(
            f"<details><summary>Config hash of each of the {len(cells)} cells</summary>"
            + _table(
                ["cell", "sweep values", "config hash (SHA-256)"], [[_e(a), _e(b), c] for a, b, c in cells], raw=True
            )
            + "</details>"
        )
    slim = dict(m)
    if "cells" in slim:
        slim["cells"] = [{k: v for k, v in c.items() if k != "config"} for c in slim["cells"]]
    text = json.dumps(slim, indent=1, default=str)
    out.append(
        f"<details><summary>Full manifest (JSON{', cell configs left out' if res.is_sweep else ''})</summary>"
        f"<pre>{_e(text)}</pre></details>"
    )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Putting it together


def _figure_html(name: str, fig) -> str:
    data = base64.b64encode(plots.png_bytes(fig, FIGURE_DPI)).decode("ascii")
    w, h = (round(v * FIGURE_DPI) for v in fig.get_size_inches())
    title = FIGURE_TITLES.get(name, name)
    return (
        f'<figure id="fig-{name}"><h3>{_e(title)}</h3>'
        f'<img src="data:image/png;base64,{data}" width="{w}" height="{h}" alt="{_e(title)}">'
        f"<figcaption>{_e(FIGURE_CAPTIONS.get(name, ''))}</figcaption></figure>"
    )


def build_report(res: Results, scenario: Iterable[str] | None = None, point: int | None = None) -> str:
    """The report as one HTML string."""
    cells = plots.select_cells(res, scenario, point)
    order = ["fan", "robustness", "forest", "exceedance", "delays", "services"]
    names = [n for n in order if n in plots.available(res)]
    figures = []
    for n in names:
        fig = plots.make_figure(res, n, cells, point, scenario)
        figures.append(_figure_html(n, fig))
    title = f"{res.name}: {'does the plan hold?' if res.is_sweep and (res.experiment.get('criteria')) else 'results'}"
    question = (res.experiment.get("question") or "").strip() if res.is_sweep else ""
    base_cfg = res.cells[0].config
    kpis = _kpi_order(res)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style>",
        f"<script>{CHECK_SCRIPT}</script>",
        "</head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">hospsim report of <code>{_e(res.path)}</code> ({_e(res.kind)}, '
        f"{res.replications} replications{', ' + str(len(res.cells)) + ' scenario cells' if res.is_sweep else ''}); "
        f"made with hospsim {_e(__version__)}.</p>",
        '<nav><a href="#answer">Answer</a><a href="#figures">Figures</a><a href="#kpis">KPIs</a>'
        '<a href="#plan">Plan</a><a href="#model">Model</a><a href="#manifest">Manifest</a></nav>',
        '<section id="answer">',
        "<h2>The question and the answer</h2>",
    ]
    if res.is_sweep:
        if question:
            parts.append(f'<p class="question">{_e(question)}</p>')
        parts.append(verdict_section(res, cells))
    else:
        cfg = res.cells[0].config
        parts.append(
            f'<p class="question">How does <b>{_e(cfg.get("name"))}</b> perform? {_e(cfg.get("description") or "")}</p>'
        )
        parts.append(
            f"<p>A run of one config ({res.replications} replications): no plan criteria, so no verdict. "
            f"{_headline_run(res)}</p>"
        )
    parts.append("</section>")
    shown = ", ".join(c.label for c in cells)
    parts += [
        '<section id="figures">',
        "<h2>Key figures</h2>",
        f'<p class="note">Time series show: {_e(shown)}. Other cells: '
        f"<code>hospsim plot {_e(res.path)} --point N --scenario NAME</code>.</p>"
        if res.is_sweep
        else "",
        *figures,
        "</section>",
    ]
    parts += [
        '<section id="kpis">',
        "<h2>KPIs with 95% confidence intervals</h2>",
        '<p class="note">Mean over replications, with the t-based 95% confidence interval below. '
        "Definitions and units: the KPI dictionary in the README.</p>",
        kpi_table(res, cells, kpis),
    ]
    if res.is_sweep:
        parts += ["<h3>Change from the baseline (paired by replication)</h3>", paired_table(res, cells, kpis)]
        vt = verdict_table_html(res)
        if vt:
            parts.append(f"<details><summary>Every cell and criterion (verdicts.csv)</summary>{vt}</details>")
    all_k = [k for k in dict.fromkeys(res.summary["kpi"]) if k not in kpis]
    if all_k:
        parts.append(f"<details><summary>All other KPIs</summary>{kpi_table(res, cells, all_k)}</details>")
    parts.append("</section>")
    parts += ['<section id="plan">', "<h2>The plan and its criteria</h2>", plan_section(res), "</section>"]
    parts += [
        '<section id="model">',
        "<h2>Model description</h2>",
        '<p class="note">Generated from the '
        + ("baseline's resolved config" if res.is_sweep else "resolved config")
        + ", following the STRESS-DES reporting checklist (Monks et al. 2019).</p>",
        model_description(base_cfg, res),
        "</section>",
    ]
    parts += ['<section id="manifest">', "<h2>Manifest</h2>", manifest_section(res), "</section>"]
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def _headline_run(res: Results) -> str:
    s = res.summary.set_index("kpi")

    def get(k: str) -> str:
        if k not in s.index:
            return "n/a"
        r = s.loc[k]
        return f"{_num(r['mean'])} (95% CI {_ci(r['ci_low'], r['ci_high'])})"

    return (
        f"Mean occupied beds {get('mean_occupied_beds')}; mean occupancy {get('mean_occupancy')}; "
        f"delayed-transfer patients {get('mean_delayed_patients')}; waits over 12 h per 1,000 "
        f"{get('waits_over_12h_per_1000')}."
    )


def write_report(
    results: str | Path, out: str | Path | None = None, scenario: Iterable[str] | None = None, point: int | None = None
) -> Path:
    """Write the report of ``results`` to ``out`` (default ``RESULTS/report.html``)."""
    res = plots.load_results(results)
    path = Path(out) if out is not None else res.path / "report.html"
    if path.is_dir():
        path = path / "report.html"
    text = build_report(res, scenario, point)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
