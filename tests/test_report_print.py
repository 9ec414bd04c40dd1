"""The report as a board reads it: display names and readable numbers in its main body, a print
layout for A4 that clips nothing and stays short, and the Word export with the same content."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest
import yaml
from test_report import DATA, body_attributes, chromium, needs_chromium

from hospsim.cli import main
from hospsim.outputs.report import report_data, write_report
from hospsim.runs.experiment import load_experiment
from hospsim.runs.results import load_results
from hospsim.runs.sweep import run_sweep

LABELS = {
    "baseline": "Today's beds",
    "fixed_date": "Cut on the planned date",
    "gated": "Cut when rehab is in place",
    "rehab": "Rehab beds",
}
# A4 less the report's @page margins (13 mm each side), in CSS pixels (96 per inch).
A4_TEXT_WIDTH_PX = round((210 - 2 * 13) / 25.4 * 96)
MAX_PRINTED_PAGES = 8  # the mini sweep prints to 7 A4 pages; the fast 44% sweep too


@pytest.fixture(scope="module")
def labelled_sweep(tmp_path_factory) -> Path:
    """The mini experiment with display names (``labels:``), run once."""
    folder = tmp_path_factory.mktemp("labelled")
    exp = yaml.safe_load((DATA / "mini_experiment.yaml").read_text())
    exp["config"] = str((DATA / "mini_system.yaml").resolve())
    exp["labels"] = LABELS
    path = folder / "labelled.yaml"
    path.write_text(yaml.safe_dump(exp, sort_keys=False))
    out = folder / "results"
    run_sweep(load_experiment(path), out, workers=1)
    return out


@pytest.fixture(scope="module")
def labelled_report(labelled_sweep, tmp_path_factory) -> Path:
    return write_report(labelled_sweep, tmp_path_factory.mktemp("rep") / "labelled.html")


def main_body_text(page: str) -> str:
    """The words a reader sees in the report's main body: before the appendix, without the
    style sheet, script, <code> (names as written, where an analyst needs them) and tags."""
    body = page[page.index("<body") : page.index('<section id="appendix"')]
    body = re.sub(r"<code>.*?</code>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_main_body_has_display_names_and_no_code_names(labelled_report, labelled_sweep):
    page = labelled_report.read_text()
    text = main_body_text(page)
    for shown in ("Cut on the planned date", "Cut when rehab is in place", "Today's beds", "Mean occupancy"):
        assert shown in text, shown
    res = load_results(labelled_sweep)
    # ("gated" is also an English word, "the gated change": its default display name must not show)
    code_names = {"fixed_date", "ic_delay_days", "ic_growth_achieved", "step_up", *res.summary["kpi"]}
    assert "Gated" not in text and "Fixed date" not in text and "Baseline" not in text
    words = set(re.findall(r"[A-Za-z0-9_]+", text))
    assert not code_names & words, sorted(code_names & words)
    assert not re.search(r"\b[a-z]+_[a-z0-9_]+\b", text), re.search(r"\b[a-z]+_[a-z0-9_]+\b", text)
    assert not re.search(r"\d[eE][+-]?\d", text)  # no 1.82e-04
    # values as a person reads them: the criteria's bounds, in their units
    assert "Acute bed days at most −15% against the baseline" in text
    assert "Mean occupancy at most 92%" in text
    # the code names are still there for an analyst, in the KPI dictionary and the appendix
    dictionary = page[page.index('id="dictionary"') : page.index('id="appendix"')]
    assert "<code>waits_over_12h_per_1000</code>" in dictionary and "per 1,000" in dictionary
    assert "<code>fixed_date</code>" in page[page.index('id="appendix"') :]


def test_labels_do_not_change_results(labelled_sweep, tmp_path_factory):
    """Display names only: the labelled sweep's numbers are the unlabelled one's."""
    from test_plots import mini_sweep

    plain = mini_sweep(tmp_path_factory)
    for name in ("summary.csv", "verdicts.csv", "paired_differences.csv"):
        assert (labelled_sweep / name).read_bytes() == (plain / name).read_bytes(), name


def test_printed_copy_says_what_it_leaves_out(labelled_report, labelled_sweep):
    page = labelled_report.read_text()
    left = page[page.index('class="print-only left-out"') :]
    left = html.unescape(left[: left.index("</div>")])
    figures = report_data(load_results(labelled_sweep))["figures"]
    appendix_figures = [f["title"] for f in figures if not f["board"]]
    assert appendix_figures  # the mini sweep has figures beyond the board's four
    for needle in (*appendix_figures, "verdicts.csv", "summary.csv", "manifest.json", "model description"):
        assert needle in left, needle
    assert "@page { size: A4" in page


def print_emulated(page: Path, out: Path) -> Path:
    """The report with its print rules applied on screen (``@media print`` as ``@media all``), to
    lay it out at the width of an A4 page's text in a browser window."""
    text = page.read_text().replace("@media print {", "@media all {")
    out.write_text(text)
    return out


