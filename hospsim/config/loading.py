"""Reading config files: safe YAML, ``--set`` overrides, validation into :class:`Config`, hashing.

Every problem is a :class:`ConfigError` whose message is one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from . import safe_yaml
from .census import read_census
from .distributions import DIST_NAMES
from .errors import ConfigError, did_you_mean
from .schema import CAPACITY_FORMS, Config


def _los_fields() -> frozenset[str]:
    """The names of the schema's fields that hold a LOS distribution (los, assessment, ...)."""
    found: set[str] = set()
    seen: set[type] = set()

    def types_in(annotation: Any) -> list[Any]:
        args = get_args(annotation)
        return [annotation] if not args else [t for a in args for t in types_in(a)]

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            for t in types_in(field.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    if t.model_fields.get("dist") is not None:
                        found.add(name)
                    visit(t)

    visit(Config)
    return frozenset(found)


_LOS_FIELDS = _los_fields()


def _user_loc(loc: tuple[int | str, ...]) -> list[str]:
    """A validation error's location as the user wrote it (keys and list indexes)."""
    parts: list[str] = []
    for i, p in enumerate(loc):
        # Pydantic puts the discriminator tag of a LOS distribution in the path; users never wrote it.
        if isinstance(p, str) and p in DIST_NAMES and i > 0 and loc[i - 1] in _LOS_FIELDS:
            continue
        if isinstance(p, str) and p.startswith("function-"):
            continue
        if p in CAPACITY_FORMS and i > 0 and loc[i - 1] == "capacity":
            continue
        parts.append(str(p))
    return parts


def _format_loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(_user_loc(loc))


# ---------------------------------------------------------------------------------------------
# What the schema allows at a dotted path: the keys of a section, for "did you mean" hints.


def _members(annotation: Any) -> list[Any]:
    """The types a field may hold, with ``Annotated``, optional and union types unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for a in get_args(annotation) for m in _members(a)]
    return [annotation]


class _Section:
    """A place in a config as the schema describes it: a section of fixed keys (one or more
    models, e.g. a LOS distribution of any kind), a mapping of names (services, groups) or a list."""

    def __init__(self, annotations: Iterable[Any]) -> None:
        members = [m for a in annotations for m in _members(a)]
        self.models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        self.names_of = [get_args(m)[1] for m in members if get_origin(m) is dict and len(get_args(m)) == 2]
        self.items_of = [get_args(m)[0] for m in members if get_origin(m) is list and get_args(m)]

    def keys(self) -> list[str] | None:
        """The keys a section of fixed keys may hold (as written in YAML); None for any other place."""
        if not self.models:
            return None
        return [f.alias or n for m in self.models for n, f in m.model_fields.items()]

    def child(self, part: str) -> _Section | None:
        """What the schema allows under ``part``; None when it allows nothing there or cannot say."""
        fields = [f.annotation for m in self.models for n, f in m.model_fields.items() if part in (n, f.alias)]
        if fields:
            return _Section(fields)
        if self.names_of and not self.models:
            return _Section(self.names_of)
        if self.items_of and part.isdigit():
            return _Section(self.items_of)
        return None


def _section_at(root: type[BaseModel], parts: Iterable[str]) -> _Section | None:
    section: _Section | None = _Section([root])
    for part in parts:
        if section is None:
            return None
        section = section.child(part)
    return section


def _unknown_key(root: type[BaseModel] | None, parts: list[str]) -> str:
    """``unknown key`` with the keys the section allows and the closest of them."""
    section = _section_at(root, parts[:-1]) if root is not None and parts else None
    keys = section.keys() if section is not None else None
    if not keys:
        return "unknown key"
    return "unknown key" + did_you_mean(parts[-1], keys, ".".join(parts[:-1]) or "top-level keys")


def _root_model(err: ValidationError) -> type[BaseModel] | None:
    """The model a validation error is about (a config or an experiment), to list a section's keys."""
    from .experiment import Experiment  # experiment.py imports this module

    roots: dict[str, type[BaseModel]] = {"Config": Config, "Experiment": Experiment}
    return roots.get(err.title)


_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
}


