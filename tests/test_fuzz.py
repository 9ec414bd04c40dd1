"""A fuzzer of hospsim's input contract: any bad config or experiment stops with exit code 2 and
one line naming the file (and, for a bad value, the field), before anything runs — never a
traceback, never a silent acceptance of a value that then breaks the run.

Hypothesis mutates the bundled config and experiment at every leaf (wrong type, NaN, infinity,
huge, negative, zero, empty, null, an unknown key beside it, the key removed) and the files as
text (truncated, bytes flipped, other encodings). A mutation the schema accepts must then run: a
short simulation of it has to finish with finite occupancy.

The default profile is short (it runs in every CI); ``HOSPSIM_FUZZ_EXAMPLES=5000 pytest -m slow
tests/test_fuzz.py`` is the long one.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospsim.cli import main
from hospsim.config import UserError, config_from_dict
from hospsim.model.engine import run_model
from hospsim.model.kpis import kpis
from hospsim.runs.experiment import load_experiment

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "hospsim" / "configs" / "footprint.yaml"
EXPERIMENT = ROOT / "experiments" / "swl_44pct_fast.yaml"
LONG = int(os.environ.get("HOSPSIM_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

# Values a hostile or careless user might put at any leaf.
BAD_VALUES: list[Any] = [
    float("nan"), float("inf"), float("-inf"), 1e300, -1e300, -1, 0, 10**30, "abc", "", None, [], {}, [1, "x"],
    {"x": 1}, True, "2016-02-30",
]  # fmt: skip


def leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a leaf, mapping or list of a parsed YAML document (containers included, so a
    whole section can be replaced)."""
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += leaves(v, (*path, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def mutate(doc: dict, path: tuple[Any, ...], how: str, value: Any) -> dict:
    """A copy of ``doc`` with the node at ``path`` replaced, removed, or given an unknown sibling."""
    doc = copy.deepcopy(doc)
    parent, key = _parent(doc, path), path[-1]
    if how == "replace":
        parent[key] = value
    elif how == "remove":
        del parent[key]
    elif isinstance(parent, dict):  # an unknown key beside it
        parent[f"{key}_typo"] = parent[key]
    else:
        parent.append(parent[key])
    return doc


def _dump(doc: dict) -> str:
    # NaN and infinity as YAML writes them (.nan, .inf), the rest as a user would type it.
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _field(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def assert_one_line_refusal(code: int, err: str, file: Path) -> None:
    """Exit 2 and exactly one line naming the file; no traceback, no internal error."""
    assert "Traceback" not in err, err
    assert code == 2, f"exit {code}: {err}"
    assert err.count("\n") == 1 and err.startswith("hospsim: error: "), err
    assert str(file) in err, err


def assert_runs(doc: dict) -> None:
    """A config the schema accepted runs: 30 days, one replication, finite occupancy."""
    small = copy.deepcopy(doc)
    small["horizon_days"], small["warmup_days"] = 30, 0
    try:
        cfg = config_from_dict(small, "<fuzz>")
    except UserError:
        return  # refused once shortened (e.g. a schedule step after day 30): still a one-line refusal
    k = kpis(cfg, run_model(cfg, 1))
    assert math.isfinite(k["acute_bed_days"]) and k["acute_bed_days"] >= 0


CONFIG_DOC = yaml.safe_load(CONFIG.read_text())
CONFIG_PATHS = leaves(CONFIG_DOC)
mutations = st.tuples(
    st.sampled_from(CONFIG_PATHS),
    st.sampled_from(["replace"] * 8 + ["remove", "unknown"]),
    st.sampled_from(BAD_VALUES),
)


def check_config_mutation(tmp_path: Path, capsys: pytest.CaptureFixture[str], mutation: tuple) -> None:
    path, how, value = mutation
    doc = mutate(CONFIG_DOC, path, how, value)
    file = tmp_path / "fuzzed.yaml"
    file.write_text(_dump(doc), encoding="utf-8")
    capsys.readouterr()
    code = main(["check", str(file)])
    err = capsys.readouterr().err
    if code == 0:
        assert err == "", err
        assert_runs(yaml.safe_load(file.read_text()))
    else:
        assert_one_line_refusal(code, err, file)


@settings(FUZZ, max_examples=60)
@given(mutation=mutations)
def test_every_config_leaf_mutation_is_refused_in_one_line_or_runs(tmp_path_factory, capsys, mutation):
    check_config_mutation(tmp_path_factory.mktemp("fuzz"), capsys, mutation)


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG)
@given(mutation=mutations)
def test_every_config_leaf_mutation_long(tmp_path_factory, capsys, mutation):
    check_config_mutation(tmp_path_factory.mktemp("fuzz"), capsys, mutation)


text_damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.floats(0.0, 1.0)),
    st.tuples(st.just("encode"), st.sampled_from(["latin-1", "utf-16", "utf-32", "cp1252"])),
    st.tuples(st.just("insert"), st.sampled_from(["\t", "{", "[", ": :", "&a", "*a", "!!int abc", "? {a: 1}\n: 2\n"])),
)


