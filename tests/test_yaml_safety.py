"""The safe YAML reader: every broken or hostile config, experiment or ``--set`` value stops the
command with exit code 2 and one line naming the file and line (or the ``--set`` item) — never a
traceback or a hang — and every valid file still reads as ``yaml.safe_load`` reads it. The many
cases run the command's ``main`` in this process; the hostile files also go through a real one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import hospsim_in_process

from hospsim.config import ConfigError, read_yaml
from hospsim.config.loading import parse_value
from hospsim.config.safe_yaml import MAX_DEPTH, MAX_NODES, load_text

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "data" / "mini_system.yaml"
MINI_TEXT = MINI.read_text(encoding="utf-8")


assert "start_date: 2017-04-01" in MINI_TEXT


def hospsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hospsim", *args], capture_output=True, text=True, timeout=60)


def one_line_exit_2(res: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit code 2 and exactly one line on stderr, ``hospsim: error: ...``, naming ``names``."""
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("hospsim: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def billion_laughs() -> str:
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        text += f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]\n"
    return text


# (name, text appended to a valid config or a whole file, line expected in the message, words)
BAD_TEXT = [
    (
        "impossible date",
        MINI_TEXT.replace("start_date: 2017-04-01", "start_date: 2016-02-30"),
        None,
        "2016-02-30 is not a date",
    ),
    ("bad int", "name: x\nseed: !!int abc\n", 2, "abc is not a whole number"),
    ("bad float", "name: x\nseed: !!float abc\n", 2, "abc is not a number"),
    ("bad bool", "name: x\nseed: !!bool maybe\n", 2, "maybe is not a yes/no value"),
    ("unknown tag", "name: x\nseed: !shout 1\n", 2, "tag !shout is not allowed"),
    ("python tag", "name: !!python/object/apply:os.system [echo hi]\n", 1, "is not allowed"),
    ("set tag", "name: x\ngroups: !!set {a, b}\n", 2, "tag !!set is not allowed"),
    ("deep lists", "name: x\nseed: " + "[" * 5000 + "]" * 5000 + "\n", 2, f"nested more than {MAX_DEPTH} levels"),
    ("deep mappings", "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "1\n", MAX_DEPTH, "nested"),
    ("deep block lists", "name: x\nseed:\n" + "- " * 5000 + "1\n", 3, "nested"),
    ("deep flow mappings", "name: x\nseed: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", 2, "nested"),
    ("self-referencing list", "name: x\nseed: &loop [1, *loop]\n", 2, "alias *loop refers to itself"),
    ("self-referencing mapping", "name: x\nacute: &loop {beds: *loop}\n", 2, "alias *loop refers to itself"),
    ("mapping as a key", "name: x\n? {a: 1} : 2\n", 2, "a key must be a plain value, not a mapping"),
    ("list as a key", "name: x\n? [1, 2]\n: 2\n", 2, "a key must be a plain value, not a list"),
    ("duplicate key", "name: x\nseed: 1\nseed: 2\n", 3, "duplicate key seed"),
    ("duplicate nested key", "name: x\nacute:\n  beds: 1\n  beds: 2\n", 4, "duplicate key beds"),
    ("undefined alias", "name: x\nseed: *nowhere\n", 2, "undefined alias"),
    ("NUL character", "name: x\x00\n", 1, "unacceptable character #x0000"),
    ("syntax", "name: x\nacute:\n  beds: [1, 2\nhorizon_days: 5\n", 4, "malformed YAML"),
]


@pytest.mark.parametrize("name, text, line, words", BAD_TEXT, ids=[c[0] for c in BAD_TEXT])
def test_bad_yaml_is_one_line_through_the_cli(name, text, line, words, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    if line is None:
        line = next(i for i, x in enumerate(text.splitlines(), 1) if x.startswith("start_date"))
    msg = one_line_exit_2(hospsim_in_process("check", str(path)), f"{path}: line {line}", words)
    assert msg.startswith(f"hospsim: error: {path}: ")


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("latin-1", "name: café\n".encode("latin-1"), "line 1: not UTF-8 text (byte 0xe9 at offset 9)"),
        ("latin-1, line 3", "name: x\nseed: 1\ndescription: é\n".encode("latin-1"), "line 3: not UTF-8"),
        ("UTF-16", "name: x\n".encode("utf-16"), "UTF-16; save it as UTF-8"),
        ("UTF-16 without BOM", "name: x\n".encode("utf-16-le"), "unacceptable character #x0000"),
        ("binary garbage", bytes(range(256)) * 8, "not UTF-8 text"),
        ("too large", b"name: x\n" + b"# padding\n" * 110_000, "larger than 1,000,000 bytes"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_files_that_are_not_utf8_yaml(name, data, words, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    one_line_exit_2(hospsim_in_process("check", str(path)), f"{path}: ", words)


def test_a_utf8_bom_is_allowed(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINI.read_bytes())
    assert read_yaml(path) == read_yaml(MINI)


def test_billion_laughs_stops_at_once_in_the_loader(tmp_path):
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES:,} values once aliases are expanded"):
        load_text(billion_laughs(), "bomb.yaml")
    assert time.perf_counter() - start < 1.0


def test_billion_laughs_through_check_returns_quickly(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(MINI_TEXT + billion_laughs(), encoding="utf-8")
    start = time.perf_counter()
    res = hospsim("check", str(path))
    # The loader's own bound is the test above (in process, < 1 s). Here: the command returns at
    # once rather than expanding the bomb (minutes and gigabytes). Starting Python and hospsim
    # took up to 4 s beside the other test workers on a 2-core machine, so a generous bound.
    assert time.perf_counter() - start < 15.0
    one_line_exit_2(res, f"{path}: line", "aliases are expanded")


def test_aliases_within_the_budget_still_work():
    text = "base: &b {x: 1, y: [1, 2]}\nc: *b\nd:\n  <<: *b\n  y: 3\n"
    assert load_text(text, "f") == yaml.safe_load(text)


@pytest.mark.parametrize(
    "item, words",
    [
        ("acute.beds=[1", "malformed YAML"),
        ("acute.beds={a: 1", "malformed YAML"),
        ("start_date=2016-02-30", "2016-02-30 is not a date"),
        ("acute.beds=!!int abc", "abc is not a whole number"),
        ("acute.beds=&a [*a]", "alias *a refers to itself"),
        ("acute.beds={a: 1, a: 2}", "duplicate key a"),
        ("acute.beds={? {a: 1} : 2}", "not a mapping"),
        ("acute.beds=!!python/name:os.system", "is not allowed"),
        ("acute.beds=" + "[" * 5000, "nested more than"),
        ("acute.beds=" + "x" * 20_000, "longer than 10,000 characters"),
        ("acute.beds='x\ny: [", "malformed YAML"),
        ("acute.beds=a\x07", "unacceptable character #x0007"),
    ],
    ids=lambda v: v[:30].encode("unicode_escape").decode() if isinstance(v, str) else "",
)
def test_bad_set_values_name_the_set_item(item, words):
    res = hospsim_in_process("run", str(MINI), "--no-progress", "--set", item)
    shown = item.split("=")[0]
    one_line_exit_2(res, f"--set {shown}=", words)


def test_set_value_parse_errors_are_config_errors():
    with pytest.raises(ConfigError, match=r"^--set acute.beds=\[1: column 3: malformed YAML"):
        parse_value("[1", "--set acute.beds=[1")


VALID = [
    ROOT / "hospsim" / "configs" / "footprint.yaml",
    *sorted((ROOT / "configs").glob("*.yaml")),
    *sorted((ROOT / "tests" / "data").glob("*.yaml")),
    *sorted((ROOT / "experiments").glob("*.yaml")),
]


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_files_read_as_safe_load_reads_them(path):
    assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_experiment_files_use_the_same_reader(tmp_path):
    """An experiment, and the config it names, are read by the same reader as a config."""
    exp = ROOT / "tests" / "data" / "mini_experiment.yaml"
    bad = tmp_path / "exp.yaml"
    bad.write_text(exp.read_text(encoding="utf-8") + "seed: 2\n", encoding="utf-8")
    one_line_exit_2(hospsim("sweep", str(bad), "--no-progress"), f"{bad}: line", "duplicate key seed")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(exp.read_text(encoding="utf-8") + billion_laughs(), encoding="utf-8")
    one_line_exit_2(hospsim("sweep", str(bomb), "--no-progress"), f"{bomb}: line", "aliases are expanded")