# Errors of a number out of range or not finite: the message gives the limit, the value is added.
_NUMBER_ERRORS = {
    "finite_number",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "float_parsing",
    "float_type",
}


def _shown(value: Any) -> str:
    """A value as the user wrote it, short: a float in ``g`` format, a long number abbreviated."""
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    if len(text) <= 16:
        return text
    if isinstance(value, int):
        try:
            return f"{float(value):.3g}"
        except OverflowError:
            return f"a {len(text.lstrip('-'))}-digit number"
    return f"{text[:16]}..."


def _one_line(source: str, err: ValidationError) -> str:
    msgs = []
    root = _root_model(err)
    for e in err.errors():
        parts = _user_loc(tuple(e["loc"]))
        loc = ".".join(parts)
        msg = _FRIENDLY.get(e["type"], e["msg"])
        if e["type"] == "extra_forbidden":
            msg = _unknown_key(root, parts)
        if e["type"] in _NUMBER_ERRORS and not isinstance(e.get("input"), dict | list):
            msg = f"{msg} (got {_shown(e['input'])})"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "union_tag_invalid" or e["type"] == "union_tag_not_found":
            msg = f"dist must be one of {', '.join(DIST_NAMES)}"
        # A model-level check names its field in the message ("field: problem"): join the paths.
        named = re.match(r"^([A-Za-z_][\w.]*): (.*)$", msg)
        if named and loc:
            loc, msg = f"{loc}.{named.group(1)}", named.group(2)
        msgs.append(f"{loc}: {msg}" if loc else msg)
    first = msgs[0]
    more = f" (and {len(msgs) - 1} more problem{'s' if len(msgs) > 2 else ''})" if len(msgs) > 1 else ""
    return f"{source}: {first}{more}"


def parse_value(text: str, origin: str = "--set") -> Any:
    """Parse the value of a ``--set key=value`` as YAML (numbers, lists, mappings, strings); errors
    name ``origin``."""
    return safe_yaml.load_value(text, origin) if text.strip() else ""


def set_dotted(
    data: dict[str, Any], key: str, value: Any, origin: str = "--set", schema: type[BaseModel] = Config
) -> None:
    """Set ``data[a][b][c] = value`` for ``key = "a.b.c"``.

    Only the last key may be new: every key before it must be in ``data`` or be a section the
    ``schema`` defines (``plan_delivery`` of a config that does not write one), so a typo
    (``services.rehab.capacity`` for ``rehab_bed``) is refused, naming the close names and the
    valid ones, rather than creating a section. A new last key is left for validation to judge.
    """
    path = key.strip().split(".")
    if not all(path):
        raise ConfigError(f"{origin} {key}: empty name in dotted key")
    node = data
    section: _Section | None = _Section([schema])
    for i, part in enumerate(path[:-1]):
        nxt = node.get(part)
        child = section.child(part) if section is not None else None
        if part not in node and section is not None:
            # A name (of a service, a group) must be one the data has; a key, one the schema has.
            known = section.keys() if section.models else list(node) if section.names_of else None
            if known is not None and (child is None or not section.models):
                where = ".".join(path[:i])
                hint = did_you_mean(part, known, where or "top-level keys")
                raise ConfigError(f"{origin} {key.strip()}: no {part!r} in {where or 'the config'}{hint}")
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(path[: i + 1])
            raise ConfigError(f"{origin} {key}: {where} is a value, not a section")
        node, section = nxt, child
    node[path[-1]] = value


