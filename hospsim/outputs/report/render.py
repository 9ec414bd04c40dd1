"""The report's Jinja2 templates (``templates/``, shipped as package data), autoescaped: the
Python code hands them plain data, and only the templates write HTML."""

from __future__ import annotations

import functools
from typing import Any

import jinja2


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment (loaded from the installed package, so it works from a wheel)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hospsim.outputs.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **data: Any) -> str:
    """Render ``template`` with ``data``."""
    return environment().get_template(template).render(**data)


def static_text(name: str) -> str:
    """A file of the templates folder as it is (the style sheet, the check script)."""
    loader = environment().loader
    assert loader is not None
    source, _filename, _uptodate = loader.get_source(environment(), name)
    return source
