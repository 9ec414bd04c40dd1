"""Figures from a results folder of ``hospsim run`` or ``hospsim sweep``.

Every figure function takes a :class:`Results` (see :func:`load_results`) and returns a
matplotlib :class:`~matplotlib.figure.Figure` drawn with the Agg backend, without pyplot (no
global figure state). The data drawn is exactly what the results tables hold, so tests check
figures by their content: the median and quantile bands recomputed from ``daily.parquet``, the
capacity line against ``beds_capacity``, the robustness map against ``verdicts.csv``.

Figures (names as in ``hospsim plot --what``):

``fan``         acute occupancy over calendar dates: median and 50% / 90% bands across
                replications, beds open as a step line, 85% and 92% of it, plan events marked
``delays``      delayed-transfer patients and ED waits over 4 h and 12 h per week
``services``    each community service: occupied places against capacity, and its waiting list
``exceedance``  share of days above each level of occupancy, baseline against the plan
``robustness``  (sweeps) share of replications in which the plan holds over the swept parameters
``forest``      (sweeps) paired change from the baseline in key KPIs, with 95% CIs

Output files are deterministic: fixed fonts (DejaVu Sans, bundled with matplotlib), no dates or
software versions in the metadata, and a fixed SVG hash salt.
"""

from __future__ import annotations

import functools
import io
import json
import math
import textwrap
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.artist
import matplotlib.dates as mdates
import matplotlib.patheffects as patheffects
import matplotlib.ticker
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..config import ConfigError
from .tables import fmt_number

BASELINE = "baseline"
ALL_CRITERIA = "all criteria"
FIGURES = ("fan", "delays", "services", "exceedance", "robustness", "forest")
SWEEP_ONLY = frozenset({"robustness", "forest"})
FORMATS = ("png", "svg", "pdf")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BAND_COLUMNS = ("q05", "q25", "q50", "q75", "q95")

# Okabe-Ito, the colour-blind-safe palette (Okabe & Ito 2008); yellow left out (too pale on white).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
CELL_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MAP_CMAP = "cividis"  # perceptually uniform and colour-blind safe

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.9",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": cycler(color=list(CELL_COLOURS)),
    "image.cmap": MAP_CMAP,
    "svg.hashsalt": "hospsim",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
}
# No software version or creation date in the files: same inputs, same bytes.
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}

# Readable names and units of parameters commonly swept (by config path).
PARAM_LABELS = {
    "plan_delivery.ic_delay_days": "intermediate care: delay (days)",
    "plan_delivery.ic_growth_achieved": "intermediate care: share of planned growth achieved",
}
# KPIs shown in the forest plot after the criteria's KPIs (when defined).
FOREST_KPIS = (
    "acute_bed_days",
    "mean_occupancy",
    "share_days_over_92pct",
    "mean_delayed_patients",
    "p_wait_over_4h",
    "waits_over_12h_per_1000",
    "mean_wait_hours",
    "elective_cancellations",
)


