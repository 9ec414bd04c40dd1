"""A single-file HTML report of a results folder, for a planning board.

``hospsim report RESULTS`` writes one self-contained HTML file: figures embedded as base64 PNG,
styles inline, no network and no external CSS or JavaScript, so it opens offline in any browser
and can be mailed as it is. Its main body:

1. the question and the answer (for sweeps: where the plan holds and where it breaks, the share
   of replications holding per future with its 95% CI, what gating buys);
2. the key figures (see :mod:`hospsim.outputs.plots`);
3. the key results with 95% confidence intervals and their change from the baseline;
4. the plan and its criteria;
5. the KPI dictionary of the KPIs shown;

then an appendix: the other figures, every KPI, every verdict, each scenario's changes setting by
setting, a model description following the STRESS-DES reporting checklist, and the manifest.
Everything is named as a reader knows it (the experiment's ``labels`` and
:mod:`hospsim.outputs.labels`); names as written in the results only where an analyst needs them.

Printed (A4, ``style.css``), the report is the main body and a list of what the appendix holds:
tables wrap to the page width, each main section starts a page. ``--docx`` writes the main body
as a Word document (:mod:`.docx`) from the same data (:func:`report_data`).

The Python modules build plain data (:mod:`.answer`, :mod:`.kpis`, :mod:`.plan`, :mod:`.model`,
:mod:`.manifest`); the Jinja2 templates in ``templates/`` turn it into HTML, escaping every value.

A small inline script (``templates/check.js``) only marks ``<body>`` with how many images loaded,
how many script errors happened and how many tables or figures are wider than the page
(``data-images``, ``data-images-loaded``, ``data-errors``, ``data-overflow``), so a headless
browser can check the file.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ... import __version__
from ...runs.results import Cell, Results, load_results
from ...runs.store import atomic_write
from .. import plots
from ..errors import OptionError
from ..labels import Labels, humanise, labels_of
from ..selection import select_cells
from .answer import BREAKS, HOLDS, verdict_data
from .kpis import (
    KEY_KPIS,
    board_kpis,
    change_table,
    headline_run,
    kpi_dictionary,
    kpi_order,
    kpi_table,
    other_kpis,
    paired_table,
    verdict_table,
)
from .manifest import manifest_data
from .model import model_data, runs_words
from .pathway import pathway_table
from .plan import plan_data
from .render import render, static_text
from .text import describe_gate, describe_los, describe_mix, describe_pathway_change, describe_schedule

FIGURE_DPI = 90
# The figures in the order the report shows them; figures of the registry not named here follow.
REPORT_ORDER = ("robustness", "pathway", "fan", "forest", "exceedance", "delays", "waiting_list", "services")
# A sweep's report shows these in its main body (and on paper); the others are in the appendix.
# (``pathway`` only exists for configs with onward routes between services.)
BOARD_FIGURES = ("robustness", "pathway", "fan", "forest", "exceedance")
CSS = static_text("style.css")
CHECK_SCRIPT = static_text("check.js")  # marks <body> once loaded: images that loaded, script errors

__all__ = [
    "BREAKS",
    "CHECK_SCRIPT",
    "CSS",
    "HOLDS",
    "KEY_KPIS",
    "build_report",
    "describe_gate",
    "describe_los",
    "describe_mix",
    "describe_pathway_change",
    "describe_schedule",
    "report_data",
    "write_report",
]


def figure_data(name: str, fig: Figure, board: bool = True, res: Results | None = None) -> dict[str, Any]:
    """A figure as the report embeds it: title, caption (with what it adds for ``res``), PNG
    (base64), size in pixels, and whether it is in the main body (``board``) or the appendix."""
    spec = plots.REGISTRY[name]
    w, h = (round(v * FIGURE_DPI) for v in fig.get_size_inches())
    png = base64.b64encode(plots.png_bytes(fig, FIGURE_DPI)).decode("ascii")
    caption = spec.caption + (spec.more_caption(res) if res is not None else "")
    return {"name": name, "title": spec.title, "caption": caption, "png": png, "width": w, "height": h, "board": board}


def _figures(res: Results, cells: list[Cell], scenario: Iterable[str] | None, point: int | None) -> list[dict]:
    available = plots.available(res)
    order = [n for n in REPORT_ORDER if n in available] + [n for n in available if n not in REPORT_ORDER]
    return [
        figure_data(n, plots.make_figure(res, n, cells, point, scenario), not res.is_sweep or n in BOARD_FIGURES, res)
        for n in order
    ]


def _kpi_tables(res: Results, cells: list[Cell], labels: Labels) -> dict[str, Any]:
    kpis = kpi_order(res)
    board = board_kpis(res) if res.is_sweep else kpis
    others = other_kpis(res, kpis)
    return {
        "board": kpi_table(res, cells, board, labels, code=False),
        "change": change_table(res, cells, board, labels) if res.is_sweep else None,
        "main": kpi_table(res, cells, kpis, labels),
        "paired": paired_table(res, cells, kpis, labels) if res.is_sweep else None,
        "verdicts": verdict_table(res, labels) if res.is_sweep else None,
        "others": kpi_table(res, cells, others, labels) if others else None,
        "dictionary": kpi_dictionary(board, labels),
        "pathway": pathway_table(res, cells, labels),
    }


def _shown(cells: list[Cell], labels: Labels) -> str:
    """The cells the time series and tables show, in words: the scenarios and their future."""
    names = ", ".join(labels.scenario(c.scenario) for c in cells)
    params = next((c.params for c in cells if c.params), None)
    return f"{names}; the future: {labels.point(params)}" if params else names


def _left_out(res: Results, figures: list[dict], kpis: dict[str, Any]) -> list[Any]:
    """What the main body (and so the printed copy and the Word document) leaves out, each with
    where to find it: the appendix of the HTML file and the results folder's files."""
    n_kpis = len(kpis["main"]["rows"]) + (len(kpis["others"]["rows"]) if kpis["others"] else 0)
    items: list[Any] = [f"the figure \u2018{f['title']}\u2019" for f in figures if not f["board"]]
    files: list[Any] = [{"code": "summary.csv"}] + ([", ", {"code": "paired_differences.csv"}] if res.is_sweep else [])
    change = " and its change from the baseline" if res.is_sweep else ""
    items.append({"seq": [f"every KPI{change} with 95% confidence intervals ({n_kpis} KPIs; also in ", *files, ")"]})
    if res.is_sweep and kpis["verdicts"]:
        n = len(kpis["verdicts"]["rows"])
        items.append(
            {
                "seq": [
                    "every future and criterion: share of replications holding, mean value tested, first month "
                    f"breached ({n} rows; also in ",
                    {"code": "verdicts.csv"},
                    ")",
                ]
            }
        )
        items.append(
            "each scenario\u2019s changes to the base config, setting by setting (also in the experiment file)"
        )
    items.append(
        "the model description (STRESS-DES: objectives, logic, data and inputs, experimentation, implementation)"
    )
    items.append(
        {
            "seq": [
                "the manifest: versions, git revision, hashes, seeds and timings (also in ",
                {"code": "manifest.json"},
                ")",
            ]
        }
    )
    return items


