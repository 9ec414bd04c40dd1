"""The README is the user's guide: every KPI, command and config section is documented there."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hospsim.cli import COMMANDS, build_parser
from hospsim.config import Config
from hospsim.model import kpi_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import kpi_dictionary

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_kpi_dictionary_is_generated_from_the_registry():
    """The README's KPI dictionary is exactly what tools/kpi_dictionary.py prints."""
    assert kpi_dictionary.readme_section(README) == kpi_dictionary.render(), (
        "the README's KPI dictionary differs from the registry: run `python tools/kpi_dictionary.py --write`"
    )


def test_kpi_dictionary_lists_every_kpi_once():
    section = kpi_dictionary.readme_section(README)
    for k in kpi_registry.KPIS:
        assert len(re.findall(rf"^\| `{re.escape(k.display_name)}` \|", section, re.M)) == 1, k.name


def test_every_command_and_option_is_documented():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in COMMANDS:
        assert f"hospsim {name}" in README, name
        for action in sub.choices[name]._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in README, f"hospsim {name} {opt}"


def test_every_config_section_is_documented():
    for field in Config.model_fields:
        assert re.search(rf"^{field}:", README, re.M), field
