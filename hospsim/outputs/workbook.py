"""One Excel workbook of a results folder, for the tables an analyst pastes into a board paper.

Sheets: ``summary`` (each KPI's mean and 95% CI per cell, with display names and units),
``verdicts`` (sweeps with criteria: each criterion per cell, the share of replications in which it
holds and the verdict in words, beside what averages promise: the same criterion on the cell's
flow run), ``paired_differences`` and ``cells`` (sweeps), ``about`` (what the folder is) and
``columns`` (every column of every sheet: meaning and unit).

The numbers are the folder's tables as its readers give them (so they equal ``summary.csv`` and
``verdicts.csv`` to the last digit), stored as numbers with Excel number formats. The workbook
is derived: no hospsim reader or ``hospsim reproduce`` reads it, and the manifest does not list it. Its bytes depend only on the folder: the document's dates are the
results' own and the zip entries carry a fixed timestamp.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis.verdicts import BREAKS, HOLDS, NOT_RUN
from ..config.experiment import ALL_CRITERIA
from ..model import kpi_registry
from ..runs.errors import OutputError
from ..runs.flow_cells import FLOW_KPIS
from ..runs.results import Results
from ..runs.store import MANIFEST, atomic_write, os_reason
from .errors import OptionError
from .labels import Labels, criterion_words, labels_of, param_scale, percent
from .tables import flow_verdicts_of, views_of, views_sentence

INSTALL_HINT = "--xlsx: needs openpyxl; install it with: pip install 'hospsim[xlsx]'"
WORKBOOK = "results.xlsx"  # the default file, inside the results folder
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry: bytes depend on content only

# Excel number formats by the KPI registry's unit: shares as percentages, patients to 0.1,
# bed days with thousands separators.
UNIT_FORMATS = {
    "share 0–1": "0.0%",
    "share of days 0–1": "0.0%",
    "0/1": "0%",
    "patients": "#,##0.0",
    "cancellations": "#,##0.0",
    "beds": "#,##0.0",
    "places": "#,##0.0",
    "bed days": "#,##0",
    "place days": "#,##0",
    "days": "#,##0.00",
    "hours": "#,##0.00",
    "weeks": "#,##0.00",
    "per 1,000": "#,##0.00",
    "day number": "0",
    "£": '"£"#,##0',
}
SHARE_FORMAT = "0.0%"
# Control characters an .xlsx cannot hold (openpyxl refuses them): dropped from text.
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")
COUNT_FORMAT = "0"


@dataclass
class Sheet:
    """One sheet: its table, what each column means and in which unit, and the number format of
    each numeric column (one format, or one per row where the unit changes row by row)."""

    name: str
    table: pd.DataFrame
    docs: dict[str, tuple[str, str]]  # column -> (meaning, unit)
    formats: dict[str, str | list[str]] = field(default_factory=dict)


def require_openpyxl() -> Any:
    """The openpyxl module, or an :class:`OptionError` saying how to install it."""
    try:
        import openpyxl
    except ImportError:
        raise OptionError(INSTALL_HINT) from None
    return openpyxl


# ---------------------------------------------------------------------------------------------
# Column meanings shared by several sheets


def _unit_of(kpi: str) -> str:
    ref = kpi_registry.find(kpi)
    return ref.unit if ref else ""


def _kpi_format(kpi: str) -> str:
    return UNIT_FORMATS.get(_unit_of(kpi), "General")


def _cell_docs(res: Results, labels: Labels, params: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The columns that name a cell: scenario, its display name, sweep point and swept values."""
    docs = {
        "scenario": ("scenario's code name, as in the experiment (baseline: the experiment's config)", "text"),
        "scenario_name": ("scenario's display name (the experiment's labels, else its code name in words)", "text"),
    }
    if res.is_sweep:
        docs["point"] = ("sweep point: the index of the swept values (-1: the cell is not swept)", "index")
        for col in params:
            name = col.removeprefix("param_")
            path = res.parameters.get(name, name)
            docs[col] = (
                f"value of the swept parameter {labels.parameter(name)} (config path {path}) at this point; "
                "empty where not swept",
                _param_unit(labels, name, path),
            )
        docs["cell_name"] = ("the cell in words: its scenario and its swept values", "text")
    return docs