def report_data(res: Results, scenario: Iterable[str] | None = None, point: int | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data: the HTML templates and the Word export
    (:mod:`.docx`) both write this."""
    cells = select_cells(res, scenario, point)
    labels = labels_of(res.experiment)
    verdict = res.is_sweep and res.experiment.get("criteria")
    config = res.config_of(res.cells[0])
    if verdict:
        title = labels.given.get(res.name) or "Does the plan hold?"
    else:
        subject = res.name if res.is_sweep else config.description or humanise(config.name)
        title = labels.given.get(res.name) or f"Results: {subject}"
    figures = _figures(res, cells, scenario, point)
    kpis = _kpi_tables(res, cells, labels)
    return {
        "title": title,
        "name": res.name,
        "path": str(res.path),
        "kind": res.kind,
        "replications": res.replications,
        "runs": runs_words(res),
        "sweep": res.is_sweep,
        "n_cells": len(res.cells),
        "version": __version__,
        "question": (res.experiment.get("question") or "").strip(),
        "answer": verdict_data(res, labels) if res.is_sweep else None,
        "headline": "" if res.is_sweep else headline_run(res),
        "shown": _shown(cells, labels),
        "figures": figures,
        "kpis": kpis,
        "left_out": _left_out(res, figures, kpis),
        "plan": plan_data(res, labels),
        "model": model_data(config, res, labels),
        "manifest": manifest_data(res),
    }


def build_report(res: Results, scenario: Iterable[str] | None = None, point: int | None = None) -> str:
    """The report as one HTML string."""
    return render("report.html.j2", **report_data(res, scenario, point))


def _write(path: Path, write_fn: Callable[[Path], object]) -> None:
    """Write a file atomically, an OS error as one line naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write_fn)
    except OSError as exc:
        raise OptionError(f"{path}: cannot write ({exc.strerror or exc})") from None


def write_report(
    results: str | Path,
    out: str | Path | None = None,
    scenario: Iterable[str] | None = None,
    point: int | None = None,
    docx: str | Path | None = None,
) -> Path:
    """Write the report of ``results`` to ``out`` (default ``RESULTS/report.html``) and, if
    ``docx`` is given, the same content as a Word document there (needs python-docx)."""
    if docx is not None:
        from .docx import require_docx

        require_docx()  # before any work: a missing package is said at once
    res = load_results(results)
    path = Path(out) if out is not None else res.path / "report.html"
    if path.is_dir():
        path = path / "report.html"
    data = report_data(res, scenario, point)
    text = render("report.html.j2", **data)
    _write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if docx is not None:
        from .docx import build_docx

        document = build_docx(data)
        _write(Path(docx), lambda tmp: document.save(str(tmp)))
    return path
