"""The one YAML reader of hospsim: every config, experiment and ``--set`` value goes through it.

It is ``yaml.SafeLoader`` with limits, so that no input, however hostile or broken, gives a
traceback or a hang: each problem is a one-line :class:`ConfigError` naming the source and the
line (``FILE: line L: what is wrong``).

- size: at most :data:`MAX_FILE_BYTES` for a file, :data:`MAX_VALUE_CHARS` for a ``--set`` value;
- text: strictly UTF-8 (a byte-order mark is allowed); anything else names the byte offset;
- nesting: at most :data:`MAX_DEPTH` levels, checked while composing (before Python recursion);
- aliases: the document, with every alias expanded, has at most :data:`MAX_NODES` nodes (checked
  as each alias is met, so an alias bomb stops in milliseconds); an alias inside its own anchor
  (a self-referencing structure) is refused;
- keys: a mapping key is a plain value (not a mapping or a list) and is not repeated;
- tags: only null, bool, int, float, str, timestamp, seq, map and merge; a value its tag cannot
  read (``!!int abc``, the date ``2016-02-30``) is an error naming the line.

The pure-Python loader is used, not libyaml's ``CSafeLoader``: libyaml composes in C, where the
depth and alias checks cannot be made, and the files are small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from .errors import ConfigError

MAX_FILE_BYTES = 1_000_000  # a config or experiment file (the bundled ones are under 7 kB)
MAX_VALUE_CHARS = 10_000  # one --set value
MAX_DEPTH = 100  # nested mappings and lists (the bundled files nest at most 6 deep)
MAX_NODES = 100_000  # values in a document with every alias expanded (the bundled ones: < 1,000)

_TAG = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp", "seq", "map"))
_TAG_NAMES = {"int": "a whole number", "float": "a number", "bool": "a yes/no value", "null": "null"}


def short(text: str, limit: int = 60) -> str:
    """``text`` for a one-line message: control characters escaped, long text cut."""
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return shown.encode("unicode_escape").decode("ascii") if not shown.isprintable() else shown


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class SafeLimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with limits on depth, alias expansion, keys and tags (see the module)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0  # nodes so far, every alias counted at its expanded size
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size
        self._open: set[str] = set()  # anchors being composed (an alias to one is a cycle)

    # -- composing: depth, aliases ----------------------------------------------------------

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            anchor = event.anchor
            if anchor in self._open:
                raise ComposerError(None, None, f"alias *{anchor} refers to itself", event.start_mark)
            node = self.anchors.get(anchor)
            if node is not None:
                self._count(self._sizes.get(id(node), 1), event.start_mark)
            return super().compose_node(parent, index)
        event = self.peek_event()  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        anchor = getattr(event, "anchor", None)
        before = self._nodes
        self._count(1, event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        if anchor is not None and node is not None:
            self._sizes[id(node)] = self._nodes - before
        return node

    def _count(self, n: int, mark: Any) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise ComposerError(
                None, None, f"more than {MAX_NODES:,} values once aliases are expanded (an alias bomb?)", mark
            )

    # -- constructing: tags, keys, values -----------------------------------------------------

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node.tag not in ALLOWED_TAGS and not (isinstance(node, ScalarNode) and node.tag == _TAG + "merge"):
            raise ConstructorError(None, None, f"tag {_tag_name(node.tag)} is not allowed", node.start_mark)
        if not isinstance(node, ScalarNode):
            return super().construct_object(node, deep=deep)
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception:  # PyYAML's constructors raise ValueError, KeyError, AttributeError, ...
            text = short(str(node.value)) or '""'
            kind = node.tag[len(_TAG) :]
            if kind == "timestamp":
                problem = f"{text} is not a date"
            else:
                problem = f"{text} is not {_TAG_NAMES.get(kind, _tag_name(node.tag))}"
            raise ConstructorError(None, None, problem, node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, None] = {}
        for key_node, _ in node.value:
            if key_node.tag == _TAG + "merge":
                continue
            if not isinstance(key_node, ScalarNode):
                kind = "a mapping" if isinstance(key_node, MappingNode) else "a list"
                raise ConstructorError(None, None, f"a key must be a plain value, not {kind}", key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, dt.date):
                key = key_node.value  # a date as a key stays as written (JSON keys are text)
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {short(str(key))}", key_node.start_mark)
            seen[key] = None
        mapping = super().construct_mapping(node, deep=deep)
        return {(str(k) if isinstance(k, dt.date) else k): v for k, v in mapping.items()}


def _where(mark: Any, text: str | None, column: bool) -> str:
    if mark is None:
        return ""
    if text is not None and "\n" not in text.rstrip("\n"):
        return f"column {mark.column + 1}: "  # a one-line value (--set): the column is enough
    return f"line {mark.line + 1}, column {mark.column + 1}: " if column else f"line {mark.line + 1}: "


def load_text(text: str, source: str, one_line: bool = False) -> Any:
    """Parse YAML ``text``; any problem is a one-line :class:`ConfigError` naming ``source``.

    ``one_line``: the text is a single value (``--set``), so places are given as columns.
    """
    loader = None
    try:
        loader = SafeLimitedLoader(text)
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        where = "" if one_line else f"line {line}: "
        raise ConfigError(f"{source}: {where}unacceptable character #x{exc.character:04x}") from None
    except (ConstructorError, ComposerError) as exc:
        # The loader's own checks and bad values: the problem, where it is.
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context.startswith("found duplicate anchor"):
            problem = exc.context.split(";")[0]
        if problem.startswith("found unhashable key"):
            problem = "a key must be a plain value, not a mapping or a list"
        where = _where(mark, text if one_line else None, column=False)
        raise ConfigError(f"{source}: {where}{_one(problem)}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = _where(mark, text if one_line else None, column=True)
        raise ConfigError(f"{source}: {where}malformed YAML: {_one(problem)}") from None
    except RecursionError:  # not expected (depth is limited), but never a traceback
        raise ConfigError(f"{source}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _one(text: str) -> str:
    return " ".join(text.split())


def decode(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text (a byte-order mark is dropped); anything else is a ConfigError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{source}: the file is UTF-16; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def read_file(path: str | Path) -> Any:
    """Read and parse a YAML file within the limits; any problem is a one-line ConfigError."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{p}: larger than {MAX_FILE_BYTES:,} bytes; not a config")
    return load_text(decode(data, str(p)), str(p))


def load_value(text: str, source: str) -> Any:
    """Parse one ``--set`` value within the limits; errors name ``source`` (the ``--set`` item)."""
    if len(text) > MAX_VALUE_CHARS:
        raise ConfigError(f"{source}: value longer than {MAX_VALUE_CHARS:,} characters")
    return load_text(text, source, one_line=True)
