"""Every way out of the `hospsim` command is one line: bugs, bad options, unwritable outputs (checked
before anything runs), and a `run` folder that is whole whatever kills the writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hospsim import cli
from hospsim.cli import main
from hospsim.model.streams import replication_seeds
from hospsim.runs import store
from hospsim.runs.errors import OutputError, ResultsError
from hospsim.runs.results import load_results
from hospsim.runs.store import MANIFEST, check_output_dir

MINI = Path(__file__).parent / "data" / "mini_system.yaml"
EXPERIMENT = Path(__file__).parent / "data" / "mini_experiment.yaml"
ROOT = Path(__file__).resolve().parent.parent


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


def run_args(out: Path | str, seed: int = 1) -> list[str]:
    return ["run", str(MINI), "-r", "2", "--seed", str(seed), "--workers", "1", "--no-progress", "--out", str(out)]


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation fails the test: a refused output must be refused before anything runs."""

    def boom(*_a, **_k):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr("hospsim.runs.replications.run_config", boom)
    monkeypatch.setattr("hospsim.runs.sweep.run_sweep", boom)


# --- the last-resort handler -----------------------------------------------------------------


def _crash(_args):
    raise RuntimeError("boom\nsecond line")


def test_an_unexpected_exception_is_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "check", _crash)
    assert main(["check", str(MINI)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err) == ("hospsim: internal error: RuntimeError: boom (re-run with --debug for the traceback)")


@pytest.mark.parametrize("argv", [["--debug", "check", str(MINI)], ["check", str(MINI), "--debug"]])
def test_debug_shows_the_traceback(monkeypatch, capsys, argv):
    monkeypatch.setitem(cli.COMMANDS, "check", _crash)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in _crash" in err and "RuntimeError: boom" in err


def test_debug_is_off_by_default_and_user_errors_stay_exit_2(capsys):
    assert main(["--debug", "check", "nope.yaml"]) == 2
    assert one_line(capsys.readouterr().err) == "hospsim: error: nope.yaml: file not found"


def test_an_interrupt_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "check", interrupted)
    assert main(["check", str(MINI)]) == 130
    assert one_line(capsys.readouterr().err) == "hospsim: interrupted"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "--workers"], "argument --workers: expected one argument (see hospsim run --help)"),
        (["run", "--workers", "0"], "argument --workers: must be at least 1, got 0"),
        (["plot", "r", "--format", "gif"], "argument --format: invalid choice: 'gif'"),
        (["sweep"], "the following arguments are required: experiment (see hospsim sweep --help)"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["run", "--out", ""], "argument --out: empty path"),
    ],
)
def test_argument_errors_are_one_line_and_exit_2(capsys, argv, expected):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = one_line(err)
    assert line.startswith("hospsim: error: ") and expected in line and "--help)" in line


# --- outputs are checked before anything runs ------------------------------------------------


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A small but complete results folder of `hospsim run`, for `plot` and `report`."""
    out = tmp_path / "results"
    assert main(run_args(out)) == 0
    return out


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


@pytest.mark.parametrize("under", [False, True])
def test_run_and_sweep_refuse_a_file_as_output_before_running(tmp_path, capsys, no_simulation, under):
    target = _file(tmp_path) / "sub" if under else _file(tmp_path)
    expected = "which is a file, not a folder" if under else "is a file, not a folder"
    for argv in (run_args(target), ["sweep", str(EXPERIMENT), "--no-progress", "--out", str(target)]):
        assert main(argv) == 2
        assert one_line(capsys.readouterr().err) == f"hospsim: error: {target}: " + (
            f"is under {tmp_path / 'a-file'}, {expected}" if under else expected
        )
    assert sorted(os.listdir(tmp_path)) == ["a-file"]  # no folder, no lock, nothing


def test_plot_and_report_refuse_an_unwritable_output(tmp_path, capsys, run_folder):
    blocker = _file(tmp_path)
    assert main(["plot", str(run_folder), "--out", str(blocker / "plots")]) == 2
    assert "which is a file, not a folder" in one_line(capsys.readouterr().err)
    assert main(["report", str(run_folder), "--out", str(blocker / "r" / "report.html")]) == 2
    assert "which is a file, not a folder" in one_line(capsys.readouterr().err)
    assert not (run_folder / "plots").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_refused_before_running(tmp_path, capsys, no_simulation):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for target in (locked, locked / "new"):
            assert main(run_args(target)) == 2
            assert one_line(capsys.readouterr().err).startswith(f"hospsim: error: {target}: cannot write there (")
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)


def test_a_folder_refusing_files_is_refused_even_as_root(tmp_path, monkeypatch, capsys, no_simulation):
    """What a read-only folder does to a non-root user, simulated for root (CI runs as root)."""

    def refuse(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("hospsim.runs.store.tempfile.mkstemp", refuse)
    target = tmp_path / "new" / "out"
    assert main(run_args(target)) == 2
    assert one_line(capsys.readouterr().err) == f"hospsim: error: {target}: cannot write there (Permission denied)"
    assert os.listdir(tmp_path) == []  # the folders the check made are removed again


def test_the_check_creates_nothing_it_leaves_behind(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert check_output_dir(target, beside=True) == target
    assert os.listdir(tmp_path) == []  # folders it made and its probe files are gone
    existing = tmp_path / "here"
    existing.mkdir()
    check_output_dir(existing)
    assert os.listdir(existing) == []
    with pytest.raises(OutputError, match="empty path"):
        check_output_dir("")
    with pytest.raises(OutputError, match="is the current folder or holds it"):
        check_output_dir(".", beside=True)  # `run` swaps its folder whole: never the one it runs in


def test_a_bad_output_fails_fast_on_the_default_config(tmp_path):
    """A subprocess on the bundled config (minutes of simulation): refused in well under 5 s."""
    target = _file(tmp_path) / "out"
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "hospsim", "run", "--no-progress", "--out", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert res.returncode == 2 and res.stdout == ""
    assert "is a file, not a folder" in one_line(res.stderr)
    assert elapsed < 5, elapsed


# --- a run's folder: whole, and one writer at a time -----------------------------------------

# Runs `hospsim run` with the daily table's write slowed down: it touches a marker once the new
# tables are in the temporary folder (manifest not yet), then waits to be killed.
SLOW_WRITER = """
import sys, time
from pathlib import Path
from hospsim.runs import store
real = store.write_parquet
def slow(path, table, compression="snappy"):
    result = real(path, table, compression)
    Path(sys.argv[1]).touch()
    time.sleep(60)
    return result
