"""The report of a chain of community services (acute → rehab → home / home care of unlimited
capacity / care home): the patient pathway figure and table in the main body, the blocking KPIs
in the key results, the Word copy and the A4 print; a report without a chain gains none of it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from test_plots import chain_sweep, mini_run
from test_report import body_attributes, chromium, needs_chromium
from test_report_print import A4_TEXT_WIDTH_PX, main_body_text, print_emulated

from hospsim.cli import main
from hospsim.outputs.labels import kpi_value
from hospsim.outputs.report import report_data, write_report
from hospsim.runs.results import load_results

PATHWAY_HEADING = "The patient pathway, place by place"


@pytest.fixture(scope="module")
def chain_dir(tmp_path_factory) -> Path:
    return chain_sweep(tmp_path_factory)


@pytest.fixture(scope="module")
def chain_report(chain_dir, tmp_path_factory) -> Path:
    return write_report(chain_dir, tmp_path_factory.mktemp("rep") / "chain.html")


def summary_mean(folder: Path, scenario: str, kpi: str) -> float:
    s = load_results(folder).summary
    return float(s[(s["scenario"] == scenario) & (s["kpi"] == kpi)]["mean"].iloc[0])


def test_pathway_table_lists_each_place_with_its_results(chain_dir):
    data = report_data(load_results(chain_dir))
    t = data["kpis"]["pathway"]
    assert t["header"][:3] == ["scenario", "place (capacity)", "then (share of those leaving)"]
    rows = [r for r in t["rows"] if r[0] == "Baseline"]
    # In the order patients reach each place (the config lists care_home, home_care, rehab).
    assert [r[1] for r in rows] == [
        {"main": "Acute beds", "small": "45 beds"},
        {"main": "Rehab", "small": "16 places"},
        {"main": "Care home", "small": "8 places"},
        {"main": "Home care", "small": "unlimited"},
    ]
    acute, rehab, care_home, home_care = (r[2:] for r in rows)
    assert acute[0] == "home 84%, rehab 16%"
    assert rehab[0] == "home 60%, home care 25%, care home 15%"
    assert care_home[0] == home_care[0] == "home 100%"
    for col, kpi in (
        (1, "rehab_mean_occupied"),
        (2, "rehab_mean_blocked"),
        (3, "rehab_blocked_share"),
        (4, "rehab_p_wait"),
    ):
        assert rehab[col]["main"] == kpi_value(kpi, summary_mean(chain_dir, "baseline", kpi))
    assert summary_mean(chain_dir, "baseline", "rehab_mean_blocked") > 0.5
    delayed = summary_mean(chain_dir, "baseline", "mean_delayed_patients")
    assert acute[2]["main"] == kpi_value("mean_delayed_patients", delayed)
    # A share's CI stops at 100% (two replications' t-interval of rehab's P(wait) passes it).
    assert rehab[4]["small"].endswith("\u2013 100%")
    # No blocking in a service that sends nobody on; no capacity share or wait in an unlimited one.
    assert care_home[2] == care_home[3] == "\u2013"
    assert home_care[2] == home_care[3] == home_care[4] == "\u2013"
    shift = next(r for r in t["rows"] if r[0] == "Rehab shift" and r[1]["main"] == "Rehab")
    assert shift[2] == "home 60% \u2192 45%, home care 25% \u2192 40%, care home 15%"
    more = [r[1]["small"] for r in t["rows"] if r[0] == "More care home" and r[1]["main"] == "Care home"]
    assert more == ["12 places"]


def test_report_shows_the_chain_in_its_main_body(chain_report, chain_dir):
    page = chain_report.read_text()
    body = main_body_text(page)
    assert PATHWAY_HEADING in body
    assert 'id="fig-pathway"' in page[: page.index('<section id="appendix"')]  # a key figure
    assert "Where patients go: from an acute bed to community services and on" in body
    for words in ("Community delayed place days", "Rehab: mean blocked patients", "Rehab: blocked share of places"):
        assert words in body, words  # the key results and the KPI dictionary
    value = kpi_value("community_delayed_bed_days", summary_mean(chain_dir, "baseline", "community_delayed_bed_days"))
    assert html.escape(value) in page
    # the services figure's caption says what a chain adds; the model keeps its onward pathways column
    assert "hatched: patients blocked in it" in page
    assert "then (onward pathways)" in page
    assert "home 60%, home care 25%, care home 15%" in page


def test_report_without_a_chain_gains_nothing(tmp_path_factory):
    page = write_report(mini_run(tmp_path_factory), tmp_path_factory.mktemp("rep") / "plain.html").read_text()
    for absent in (PATHWAY_HEADING, 'id="fig-pathway"', "Community delayed place days", "blocked", "hatched"):
        assert absent not in page, absent
    data = report_data(load_results(mini_run(tmp_path_factory)))
    assert data["kpis"]["pathway"] is None
    assert [f["name"] for f in data["figures"]] == ["fan", "exceedance", "delays", "services"]


def test_run_headline_counts_community_delays(tmp_path_factory, tmp_path):
    folder = tmp_path / "run"
    args = ["run", str(Path(__file__).parent / "data" / "mini_chain.yaml"), "-r", "2", "--seed", "3"]
    assert main([*args, "--workers", "1", "--out", str(folder), "--no-progress"]) == 0
    data = report_data(load_results(folder))
    assert "; place days blocked in community services " in data["headline"]
    places = [r[0]["main"] for r in data["kpis"]["pathway"]["rows"]]
    assert places == ["Acute beds", "Rehab", "Care home", "Home care"]
    assert data["kpis"]["pathway"]["header"][0] == "place (capacity)"  # one cell: no scenario column


def test_docx_has_the_pathway_table(chain_dir, tmp_path):
    docx = pytest.importorskip("docx")
    out = tmp_path / "chain.docx"
    assert main(["report", str(chain_dir), "--out", str(tmp_path / "r.html"), "--docx", str(out)]) == 0
    doc = docx.Document(str(out))
    assert PATHWAY_HEADING in [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    t = report_data(load_results(chain_dir))["kpis"]["pathway"]
    (table,) = [w for w in doc.tables if [c.text for c in w.rows[0].cells] == t["header"]]
    word = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert [[r[0], r[2]] for r in word] == [[r[0], r[2]] for r in t["rows"]]
    assert word[1][1] == "Rehab\n16 places"
    assert word[1][6] == f"{t['rows'][1][6]['main']}\n{t['rows'][1][6]['small']}"
    assert "Patient pathway" in [p.text for p in doc.paragraphs]  # the figure's heading


@needs_chromium
def test_printed_chain_report_fits_the_page_width(chain_report, tmp_path):
    page = print_emulated(chain_report, tmp_path / "print.html")
    done = chromium(page, tmp_path, "--dump-dom", f"--window-size={A4_TEXT_WIDTH_PX},1200", "--hide-scrollbars")
    attrs = body_attributes(done.stdout)
    assert attrs.get("data-ready") == "yes", done.stderr[-2000:]
    assert attrs["data-overflow"] == "0", "a table or figure is wider than an A4 page"
    assert attrs["data-errors"] == "0"
    assert re.search(r"data-images=\"(\d+)\"", done.stdout)
