"""The documentation site's generated pages, written from the code and the README.

``python tools/docs_pages.py`` lists the pages and says which are out of date; ``--write`` writes
them into ``docs/``. ``tests/test_docs_pages.py`` fails when a page on disk differs from what this
script makes, so the site never drifts from the code. Generated from:

- ``reference/kpis.md``: the KPI registry (the same table as the README's KPI dictionary,
  ``tools/kpi_dictionary.py``);
- ``reference/commands.md``: the command line's argparse parser (``hospsim.cli.build_parser``);
- ``reference/config.md``, ``reference/outputs.md``, ``explanation/model.md``,
  ``explanation/validation.md``, ``explanation/worked-examples.md``: sections of README.md, copied
  with their links and image paths rewritten for the site;
- ``tutorial/python.md``: the Python tutorial ``docs/tutorial.py`` (a script with ``# %%`` cells),
  its text cells as prose and its code cells as code.

Hand-written pages (the CLI tutorial, the how-to guides, the explanation of the design) live in
``docs/`` beside them; ``mkdocs.yml`` holds the navigation.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TUTORIAL = DOCS / "tutorial.py"
SCHEMA = DOCS / "config.schema.json"
sys.path.insert(0, str(ROOT / "tools"))
# The metadata block Jupytext writes at the top of a "percent" script: `# ---` ... `# ---`.
JUPYTEXT_HEADER = re.compile(r"\A\s*# ---\n(?:#.*\n)*?# ---\n")

import kpi_dictionary  # noqa: E402  (tools/ is not a package)

from hospsim.cli import build_parser  # noqa: E402

# README sections (their "## " heading) shown on each generated page, in order; a page of one
# section takes its title from it.
README_PAGES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "reference/config.md": (
        "Config and experiment reference",
        ("Config reference", "Fitting a config to your data", "Experiment reference"),
    ),
    "reference/outputs.md": ("Output files and reproducing a result", ("Output files", "Reproducing a result")),
    "reference/python-api.md": (None, ("Python API",)),
    "explanation/model.md": (None, ("The model",)),
    "contributing/development.md": (None, ("Development",)),
    "explanation/validation.md": ("Validation, calibration and speed", ("Validation and calibration", "Speed")),
    "explanation/worked-examples.md": (
        "Worked examples",
        (
            "Worked example: the default footprint",
            "Worked example: does a 44% cut hold?",
            "Worked example: a stroke pathway",
            "Worked example: your hospital, from this morning",
            "Plots and report",
        ),
    ),
}

# README sections the site does not copy because a hand-written page holds them in full: links
# to them point at that page (which has the section's heading, so the anchor holds).
README_ELSEWHERE: dict[str, str] = {
    "Episode extracts": "extract-format.md",
}


def note(source: str) -> str:
    """The first line of every generated page: where it comes from and how to change it."""
    return (
        f"<!-- Generated from {source} by `python tools/docs_pages.py --write`: edit the source, not this page. -->\n\n"
    )


def readme_sections(text: str) -> dict[str, str]:
    """The README's second-level sections by heading, each its text up to the next ``## ``."""
    parts = re.split(r"^## (.+)\n", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def anchor(heading: str) -> str:
    """The anchor GitHub and mkdocs (Python-Markdown's ``toc``) give a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.lower()).strip()
    return re.sub(r"\s", "-", slug)


def anchor_pages(sections: dict[str, str]) -> dict[str, str]:
    """Every README anchor (section and sub-section headings) -> the site page that holds it."""
    pages = {}
    for page, (_, headings) in README_PAGES.items():
        for heading in headings:
            pages[anchor(heading)] = page
            for sub in re.findall(r"^#{3,6} (.+)$", sections.get(heading, ""), re.M):
                pages[anchor(sub)] = page
    pages[anchor(kpi_dictionary.HEADING.removeprefix("## "))] = "reference/kpis.md"
    for heading, page in README_ELSEWHERE.items():
        pages[anchor(heading)] = page
    return pages


def relative(target: str, page: str) -> str:
    """The path of ``target`` (relative to docs/) as a link from ``page``."""
    return os.path.relpath(target, os.path.dirname(page) or ".").replace(os.sep, "/")


def for_site(markdown: str, page: str, anchors: dict[str, str]) -> str:
    """README markdown as it reads on ``page`` of the site: image paths relative to the page,
    links to README sections pointing at the page that holds them, links to repository files
    (``docs/howto-kpi.md``, ``configs/...``) to the site's copy or left as code."""

    def link(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if target.startswith("#"):
            where = anchors.get(target[1:])
            if where is None:  # a README section the site does not carry: keep the words
                return text
            return f"[{text}]({'' if where == page else relative(where, page)}{target})"
        if target.startswith("docs/"):
            return f"[{text}]({relative(target.removeprefix('docs/'), page)})"
        if target.startswith("../") or "://" not in target:  # a file outside the site
            return text
        return match.group(0)

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", link, markdown).replace(
        "](docs/img/", f"]({relative('img', page)}/"
    )


def readme_page(page: str, text: str) -> str:
    """A generated page made of README sections."""
    title, headings = README_PAGES[page]
    sections = readme_sections(text)
    missing = [h for h in headings if h not in sections]
    if missing:
        raise ValueError(f"README.md has no '## {missing[0]}' section: update README_PAGES in tools/docs_pages.py")
    anchors = anchor_pages(sections)
    if title is None:
        (heading,) = headings
        body = f"# {heading}\n{sections[heading]}"
    else:
        body = f"# {title}\n\n" + "".join(f"## {h}\n{sections[h]}" for h in headings)
    text = for_site(body, page, anchors).rstrip() + "\n"
    if page == "reference/config.md" and SCHEMA.is_file():  # published beside the pages
        text += (
            "\n## JSON Schema\n\nThe config's JSON Schema, for completion and checking in an editor "
            f"(for example VS Code's YAML extension): [config.schema.json]({relative(SCHEMA.name, page)}).\n"
        )
    return note("README.md") + text


def kpis_page() -> str:
    """The KPI dictionary, as the README has it."""
    text = kpi_dictionary.render().replace(kpi_dictionary.HEADING, "# KPI dictionary", 1)
    return note("hospsim/model/kpi_registry.py") + text.rstrip() + "\n"


def option_cell(action: argparse.Action) -> str:
    """An option as it is typed: ``-r N, --replications N``, or the positional's name."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`" + (" (optional)" if action.nargs == "?" else "")
    takes_value = action.nargs != 0
    shown = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper()
    )
    value = f" {shown}" if takes_value else ""
    return ", ".join(f"`{opt}{value}`" for opt in action.option_strings)


def help_cell(action: argparse.Action) -> str:
    """An option's help, with argparse's ``%(default)s`` filled in and its choices named."""
    text = (action.help or "") % {"default": action.default, "prog": "hospsim"}
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def commands_page() -> str:
    """Every command, its purpose and its options, from the parser itself."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {a.dest: a.help for a in sub._choices_actions}
    lines = [
        "# Commands\n",
        "`hospsim COMMAND --help` prints the same. `python -m hospsim` is the same program; "
        "`hospsim --debug COMMAND …` shows the Python traceback of an internal error (for a bug report), "
        "and `hospsim --version` prints the version.\n",
    ]
    for name, command in sub.choices.items():
        shown = [a for a in command._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]
        summary = summaries.get(name) or ""
        lines += [f"## `hospsim {name}`\n", f"{summary[:1].upper()}{summary[1:]}.\n"]
        if shown:
            lines += ["| argument | meaning |", "|---|---|"]
            lines += [f"| {option_cell(a)} | {help_cell(a)} |" for a in shown]
            lines.append("")
    return note("hospsim/cli.py") + "\n".join(lines).rstrip() + "\n"


def tutorial_page() -> str:
    """The Python tutorial: ``# %% [markdown]`` cells as prose, ``# %%`` cells as code; the first
    top-level heading of its prose is the page's title."""
    if not TUTORIAL.is_file():
        return (
            note("docs/tutorial.py")
            + "# Python tutorial\n\nThis checkout has no `docs/tutorial.py`: the tutorial of the Python API is not "
            "part of it. See the [command-line tutorial](first-plan.md).\n"
        )
    cells = re.split(r"^# %%(.*)\n", TUTORIAL.read_text(), flags=re.M)
    prose_and_code: list[tuple[bool, str]] = []  # (is prose, markdown)
    preamble = JUPYTEXT_HEADER.sub("", cells[0], count=1)  # Jupytext's own metadata, not the reader's
    if preamble.strip():  # before the first cell: a module docstring or code
        prose_and_code.append((False, code_or_docstring(preamble)))
    for marker, cell in zip(cells[1::2], cells[2::2]):
        if "[markdown]" in marker:
            prose_and_code.append((True, re.sub(r"^# ?", "", cell.strip(), flags=re.M)))
        elif cell.strip():
            prose_and_code.append((False, f"```python\n{cell.strip()}\n```"))
    heading = "# Python tutorial"
    for i, (prose, text) in enumerate(prose_and_code):
        title = re.search(r"^# .+$", text, re.M) if prose else None
        if title:
            heading = title.group(0)
            prose_and_code[i] = (prose, (text[: title.start()] + text[title.end() :]).strip())
            break
    body = "\n\n".join(text for _, text in prose_and_code if text)
    if "python docs/tutorial.py" not in body:  # say how to run it, unless the script does
        body = f"This page is the script `docs/tutorial.py`; run it with `python docs/tutorial.py` from a checkout.\n\n{body}"
    return note("docs/tutorial.py") + f"{heading}\n\n{body.strip()}\n"


def code_or_docstring(text: str) -> str:
    """A script's preamble: its docstring as prose, anything else as code."""
    match = re.match(r'\s*"""(.*?)"""\s*(.*)', text, re.S)
    if match is None:
        return f"```python\n{text.strip()}\n```"
    prose, code = match.group(1).strip(), match.group(2).strip()
    return prose + (f"\n\n```python\n{code}\n```" if code else "")


def pages() -> dict[str, str]:
    """Every generated page: its path under docs/ -> its text."""
    readme = README.read_text()
    makers: dict[str, Callable[[], str]] = {
        "reference/kpis.md": kpis_page,
        "reference/commands.md": commands_page,
        "tutorial/python.md": tutorial_page,
    }
    out = {page: make() for page, make in makers.items()}
    out |= {page: readme_page(page, readme) for page in README_PAGES}
    return dict(sorted(out.items()))


def stale() -> list[str]:
    """The generated pages whose file in docs/ is missing or differs."""
    return [p for p, text in pages().items() if not (DOCS / p).is_file() or (DOCS / p).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the generated pages into docs/")
    args = parser.parse_args(argv)
    if args.write:
        for page, text in pages().items():
            (DOCS / page).parent.mkdir(parents=True, exist_ok=True)
            (DOCS / page).write_text(text)
            print(f"wrote docs/{page}")
        return 0
    out_of_date = stale()
    for page in pages():
        print(f"docs/{page}: {'out of date' if page in out_of_date else 'up to date'}")
    return 1 if out_of_date else 0


if __name__ == "__main__":
    sys.exit(main())