def _styled(fn: Callable) -> Callable:
    """Run a figure function under the package style (without touching global rcParams)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg backend, whatever pyplot's backend is
    return fig


# ---------------------------------------------------------------------------------------------
# Reading a results folder


@dataclass(frozen=True)
class Cell:
    """One (scenario, sweep point) of a sweep, or the single config of a run."""

    key: str
    scenario: str
    point: int
    params: dict[str, Any]
    config: dict  # resolved config, as in the manifest

    @property
    def label(self) -> str:
        if not self.params:
            return self.scenario
        return f"{self.scenario} at " + ", ".join(f"{k}={fmt_number(v)}" for k, v in self.params.items())

    @property
    def start_date(self) -> np.datetime64:
        return np.datetime64(str(self.config["start_date"]), "D")


@dataclass
class Results:
    """A results folder: what it is, its cells and its tables (daily rows read on demand)."""

    path: Path
    kind: str  # "run" | "sweep"
    manifest: dict
    name: str
    cells: list[Cell]
    kpis: pd.DataFrame  # one row per run: scenario, point, replication, KPIs
    summary: pd.DataFrame
    window: tuple[int, int]
    verdicts: pd.DataFrame | None = None
    paired: pd.DataFrame | None = None
    parameters: dict[str, str] = field(default_factory=dict)  # swept name -> config path
    _daily_cache: dict = field(default_factory=dict, repr=False)

    @property
    def is_sweep(self) -> bool:
        return self.kind == "sweep"

    @property
    def experiment(self) -> dict:
        return self.manifest.get("experiment", {}) if self.is_sweep else {}

    @property
    def replications(self) -> int:
        return int(self.manifest.get("replications") or self.kpis["replication"].nunique())

    def cell(self, scenario: str, point: int = -1) -> Cell:
        for c in self.cells:
            if c.scenario == scenario and c.point == point:
                return c
        raise ConfigError(f"{self.path}: no cell {scenario!r} at point {point}")

    def kpis_of(self, cell: Cell) -> pd.DataFrame:
        k = self.kpis
        return k[(k["scenario"] == cell.scenario) & (k["point"] == cell.point)].sort_values("replication")

    def daily(self, cells: Iterable[Cell], columns: Iterable[str]) -> pd.DataFrame:
        """Daily rows of ``cells`` (``scenario, point, replication, day`` and ``columns``)."""
        cells = list(cells)
        want = ["scenario", "point", "replication", "day", *dict.fromkeys(columns)]
        key = (tuple(c.key for c in cells), tuple(want))
        if key not in self._daily_cache:
            self._daily_cache[key] = _read_daily(self, cells, want)
        return self._daily_cache[key]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def _need(path: Path, hint: str = "") -> Path:
    if not path.exists():
        raise ConfigError(f"{path.parent}: missing {path.name}{hint}")
    return path


def _table(path: Path, hint: str = "") -> pd.DataFrame:
    """A results table (CSV or Parquet); a missing or unreadable one is a one-line error."""
    _need(path, hint)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: unreadable ({first})") from None


def load_results(path: str | Path) -> Results:
    """Open a results folder of ``hospsim run`` or ``hospsim sweep``; a bad folder is a
    one-line :class:`ConfigError`."""
    p = Path(path)
    if not p.is_dir():
        raise ConfigError(f"{p}: no such results folder")
    mpath = p / "manifest.json"
    if not mpath.exists():
        raise ConfigError(f"{p}: not a results folder of `hospsim run` or `hospsim sweep` (no manifest.json)")
    manifest = _read_json(mpath)
    kind = manifest.get("kind")
    if kind == "run":
        return _load_run(p, manifest)
    if kind == "sweep":
        return _load_sweep(p, manifest)
    raise ConfigError(f"{mpath}: kind: expected 'run' or 'sweep', got {kind!r}")


def _load_run(p: Path, manifest: dict) -> Results:
    cfg = manifest.get("config")
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise ConfigError(f"{p / 'manifest.json'}: config: missing")
    name = str(cfg["name"])
    if not (p / "daily.parquet").exists() and not (p / "daily.csv").exists():
        raise ConfigError(f"{p}: missing daily.parquet (or daily.csv)")
    reps = _table(p / "replications.csv")
    if "replication" not in reps.columns:
        raise ConfigError(f"{p / 'replications.csv'}: no replication column")
    reps.insert(0, "point", -1)
    reps.insert(0, "scenario", name)
    summary = _table(p / "summary.csv")
    cell = Cell(key=name, scenario=name, point=-1, params={}, config=cfg)
    window = (int(cfg.get("warmup_days", 0)), int(cfg["horizon_days"]))
    return Results(p, "run", manifest, name, [cell], reps, summary, window)


def _load_sweep(p: Path, manifest: dict) -> Results:
    hint = " (has the sweep finished? finish it with `hospsim sweep EXPERIMENT --out DIR --resume`)"
    kpis = _table(p / "kpis.parquet", hint)
    _need(p / "daily.parquet", hint)
    summary = _table(p / "summary.csv", hint)
    paired = _table(p / "paired_differences.csv", hint)
    verdicts = _table(p / "verdicts.csv", hint)
    exp = manifest.get("experiment") or {}
    cells = [
        Cell(
            key=c["key"],
            scenario=c["scenario"],
            point=int(c["point"]),
            params=dict(c.get("params") or {}),
            config=c["config"],
        )
        for c in manifest.get("cells", [])
    ]
    if not cells:
        raise ConfigError(f"{p / 'manifest.json'}: cells: missing")
    base = cells[0].config
    w = exp.get("window")
    window = (
        (int(w["start_day"]), int(w["end_day"])) if w else (int(base.get("warmup_days", 0)), int(base["horizon_days"]))
    )
    sweep = exp.get("sweep") or {}
    parameters = {n: str(spec.get("path", n)) for n, spec in (sweep.get("parameters") or {}).items()}
    return Results(
        p,
        "sweep",
        manifest,
        str(exp.get("name", p.name)),
        cells,
        kpis,
        summary,
        window,
        verdicts=verdicts,
        paired=paired,
        parameters=parameters,
    )


def _read_daily(res: Results, cells: list[Cell], want: list[str]) -> pd.DataFrame:
    if res.kind == "run":
        cols = [c for c in want if c not in ("scenario", "point")]
        pq_path = res.path / "daily.parquet"
        if pq_path.exists():
            d = pd.read_parquet(pq_path, columns=cols)
        else:
            d = pd.read_csv(res.path / "daily.csv", usecols=cols)
        d.insert(0, "point", -1)
        d.insert(0, "scenario", cells[0].scenario)
        return d[want].reset_index(drop=True)
    import pyarrow.parquet as pq

    filters = [[("scenario", "==", c.scenario), ("point", "==", c.point)] for c in cells]
    table = pq.read_table(res.path / "daily.parquet", columns=want, filters=filters)
    return table.to_pandas().reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Choosing what to show


def on_time_point(res: Results) -> int:
    """The sweep point at which the plan's intermediate care is delivered on time and in full
    (``plan_delivery`` at its defaults); the first point if there is none."""
    swept = [c for c in res.cells if c.point >= 0]
    for c in sorted(swept, key=lambda c: c.point):
        pdv = c.config.get("plan_delivery") or {}
        if int(pdv.get("ic_delay_days", 0)) == 0 and float(pdv.get("ic_growth_achieved", 1.0)) == 1.0:
            return c.point
    return min((c.point for c in swept), default=-1)


def points(res: Results) -> dict[int, dict[str, Any]]:
    """Sweep point index -> its parameter values."""
    out: dict[int, dict[str, Any]] = {}
    for c in res.cells:
        if c.point >= 0:
            out.setdefault(c.point, c.params)
    return dict(sorted(out.items()))


def scenarios(res: Results) -> list[str]:
    """Scenario names other than the baseline, in the experiment's order."""
    return list(dict.fromkeys(c.scenario for c in res.cells if c.scenario != BASELINE)) if res.is_sweep else []


def select_cells(res: Results, scenario: Iterable[str] | None = None, point: int | None = None) -> list[Cell]:
    """The cells to draw: for a run, its one config; for a sweep, the baseline and each scenario
    (or those named) at sweep point ``point`` (default: :func:`on_time_point`)."""
    if not res.is_sweep:
        return list(res.cells)
    names = scenarios(res)
    chosen = list(dict.fromkeys(scenario or [])) or names
    for s in chosen:
        if s not in names and s != BASELINE:
            raise ConfigError(f"--scenario {s}: no such scenario in {res.path} (scenarios: {', '.join(names)})")
    pts = points(res)
    if point is not None and point not in pts:
        known = "; ".join(f"{i}: {_params_text(v)}" for i, v in pts.items()) or "none (nothing is swept)"
        raise ConfigError(f"--point {point}: no such sweep point in {res.path} (points: {known})")
    at = on_time_point(res) if point is None else point
    out = [res.cell(BASELINE)]
    for s in chosen:
        if s == BASELINE:
            continue
        swept = [c for c in res.cells if c.scenario == s and c.point >= 0]
        out.append(next(c for c in swept if c.point == at) if swept else res.cell(s))
    return out


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt_number(v)}" for k, v in params.items())