def _param_unit(labels: Labels, name: str, path: str) -> str:
    if param_scale(labels, name) == 100.0:
        return "share 0–1"
    return "days" if path.endswith("_days") else "as in the config"


def _param_formats(labels: Labels, params: Sequence[str]) -> dict[str, str | list[str]]:
    return {c: SHARE_FORMAT if param_scale(labels, c.removeprefix("param_")) == 100.0 else "General" for c in params}


def _with_names(res: Results, labels: Labels, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (with ``scenario`` and, in a sweep, ``point``) with display names of the scenario
    and the cell beside them, and (sweeps) the swept values of its cell."""
    out = table.copy()
    if "scenario" not in out.columns:  # a run's tables: one cell, named in the about sheet
        return out
    out.insert(1, "scenario_name", [labels.scenario(str(s)) for s in out["scenario"]])
    if not res.is_sweep:
        return out
    params = {(c.scenario, c.point): c.params for c in res.cells}
    at = list(out.columns).index("point") + 1
    names = list(res.parameters)
    for i, name in enumerate(names):
        col = f"param_{name}"
        if col not in out.columns:
            values = [
                params.get((str(s), int(p)), {}).get(name, math.nan) for s, p in zip(out["scenario"], out["point"])
            ]
            out.insert(at + i, col, pd.Series(values, index=out.index, dtype="float64"))
    at = max(list(out.columns).index(f"param_{n}") for n in names) + 1 if names else at
    cells = [labels.cell(str(s), params.get((str(s), int(p)))) for s, p in zip(out["scenario"], out["point"])]
    out.insert(at, "cell_name", cells)
    return out


def _params(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.startswith("param_")]


def _kpi_columns(table: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """``table`` with the KPI's display name and unit after its ``kpi`` column."""
    out = table.copy()
    at = list(out.columns).index("kpi") + 1
    out.insert(at, "kpi_name", [labels.kpi(str(k)) for k in out["kpi"]])
    out.insert(at + 1, "unit", [_unit_of(str(k)) for k in out["kpi"]])
    return out


_KPI_DOCS = {
    "kpi": ("the KPI's code name (see the README's KPI dictionary)", "text"),
    "kpi_name": ("the KPI's display name", "text"),
    "unit": ("the KPI's unit, as the KPI registry gives it (a share 0–1 is shown as a percentage)", "text"),
}


# ---------------------------------------------------------------------------------------------
# The sheets


def summary_sheet(res: Results, labels: Labels) -> Sheet:
    """Each KPI's mean over the replications with its 95% CI, per cell (as ``summary.csv``)."""
    table = _kpi_columns(_with_names(res, labels, res.summary), labels)
    params = _params(table)
    per_row = [_kpi_format(str(k)) for k in table["kpi"]]
    docs = {
        **_cell_docs(res, labels, params),
        **_KPI_DOCS,
        "mean": ("mean of the KPI over the replications (summary.csv)", "the KPI's unit"),
        "ci_low": ("lower end of the 95% confidence interval of the mean (Student t)", "the KPI's unit"),
        "ci_high": ("upper end of the 95% confidence interval of the mean (Student t)", "the KPI's unit"),
        "n": ("replications the mean is over", "replications"),
    }
    formats: dict[str, str | list[str]] = {"mean": per_row, "ci_low": per_row, "ci_high": per_row, "n": COUNT_FORMAT}
    return Sheet("summary", table, docs, {**_param_formats(labels, params), **formats})


def verdict_word(share: float) -> str:
    """A cell's verdict on a criterion: ``holds`` (in at least 90% of replications), ``breaks``
    (in under 50%), else ``uncertain``, the report's words; ``n/a`` without a share."""
    if not math.isfinite(share):
        return "n/a"
    return "holds" if share >= HOLDS else "breaks" if share < BREAKS else "uncertain"


def _criterion_names(res: Results, labels: Labels) -> dict[str, str]:
    """Each criterion's label (as ``verdicts.csv`` writes it) -> its words."""
    from ..config.experiment import Criterion

    names = {ALL_CRITERIA: "All criteria (the whole plan)"}
    for raw in res.experiment.get("criteria") or []:
        names[Criterion.model_validate(raw).label] = criterion_words(labels, raw)
    return names


def verdicts_sheet(res: Results, labels: Labels) -> Sheet | None:
    """Per cell and criterion: the share of replications in which it holds, its CI, the verdict
    in words and the first breach (``None`` for a run, or a sweep without criteria)."""
    if res.verdicts is None or res.verdicts.empty:
        return None
    names = _criterion_names(res, labels)
    table = _with_names(res, labels, res.verdicts)
    at = list(table.columns).index("criterion") + 1
    table.insert(at, "criterion_name", [names.get(str(c), str(c)) for c in table["criterion"]])
    table.insert(at + 2, "kpi_name", [labels.kpi(k) if isinstance(k, str) and k else None for k in table["kpi"]])
    table.insert(
        list(table.columns).index("share_holds"), "verdict", [verdict_word(float(s)) for s in table["share_holds"]]
    )
    table = _with_averages(res, table)
    params = _params(table)
    docs = {
        **_cell_docs(res, labels, params),
        "criterion": ("the criterion as verdicts.csv names it ('all criteria': every one at once)", "text"),
        "criterion_name": ("the criterion in words", "text"),
        "kpi": ("the KPI the criterion tests (empty for all criteria)", "text"),
        "kpi_name": ("the KPI's display name (empty for all criteria)", "text"),
        "verdict": (
            f"holds: in at least {percent(HOLDS)} of replications; breaks: in under {percent(BREAKS)}; "
            "uncertain: in between",
            "text",
        ),
        "share_holds": ("share of replications in which the criterion holds", "share 0–1"),
        "ci_low": ("lower end of the Wilson 95% confidence interval of share_holds", "share 0–1"),
        "ci_high": ("upper end of the Wilson 95% confidence interval of share_holds", "share 0–1"),
        "n": ("replications in the cell", "replications"),
        "value_mean": (
            "mean over the replications of the value the criterion compares with its bound "
            "(the KPI, its change against the baseline, or its difference from it)",
            "the criterion's unit",
        ),
        "share_breached_in_some_month": (
            "share of replications in which the criterion is breached in at least one calendar month",
            "share 0–1",
        ),
        "first_breach_month_median": ("median first month breached (YYYY-MM), or never", "month"),
        **_AVERAGES_DOCS,
    }
    formats: dict[str, str | list[str]] = {
        "share_holds": SHARE_FORMAT,
        "ci_low": SHARE_FORMAT,
        "ci_high": SHARE_FORMAT,
        "share_breached_in_some_month": SHARE_FORMAT,
        "n": COUNT_FORMAT,
        "value_mean": [
            _value_format(str(c), k if isinstance(k, str) else "") for c, k in zip(table["criterion"], table["kpi"])
        ],
    }
    formats["averages_value"] = formats["value_mean"]
    return Sheet("verdicts", table, docs, {**_param_formats(labels, params), **formats})


_AVERAGES_DOCS = {
    "what_averages_promise": (
        "the criterion on the cell's one run of the stock-and-flow model (expected numbers, no "
        f"variability): holds or fails; {NOT_RUN}: the sweep ran no flow model (--no-flow, or an older hospsim)",
        "text",
    ),
    "averages_value": ("the value the criterion compares with its bound, on the flow run", "the criterion's unit"),
    "averages_variability_only": (
        "yes: the verdict rests on a KPI that only exists under variability (waits, days full), which the "
        "flow model barely sees, so what averages promise on it says nothing about the plan",
        "text",
    ),
}


def _with_averages(res: Results, table: pd.DataFrame) -> pd.DataFrame:
    """The verdict rows with what averages promise beside the share of replications (after
    ``ci_high``): the flow run's verdict, its value and whether it rests on a KPI that only
    exists under variability."""
    fv = flow_verdicts_of(res)
    found: dict[tuple[str, int, str], dict] = {}
    if fv is not None:
        found = {(str(r["scenario"]), int(r["point"]), str(r["criterion"])): r for r in fv.to_dict(orient="records")}
    v = res.verdicts if res.verdicts is not None else table
    keys = zip(v["scenario"], v["point"], v["criterion"])
    rows = [found.get((str(s), int(p), str(c))) for s, p, c in keys]
    at = list(table.columns).index("ci_high") + 1
    table.insert(
        at, "what_averages_promise", [NOT_RUN if r is None else "holds" if r["flow_holds"] else "fails" for r in rows]
    )
    table.insert(at + 1, "averages_value", [math.nan if r is None else float(r["flow_value"]) for r in rows])
    table.insert(
        at + 2,
        "averages_variability_only",
        ["" if r is None else "yes" if r["variability_only"] else "no" for r in rows],
    )
    return table


def _value_format(criterion: str, kpi: str) -> str:
    # A relative change is a share whatever the KPI; otherwise the KPI's own format.
    if "change vs baseline" in criterion:
        return SHARE_FORMAT
    return _kpi_format(kpi) if kpi else "General"


def paired_sheet(res: Results, labels: Labels) -> Sheet | None:
    """Each scenario's difference from the baseline per KPI, paired by replication."""
    if res.paired is None or res.paired.empty:
        return None
    table = _kpi_columns(_with_names(res, labels, res.paired), labels)
    params = _params(table)
    per_row = [_kpi_format(str(k)) for k in table["kpi"]]
    unit = "the KPI's unit"
    docs = {
        **_cell_docs(res, labels, params),
        **_KPI_DOCS,
        "baseline_mean": ("mean of the KPI in the baseline, over the same replications", unit),
        "scenario_mean": ("mean of the KPI in the cell", unit),
        "difference": (
            "cell minus baseline, mean of the paired differences (a share's: in points, 0.01 = 1 point)",
            unit,
        ),
        "ci_low": ("lower end of the paired 95% confidence interval of the difference", unit),
        "ci_high": ("upper end of the paired 95% confidence interval of the difference", unit),
        "n": ("replications paired", "replications"),
        "relative_change": ("difference / baseline_mean; empty when the baseline's mean is 0", "share 0–1"),
    }
    formats: dict[str, str | list[str]] = {
        **dict.fromkeys(("baseline_mean", "scenario_mean", "difference", "ci_low", "ci_high"), per_row),
        "n": COUNT_FORMAT,
        "relative_change": SHARE_FORMAT,
    }
    return Sheet("paired_differences", table, docs, {**_param_formats(labels, params), **formats})


def cells_sheet(res: Results, labels: Labels) -> Sheet | None:
    """A sweep's per-cell table (``cells.csv``), with display names."""
    if not res.is_sweep:
        return None
    table = _with_names(res, labels, res.cell_table())
    params = _params(table)
    bed = [_kpi_format(str(k)) for k in table["bed_days_kpi"]]
    docs = {
        **_cell_docs(res, labels, params),
        "n": ("replications in the cell", "replications"),
        "bed_days_kpi": (
            "the bed-day KPI of the next columns: the one a criterion tests, else bed_days_demanded",
            "text",
        ),
        "bed_days_baseline": ("its mean in the baseline", "bed days"),
        "bed_days_mean": ("its mean in the cell", "bed days"),
        "bed_days_change": ("(cell − baseline) / baseline; empty for the baseline", "share 0–1"),
        "bed_days_change_ci_low": ("lower end of the paired 95% CI of bed_days_change", "share 0–1"),
        "bed_days_change_ci_high": ("upper end of the paired 95% CI of bed_days_change", "share 0–1"),
        "share_holds": (
            "share of replications in which every criterion holds; empty for the baseline or without criteria",
            "share 0–1",
        ),
        "holds_ci_low": ("lower end of the Wilson 95% CI of share_holds", "share 0–1"),
        "holds_ci_high": ("upper end of the Wilson 95% CI of share_holds", "share 0–1"),
    }
    formats: dict[str, str | list[str]] = {"n": COUNT_FORMAT, "bed_days_baseline": bed, "bed_days_mean": bed}
    for col in ("bed_days_change", "bed_days_change_ci_low", "bed_days_change_ci_high"):
        formats[col] = SHARE_FORMAT
    for col in ("share_holds", "holds_ci_low", "holds_ci_high"):
        formats[col] = SHARE_FORMAT
    for col in table.columns:
        if col not in docs and kpi_registry.find(col) is not None:  # the KPI means beside bed days
            docs[col] = (f"mean of {labels.kpi(col)} over the replications ({col} in summary.csv)", _unit_of(col))
            formats[col] = _kpi_format(col)
    return Sheet("cells", table, docs, {**_param_formats(labels, params), **formats})


# ---------------------------------------------------------------------------------------------
# What the folder is


def _finished_at(res: Results) -> str:
    """When the results were made: a run's end, a sweep's last session's end ("" if not recorded)."""
    if not res.is_sweep:
        return str(res.manifest.get("finished_at", ""))
    sessions = res.manifest.get("sessions") or [{}]
    return str(sessions[-1].get("finished_at", ""))


def _command(res: Results) -> str:
    """The command that made the folder: a run's as recorded; a sweep's manifest records none, so
    the command that makes it again."""
    argv = res.manifest.get("command")
    if isinstance(argv, list) and argv:
        return " ".join(["hospsim", *map(str, argv[1:])])
    source = res.manifest.get("experiment_source", "EXPERIMENT")
    return f"hospsim sweep {source} --out {res.path.resolve()} (not recorded: a sweep's manifest records no command)"


def _window(res: Results) -> str:
    start, end = res.window
    day0 = res.cells[0].start_date.astype(dt.date)
    first, last = day0 + dt.timedelta(days=start), day0 + dt.timedelta(days=end - 1)
    return f"days {start} to {end - 1}: {first:%d %b %Y} to {last:%d %b %Y}"


def about_rows(res: Results, sheets: Sequence[str], absent: Mapping[str, str]) -> list[tuple[str, Any]]:
    """What the folder is, as (item, value) rows: numbers as numbers."""
    m, base = res.manifest, res.cells[0].config
    versions = m.get("versions") or {}
    rows: list[tuple[str, Any]] = [
        ("results folder", str(res.path.resolve()) if res.path.is_dir() else f"{res.path} (not saved)"),
        ("kind", "sweep: an experiment (baseline, scenarios, sweep)" if res.is_sweep else "run: one config"),
        ("name", res.name),
    ]
    if res.is_sweep:
        exp = res.experiment
        rows += [
            ("question", str(exp.get("question", "")).strip()),
            ("experiment file", str(m.get("experiment_source", ""))),
            ("experiment hash (SHA-256)", str(m.get("experiment_hash", ""))),
            ("config file (base)", str(m.get("base_config_source", ""))),
            ("config name (base)", str(base.get("name", ""))),
            ("cells", len(res.cells)),
            ("criteria", len(exp.get("criteria") or [])),
            *_averages_rows(res),
        ]
    else:
        rows += [
            ("config file", str(m.get("config_source", ""))),
            ("config name", str(base.get("name", ""))),
            ("config hash (SHA-256)", str(m.get("config_hash", ""))),
        ]
    rows += [
        ("root seed", int(m.get("root_seed", base.get("seed", 0)))),
        ("replications", res.replications),
        ("window", _window(res)),
        ("warm-up (days)", int(base.get("warmup_days", 0))),
        ("horizon (days)", int(base.get("horizon_days", 0))),
        ("start date (day 0)", str(base.get("start_date", ""))),
        ("hospsim version", str(m.get("hospsim_version") or versions.get("hospsim", ""))),
        ("git revision", str(m.get("git_revision") or "")),
        ("created", _finished_at(res)),
        ("command", _command(res)),
        ("sheets", ", ".join(sheets)),
        *((f"no {name} sheet", why) for name, why in absent.items()),
        (
            "this workbook",
            f"made from the folder's tables by hospsim (export, or --xlsx); {MANIFEST} does not list it, "
            "no hospsim command reads it, and the folder's CSV files remain the record",
        ),
    ]
    return rows


def _averages_rows(res: Results) -> list[tuple[str, Any]]:
    """The about sheet's lines on what averages promise: whether the flow model ran, and where it
    parts company with the replications."""
    if res.flow is None:
        return [
            (
                "what averages promise",
                f"{NOT_RUN}: the sweep ran no stock-and-flow model (--no-flow, or an older hospsim)",
            )
        ]
    rows: list[tuple[str, Any]] = [
        ("what averages promise", f"one stock-and-flow run per cell ({len(res.flow.table)} cells, {FLOW_KPIS})")
    ]
    sentence = views_sentence(views_of(res))
    return [*rows, ("the two views", sentence)] if sentence else rows


def about_sheet(rows: list[tuple[str, Any]]) -> Sheet:
    """The ``about`` sheet of :func:`about_rows`."""
    table = pd.DataFrame({"item": [r[0] for r in rows], "value": pd.Series([r[1] for r in rows], dtype=object)})
    docs = {
        "item": ("what is described", "text"),
        "value": ("its value (numbers as numbers)", "as the item says"),
    }
    return Sheet("about", table, docs)


def columns_sheet(sheets: Sequence[Sheet]) -> Sheet:
    """Every column of every sheet (this one's too): its meaning and unit."""
    docs = {
        "sheet": ("the sheet the column is on", "text"),
        "column": ("the column's heading", "text"),
        "meaning": ("what the column holds", "text"),
        "unit": ("its unit (a share 0–1 is shown as a percentage)", "text"),
    }
    rows = [(s.name, col, *s.docs[col]) for s in sheets for col in s.table.columns]
    rows += [("columns", col, *docs[col]) for col in docs]
    return Sheet("columns", pd.DataFrame(rows, columns=list(docs)), docs)


def workbook_sheets(res: Results) -> list[Sheet]:
    """The workbook's sheets, in order; a column without a meaning is a bug (``KeyError``)."""
    labels = labels_of(res.experiment)
    makers: list[tuple[str, Callable[[Results, Labels], Sheet | None], str]] = [
        ("summary", summary_sheet, ""),
        (
            "verdicts",
            verdicts_sheet,
            "a run of one config has no criteria (hospsim sweep judges an experiment's)"
            if not res.is_sweep
            else "the experiment has no criteria",
        ),
        ("paired_differences", paired_sheet, "a run of one config has no baseline to pair with"),
        ("cells", cells_sheet, "a run of one config has one cell: see summary"),
    ]
    sheets, absent = [], {}
    for name, make, why in makers:
        sheet = make(res, labels)
        if sheet is None:
            absent[name] = why
        else:
            sheets.append(sheet)
    names = [s.name for s in sheets] + ["about", "columns"]
    sheets.append(about_sheet(about_rows(res, names, absent)))
    for s in sheets:
        undocumented = [c for c in s.table.columns if c not in s.docs]
        if undocumented:
            raise KeyError(f"{s.name}: columns without a meaning: {', '.join(map(str, undocumented))}")
    return [*sheets, columns_sheet(sheets)]


# ---------------------------------------------------------------------------------------------
# Writing


def _cell_value(value: Any) -> Any:
    """A table value as Excel holds it: numbers as numbers, a missing number as an empty cell."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # Excel has no NaN; the columns sheet says empty means missing
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)
    return value


def _width(values: Sequence[Any], heading: str) -> float:
    texts = [heading, *(("0" * 12) if isinstance(v, float) else str(v) for v in values if v is not None)]
    return min(60.0, max(8.0, max(len(t) for t in texts) + 2.0))


def _fill_sheet(ws: Any, sheet: Sheet, bold: Any, wrap: Any) -> None:
    """Write ``sheet`` into the openpyxl worksheet ``ws``: bold frozen header, filters, formats."""
    columns = list(sheet.table.columns)
    ws.append(columns)
    for cell in ws[1]:
        cell.font = bold
    records = sheet.table.itertuples(index=False, name=None)
    rows = [[_cell_value(v) for v in record] for record in records]
    for row in rows:
        ws.append(row)
    for line in ws.iter_rows(min_row=2):
        for cell in line:
            if cell.data_type == "f":  # text such as a label "=..." stays text, never a formula
                cell.data_type = "s"
    for j, col in enumerate(columns, start=1):
        fmt = sheet.formats.get(col)
        if fmt is not None:
            per_row = [fmt] * len(rows) if isinstance(fmt, str) else fmt
            for i, f in enumerate(per_row, start=2):
                ws.cell(row=i, column=j).number_format = f
        letter = ws.cell(row=1, column=j).column_letter
        width = _width([r[j - 1] for r in rows], str(col))
        if col == "meaning":
            width = 90.0
            for i in range(2, len(rows) + 2):
                ws.cell(row=i, column=j).alignment = wrap
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = ws.dimensions


def _created(res: Results) -> dt.datetime:
    """The results' own time, for the document's dates (so the bytes do not depend on when the
    workbook was written); 2000-01-01 if the manifest has none."""
    try:
        return dt.datetime.fromisoformat(_finished_at(res)).astimezone(dt.UTC).replace(tzinfo=None)
    except ValueError:
        return dt.datetime(2000, 1, 1)


def workbook_bytes(res: Results) -> bytes:
    """The workbook of ``res`` as the bytes of an .xlsx file (the same bytes for the same folder)."""
    openpyxl = require_openpyxl()
    from openpyxl.styles import Alignment, Font
    from openpyxl.writer.excel import ExcelWriter

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    for sheet in workbook_sheets(res):
        _fill_sheet(wb.create_sheet(sheet.name), sheet, bold, wrap)
    when = _created(res)
    wb.properties.creator = "hospsim"
    wb.properties.title = f"hospsim results: {res.name}"
    wb.properties.created = wb.properties.modified = when
    raw = io.BytesIO()
    # ExcelWriter, not openpyxl.save_workbook: that one stamps the time of writing.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return _fixed_times(raw.getvalue())


def _fixed_times(data: bytes) -> bytes:
    """The zip ``data`` with every entry's timestamp set to :data:`_ZIP_TIME`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def default_path(results: Path) -> Path:
    """Where the workbook goes when no path is given: ``RESULTS/results.xlsx``."""
    return Path(results) / WORKBOOK


def check_target(path: Path, force: bool) -> Path:
    """Refuse, in one line, a workbook path that is a folder, or a file that exists without
    ``force``; returns ``path``."""
    if path.is_dir():
        raise OptionError(f"--xlsx {path}: is a folder; name the .xlsx file to write")
    if path.exists() and not force:
        raise OptionError(f"--xlsx {path}: already exists; hospsim overwrites it only with --force")
    return path


def write_workbook(res: Results, path: Path, force: bool = False) -> Path:
    """Write the workbook of ``res`` to ``path`` atomically (a reader sees the old file or the
    whole new one); an existing file only with ``force``. Returns ``path``."""
    check_target(path, force)
    data = workbook_bytes(res)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:
        raise OutputError(f"--xlsx {path}: cannot write ({os_reason(exc)})") from None
    return path