@needs_chromium
def test_printed_layout_fits_the_page_width(labelled_report, tmp_path):
    page = print_emulated(labelled_report, tmp_path / "print.html")
    done = chromium(page, tmp_path, "--dump-dom", f"--window-size={A4_TEXT_WIDTH_PX},1200", "--hide-scrollbars")
    attrs = body_attributes(done.stdout)
    assert attrs.get("data-ready") == "yes", done.stderr[-2000:]
    assert attrs["data-overflow"] == "0", "a table or figure is wider than an A4 page"
    assert attrs["data-errors"] == "0"


@needs_chromium
def test_layout_check_sees_a_table_wider_than_the_page(tmp_path):
    """The check above can fail: a table that cannot wrap is seen."""
    from hospsim.outputs.report import CHECK_SCRIPT

    page = tmp_path / "wide.html"
    cells = "".join(f"<td style='white-space:nowrap'>scenario column number {i}</td>" for i in range(12))
    page.write_text(
        f"<!DOCTYPE html><html><head><script>{CHECK_SCRIPT}</script></head><body><table><tr>{cells}</tr></table></body></html>"
    )
    done = chromium(page, tmp_path, "--dump-dom", f"--window-size={A4_TEXT_WIDTH_PX},1200", "--hide-scrollbars")
    assert body_attributes(done.stdout)["data-overflow"] == "1"


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF, counted by their page objects."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


@needs_chromium
def test_printed_pdf_is_short(labelled_report, tmp_path):
    pdf = tmp_path / "report.pdf"
    done = chromium(labelled_report, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert pdf.exists(), done.stderr[-2000:]
    pages = pdf_pages(pdf.read_bytes())
    assert 3 <= pages <= MAX_PRINTED_PAGES
    # A4: 595 x 842 points
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45](\.\d+)? 84[12](\.\d+)?\s*\]", pdf.read_bytes())


# --- the Word document -----------------------------------------------------------------------


def test_docx_has_the_headings_answer_and_tables(labelled_sweep, tmp_path):
    docx = pytest.importorskip("docx")
    out = tmp_path / "board.docx"
    assert main(["report", str(labelled_sweep), "--out", str(tmp_path / "r.html"), "--docx", str(out)]) == 0
    doc = docx.Document(str(out))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    for h in (
        "Does the plan hold?",
        "The question and the answer",
        "Share of replications in which the plan holds, per future",
        "What gating buys",
        "Key figures",
        "Key results with 95% confidence intervals",
        "Change from the baseline (paired by replication)",
        "The plan and its criteria",
        "KPI dictionary",
        "Left out of this document",
    ):
        assert h in headings, h
    data = report_data(load_results(labelled_sweep))
    text = "\n".join(p.text for p in doc.paragraphs)
    for a in data["answer"]["plain"]:
        assert f"{a['label']}: {' '.join(a['sentences'])}" in text
    # the key results: every number of the HTML's table is in the Word table, cell by cell
    page = (tmp_path / "r.html").read_text()
    board = data["kpis"]["board"]
    (table,) = [t for t in doc.tables if [c.text for c in t.rows[0].cells] == board["header"]]
    word = [[c.text for c in r.cells] for r in table.rows]
    for row, got in zip(board["rows"], word[1:]):
        assert got[0] == row[0]
        for cell, g in zip(row[2:], got[2:]):
            assert g == f"{cell['main']}\n{cell['small']}"
            assert html.escape(cell["main"]) in page
    assert len(doc.inline_shapes) == sum(f["board"] for f in data["figures"]) >= 3


def test_docx_without_python_docx_is_one_line(labelled_sweep, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "docx", None)  # as if python-docx were not installed
    out = tmp_path / "board.docx"
    assert main(["report", str(labelled_sweep), "--out", str(tmp_path / "r.html"), "--docx", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'hospsim[docx]'" in err
    assert not out.exists() and not (tmp_path / "r.html").exists()  # failed before any work


def test_docx_to_a_folder_is_one_line(labelled_sweep, tmp_path, capsys):
    assert main(["report", str(labelled_sweep), "--out", str(tmp_path / "r.html"), "--docx", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hospsim: error: --docx ") and "is a folder" in err and err.count("\n") == 1


def test_small_values_read_without_e_notation():
    from hospsim.outputs.labels import kpi_change, kpi_value, plain_number

    assert kpi_value("mean_wait_hours", 6.87e-4) == "0.00069"
    assert kpi_change("mean_wait_hours", -6.87e-4) == "\u22120.00069"
    assert kpi_value("p_wait_over_4h", 1.82e-4) == "0.018%"
    assert plain_number(0.0237) == "0.0237" and plain_number(1234.5) == "1,234" and plain_number(2e-12) == "0"


def test_a_kpi_interval_is_cut_to_the_values_the_kpi_can_take():
    from hospsim.outputs.report.kpis import kpi_ci

    # A t-interval of a share over 3 replications can reach below 0 (and above 100%).
    assert kpi_ci("share_days_over_92pct", -0.021, 0.048) == "0% \u2013 4.8%"
    assert kpi_ci("share_days_over_85pct", 0.9, 1.05) == "90% \u2013 100%"
    assert kpi_ci("mean_occupancy", 0.95, 1.07) == "95% \u2013 107%"  # escalation beds: above 100%
    assert kpi_ci("displaced_bed_days", -12.5, 40.0) == "0 \u2013 40"
    assert kpi_ci("mean_occupied_beds", 2012.0, 2116.0) == "2,012 \u2013 2,116"