def param_label(res: Results, name: str) -> str:
    path = res.parameters.get(name, name)
    return PARAM_LABELS.get(path, f"{name} ({path})" if path != name else name)


# ---------------------------------------------------------------------------------------------
# Numbers behind the figures (also used by the report and the tests)


def pivot(daily: pd.DataFrame, cell: Cell, column: str) -> pd.DataFrame:
    """``column`` of one cell as a table: one row per day, one column per replication."""
    d = daily[(daily["scenario"] == cell.scenario) & (daily["point"] == cell.point)]
    return d.pivot(index="day", columns="replication", values=column).sort_index()


def quantile_bands(table: pd.DataFrame) -> pd.DataFrame:
    """Per row (day), the 5%, 25%, 50%, 75% and 95% quantiles across columns (replications)."""
    arr = table.to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        q = np.nanquantile(arr, QUANTILES, axis=1)
    return pd.DataFrame(q.T, index=table.index, columns=list(BAND_COLUMNS))


def weekly_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Sums over whole weeks counted from day 0 (a last partial week is dropped); the index is
    the first day of each week."""
    week = table.index.to_numpy() // 7
    sums = table.groupby(week).sum(min_count=1)
    counts = table.groupby(week).size()
    sums = sums[counts.to_numpy() == 7]
    sums.index = sums.index * 7
    return sums


def exceedance(res: Results, cell: Cell, daily: pd.DataFrame, levels: np.ndarray) -> np.ndarray:
    """Share of measured days with occupancy above each level, pooled over replications (the
    mean of each replication's share, as ``share_days_over_85pct`` is averaged)."""
    d = daily[(daily["scenario"] == cell.scenario) & (daily["point"] == cell.point)]
    d = d[(d["day"] >= res.window[0]) & (d["day"] < res.window[1])]
    cap = d["beds_capacity"].to_numpy(dtype=float)
    occ = d["occupied_beds_mean"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        occupancy = np.where(cap > 0, occ / np.where(cap > 0, cap, 1.0), np.where(occ > 0, np.inf, 0.0))
    reps = d["replication"].to_numpy()
    shares = [(occupancy[reps == r][:, None] > levels[None, :]).mean(axis=0) for r in np.unique(reps)]
    return np.mean(shares, axis=0)


@dataclass(frozen=True)
class PlanEvent:
    """A change of core acute beds, in one replication (or in all: ``replication`` None)."""

    first_day: int
    last_day: int
    before: int
    after: int
    replication: int | None


def bed_events(core: pd.DataFrame) -> list[PlanEvent]:
    """Changes of core beds (beds open minus winter escalation), grouped into events: changes
    less than a month apart (a ramp) are one event. ``core`` is day x replication."""
    per_rep: dict[int, list[tuple[int, int, int, int]]] = {}
    for rep in core.columns:
        s = core[rep].to_numpy()
        days = core.index.to_numpy()
        change = np.flatnonzero(np.diff(s) != 0) + 1
        events: list[list[int]] = []
        for i in change:
            if events and days[i] - events[-1][1] <= 31:
                events[-1][1] = int(days[i])
                events[-1][3] = int(s[i])
            else:
                events.append([int(days[i]), int(days[i]), int(s[i - 1]), int(s[i])])
        per_rep[int(rep)] = [tuple(e) for e in events]  # type: ignore[misc]
    lists = list(per_rep.values())
    if lists and all(lst == lists[0] for lst in lists):
        return [PlanEvent(*e, replication=None) for e in lists[0]]
    return [PlanEvent(*e, replication=r) for r, lst in per_rep.items() for e in lst]


def gate_columns(kpis: pd.DataFrame) -> list[str]:
    return [c for c in kpis.columns if c.startswith("gate_") and c.endswith("_open_day")]


def gate_label(column: str) -> str:
    """``gate_acute_beds_open_day`` -> ``acute beds``."""
    return column[len("gate_") : -len("_open_day")].replace("_", " ")


def services_of(cell: Cell) -> list[str]:
    return list((cell.config.get("services") or {}).keys())


# ---------------------------------------------------------------------------------------------
# Drawing helpers


def _dates(cell: Cell, days: Iterable[int]) -> np.ndarray:
    return cell.start_date + np.asarray(list(days), dtype="timedelta64[D]")


def _date_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


UNMEASURED = {"facecolor": "0.97", "edgecolor": "0.8", "hatch": "//", "lw": 0, "zorder": 0}


def _shade_unmeasured(ax, res: Results, cell: Cell, horizon: int) -> None:
    start, end = res.window
    kw = UNMEASURED
    if start > 0:
        ax.axvspan(_dates(cell, [0])[0], _dates(cell, [start])[0], **kw)
    if end < horizon:
        ax.axvspan(_dates(cell, [end])[0], _dates(cell, [horizon])[0], **kw)


def _unmeasured_handle(res: Results) -> Patch:
    if res.is_sweep and res.experiment.get("window"):
        return Patch(**UNMEASURED, label="not measured (outside the verdict window)")
    return Patch(**UNMEASURED, label="warm-up (not measured)")


def _band(
    ax,
    x,
    bands: pd.DataFrame,
    colour: str,
    gid: str,
    *,
    wide: bool = True,
    label: str | None = None,
    ls: str = "-",
    alpha: float = 0.3,
) -> None:
    if wide:
        ax.fill_between(x, bands["q05"], bands["q95"], color=colour, alpha=alpha / 2, lw=0, gid=f"{gid}-band90")
    ax.fill_between(x, bands["q25"], bands["q75"], color=colour, alpha=alpha, lw=0, gid=f"{gid}-band50")
    ax.plot(x, bands["q50"], color=colour, lw=1.5, ls=ls, gid=f"{gid}-median", label=label, zorder=4)


def _suptitle(fig: Figure, text: str) -> None:
    """The figure's title, wrapped to the figure's width."""
    width = int(fig.get_figwidth() * 9)
    fig.suptitle(textwrap.fill(text, width=max(width, 40)))


def _title_suffix(res: Results) -> str:
    n = res.replications
    return f"{n} replication{'s' if n != 1 else ''}"


def _cell_colour(i: int) -> str:
    return CELL_COLOURS[i % len(CELL_COLOURS)]


LINE_STYLES = ("-", "--", "-.", ":")


def _cell_style(i: int) -> str:
    """Line style per cell, so that cells that coincide stay visible."""
    return LINE_STYLES[i % len(LINE_STYLES)]


def find(fig: Figure, gid: str):
    """The artist with this gid (tests and callers use it to read what was drawn)."""
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.collections, *ax.images]:
            if artist.get_gid() == gid:
                return artist
    raise KeyError(gid)


# ---------------------------------------------------------------------------------------------
# The figures


@_styled
def fan_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """Occupied acute beds over calendar dates, one panel per cell: median and 50% / 90% bands
    across replications, beds open (step line) with 85% and 92% of it, bed cuts and gate
    openings marked. Artists: ``fan-<i>-median|band50|band90|capacity|cap85|cap92``."""
    cells = cells or select_cells(res)
    daily = res.daily(cells, ["occupied_beds_mean", "beds_capacity", "escalation_beds_open"])
    fig = _figure(11, 1.4 + 3.1 * len(cells))
    axes = fig.subplots(len(cells), 1, sharex=True, squeeze=False)[:, 0]
    blue = OKABE_ITO["blue"]
    any_events = {"cut": False, "varied": False, "gate": False}
    for i, (ax, cell) in enumerate(zip(axes, cells)):
        occ = pivot(daily, cell, "occupied_beds_mean")
        cap_t = pivot(daily, cell, "beds_capacity")
        core = cap_t - pivot(daily, cell, "escalation_beds_open")
        x = _dates(cell, occ.index)
        _shade_unmeasured(ax, res, cell, int(occ.index.max()) + 1)
        bands = quantile_bands(occ)
        _band(ax, x, bands, blue, f"fan-{i}")
        same_cap = bool((cap_t.nunique(axis=1) <= 1).all())
        cap = cap_t.median(axis=1)
        if not same_cap:
            ax.fill_between(
                x,
                cap_t.min(axis=1),
                cap_t.max(axis=1),
                step="post",
                color="0.6",
                alpha=0.25,
                lw=0,
                gid=f"fan-{i}-caprange",
            )
        ax.step(x, cap, where="post", color="black", lw=1.4, gid=f"fan-{i}-capacity")
        ax.step(x, 0.92 * cap, where="post", color=OKABE_ITO["vermillion"], lw=1.0, ls="--", gid=f"fan-{i}-cap92")
        ax.step(x, 0.85 * cap, where="post", color=OKABE_ITO["orange"], lw=1.0, ls=":", gid=f"fan-{i}-cap85")
        top = float(np.nanmax([np.nanmax(cap.to_numpy()), np.nanmax(bands["q95"].to_numpy())])) * 1.12
        ax.set_ylim(0, top if top > 0 else 1)
        # Plan events: bed cuts (core beds change), gate openings (per replication).
        purple = OKABE_ITO["purple"]
        for ev in bed_events(core):
            x0 = _dates(cell, [ev.first_day])[0]
            verb = "cut" if ev.after < ev.before else "added"
            if ev.replication is None:
                any_events["cut"] = True
                if ev.last_day > ev.first_day:
                    ax.axvspan(x0, _dates(cell, [ev.last_day])[0], color=purple, alpha=0.12, lw=0)
                ax.axvline(x0, color=purple, lw=1.2, ls="-.")
                ax.annotate(
                    f"beds {verb}: {ev.before:,} \u2192 {ev.after:,}",
                    (x0, 0.97),
                    xycoords=("data", "axes fraction"),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="top",
                    fontsize=9,
                    color=purple,
                )
            else:
                any_events["varied"] = True
                ax.plot([x0], [ev.after], marker="v", ms=7, color=purple, ls="none", zorder=5)
        kc = res.kpis_of(cell)
        for col in gate_columns(kc):
            opened = kc[col].dropna().to_numpy(dtype=float)
            if opened.size == 0:
                continue
            any_events["gate"] = True
            gx = _dates(cell, opened.astype(int))
            ax.plot(
                gx,
                np.full(gx.size, 0.03),
                transform=ax.get_xaxis_transform(),
                marker="^",
                ms=8,
                color=OKABE_ITO["green"],
                ls="none",
                zorder=5,
            )
            n_open, n = opened.size, len(kc)
            ax.annotate(
                f"gate on {gate_label(col)} opened in {n_open} of {n} replications",
                (gx.min(), 0.08),
                xycoords=("data", "axes fraction"),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=9,
                color=OKABE_ITO["green"],
            )
        ax.set_title(cell.label, loc="left")
        ax.set_ylabel("occupied acute beds\n(daily time-weighted mean)")
        _date_axis(ax)
    handles = [
        Line2D([], [], color=blue, lw=1.5, label="median"),
        Patch(color=blue, alpha=0.45, label="50% of replications"),
        Patch(color=blue, alpha=0.15, label="90% of replications"),
        Line2D(
            [],
            [],
            color="black",
            lw=1.4,
            label="beds open"
            + (
                " (core + winter escalation)"
                if any((c.config.get("acute") or {}).get("escalation") for c in cells)
                else ""
            ),
        ),
        Line2D([], [], color=OKABE_ITO["vermillion"], lw=1, ls="--", label="92% of beds open"),
        Line2D([], [], color=OKABE_ITO["orange"], lw=1, ls=":", label="85% of beds open"),
        _unmeasured_handle(res),
    ]
    if any_events["cut"]:
        handles.append(Line2D([], [], color=OKABE_ITO["purple"], ls="-.", label="bed cut (plan)"))
    if any_events["varied"]:
        handles.append(
            Line2D([], [], color=OKABE_ITO["purple"], marker="v", ls="none", label="bed cut, per replication")
        )
    if any_events["gate"]:
        handles.append(
            Line2D([], [], color=OKABE_ITO["green"], marker="^", ls="none", label="gate opened, per replication")
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    _suptitle(fig, f"{res.name}: acute bed occupancy, {_title_suffix(res)}")
    return fig


@_styled
def delays_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """Delayed-transfer patients (daily mean) and emergencies waiting over 4 h and 12 h for a
    bed (per week, by arrival), per cell: median and 50% band across replications.
    Artists: ``delays-<panel>-<i>-median|band50`` with panel ``delayed``, ``wait4``, ``wait12``."""
    cells = cells or select_cells(res)
    daily = res.daily(cells, ["delayed_patients_mean", "waits_over_4h", "waits_over_12h"])
    fig = _figure(11, 10)
    axes = fig.subplots(3, 1, sharex=True)
    panels = [
        (
            "delayed",
            "delayed_patients_mean",
            False,
            "Delayed transfers of care: medically fit patients still in an acute bed",
            "patients (daily mean)",
        ),
        (
            "wait4",
            "waits_over_4h",
            True,
            "Emergencies waiting over 4 hours for a bed (ED boarding)",
            "patients per week\n(by week of arrival)",
        ),
        (
            "wait12",
            "waits_over_12h",
            True,
            "Emergencies waiting over 12 hours for a bed",
            "patients per week\n(by week of arrival)",
        ),
    ]
    for ax, (tag, col, weekly, title, ylabel) in zip(axes, panels):
        horizon = 0
        for i, cell in enumerate(cells):
            t = pivot(daily, cell, col)
            horizon = max(horizon, int(t.index.max()) + 1)
            if weekly:
                t = weekly_totals(t)
            _band(
                ax,
                _dates(cell, t.index),
                quantile_bands(t),
                _cell_colour(i),
                f"delays-{tag}-{i}",
                wide=False,
                label=cell.label,
                ls=_cell_style(i),
                alpha=0.15,
            )
        _shade_unmeasured(ax, res, cells[0], horizon)
        ax.set_title(title, loc="left")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        _date_axis(ax)
    handles = [
        Line2D([], [], color=_cell_colour(i), ls=_cell_style(i), lw=1.5, label=c.label) for i, c in enumerate(cells)
    ]
    handles += [Patch(color="0.5", alpha=0.3, label="50% of replications (shaded)"), _unmeasured_handle(res)]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    _suptitle(fig, f"{res.name}: delayed transfers and ED waits, median of {_title_suffix(res)}")
    return fig


@_styled
def services_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """For each community service: occupied places (median, 90% band) against its capacity
    (step line, as delivered), and its waiting list (patients ready to transfer with no place).
    Artists: ``svc-<service>-<i>-median|band50|band90|capacity`` and ``queue-<service>-<i>-...``."""
    cells = cells or select_cells(res)
    names = list(dict.fromkeys(s for c in cells for s in services_of(c)))
    if not names:
        fig = _figure(8, 2)
        fig.text(0.5, 0.5, f"{res.name}: no community services in this config", ha="center", va="center")
        return fig
    cols = [f"{s}_{k}" for s in names for k in ("occupied_mean", "capacity", "queue_mean")]
    daily = res.daily(cells, cols)
    fig = _figure(12, 1.2 + 2.9 * len(names))
    axes = fig.subplots(len(names), 2, sharex=True, squeeze=False)
    horizon = int(daily["day"].max()) + 1
    for row, svc in enumerate(names):
        ax_occ, ax_q = axes[row]
        for i, cell in enumerate(cells):
            if svc not in services_of(cell):
                continue
            colour = _cell_colour(i)
            occ = pivot(daily, cell, f"{svc}_occupied_mean")
            x = _dates(cell, occ.index)
            _band(ax_occ, x, quantile_bands(occ), colour, f"svc-{svc}-{i}", ls=_cell_style(i), alpha=0.2)
            cap = pivot(daily, cell, f"{svc}_capacity").median(axis=1)
            ax_occ.step(
                x, cap, where="post", color=colour, lw=2.2, alpha=0.6, ls=_cell_style(i), gid=f"svc-{svc}-{i}-capacity"
            )
            if svc != "step_up":
                q = pivot(daily, cell, f"{svc}_queue_mean")
                _band(ax_q, x, quantile_bands(q), colour, f"queue-{svc}-{i}", wide=False, ls=_cell_style(i), alpha=0.15)
        for ax in (ax_occ, ax_q):
            _shade_unmeasured(ax, res, cells[0], horizon)
            _date_axis(ax)
        ax_occ.set_title(f"{svc}: occupied places and capacity", loc="left")
        ax_occ.set_ylabel("places")
        ax_occ.set_ylim(bottom=0)
        if svc == "step_up":
            ax_q.set_title(f"{svc}: no waiting list", loc="left")
            ax_q.text(
                0.5,
                0.5,
                "Step-up takes a suitable emergency only if a place is free;\n"
                "otherwise the patient is admitted (see step_up_p_wait).",
                transform=ax_q.transAxes,
                ha="center",
                va="center",
                fontsize=9,
                color="0.3",
            )
            ax_q.set_yticks([])
        else:
            ax_q.set_title(f"{svc}: waiting list", loc="left")
            ax_q.set_ylabel("patients ready to transfer,\nno place yet (daily mean)")
            ax_q.set_ylim(bottom=0)
    handles = [
        Line2D([], [], color=_cell_colour(i), ls=_cell_style(i), lw=1.5, label=c.label) for i, c in enumerate(cells)
    ]
    handles += [
        Line2D([], [], color="0.3", lw=2.2, alpha=0.6, label="capacity (places as delivered; thick line)"),
        Patch(color="0.5", alpha=0.3, label="50% / 90% of replications (shaded)"),
        _unmeasured_handle(res),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    _suptitle(fig, f"{res.name}: community services, median of {_title_suffix(res)}")
    return fig


EXCEEDANCE_LEVELS = np.arange(300, 1301) / 1000  # 30% .. 130%, 0.1% steps (0.85 and 0.92 exact)


@_styled
def exceedance_chart(res: Results, cells: list[Cell] | None = None) -> Figure:
    """Share of measured days whose occupancy (time-weighted, of beds open) is above each level,
    per cell. Artists: ``exceed-<i>`` (x in %, y in % of days)."""
    cells = cells or select_cells(res)
    daily = res.daily(cells, ["occupied_beds_mean", "beds_capacity"])
    fig = _figure(9, 5.6)
    ax = fig.subplots()
    top = 1.0
    lowest = 1.0
    for i, cell in enumerate(cells):
        share = exceedance(res, cell, daily, EXCEEDANCE_LEVELS)
        ax.plot(
            EXCEEDANCE_LEVELS * 100,
            share * 100,
            color=_cell_colour(i),
            lw=1.8,
            ls=_cell_style(i),
            gid=f"exceed-{i}",
            label=cell.label,
        )
        above = EXCEEDANCE_LEVELS[share > 0]
        if above.size:
            top = max(top, float(above.max()) + 0.02)
        below = EXCEEDANCE_LEVELS[share < 1]
        if below.size:
            lowest = min(lowest, float(below.min()) - 0.05)
    for level, colour, ls in ((85, OKABE_ITO["orange"], ":"), (92, OKABE_ITO["vermillion"], "--")):
        ax.axvline(level, color=colour, ls=ls, lw=1)
        ax.annotate(
            f"{level}%",
            (level, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            color=colour,
            fontsize=9,
        )
    ax.set_xlim(max(30.0, 100 * lowest), min(130.0, 100 * top))
    ax.set_ylim(0, 102)
    ax.set_xlabel("bed occupancy (% of beds open, daily time-weighted mean)")
    ax.set_ylabel("share of days above it (%)")
    start, end = res.window
    c0 = cells[0]
    period = f"{_dates(c0, [start])[0]} to {_dates(c0, [end - 1])[0]}"
    ax.set_title(
        f"Days above each occupancy level, {period}, pooled over {_title_suffix(res)}",
        loc="left",
        fontsize=10,
        fontweight="normal",
    )
    ax.legend(loc="lower left", frameon=False)
    _suptitle(fig, f"{res.name}: occupancy exceedance")
    return fig


def robustness_data(res: Results, criterion: str = ALL_CRITERIA) -> dict[str, pd.DataFrame]:
    """Per swept scenario, the share of replications in which ``criterion`` holds, as a table
    (rows: second parameter, columns: first parameter; one column if one parameter is swept).
    With more than two parameters, shares are averaged over the others."""
    v = res.verdicts
    if v is None or v.empty:
        raise ConfigError(f"{res.path}: the experiment states no criteria, so there is nothing to map")
    known = list(dict.fromkeys(v["criterion"]))
    if criterion not in known:
        raise ConfigError(f"--criterion {criterion}: not in {res.path / 'verdicts.csv'} (criteria: {'; '.join(known)})")
    params = [c for c in v.columns if c.startswith("param_")]
    if not params:
        raise ConfigError(f"{res.path}: nothing is swept, so there is no robustness map")
    v = v[(v["criterion"] == criterion) & (v["point"] >= 0)]
    out = {}
    for scen, g in v.groupby("scenario", sort=False):
        if len(params) == 1:
            out[scen] = g.groupby(params[0])["share_holds"].mean().to_frame().T
        else:
            out[scen] = g.pivot_table(index=params[1], columns=params[0], values="share_holds", aggfunc="mean")
    return out


CONTOUR_COLOURS = (OKABE_ITO["vermillion"], "black")  # 50%, 90%
HALO = [patheffects.withStroke(linewidth=4.5, foreground="white")]  # visible on dark and light cells


def _halo(contours) -> None:
    """A white halo around contour lines (a ContourSet is one artist from matplotlib 3.8)."""
    if isinstance(contours, matplotlib.artist.Artist):
        contours.set_path_effects(HALO)
    else:  # matplotlib 3.7: one collection per level
        for c in contours.collections:
            c.set_path_effects(HALO)


@_styled
def robustness_map(res: Results, criterion: str = ALL_CRITERIA) -> Figure:
    """Share of replications in which the plan holds over the two swept parameters, one panel
    per scenario, with the 50% and 90% contours. Artists: ``robust-<scenario>`` (the mesh, its
    array in the table's row order)."""
    data = robustness_data(res, criterion)
    v = res.verdicts
    params = [c for c in v.columns if c.startswith("param_")]
    method = (res.experiment.get("sweep") or {}).get("method") or "grid"
    n = len(data)
    fig = _figure(max(8.0, 1.2 + 4.6 * n), 5.2)
    axes = fig.subplots(1, n, squeeze=False)[0]
    mesh = None
    for ax, (scen, table) in zip(axes, data.items()):
        xs, ys = list(table.columns), list(table.index)
        z = table.to_numpy(dtype=float)
        if method == "grid" or len(params) == 1:
            xe, ye = np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5
            mesh = ax.pcolormesh(
                xe, ye, z, cmap=MAP_CMAP, vmin=0, vmax=1, gid=f"robust-{scen}", edgecolors="white", linewidth=0.5
            )
            vg = v[(v["criterion"] == criterion) & (v["scenario"] == scen) & (v["point"] >= 0)]
            for yi, yv in enumerate(ys):
                for xi, xv in enumerate(xs):
                    val = z[yi, xi]
                    if np.isnan(val):
                        continue
                    label = f"{val:.0%}"
                    if len(params) == 2 and len(xs) * len(ys) <= 36:
                        r = vg[(vg[params[0]] == xv) & (vg[params[1]] == yv)]
                        if len(r) == 1:
                            label += f"\n({r['ci_low'].iloc[0]:.0%}\u2013{r['ci_high'].iloc[0]:.0%})"
                    ax.text(
                        xi, yi, label, ha="center", va="center", fontsize=9, color="white" if val < 0.55 else "black"
                    )
            if min(z.shape) >= 2 and np.isfinite(z).all() and np.nanmin(z) < np.nanmax(z):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cs = ax.contour(
                        np.arange(len(xs)),
                        np.arange(len(ys)),
                        z,
                        levels=[0.5, 0.9],
                        colors=CONTOUR_COLOURS,
                        linewidths=2,
                        linestyles=["--", "-"],
                    )
                    _halo(cs)
            ax.set_xticks(range(len(xs)), [fmt_number(float(x)) for x in xs])
            if len(params) > 1:
                ax.set_yticks(range(len(ys)), [fmt_number(float(y)) for y in ys])
            else:
                ax.set_yticks([])
            ax.grid(False)
        else:
            g = v[(v["criterion"] == criterion) & (v["scenario"] == scen) & (v["point"] >= 0)]
            x, y, s = (g[params[0]].to_numpy(float), g[params[1]].to_numpy(float), g["share_holds"].to_numpy(float))
            mesh = ax.scatter(
                x, y, c=s, cmap=MAP_CMAP, vmin=0, vmax=1, s=90, edgecolors="0.3", gid=f"robust-{scen}", zorder=3
            )
            if len(x) <= 40:
                for xi, yi, si in zip(x, y, s):
                    ax.annotate(
                        f"{si:.0%}",
                        (xi, yi),
                        xytext=(0, 7),
                        textcoords="offset points",
                        ha="center",
                        fontsize=8,
                        color="0.2",
                    )
            if len(x) >= 4 and np.ptp(s) > 0:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        cs = ax.tricontour(
                            x, y, s, levels=[0.5, 0.9], colors=CONTOUR_COLOURS, linewidths=2, linestyles=["--", "-"]
                        )
                        _halo(cs)
                except (ValueError, RuntimeError):
                    pass
            for lim, vals in ((ax.set_xlim, x), (ax.set_ylim, y)):
                pad = 0.08 * (np.ptp(vals) or 1.0)
                lim(vals.min() - pad, vals.max() + pad)
        ax.set_xlabel(param_label(res, params[0][len("param_") :]))
        if len(params) > 1:
            ax.set_ylabel(param_label(res, params[1][len("param_") :]))
        ax.set_title(scen, loc="left")
    if mesh is not None:
        cb = fig.colorbar(mesh, ax=list(axes), shrink=0.9)
        cb.set_label("share of replications in which the plan holds")
        cb.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    fig.legend(
        handles=[
            Line2D([], [], color=CONTOUR_COLOURS[0], lw=2, ls="--", label="50% contour", path_effects=HALO),
            Line2D([], [], color=CONTOUR_COLOURS[1], lw=2, label="90% contour", path_effects=HALO),
        ],
        loc="outside lower center",
        ncol=2,
        frameon=False,
    )
    what = "the plan holds (all criteria)" if criterion == ALL_CRITERIA else f"'{criterion}' holds"
    extra = f"; averaged over {', '.join(p[6:] for p in params[2:])}" if len(params) > 2 else ""
    _suptitle(fig, f"{res.name}: share of replications in which {what}, n = {res.replications} per cell{extra}")
    return fig


def forest_data(res: Results, point: int | None = None, scenario: Iterable[str] | None = None) -> pd.DataFrame:
    """Paired differences at the chosen sweep point for the criteria's KPIs and a few key ones,
    as relative change from the baseline with its 95% CI (``rel``, ``rel_low``, ``rel_high``);
    rows whose baseline mean is 0 or undefined have NaN there."""
    p = res.paired
    if p is None or p.empty:
        raise ConfigError(f"{res.path}: no paired differences (paired_differences.csv is empty)")
    cells = select_cells(res, scenario, point)[1:]
    crit = [c["kpi"] for c in res.experiment.get("criteria") or []]
    kpis = [k for k in dict.fromkeys([*crit, *FOREST_KPIS]) if k in set(p["kpi"])]
    rows = []
    for cell in cells:
        g = p[(p["scenario"] == cell.scenario) & (p["point"] == cell.point)].set_index("kpi")
        for k in kpis:
            if k not in g.index:
                continue
            r = g.loc[k]
            b = float(r["baseline_mean"])
            ok = math.isfinite(b) and b != 0
            lo, hi = (float(r["ci_low"]) / abs(b), float(r["ci_high"]) / abs(b)) if ok else (math.nan, math.nan)
            rows.append(
                {
                    "cell": cell.key,
                    "label": cell.label,
                    "scenario": cell.scenario,
                    "point": cell.point,
                    "kpi": k,
                    "baseline_mean": b,
                    "scenario_mean": float(r["scenario_mean"]),
                    "difference": float(r["difference"]),
                    "ci_low": float(r["ci_low"]),
                    "ci_high": float(r["ci_high"]),
                    "n": int(r["n"]),
                    "rel": float(r["difference"]) / abs(b) if ok else math.nan,
                    "rel_low": lo,
                    "rel_high": hi,
                }
            )
    return pd.DataFrame(rows)


def _criterion_limit(c: dict, baseline_mean: float) -> float | None:
    """A criterion's bound as a relative change from the baseline mean (for drawing only)."""
    bound = c.get("at_most", c.get("at_least"))
    if bound is None or not math.isfinite(baseline_mean) or baseline_mean == 0:
        return None
    compare = c.get("compare", "absolute")
    if compare == "relative_to_baseline":
        return float(bound)
    if compare == "difference_from_baseline":
        return float(bound) / abs(baseline_mean)
    return (float(bound) - baseline_mean) / abs(baseline_mean)


@_styled
def forest_plot(res: Results, point: int | None = None, scenario: Iterable[str] | None = None) -> Figure:
    """Change from the baseline, paired by replication, of the criteria's KPIs and key KPIs, per
    scenario at the chosen sweep point: relative change (%) with the 95% CI. Artists:
    ``forest-<i>`` (one errorbar line per scenario; x = relative change in %)."""
    data = forest_data(res, point, scenario)
    shown = data[np.isfinite(data["rel"])] if not data.empty else data
    kpis = list(dict.fromkeys(shown["kpi"])) if not shown.empty else []
    left_out = sorted(set(data["kpi"]) - set(kpis)) if not data.empty else []
    cells = list(dict.fromkeys(data["cell"])) if not data.empty else []
    fig = _figure(10, 1.8 + 0.55 * max(1, len(kpis)) + 0.25 * len(cells))
    ax = fig.subplots()
    ypos = {k: len(kpis) - 1 - j for j, k in enumerate(kpis)}
    offsets = np.linspace(-0.25, 0.25, len(cells)) if len(cells) > 1 else [0.0]
    markers = ["o", "s", "D", "^", "v", "P", "X"]
    for i, (ck, off) in enumerate(zip(cells, offsets)):
        g = shown[shown["cell"] == ck]
        if g.empty:
            continue
        y = np.array([ypos[k] for k in g["kpi"]]) + off
        x = g["rel"].to_numpy() * 100
        err = np.vstack([x - g["rel_low"].to_numpy() * 100, g["rel_high"].to_numpy() * 100 - x])
        ax.errorbar(
            x,
            y,
            xerr=err,
            fmt=markers[i % len(markers)],
            color=_cell_colour(i + 1),
            ms=6,
            capsize=3,
            lw=1.4,
            label=g["label"].iloc[0],
            gid=f"forest-{i}",
        )
    ax.axvline(0, color="0.3", lw=1)
    # Criteria limits, converted to a change from the baseline mean (approximate: criteria are
    # tested replication by replication).
    base_by_kpi = shown.groupby("kpi")["baseline_mean"].first() if not shown.empty else pd.Series(dtype=float)
    drew_limit = False
    for c in res.experiment.get("criteria") or []:
        k = c.get("kpi")
        if k not in ypos:
            continue
        lim = _criterion_limit(c, float(base_by_kpi[k]))
        if lim is None:
            continue
        ax.plot(
            [lim * 100] * 2,
            [ypos[k] - 0.4, ypos[k] + 0.4],
            color=OKABE_ITO["vermillion"],
            lw=2.5,
            solid_capstyle="butt",
        )
        drew_limit = True
    ax.set_yticks([ypos[k] for k in kpis], [f"{k}\n(baseline {fmt_number(float(base_by_kpi[k]))})" for k in kpis])
    ax.set_ylim(-0.7, max(len(kpis), 1) - 0.3)
    lo, hi = ax.get_xlim()
    if max(abs(lo), abs(hi)) > 500:
        # KPIs with a tiny baseline change by thousands of %: keep -100..+100% linear, compress the rest.
        ax.set_xscale("symlog", linthresh=100)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:+.0f}%" if round(v) else "0%"))
    ax.set_xlabel("change from baseline (% of the baseline mean; paired by replication, 95% CI)")
    ax.grid(axis="y", visible=False)
    handles, _labels = ax.get_legend_handles_labels()
    if drew_limit:
        handles.append(
            Line2D([], [], color=OKABE_ITO["vermillion"], lw=2.5, label="criterion limit (at the baseline mean)")
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    note = f"; not shown (baseline 0): {', '.join(left_out)}" if left_out else ""
    pt = select_cells(res, scenario, point)[-1]
    where = f" at {_params_text(pt.params)}" if pt.params else ""
    _suptitle(fig, f"{res.name}: change from baseline{where}, n = {res.replications}")
    if note:
        ax.set_title(note.lstrip("; "), loc="left", fontsize=9, fontweight="normal", color="0.35")
    return fig


# ---------------------------------------------------------------------------------------------
# Making and saving figures


def available(res: Results) -> list[str]:
    """The figures this results folder can give."""
    out = [f for f in FIGURES if f not in SWEEP_ONLY or res.is_sweep]
    if res.is_sweep and (
        res.verdicts is None or res.verdicts.empty or not any(c.startswith("param_") for c in res.verdicts.columns)
    ):
        out.remove("robustness")
    return out


def make_figure(
    res: Results,
    what: str,
    cells: list[Cell],
    point: int | None = None,
    scenario: Iterable[str] | None = None,
    criterion: str = ALL_CRITERIA,
) -> Figure:
    if what == "fan":
        return fan_chart(res, cells)
    if what == "delays":
        return delays_chart(res, cells)
    if what == "services":
        return services_chart(res, cells)
    if what == "exceedance":
        return exceedance_chart(res, cells)
    if what == "robustness":
        return robustness_map(res, criterion)
    if what == "forest":
        return forest_plot(res, point, scenario)
    raise ConfigError(f"--what {what}: unknown figure (choose from {', '.join(FIGURES)})")


def save(fig: Figure, path: Path, fmt: str = "png", dpi: int = 100) -> Path:
    """Write ``fig`` deterministically (no dates or versions in the file)."""
    try:
        with matplotlib.rc_context(STYLE):
            fig.savefig(path, format=fmt, dpi=dpi, metadata=METADATA[fmt])
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def png_bytes(fig: Figure, dpi: int = 96) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi, metadata=METADATA["png"])
    return buf.getvalue()


def parse_what(items: Iterable[str] | None, res: Results) -> list[str]:
    """``--what`` values (repeatable, comma-separated, or ``all``) -> figure names."""
    names: list[str] = []
    for item in items or ["all"]:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part == "all":
                names += available(res)
            elif part not in FIGURES:
                raise ConfigError(f"--what {part}: unknown figure (choose from all, {', '.join(FIGURES)})")
            elif part in SWEEP_ONLY and not res.is_sweep:
                raise ConfigError(f"--what {part}: only for results of `hospsim sweep` ({res.path} is a run)")
            elif part not in available(res):
                raise ConfigError(f"--what {part}: {res.path} has no verdicts over swept parameters to map")
            else:
                names.append(part)
    return list(dict.fromkeys(names))


def write_plots(
    res: Results,
    out_dir: Path,
    what: Iterable[str] | None = None,
    fmt: str = "png",
    scenario: Iterable[str] | None = None,
    point: int | None = None,
    criterion: str = ALL_CRITERIA,
    dpi: int = 100,
) -> list[Path]:
    """Draw the chosen figures into ``out_dir`` as ``<name>.<fmt>``; returns the files."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: choose from {', '.join(FORMATS)}")
    names = parse_what(what, res)
    cells = select_cells(res, scenario, point)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{out_dir}: cannot create the folder ({exc.strerror or exc})") from None
    paths = []
    for name in names:
        fig = make_figure(res, name, cells, point, scenario, criterion)
        paths.append(save(fig, out_dir / f"{name}.{fmt}", fmt, dpi))
    return paths
