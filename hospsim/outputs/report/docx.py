"""The report as a Word document for a board pack (``hospsim report RESULTS --docx FILE``).

It writes the main body of the HTML report from the same data (:func:`~hospsim.outputs.report.report_data`):
the question and the plain answer, the share of replications holding per future, what gating
buys, the key figures (the same PNG images), the key results and changes from the baseline, the
plan and its criteria, the KPI dictionary, and a list of what it leaves out and where that is.
Nothing is computed here: only laid out.

python-docx is optional (``pip install 'hospsim[docx]'``); without it, :func:`require_docx` fails
in one line saying how to install it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

from ..errors import OptionError

INSTALL_HINT = "--docx needs python-docx: pip install 'hospsim[docx]' (or: pip install python-docx)"
FIGURE_WIDTH_CM = 16.0  # an A4 page's text width with Word's default margins
SMALL_PT = 7.5
TEXT_PT = 10.0


def require_docx() -> Any:
    """The python-docx module, or an :class:`OptionError` saying how to install it."""
    try:
        import docx
    except ImportError:
        raise OptionError(INSTALL_HINT) from None
    return docx


# ---------------------------------------------------------------------------------------------
# Cells of the report's tables (the forms macros.html.j2 renders) as runs of a paragraph


def _runs(par: Any, cell: Any, small: bool = False) -> None:
    """Add ``cell`` (text or a mapping: code, main/small, lines, seq, bold) to a paragraph."""
    from docx.shared import Pt, RGBColor

    def run(text: str, *, code: bool = False, tiny: bool = False, bold: bool = False) -> None:
        r = par.add_run(text)
        r.bold = bold or None
        if code:
            r.font.name = "Consolas"
        if code or tiny or small:
            r.font.size = Pt(SMALL_PT)
            r.font.color.rgb = RGBColor(0x55, 0x55, 0x55)

    if not isinstance(cell, Mapping):
        run("" if cell is None else str(cell))
    elif "code" in cell:
        run(str(cell["code"]), code=True)
    elif "small" in cell:
        run(str(cell["main"]))
        par.add_run().add_break()
        run(str(cell["small"]), tiny=True)
    elif "lines" in cell:
        for i, x in enumerate(cell["lines"]):
            if i:
                par.add_run().add_break()
            _runs(par, x, small)
    elif "seq" in cell:
        for x in cell["seq"]:
            _runs(par, x, small)
    elif "bold" in cell:
        run(str(cell["bold"]), bold=True)


def _shade(cell: Any, fill: str, text: str) -> None:
    """Fill a table cell with a colour (``#rrggbb``) and colour its text."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill.lstrip("#"))
    cell._tc.get_or_add_tcPr().append(shd)
    for par in cell.paragraphs:
        for r in par.runs:
            r.font.color.rgb = RGBColor.from_string(text.lstrip("#").upper())


def _table(doc: Any, t: Mapping[str, Any], font_pt: float = 8.0) -> Any:
    """A table of the report (``{"header", "rows", "num"}``; no header row if ``header`` is
    None) as a Word table."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    header = t.get("header")
    width = len(header) if header else max(len(r) for r in t["rows"])
    table = doc.add_table(rows=0, cols=width)
    table.style = "Table Grid"
    if header:
        for i, h in enumerate(table.add_row().cells):
            h.paragraphs[0].add_run(str(header[i])).bold = True
    for row in t["rows"]:
        for i, c in enumerate(table.add_row().cells):
            _runs(c.paragraphs[0], row[i] if i < len(row) else "")
    for row in table.rows:
        for i, cell in enumerate(row.cells):
            for par in cell.paragraphs:
                if i in t["num"]:
                    par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                for r in par.runs:
                    if r.font.size is None:
                        r.font.size = Pt(font_pt)
    return table


def _kv(doc: Any, pairs: list[list[Any]]) -> Any:
    """Key-value pairs as a two-column table, keys in bold."""
    return _table(doc, {"header": None, "rows": [[{"bold": k}, v] for k, v in pairs], "num": []})


def _note(doc: Any, text: Any) -> None:
    from docx.shared import Pt, RGBColor

    par = doc.add_paragraph()
    _runs(par, text)
    for r in par.runs:
        r.font.size = Pt(8.5)
        r.font.color.rgb = RGBColor(0x55, 0x55, 0x55)


# ---------------------------------------------------------------------------------------------
# Sections


def _grid(doc: Any, g: Mapping[str, Any]) -> None:
    """A scenario's share of replications holding per future, coloured as the robustness map."""
    doc.add_paragraph().add_run(g["label"]).bold = True
    rows = []
    for r in g["rows"]:
        cells: list[Any] = [r["label"]]
        for s in r["cells"]:
            fails = f" \u00b7 fails {', '.join(s['fails_n'])}" if s and s.get("fails_n") else ""
            cells.append({"main": s["share"], "small": s["ci"] + fails} if s else "")
        rows.append(cells)
    header = [f"{g['row_title']} \u2193 / {g['col_title']} \u2192", *g["columns"]]
    table = _table(doc, {"header": header, "rows": rows, "num": []})
    for r, row in zip(g["rows"], table.rows[1:]):
        for s, cell in zip(r["cells"], row.cells[1:]):
            if s:
                _shade(cell, s["bg"], s["fg"])


def _answer(doc: Any, data: Mapping[str, Any]) -> None:
    doc.add_heading("The question and the answer", level=1)
    if data["question"]:
        doc.add_paragraph().add_run(data["question"]).bold = True
    a = data["answer"]
    if not data["sweep"]:
        doc.add_paragraph(f"A run of one config ({data['runs']}): no plan criteria, so no verdict.")
        doc.add_paragraph(data["headline"])
        return
    if not a["criteria"]:
        doc.add_paragraph(
            "This experiment states no criteria, so there is no verdict: see the changes from the baseline."
        )
        return
    for v in a["plain"]:
        par = doc.add_paragraph()
        par.add_run(v["label"]).bold = True
        par.add_run(": " + " ".join(v["sentences"]))
    _note(doc, a["rule"])
    if a["grids"]:
        doc.add_heading("Share of replications in which the plan holds, per future", level=2)
        _note(doc, "95% Wilson interval below each share; the numbers after \u2018fails\u2019 are these criteria:")
        for name in a["criteria_names"]:
            doc.add_paragraph(name, style="List Number")
        for g in a["grids"]:
            _grid(doc, g)
    for g in a["gating"]:
        doc.add_heading("What gating buys", level=2)
        text = (
            f"{g['gated']} against {g['ref']}: over {g['cells']} futures, gating changes the share of replications "
            f"in which the plan holds by {g['gain']} on average"
        )
        if g["went_ahead"]:
            text += f"; the gated change went ahead in {g['went_ahead']} of replications"
        doc.add_paragraph(text + ". The last two columns: the change in acute bed days from the baseline.")
        _table(doc, g["table"])


def _figures(doc: Any, data: Mapping[str, Any]) -> None:
    from docx.shared import Cm

    doc.add_heading("Key figures", level=1)
    if data["sweep"]:
        _note(doc, f"Time series and the key results show: {data['shown']}.")
    for f in data["figures"]:
        if not f["board"]:
            continue
        doc.add_heading(f["title"], level=2)
        doc.add_picture(io.BytesIO(base64.b64decode(f["png"])), width=Cm(FIGURE_WIDTH_CM))
        _note(doc, f["caption"])


def _results(doc: Any, data: Mapping[str, Any]) -> None:
    k = data["kpis"]
    doc.add_heading("Key results with 95% confidence intervals", level=1)
    _note(
        doc,
        "Mean over replications, with the t-based 95% confidence interval below (cut at 0, and at 100% for a share of days). Units: the KPI dictionary.",
    )
    _table(doc, k["board"])
    if k.get("pathway"):
        doc.add_heading("The patient pathway, place by place", level=2)
        _note(
            doc,
            "Each place in the order patients reach it, where its patients go next, and its mean over replications "
            "(95% CI below). Blocked: patients who have finished their stay and still hold the place, waiting to "
            "move on (for acute beds: medically fit patients delayed).",
        )
        _table(doc, k["pathway"])
    if k["change"]:
        doc.add_heading("Change from the baseline (paired by replication)", level=2)
        _note(doc, "Difference from the baseline in the same replications (relative change in brackets), 95% CI below.")
        _table(doc, k["change"])


def _plan(doc: Any, data: Mapping[str, Any]) -> None:
    p = data["plan"]
    doc.add_heading("The plan and its criteria", level=1)
    if not p["sweep"]:
        if p["changing"]:
            _table(doc, p["changing"])
        else:
            doc.add_paragraph("A single config with no plan: nothing changes over the run, and there are no criteria.")
        return
    _kv(doc, p["facts"])
    doc.add_heading("Scenarios", level=2)
    _table(doc, p["scenarios"])
    if p["sweep_info"]:
        s = p["sweep_info"]
        doc.add_heading("The futures swept", level=2)
        doc.add_paragraph(f"{s['points']} futures: {s['method']} of the values below, for each of: {s['crossing']}.")
        _table(doc, s["table"])
    doc.add_heading("Criteria", level=2)
    if p["criteria"]:
        _table(doc, p["criteria"])
    else:
        doc.add_paragraph("None stated.")


def build_docx(data: Mapping[str, Any]) -> Any:
    """The Word document of the report's data (:func:`~hospsim.outputs.report.report_data`)."""
    docx = require_docx()
    from docx.shared import Pt

    doc = docx.Document()
    doc.styles["Normal"].font.size = Pt(TEXT_PT)
    doc.add_heading(data["title"], level=0)
    _note(
        doc, {"seq": ["hospsim report of the results folder ", {"code": data["path"]}, f"; hospsim {data['version']}."]}
    )
    _answer(doc, data)
    _figures(doc, data)
    _results(doc, data)
    _plan(doc, data)
    doc.add_heading("KPI dictionary", level=1)
    _table(doc, data["kpis"]["dictionary"])
    doc.add_heading("Left out of this document", level=1)
    doc.add_paragraph("To keep it short; all of it is in the HTML report (its appendix) and in the results folder:")
    for item in data["left_out"]:
        _runs(doc.add_paragraph(style="List Bullet"), item)
    return doc
