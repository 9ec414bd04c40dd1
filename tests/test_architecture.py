"""The package's layers (config -> model -> analysis -> runs -> outputs -> cli), read from its
imports: each layer imports only the ones below it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import architecture


def test_every_module_is_in_a_layer():
    for mod in architecture.import_graph():
        assert architecture.layer_of(mod) >= -1, mod


def test_no_layer_imports_a_higher_one():
    assert architecture.layer_violations() == []


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a model module importing the runs layer is reported."""
    pkg = tmp_path / "hospsim"
    (pkg / "model").mkdir(parents=True)
    (pkg / "runs").mkdir()
    for p in (
        pkg / "__init__.py",
        pkg / "model" / "__init__.py",
        pkg / "runs" / "__init__.py",
        pkg / "runs" / "store.py",
    ):
        p.write_text("")
    (pkg / "model" / "engine.py").write_text("from ..runs.store import x\nfrom . import kpis\n")
    (pkg / "model" / "kpis.py").write_text("import hospsim.runs\n")
    monkeypatch.setattr(architecture, "PACKAGE", pkg)
    assert architecture.layer_violations() == [
        "hospsim.model.engine (model) -> hospsim.runs.store (runs)",
        "hospsim.model.kpis (model) -> hospsim.runs (runs)",
    ]


def test_the_package_root_imports_only_the_api():
    """The root re-exports hospsim.api lazily (tests/test_api.py checks that `import hospsim`
    loads nothing else)."""
    root = architecture.PACKAGE / "__init__.py"
    assert architecture.imports_of(root) == {"hospsim.api"}


def test_architecture_doc_is_up_to_date():
    """docs/architecture.md is generated from the imports; regenerate it after moving code."""
    assert architecture.DOC.read_text() == architecture.render_markdown(), (
        "docs/architecture.md is out of date: run `python tools/architecture.py --write`"
    )


def test_architecture_doc_lists_every_module_and_edge():
    doc = architecture.render_markdown()
    for mod in architecture.import_graph():
        assert f"| `{mod}` |" in doc, mod
    for (a, b), n in architecture.layer_edges().items():
        assert f"    {a} -->|{n}| {b}\n" in doc


def test_write_mode(tmp_path, monkeypatch, capsys):
    target = tmp_path / "docs" / "architecture.md"
    monkeypatch.setattr(architecture, "DOC", target)
    assert architecture.main(["--write"]) == 0
    assert target.read_text() == architecture.render_markdown()
    assert f"wrote {target}" in capsys.readouterr().out
