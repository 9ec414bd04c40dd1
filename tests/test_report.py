"""The HTML report: its content, that it is self-contained, and that it opens in a real headless
browser (Debian's chromium) with every image loaded, no console errors and a non-blank page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_plots import BROKEN, break_folder, mini_run, mini_sweep

from hospsim.cli import main
from hospsim.config import load_config
from hospsim.config.schedules import Schedule
from hospsim.outputs.report import CHECK_SCRIPT, describe_schedule, write_report
from hospsim.runs.replications import run_config
from hospsim.runs.store import build_manifest, write_results

DATA = Path(__file__).parent / "data"
CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; CI installs it)"
)
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network at all: the report must not need it
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory) -> Path:
    return write_report(mini_sweep(tmp_path_factory), tmp_path_factory.mktemp("rep") / "sweep.html")


@pytest.fixture(scope="module")
def run_report(tmp_path_factory) -> Path:
    return write_report(mini_run(tmp_path_factory), tmp_path_factory.mktemp("rep") / "run.html")


def chromium(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    profile.mkdir()
    return subprocess.run(
        [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )


def body_attributes(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


# --- content ---------------------------------------------------------------------------------


def test_sweep_report_answers_the_question_first(sweep_report, tmp_path_factory):
    text = sweep_report.read_text()
    sweep_dir = mini_sweep(tmp_path_factory)
    answer = text.index('id="answer"')
    assert text.index("Does a 20% bed cut hold when step-up and rehab grow late or slowly?") > answer
    assert (
        answer
        < text.index('id="figures"')
        < text.index('id="kpis"')
        < text.index('id="plan"')
        < text.index('id="dictionary"')
        < text.index('id="appendix"')
        < text.index('id="model"')
        < text.index('id="manifest"')
    )
    # the share holding per cell, with its Wilson CI, straight from verdicts.csv
    verdicts = pd.read_csv(sweep_dir / "verdicts.csv")
    allv = verdicts[verdicts["criterion"] == "all criteria"]
    grid = text[
        text.index("Share of replications in which the plan holds, per future") : text.index("What gating buys")
    ]
    cells = re.findall(
        r'<td class="share" data-scenario="([^"]*)" data-point="(\d+)"[^>]*>([^<]*)<br><small>([^<]*)</small>', grid
    )
    assert len(cells) == len(allv) == 8
    assert len({(s, p) for s, p, _, _ in cells}) == 8  # every cell once
    by_cell = allv.set_index(["scenario", "point"])
    for scen, point, share, ci in cells:
        r = by_cell.loc[(scen, int(point))]
        assert share == f"{100 * r['share_holds']:.0f}%"
        assert ci == f"{100 * r['ci_low']:.0f}% \u2013 {100 * r['ci_high']:.0f}%"
    # the plain answer counts the cells holding, from the same file (scenarios by display name)
    for scen, g in allv.groupby("scenario"):
        holding = int((g["share_holds"] >= 0.9).sum())
        said = {4: "all 4 futures swept", 0: "none of the 4 futures swept"}.get(holding, f"{holding} of the 4 futures")
        assert f"<b>{scen.replace('_', ' ').capitalize()}</b>: the plan holds in {said}" in text
    assert "breaks_at" not in text and "What breaks it" not in text
    # what gating buys: the gate opened in every replication at the on-time point, never at half growth
    gating = text[text.index("What gating buys") : text.index('id="figures"')]
    assert "Gated</b> against <b>Fixed date</b>" in gating
    assert "100%, median 7 Jul 2017" in gating and "<td>0%</td>" in gating
    # the plan, its criteria, the model inputs and the manifest
    for needle in (
        "<code>acute_bed_days</code>",
        "(scenario − baseline) / baseline",
        "Acute bed days at most −15% against the baseline",
        "Waits over 12 h per 1,000 at most +5 per 1,000 against the baseline",
        "held until rehab has at least 22 places",
        "lognormal, mean 8 days, CV 1",
        "exponential, mean 3 days",
        "home 60%, rehab 40%",
        "STRESS-DES",
        "warm-up",
        "experiment hash",
        "git revision",
    ):
        assert needle in text, needle
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert manifest["experiment_hash"] in text
    assert manifest["cells"][1]["config_hash"] in text
    assert str(manifest["replication_seeds"][0]) in text


def test_report_is_self_contained(sweep_report, run_report):
    for page in (sweep_report, run_report):
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
        assert "<link" not in text and "@import" not in text and "url(" not in text
        assert not re.search(r"<script[^>]+src", text)
        imgs = re.findall(r'<img src="([^"]+)"', text)
        assert imgs and all(s.startswith("data:image/png;base64,") for s in imgs)


def test_run_report_has_kpis_figures_and_model(run_report, tmp_path_factory):
    text = run_report.read_text()
    summary = pd.read_csv(mini_run(tmp_path_factory) / "summary.csv").set_index("kpi")
    assert "no plan criteria, so no verdict" in text
    assert len(re.findall(r"<img ", text)) == 4  # fan, exceedance, delays, services
    assert "<code>mean_occupancy</code>" in text
    from hospsim.outputs.labels import kpi_value

    assert kpi_value("mean_occupied_beds", summary.loc["mean_occupied_beds", "mean"]) in text
    assert f'<td class="num">{kpi_value("mean_occupancy", summary.loc["mean_occupancy", "mean"])}<br>' in text
    assert "Model description" in text and "45 beds" in text and "Config hash" not in text


def test_describe_schedule_in_words():
    assert describe_schedule({"constant": 45.0}, unit="beds") == "45 beds"
    assert describe_schedule({"steps": [[0, 45], [150, 36]]}, "2017-04-01") == "45, then 36 from day 150 (2017-08-29)"
    ramp = {
        "ramp": {"from": 16, "to": 22, "start_day": 60, "duration_days": 40},
        "gate": [{"occupancy_at_most": {"days": 28, "occupancy": 0.85}}],
    }
    assert describe_schedule(ramp) == (
        "16, changing linearly to 22 over 40 days from day 60; held until acute "
        "occupancy over the last 28 days is at most 85% (checked each midnight)"
    )
    # validated schedules read the same as the raw ones
    assert describe_schedule(Schedule.model_validate(ramp)) == describe_schedule(ramp)
    assert describe_schedule(Schedule(constant=45.0), unit="beds") == "45 beds"


def test_report_command(tmp_path_factory, tmp_path, capsys):
    sweep_dir = mini_sweep(tmp_path_factory)
    out = tmp_path / "board" / "r.html"
    assert main(["report", str(sweep_dir), "--out", str(out), "--point", "2", "--scenario", "gated"]) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    text = out.read_text()
    shown = "Baseline, Gated; the future: intermediate care 3 months late, intermediate care growth 50% of plan"
    assert f"tables of key results show: {shown}." in text
    kpis = section(text, "kpis", "plan")
    assert '<th class="num">Gated</th>' in kpis and "Fixed date" not in kpis
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hospsim: error: ") and err.count("\n") == 1


def section(text: str, start: str, end: str) -> str:
    return text[text.index(f'id="{start}"') : text.index(f'id="{end}"')]


def write_run(folder: Path, overrides: list[str]) -> Path:
    """A short run of the mini system with ``overrides`` (``--set`` syntax)."""
    import datetime as dt

    cfg = load_config(DATA / "mini_system.yaml", ["replications=2", "horizon_days=150", *overrides])
    now = dt.datetime.now(dt.UTC)
    output = run_config(cfg, workers=1)
    manifest = build_manifest(cfg, "mini_system.yaml", output.seeds, now, now, 1, output.events)
    write_results(folder, output.summary, output.replications, output.daily, manifest)
    return folder


def test_plan_section_shows_pathway_changes_and_delivery(tmp_path):
    """The plan is read by the model's own plan_schedules: a pathway change is in it, and a
    schedule that plan_delivery delays says so."""
    change = "{to: {home: 0.5, rehab: 0.5}, start_day: 100, duration_days: 30}"
    ramp = "{ramp: {from: 16, to: 22, start_day: 60, duration_days: 40}}"
    folder = write_run(
        tmp_path / "run",
        [
            f"groups.frail.pathways_change={change}",
            f"services.rehab.capacity={ramp}",
            "plan_delivery.ic_delay_days=20",
            "description=<script>alert('x')</script> & co",
        ],
    )
    text = write_report(folder, tmp_path / "r.html").read_text()
    plan = section(text, "plan", "model")
    assert "<td>groups.frail.pathways_change</td>" in plan
    assert "home 60%, rehab 40%, shifting to home 50%, rehab 50% over 30 days from day 100 (2017-07-10)" in plan
    assert "16, changing linearly to 22 over 40 days from day 60 (2017-05-31) (as delivered: 20 days late" in plan
    # every value is escaped by the templates
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in text


@pytest.mark.parametrize("how", BROKEN)
def test_report_of_a_broken_folder_is_one_line(tmp_path_factory, tmp_path, capsys, how):
    run_dir, sweep_dir = mini_run(tmp_path_factory), mini_sweep(tmp_path_factory)
    folder, message = break_folder(how, run_dir, sweep_dir, tmp_path / how)
    assert main(["report", str(folder), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hospsim: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


# --- in a real browser -----------------------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize("which", ["sweep", "run"])
def test_report_opens_offline_in_chromium(which, sweep_report, run_report, tmp_path):
    page = sweep_report if which == "sweep" else run_report
    n_images = len(re.findall(r"<img ", page.read_text()))
    done = chromium(page, tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    attrs = body_attributes(done.stdout)
    assert attrs.get("data-ready") == "yes", "the page's load event never fired"
    assert attrs["data-images"] == str(n_images) and n_images >= 4
    assert attrs["data-images-loaded"] == attrs["data-images"], "some images did not load"
    assert attrs["data-errors"] == "0"
    assert console_lines(done.stderr) == []

    shot = tmp_path / "shot.png"
    done = chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # text, tables and figures, not a blank page
    assert (pixels < 128).mean() > 0.01  # a good deal of dark ink
    assert (pixels > 240).mean() > 0.3  # on a light page


@needs_chromium
def test_browser_check_catches_broken_pages(tmp_path):
    """The checks above can fail: a broken image, a network image and a script error are seen."""
    page = tmp_path / "bad.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><script>{CHECK_SCRIPT}</script></head><body><p>x</p>"
        '<img src="data:image/png;base64,AAAA"><img src="https://example.org/a.png">'
        "<script>console.error('boom'); notDefined();</script></body></html>"
    )
    done = chromium(page, tmp_path, "--dump-dom")
    attrs = body_attributes(done.stdout)
    assert attrs["data-images"] == "2" and attrs["data-images-loaded"] == "0"
    assert int(attrs["data-errors"]) >= 2
    assert any("boom" in line for line in console_lines(done.stderr))


def test_kpis_the_outputs_name_are_in_the_kpi_registry():
    """The report's and the forest plot's KPI lists are checked against the one registry."""
    from hospsim.model import kpi_registry
    from hospsim.outputs.plots.forest import FOREST_KPIS
    from hospsim.outputs.report.kpis import KEY_KPIS, kpi_cell, kpi_unit

    for name in (*KEY_KPIS, *FOREST_KPIS):
        assert kpi_registry.get(name).name == name
    assert kpi_cell("mean_occupancy") == {"lines": ["Mean occupancy", {"code": "mean_occupancy"}]}
    assert kpi_cell("mean_occupancy", code=False) == "Mean occupancy"
    assert kpi_unit("home_support_mean_wait_days") == kpi_registry.get("home_support_mean_wait_days").unit == "days"
    assert kpi_cell("no_such_kpi") == {"code": "no_such_kpi"} and kpi_unit("no_such_kpi") == ""


def test_a_report_cut_short_leaves_the_old_one_whole(tmp_path_factory, tmp_path, monkeypatch):
    """The report is written atomically: a failure half-way keeps the previous report intact and
    leaves no partial file behind."""
    from hospsim.outputs.errors import OptionError

    results = mini_run(tmp_path_factory)
    out = tmp_path / "report.html"
    out.write_text("previous report")
    real_write_text = Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OptionError, match="No space left on device"):
        write_report(results, out)
    monkeypatch.undo()
    assert out.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
