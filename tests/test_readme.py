"""The README is the user's guide: every KPI, command and config section is documented there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hospsim.cli import COMMANDS, build_parser
from hospsim.config import Config
from hospsim.model.kpis import SERVICE_KPI_SUFFIXES, SYSTEM_KPIS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("kpi", SYSTEM_KPIS)
def test_every_system_kpi_is_in_the_kpi_dictionary(kpi):
    assert re.search(rf"^\| `{kpi}` \|", README, re.M), kpi


@pytest.mark.parametrize("suffix", (*SERVICE_KPI_SUFFIXES, "capacity_cost_gbp"))
def test_every_service_kpi_is_in_the_kpi_dictionary(suffix):
    assert f"| `S_{suffix}` |" in README


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