def apply_overrides(
    raw: dict[str, Any], overrides: list[str] | tuple[str, ...], origin: str = "--set"
) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``dotted.key=value`` overrides applied (values as YAML);
    errors name each override as ``<origin> <override>``."""
    data = copy_raw(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{origin} {safe_yaml.short(item)}: expected dotted.key=value")
        key, _, text = item.partition("=")
        set_dotted(data, key, parse_value(text, f"{origin} {safe_yaml.short(item)}"), origin)
    return data


def blame_overrides(message: str, source: str, setters: Mapping[str, str]) -> str:
    """A validation error of ``source`` (``<source>: <field>: <problem>``) in a field an override
    set, or inside it, or holding it, told as that override's: ``<setter>: <field>: <problem>``.

    ``setters`` maps each override's dotted key to how the user wrote it (``--set acute.beds=-5``);
    the last override of a field is the one in force.
    """
    prefix = f"{source}: "
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix) :]
    field, sep, _ = rest.partition(": ")
    if not sep:
        return message
    at = field.split(".")
    for key, setter in reversed(list(setters.items())):
        path = key.strip().split(".")
        n = min(len(path), len(at))
        if path[:n] == at[:n]:
            return f"{setter}: {rest}"
    return message


def validate_overridden(
    data: dict[str, Any], source: str, overrides: list[str] | tuple[str, ...], origin: str = "--set"
) -> Config:
    """:func:`config_from_dict` of ``data`` (read from ``source``, then ``overrides`` applied): an
    error in a field an override set names the override (``<origin> <override>``), not the file."""
    setters = {item.partition("=")[0]: f"{origin} {safe_yaml.short(item)}" for item in overrides}
    try:
        return config_from_dict(data, source)
    except ConfigError as exc:
        raise ConfigError(blame_overrides(str(exc), source, setters)) from None


def copy_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of raw YAML data as plain JSON types (dates become strings)."""
    data: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    return data


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the safe, limited reader; any problem is a one-line :class:`ConfigError`."""
    p = Path(path)
    data = safe_yaml.read_file(p)
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of settings at the top level")
    return data


def _find_bool(data: Any, path: str = "") -> str | None:
    if isinstance(data, bool):
        return path or "<top>"
    if isinstance(data, dict):
        for k, v in data.items():
            found = _find_bool(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    if isinstance(data, list):
        for i, v in enumerate(data):
            found = _find_bool(v, f"{path}.{i}")
            if found:
                return found
    return None


def config_from_dict(data: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a raw mapping into a :class:`Config` (errors name ``source``)."""
    # No config setting is a yes/no; YAML turns yes/no/on/off into booleans that would pass as 1/0.
    flagged = _find_bool(data)
    if flagged:
        raise ConfigError(f"{source}: {flagged}: expected a number or text, got a boolean (yes/no)")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_one_line(source, err)) from None


def read_config_yaml(path: str | Path) -> dict[str, Any]:
    """A config file's raw data, with a census file it names (``initial_state: census.csv``,
    relative to the config's folder) read into it."""
    raw = read_yaml(path)
    census = raw.get("initial_state")
    if isinstance(census, str):
        raw = {**raw, "initial_state": read_census(Path(path).parent / census)}
    return raw


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a config file."""
    raw = read_config_yaml(path)
    raw = apply_overrides(raw, overrides)
    return validate_overridden(raw, str(path), overrides)


def default_config_path() -> Path:
    """The bundled default: an average English STP footprint (1.2 m people)."""
    return Path(str(resources.files("hospsim") / "configs" / "footprint.yaml"))


def example_experiment_path() -> Path:
    """The bundled example experiment on the default config (``hospsim init --experiment``)."""
    return Path(str(resources.files("hospsim") / "configs" / "example_experiment.yaml"))


# What the config's engine is when it names none (Config.engine).
_DEFAULT_ENGINE = Config.model_fields["engine"].default


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (aliases as written in YAML). ``engine`` only
    when it is not the default, so manifests written before it existed read the same."""
    data: dict[str, Any] = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
    if data.get("engine") == _DEFAULT_ENGINE:
        del data["engine"]
    return data


def config_hash(cfg: Config) -> str:
    """SHA-256 of the resolved config in canonical JSON, without ``engine``: both engines give
    the same results, so a config is the same whichever runs it."""
    data = config_to_dict(cfg)
    data.pop("engine", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
