"""hospsim's layers, read from the imports of the package itself.

``python tools/architecture.py`` prints the import graph between layers; ``--write`` writes
``docs/architecture.md`` (the rule, a Mermaid diagram of the layers and the imports between them,
every module with its size and summary), all generated from the source. The rule that each layer
imports only the layers below it, and that the document is up to date, are tested in
``tests/test_architecture.py``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hospsim"
DOC = ROOT / "docs" / "architecture.md"

# Bottom to top. A module may import its own layer and the layers below it, never above.
LAYERS = ("config", "model", "analysis", "runs", "outputs", "cli")
# The top layer holds the two ways in: the command line and the Python API.
ROOT_MODULES = {
    "hospsim": -1,
    "hospsim.__main__": LAYERS.index("cli"),
    "hospsim.cli": LAYERS.index("cli"),
    "hospsim.api": LAYERS.index("cli"),
}
# The package root holds the version, which every layer may import, and re-exports the Python API
# on first use (PEP 562 ``__getattr__``): the one import of a higher layer allowed, and only there.
ROOT_EXPORTS = {"hospsim": {"hospsim.api"}}


def module_name(path: Path) -> str:
    """Dotted module name of a file in the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """Index of ``module``'s layer in :data:`LAYERS` (-1 for the package root, which holds the
    version and re-exports the Python API lazily)."""
    if module in ROOT_MODULES:
        return ROOT_MODULES[module]
    top = module.split(".")[1]
    return LAYERS.index(top)


def imports_of(path: Path) -> set[str]:
    """hospsim modules imported by a file (anywhere in it, lazily or not)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "hospsim"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "hospsim":
                continue
            if node.module is None or target == "hospsim":
                # "from . import x": x may be a module of the package
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    found.add(sub if _exists(sub) else target)
            else:
                found.add(target)
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


def import_graph() -> dict[str, set[str]]:
    """Module -> hospsim modules it imports, for every module of the package."""
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer_violations() -> list[str]:
    """Every import of a higher layer, as ``importer -> imported``."""
    bad = []
    for mod, deps in import_graph().items():
        for dep in sorted(deps):
            if layer_of(dep) > layer_of(mod) and dep not in ROOT_EXPORTS.get(mod, set()):
                bad.append(f"{mod} ({LAYERS[layer_of(mod)]}) -> {dep} ({LAYERS[layer_of(dep)]})")
    return bad


def layer_edges() -> dict[tuple[str, str], int]:
    """How many module imports go from each layer to each other layer."""
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for mod, deps in import_graph().items():
        a = layer_of(mod)
        for dep in deps:
            b = layer_of(dep)
            if a >= 0 and b >= 0 and a != b:
                edges[(LAYERS[a], LAYERS[b])] += 1
    return dict(edges)


# ---------------------------------------------------------------------------------------------
# docs/architecture.md


def module_files() -> dict[str, Path]:
    """Module -> its file, for every module of the package."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def summary(path: Path, whole_paragraph: bool = False) -> str:
    """A file's docstring summary as one line of Markdown ('' if none): its first sentence (two
    when the first is a question, which the second answers), or its whole first paragraph."""
    doc = ast.get_docstring(ast.parse(path.read_text(), str(path))) or ""
    text = " ".join(doc.split("\n\n")[0].split())
    if not whole_paragraph:
        sentences = re.findall(r".+?[.?!](?=\s+[A-Z`(]|$)|.+$", text)
        if sentences:
            keep = 2 if sentences[0].endswith("?") else 1
            text = "".join(sentences[:keep]).strip()
    text = re.sub(r":\w+:`", "`", text).replace("``", "`")  # reST roles and literals
    return text.replace("|", "\\|")


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def _layer_title(index: int) -> str:
    return "package root" if index < 0 else LAYERS[index]


def render_markdown() -> str:
    """The text of ``docs/architecture.md``, generated from the package's source."""
    files = module_files()
    by_layer: dict[int, list[str]] = defaultdict(list)
    for mod in files:
        by_layer[layer_of(mod)].append(mod)
    edges = layer_edges()
    violations = layer_violations()
    cmd = "python tools/architecture.py --write"
    out = [
        "# Architecture",
        "",
        f"Generated from the package's source by `{cmd}`: do not edit by hand.",
        "`tests/test_architecture.py` fails when this file is out of date or an import breaks the rule.",
        "",
        "## The rule",
        "",
        "hospsim is built in layers, from the bottom up: "
        + " → ".join(f"`{name}`" for name in LAYERS)
        + ". A module may import modules of its own layer and of the layers below it, never of a "
        "layer above (lazy imports inside functions included). The top layer holds the two ways in: "
        "the command line (`hospsim/cli.py`, `hospsim/__main__.py`) and the Python API "
        "(`hospsim/api.py`). The package root `hospsim/__init__.py` holds the version, which any "
        "layer may import, and re-exports the API of `hospsim/api.py` on first use (a module "
        "`__getattr__`), so `import hospsim` loads nothing else.",
        "",
        "| layer | package | what it is |",
        "|---|---|---|",
    ]
    for i, name in enumerate(LAYERS):
        path = files.get(f"hospsim.{name}")
        doc = summary(path, whole_paragraph=True) if path else ""
        shown = f"`{path.relative_to(PACKAGE.parent)}`" if path else "-"
        out.append(f"| {i + 1}. {name} | {shown} | {doc} |")
    out += [
        "",
        "## Imports between layers",
        "",
        "An arrow `A → B` labelled *n*: *n* imports of a module of layer B by a module of layer A",
        "(imports within a layer are not drawn).",
        "",
        "```mermaid",
        "flowchart BT",
    ]
    for i, name in enumerate(LAYERS):
        n = len(by_layer.get(i, []))
        out.append(f'    {name}["{name}<br/>{n} module{"s" if n != 1 else ""}"]')
    ordered = sorted(edges.items(), key=lambda e: (LAYERS.index(e[0][0]), LAYERS.index(e[0][1])))
    for (a, b), n in ordered:
        out.append(f"    {a} -->|{n}| {b}")
    out += ["```", ""]
    out += ["| from | to | imports |", "|---|---|---|"]
    for (a, b), n in ordered:
        out.append(f"| {a} | {b} | {n} |")
    out += ["", "Imports of a higher layer: " + ("none." if not violations else "")]
    out += [f"- {v}" for v in violations]
    # No line counts: the page changes only when modules, imports or their summaries do, so an
    # ordinary edit never leaves it stale (`python tools/architecture.py` prints the sizes).
    out += ["", "## Modules", "", f"{len(files)} modules."]
    for i in sorted(by_layer):
        mods = sorted(by_layer[i])
        out += [
            "",
            f"### {_layer_title(i)}",
            "",
            f"{len(mods)} module{'s' if len(mods) != 1 else ''}.",
            "",
            "| module | file | summary |",
            "|---|---|---|",
        ]
        for mod in mods:
            path = files[mod]
            out.append(f"| `{mod}` | `{path.relative_to(PACKAGE.parent)}` | {summary(path)} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write docs/architecture.md")
    args = parser.parse_args(argv)
    if args.write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(render_markdown())
        print(f"wrote {DOC.relative_to(ROOT) if DOC.is_relative_to(ROOT) else DOC}")
        return 0
    for (a, b), n in sorted(layer_edges().items()):
        print(f"{a} -> {b}: {n}")
    for mod, path in module_files().items():
        print(f"{line_count(path):5d}  {mod}")
    violations = layer_violations()
    for v in violations:
        print("VIOLATION", v)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
