"""Reading config files: safe YAML, ``--set`` overrides, validation into :class:`Config`, hashing.

Every problem is a :class:`ConfigError` whose message is one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from . import safe_yaml
from .distributions import DIST_NAMES
from .errors import ConfigError
from .schema import Config


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


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for i, p in enumerate(loc):
        # Pydantic puts the discriminator tag of a LOS distribution in the path; users never wrote it.
        if isinstance(p, str) and p in DIST_NAMES and i > 0 and loc[i - 1] in _LOS_FIELDS:
            continue
        if isinstance(p, str) and p.startswith("function-"):
            continue
        parts.append(str(p))
    return ".".join(parts)


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
    for e in err.errors():
        loc = _format_loc(tuple(e["loc"]))
        msg = _FRIENDLY.get(e["type"], e["msg"])
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


def set_dotted(data: dict[str, Any], key: str, value: Any, origin: str = "--set") -> None:
    """Set ``data[a][b][c] = value`` for ``key = "a.b.c"``, creating sections as needed.

    Unknown keys are left for validation to reject, so a typo names itself.
    """
    path = key.strip().split(".")
    if not all(path):
        raise ConfigError(f"{origin} {key}: empty name in dotted key")
    node = data
    for i, part in enumerate(path[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(path[: i + 1])
            raise ConfigError(f"{origin} {key}: {where} is a value, not a section")
        node = nxt
    node[path[-1]] = value


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``dotted.key=value`` overrides applied (values as YAML)."""
    data = copy_raw(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {safe_yaml.short(item)}: expected dotted.key=value")
        key, _, text = item.partition("=")
        set_dotted(data, key, parse_value(text, f"--set {safe_yaml.short(item)}"))
    return data


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


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a config file."""
    raw = read_yaml(path)
    raw = apply_overrides(raw, overrides)
    return config_from_dict(raw, str(path))


def default_config_path() -> Path:
    """The bundled default: an average English STP footprint (1.2 m people)."""
    return Path(str(resources.files("hospsim") / "configs" / "footprint.yaml"))


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (aliases as written in YAML)."""
    return cfg.model_dump(mode="json", by_alias=True, exclude_none=True)


def config_hash(cfg: Config) -> str:
    """SHA-256 of the resolved config in canonical JSON."""
    text = json.dumps(config_to_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
