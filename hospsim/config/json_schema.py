"""The JSON Schema of config and experiment files, for editors' completion and checks as you type
(``hospsim schema``; published as ``docs/config.schema.json`` and ``docs/experiment.schema.json``).

Generated from the pydantic models, then widened where the models read a shorthand before
validating it, so that no file hospsim accepts is flagged by an editor: a schedule written as a
plain number, a gate written as one condition rather than a list, an experiment that extends
another and gives only what it changes.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from .experiment import Experiment
from .schema import Config

DRAFT = "https://json-schema.org/draft/2020-12/schema"
Kind = Literal["config", "experiment"]


def _widen_shorthands(schema: dict[str, Any]) -> None:
    """Allow what the models' ``mode="before"`` validators turn into their full form."""
    defs = schema.get("$defs", {})
    if "Schedule" in defs:
        # `beds: 2250` is `beds: {constant: 2250}` (Schedule._number_is_constant).
        defs["ScheduleMapping"] = defs.pop("Schedule")
        defs["Schedule"] = {
            "title": "Schedule",
            "description": "A number (constant), {steps: [[day, value], ...]} or {ramp: {from, to, start_day, "
            "duration_days}}, optionally with a gate",
            "anyOf": [{"type": "number"}, {"$ref": "#/$defs/ScheduleMapping"}],
        }
    for name in ("ScheduleMapping", "PathwayChange"):
        gate = defs.get(name, {}).get("properties", {}).get("gate")
        if gate is not None and "anyOf" in gate:
            # `gate: {occupancy_at_most: ...}` is a list of that one condition (the _gate_list validators).
            gate["anyOf"].insert(0, {"$ref": "#/$defs/Condition"})


def _allow_partial_extensions(schema: dict[str, Any]) -> None:
    """An experiment that ``extends`` another gives only what it changes: its ``name`` and
    ``config``, and a sweep parameter's ``path``, may come from the file it extends."""
    required = schema.pop("required", [])
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": required}
    param = schema.get("$defs", {}).get("SweepParameter", {})
    param["required"] = [r for r in param.get("required", []) if r != "path"]


def json_schema(kind: Kind = "config") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file, or of an experiment file."""
    model = Config if kind == "config" else Experiment
    schema = model.model_json_schema(by_alias=True)
    _widen_shorthands(schema)
    if kind == "experiment":
        _allow_partial_extensions(schema)
    title = "hospsim config" if kind == "config" else "hospsim experiment"
    return {"$schema": DRAFT, **schema, "title": title}


def json_schema_text(kind: Kind = "config") -> str:
    """:func:`json_schema` as the text ``hospsim schema`` prints and ``docs/`` holds."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"
