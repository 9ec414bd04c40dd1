"""hospsim's layers, read from the imports of the package itself.

``python tools/architecture.py`` prints the import graph between layers; the rule that each layer
imports only the layers below it is tested in ``tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hospsim"

# Bottom to top. A module may import its own layer and the layers below it, never above.
LAYERS = ("config", "model", "analysis", "runs", "outputs", "cli")
ROOT_MODULES = {"hospsim": -1, "hospsim.__main__": LAYERS.index("cli"), "hospsim.cli": LAYERS.index("cli")}


def module_name(path: Path) -> str:
    """Dotted module name of a file in the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """Index of ``module``'s layer in :data:`LAYERS` (-1 for the package root, which holds only
    the version)."""
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
            if layer_of(dep) > layer_of(mod):
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


if __name__ == "__main__":
    for (a, b), n in sorted(layer_edges().items()):
        print(f"{a} -> {b}: {n}")
    for v in layer_violations():
        print("VIOLATION", v)