store.write_parquet = slow
from hospsim.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _seeds(folder: Path) -> tuple[list[int], list[int]]:
    manifest = json.loads((folder / MANIFEST).read_text())
    return manifest["replication_seeds"], pd.read_csv(folder / "replications.csv")["seed"].tolist()


def test_sigkill_while_writing_leaves_the_old_folder_whole_and_the_next_run_recovers(tmp_path):
    out = tmp_path / "out"
    assert main(run_args(out, seed=1)) == 0
    old = replication_seeds(1, 2)
    assert _seeds(out) == (old, old)

    marker = tmp_path / "writing"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(marker), *run_args(out, seed=2)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the writer never reached the write phase"
            time.sleep(0.02)
        tmp = tmp_path / f".out.tmp-{proc.pid}"
        assert (tmp / "replications.csv").exists()  # the new tables are being written...
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    # ... but the folder is the old one, whole: its manifest and its tables agree.
    assert _seeds(out) == (old, old)
    assert load_results(out).manifest["replication_seeds"] == old
    # The killed writer's half-built folder has no manifest: no reader takes it for results.
    with pytest.raises(ResultsError, match=r"no manifest\.json"):
        load_results(tmp)
    lock = tmp_path / ".out.lock"
    assert lock.read_text().strip() == str(proc.pid)  # left by the killed writer

    # The next run takes over the dead writer's lock, clears its leftovers, swaps the new folder in.
    assert main(run_args(out, seed=3)) == 0
    new = replication_seeds(3, 2)
    assert _seeds(out) == (new, new)
    assert sorted(os.listdir(tmp_path)) == ["out", "writing"]  # no temporary folder, no lock


def test_a_held_lock_makes_a_second_run_refuse_before_running(tmp_path, capsys, no_simulation):
    out = tmp_path / "out"
    holder = os.getppid()  # a live process other than this one
    (tmp_path / ".out.lock").write_text(f"{holder}\n")
    assert main(run_args(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"hospsim: error: {out}: another hospsim (pid {holder}) is writing it")
    assert (tmp_path / ".out.lock").read_text() == f"{holder}\n"  # not taken from its holder
    assert not out.exists()


def test_write_results_refuses_a_held_lock(tmp_path):
    out = tmp_path / "out"
    (tmp_path / ".out.lock").write_text(f"{os.getppid()}\n")
    with pytest.raises(OutputError, match="is writing it"):
        store.write_results(out, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {"kind": "run"})
    assert sorted(os.listdir(tmp_path)) == [".out.lock"]


# --- a full disk -----------------------------------------------------------------------------


def _small_files_only(limit_bytes: int):
    """For a subprocess: files larger than ``limit_bytes`` cannot be written (EFBIG), as on a
    full disk (Python ignores SIGXFSZ, so the write fails instead of killing the process)."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def _cli(*args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if limit_bytes:
        # Test coverage (CI) would also fail to write its data file under the limit, and say so.
        env = {k: v for k, v in env.items() if not k.startswith("COVERAGE")}
    return subprocess.run(
        [sys.executable, "-m", "hospsim", *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_small_files_only(limit_bytes) if limit_bytes else None,
        timeout=300,
    )


def test_a_full_disk_leaves_the_old_run_folder_whole(tmp_path: Path):
    out = tmp_path / "out"
    base = ["run", str(MINI), "--out", str(out), "--no-progress", "--workers", "1"]
    assert _cli(*base, "-r", "2").returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = _cli(*base, "-r", "3", "--seed", "8", limit_bytes=20_000)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "cannot write the results" in res.stderr and "unchanged" in res.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temporary left


def test_a_full_disk_stops_a_sweep_in_one_line_and_it_resumes(tmp_path: Path):
    out = tmp_path / "sweep"
    exp = EXPERIMENT
    res = _cli("sweep", str(exp), "--out", str(out), "--no-progress", "--workers", "1", limit_bytes=30_000)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "cannot write the results" in res.stderr and "--resume" in res.stderr
    with pytest.raises(ResultsError):  # no manifest yet, or one saying the sweep did not finish
        load_results(out)
    done = _cli("sweep", str(exp), "--out", str(out), "--no-progress", "--workers", "1", "--resume")
    assert done.returncode == 0, done.stderr
    assert load_results(out).kind == "sweep"