def _damaged(text: str, damage: tuple[str, Any]) -> bytes:
    how, arg = damage
    data = text.encode("utf-8")
    if how == "truncate":
        return data[: int(len(data) * arg)]
    if how == "flip":
        i = min(int(len(data) * arg), len(data) - 1)
        return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
    if how == "encode":
        return ("é " + text).encode(arg)  # an accented character: not the same bytes as UTF-8
    i = text.index("\n", len(text) // 3) + 1
    return (text[:i] + arg + "\n" + text[i:]).encode("utf-8")


def check_damaged_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: Path, damage: tuple) -> None:
    file = tmp_path / source.name
    file.write_bytes(_damaged(source.read_text(), damage))
    capsys.readouterr()
    if source == CONFIG:
        code = main(["check", str(file)])
        err = capsys.readouterr().err
        if code != 0:
            assert_one_line_refusal(code, err, file)
        return
    try:
        load_experiment(file)
    except UserError as exc:
        assert "\n" not in str(exc) and str(file) in str(exc), str(exc)


@settings(FUZZ, max_examples=40)
@given(damage=text_damage, source=st.sampled_from([CONFIG, EXPERIMENT]))
def test_damaged_files_are_refused_in_one_line(tmp_path_factory, capsys, damage, source):
    check_damaged(tmp_path_factory, capsys, damage, source)


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG)
@given(damage=text_damage, source=st.sampled_from([CONFIG, EXPERIMENT]))
def test_damaged_files_long(tmp_path_factory, capsys, damage, source):
    check_damaged(tmp_path_factory, capsys, damage, source)


def check_damaged(tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], damage, source) -> None:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    if source == EXPERIMENT:
        # The experiment extends its neighbour, which names the config relative to itself.
        (tmp_path / "swl_44pct.yaml").write_text((EXPERIMENT.parent / "swl_44pct.yaml").read_text())
        (tmp_path.parent / "configs").mkdir(exist_ok=True)
        (tmp_path.parent / "configs" / "footprint.yaml").write_text(CONFIG.read_text())
    check_damaged_file(tmp_path, capsys, source, damage)


EXPERIMENT_DOC = yaml.safe_load((EXPERIMENT.parent / "swl_44pct.yaml").read_text())
EXPERIMENT_PATHS = leaves(EXPERIMENT_DOC)


experiment_mutations = st.tuples(
    st.sampled_from(EXPERIMENT_PATHS),
    st.sampled_from(["replace"] * 8 + ["remove", "unknown"]),
    st.sampled_from(BAD_VALUES),
)


@settings(FUZZ, max_examples=40)
@given(mutation=experiment_mutations)
def test_every_experiment_leaf_mutation_is_refused_in_one_line_or_loads(tmp_path_factory, mutation):
    check_experiment_mutation(tmp_path_factory, mutation)


@pytest.mark.slow
@settings(FUZZ, max_examples=LONG)
@given(mutation=experiment_mutations)
def test_every_experiment_leaf_mutation_long(tmp_path_factory, mutation):
    check_experiment_mutation(tmp_path_factory, mutation)


def check_experiment_mutation(tmp_path_factory: pytest.TempPathFactory, mutation: tuple) -> None:
    path, how, value = mutation
    doc = mutate(EXPERIMENT_DOC, path, how, value)
    doc["config"] = str(CONFIG)
    file = tmp_path_factory.mktemp("fuzz") / "exp.yaml"
    file.write_text(_dump(doc), encoding="utf-8")
    try:
        loaded = load_experiment(file)
    except UserError as exc:
        assert "\n" not in str(exc) and str(file) in str(exc), str(exc)
        return
    assert loaded.runs(), "an experiment that loads has runs"


def test_the_fuzzer_sees_every_part_of_the_config():
    """The leaves cover every section, so a mutation can reach any field."""
    tops = {p[0] for p in CONFIG_PATHS}
    assert {"acute", "demand", "groups", "services", "horizon_days", "start_date"} <= tops
    assert ("demand", "elective", "referrals_per_week") in CONFIG_PATHS
    assert len(CONFIG_PATHS) > 100
