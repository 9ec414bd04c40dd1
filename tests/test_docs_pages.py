"""The documentation site's generated pages (tools/docs_pages.py) are up to date and complete.

CI also builds the site with ``mkdocs build --strict`` (broken links and anchors fail it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hospsim.cli import COMMANDS, build_parser
from hospsim.model import kpi_registry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import docs_pages  # noqa: E402  (tools/ is not a package)

PAGES = docs_pages.pages()


def test_generated_pages_are_up_to_date():
    assert docs_pages.stale() == [], "generated docs pages are out of date: run `python tools/docs_pages.py --write`"


def test_every_generated_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert f": {page}\n" in nav, page


def test_kpi_page_lists_every_kpi():
    text = PAGES["reference/kpis.md"]
    for k in kpi_registry.KPIS:
        assert f"| `{k.display_name}` |" in text, k.name


def test_commands_page_lists_every_command_and_option():
    text = PAGES["reference/commands.md"]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in COMMANDS:
        assert f"## `hospsim {name}`" in text, name
        for action in sub.choices[name]._actions:
            for opt in action.option_strings:
                if opt not in ("--help", "-h", "--debug"):
                    assert f"`{opt}" in text, f"hospsim {name} {opt}"
    assert "parallel processes (default: 2)" in text  # argparse's %(default)s filled in


def test_readme_links_and_images_point_into_the_site():
    anchors = {"experiment-reference": "reference/config.md", "the-model": "explanation/model.md"}
    md = "See [the reference](#experiment-reference), [a KPI](docs/howto-kpi.md), [x](#nowhere).\n![fan](docs/img/fan.png)"
    assert docs_pages.for_site(md, "explanation/model.md", anchors) == (
        "See [the reference](../reference/config.md#experiment-reference), [a KPI](../howto-kpi.md), x.\n"
        "![fan](../img/fan.png)"
    )
    # a link to a section of the same page stays an anchor
    assert docs_pages.for_site("[m](#the-model)", "explanation/model.md", anchors) == "[m](#the-model)"


def test_readme_pages_carry_their_sections_and_images():
    model = PAGES["explanation/model.md"]
    assert model.splitlines()[2] == "# The model"
    assert "**Randomness and common random numbers.**" in model
    examples = PAGES["explanation/worked-examples.md"]
    assert "](../img/robustness.png)" in examples and "](docs/img/" not in examples
    for image in ("fan", "forest", "robustness", "waiting_list"):
        assert (ROOT / "docs" / "img" / f"{image}.png").is_file()


def test_tutorial_script_becomes_prose_and_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    script = tmp_path / "tutorial.py"
    script.write_text(
        "# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
        '"""Run me."""\n'
        "# %%\n# a comment, not a title\nimport hospsim\n"
        "# %% [markdown]\n# # hospsim from Python\n#\n# Load the *default* config.\n"
        "# %%\ncfg = hospsim.load_config()\n"
    )
    monkeypatch.setattr(docs_pages, "TUTORIAL", script)
    page = docs_pages.tutorial_page()
    assert page.startswith("<!-- Generated from docs/tutorial.py")
    body = page.split("-->\n\n", 1)[1]
    assert body.splitlines()[0] == "# hospsim from Python"  # the prose's heading, moved to the top
    assert body.count("# hospsim from Python") == 1 and "# Python tutorial" not in body
    assert body.index("Run me.") < body.index("```python\n# a comment, not a title\nimport hospsim\n```")
    assert body.index("import hospsim") < body.index("Load the *default* config.") < body.index("cfg = hospsim")
    assert "jupytext" not in body  # the notebook metadata is not shown


def test_missing_tutorial_script_is_said_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(docs_pages, "TUTORIAL", tmp_path / "absent.py")
    assert "no `docs/tutorial.py`" in docs_pages.tutorial_page()


def test_the_cli_tutorials_experiment_is_valid_and_has_the_runs_it_says(tmp_path: Path):
    """The experiment the tutorial tells a reader to save loads, and resolves to its 15 runs."""
    from hospsim.runs.experiment import load_experiment

    text = (ROOT / "docs" / "tutorial" / "first-plan.md").read_text()
    block = text.split("Save this as `experiments/my_plan.yaml`:\n\n```yaml\n", 1)[1].split("\n```", 1)[0]
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "footprint.yaml").write_bytes((ROOT / "configs" / "footprint.yaml").read_bytes())
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "my_plan.yaml").write_text(block + "\n")
    runs = list(load_experiment(tmp_path / "experiments" / "my_plan.yaml").runs())
    assert len(runs) == 15 and "Fifteen runs" in text
    assert {r.scenario for r in runs} == {"baseline", "cut_only", "cut_with_d2a"}


def test_a_renamed_readme_section_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"README.md has no '## The model' section: update README_PAGES"):
        docs_pages.readme_page("explanation/model.md", "# hospsim\n\n## The models\nText.\n")
