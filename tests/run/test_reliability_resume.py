"""Reliability, round three: the run lifecycle from its resume check to its last record.

Overlapping resumes of one run, a run stopped before its first backup, a second signal while
the run writes its record, and a disk too full (or a file size limit too small) for the record.
Every run is a real ``python -m dlab run`` process (or the pipeline's own steps in this process,
to stand for a resume between its check and its training), with real signals, a real full
filesystem where one can be mounted, and a deadline on every wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_reliability import ENV, KERAS_LONG, NUMPY_LONG, history_epochs, read_metrics, wait_for_epochs
from test_reliability_failures import small_disk  # noqa: F401 - a fixture

from dlab.errors import RunInterrupted
from dlab.pipeline import steps
from dlab.pipeline.request import RunRequest
from dlab.run.guard import RunGuard
from dlab.run.lock import LOCK_FILE, OWNER_FILE

RESERVE_FILE = ".dlab-run.reserve"


def dlab(*args: str, cwd: Path, env: dict | None = None, **popen) -> subprocess.Popen:
    """``python -m dlab ARGS`` as a child process with piped output."""
    return subprocess.Popen(
        [sys.executable, "-m", "dlab", *args],
        cwd=cwd,
        env=env or ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for ``process`` (killed at the deadline); its stderr."""
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return stderr


def wait_until(condition, process: subprocess.Popen, what: str, timeout: float = 120, step: float = 0.01):
    """Poll ``condition`` until it holds; fail if ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {process.communicate()}")
        time.sleep(step)
    process.kill()
    raise AssertionError(f"no {what} in {timeout} s")


def run_files(run: Path) -> set[str]:
    return {path.name for path in run.iterdir()}


# --------------------------------------------------------------------------- a run with no backup yet


@pytest.fixture(scope="module")
def stopped_before_backup(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, bool]:
    """A Keras run stopped by SIGINT after some epochs but before its first backup (due in an
    hour); the run, its process, and whether a backup existed when it stopped."""
    folder = tmp_path_factory.mktemp("no-backup")
    process = dlab(
        "run", *KERAS_LONG, "--out", "out", cwd=folder, env={**ENV, "DLAB_BACKUP_INTERVAL": "3600"}
    )
    run = wait_for_epochs(folder / "out", 1, process)
    process.send_signal(signal.SIGINT)
    stderr = finish(process, 60)
    backed_up = (run / "backup" / "training_metadata.json").exists()
    return run, subprocess.CompletedProcess(process.args, process.returncode, "", stderr), backed_up


@pytest.mark.subprocess
def test_a_run_stopped_before_its_first_backup_says_there_is_nothing_to_resume(stopped_before_backup):
    run, done, backed_up = stopped_before_backup
    assert done.returncode == 130, done.stderr
    assert not backed_up
    assert "--resume" not in done.stderr, "before: continue with `dlab run ... --resume`, from epoch 0"
    assert "it stopped before its first backup" in done.stderr and "nothing to resume" in done.stderr
    assert f"`dlab run out/playground-mlp/{run.name}/config.yaml` starts it again" in done.stderr


# --------------------------------------------------------------------------- overlapping resumes


def resume_in_a_process(run: Path) -> subprocess.CompletedProcess:
    """``dlab run ... --resume RUN`` as another process, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "dlab", "run", *KERAS_LONG, "--resume", str(run), "--max-wall-time", "1s"],
        cwd=run.parents[2],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.subprocess
def test_a_resume_holds_the_run_lock_from_its_check_to_its_final_write(stopped_before_backup, capsys):
    """Two overlapping ``--resume`` of one run: the one that checked first keeps the run.

    This process runs the pipeline's steps one by one, so it is a resume paused between its
    check and its training (where a real one loads its data). A second ``dlab run --resume``
    then is refused, and once the first has completed, a third is refused as completed; neither
    writes to the run. (Before: the check gave the lock back, the second resume went through,
    and a late one rewrote the completed run as failed with its history cut.)
    """
    run, _, _ = stopped_before_backup
    assert read_metrics(run)["status"] == "interrupted"
    request = RunRequest.from_options(
        "playground-mlp",
        device="cpu",
        epochs=3000,
        sets=["train.steps_per_execution=1"],
        resume=str(run),
        max_wall_time="1s",
    )
    checked = steps.check(request, steps.resolve(request))  # this process: checked, not yet training
    second = resume_in_a_process(run)
    assert second.returncode == 2, second.stderr
    assert f"that run is still running (pid {os.getpid()} on {socket.gethostname()})" in second.stderr
    assert read_metrics(run)["status"] == "interrupted", "the refused resume wrote nothing"

    runtime = steps.start(checked.experiment, checked.config, request, checked.point)
    data, split_check = steps.load_data(checked.experiment, checked.config, runtime)
    model = steps.build(checked.experiment, checked.config, data, runtime)
    result = steps.train(steps.Prepared(checked, runtime, data, model, split_check))
    assert result.status == "completed"
    assert "the run kept no backup: training starts again at epoch 1 of 3000" in capsys.readouterr().out
    record = (run / "metrics.json").read_bytes()
    epochs = history_epochs(run)

    late = resume_in_a_process(run)
    assert late.returncode == 2, late.stderr
    assert "that run is completed" in late.stderr
    assert (run / "metrics.json").read_bytes() == record, "a refused resume never writes to the run"
    metrics = json.loads(record)
    assert metrics["status"] == "completed" and metrics["test"], metrics
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) == metrics["epochs_run"]
    assert not {LOCK_FILE, OWNER_FILE, RESERVE_FILE, "backup"} & run_files(run)


# --------------------------------------------------------------------------- a second signal


@pytest.mark.subprocess
def test_a_second_signal_while_the_record_is_written_leaves_a_consistent_record(tmp_path):
    """SIGINT, then SIGINT again while the stopped run draws its curves: the figures are
    abandoned (a second signal stops at once), and metrics.json says so (before: it kept only
    the first signal's message, and plots/ was missing without a word)."""
    process = dlab("run", *NUMPY_LONG, "--out", "out", cwd=tmp_path)
    metrics_file = wait_until(lambda: next((tmp_path / "out").glob("*/*/metrics.json"), None), process, "run")
    run = metrics_file.parent
    time.sleep(1)  # some epochs
    process.send_signal(signal.SIGINT)
    # a NumPy run writes its history when it stops, then draws the curves from it
    wait_until(lambda: (run / "history.json").is_file(), process, "history", timeout=60, step=0.002)
    process.send_signal(signal.SIGINT)
    stderr = finish(process, 60)
    assert process.returncode == 130, stderr
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    message = metrics["error"]["message"]
    assert message.startswith("interrupted by SIGINT at epoch "), message
    assert "a second SIGINT stopped the final write" in message, message
    assert message in stderr
    assert metrics["epochs_run"] == len(history_epochs(run)) and metrics["finished_at"]
    assert not any(path.name.startswith(".") for path in run.rglob("*")), "no temporary file"


def test_a_signal_while_the_record_is_written_waits_for_it_and_a_later_one_stops_at_once():
    """The final metrics.json is written with signals deferred: a record cut in the middle
    would say ``running`` forever. After it, a further signal stops at once again."""
    with RunGuard() as guard:
        with guard.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs in the main thread: it only notes them
        assert guard.signal_received == signal.SIGINT and guard.signals == 2
        with pytest.raises(RunInterrupted, match="stopped at once by a third SIGINT"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)


# --------------------------------------------------------------------------- no room for the record


def fill(disk: Path) -> None:
    """Write into ``disk`` until not one more byte fits."""
    with open(disk / "filler", "ab", buffering=0) as handle:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\xff" * size)


@pytest.mark.subprocess
def test_a_disk_that_fills_up_while_a_run_trains_still_gets_its_status(small_disk):  # noqa: F811
    """A real filesystem that fills up mid-run: the run still records ``failed`` with the OS's
    reason, from space it held back when it started (before: metrics.json stayed ``running`` and
    the console said "no run directory was created")."""
    process = dlab(
        "run", *NUMPY_LONG, "--max-wall-time", "4s", "--out", str(small_disk / "out"), cwd=small_disk.parent
    )
    run = wait_until(lambda: next((small_disk / "out").glob("*/*/metrics.json"), None), process, "run").parent
    fill(small_disk)
    assert os.statvfs(small_disk).f_bavail == 0
    stderr = finish(process, 60)
    assert process.returncode == 1, stderr
    assert "no run directory was created" not in stderr
    assert str(run) in stderr, stderr
    assert "No space left on device" in stderr
    metrics = read_metrics(run)
    assert metrics["status"] == "failed", metrics
    assert "No space left on device" in metrics["error"]["message"]
    assert not {RESERVE_FILE, LOCK_FILE, OWNER_FILE} & run_files(run)


@pytest.mark.subprocess
@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="resource.prlimit is Linux-only")
def test_a_record_that_cannot_be_written_whole_is_written_short_and_said(tmp_path):
    """A file-size limit (RLIMIT_FSIZE, a real kernel limit: a write past it fails with EFBIG)
    set on the live run just above its first metrics.json: the history and the whole final
    record no longer fit, and space held back cannot help. metrics.json still gets a short
    record of how the run ended, and the console names the run folder (before: metrics.json
    stayed ``running`` and the console said "no run directory was created")."""
    process = dlab(
        "run",
        *NUMPY_LONG,
        "--max-wall-time",
        "3s",
        "--out",
        "out",
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN),  # EFBIG, not death
    )
    first = wait_until(lambda: next((tmp_path / "out").glob("*/*/metrics.json"), None), process, "run")
    limit = first.stat().st_size + 64  # the final record adds an error, a finish time, a wall time
    resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (limit, limit))
    stderr = finish(process, 60)
    assert process.returncode == 1, stderr
    run = first.parent
    assert "no run directory was created" not in stderr
    assert f"its full record could not be written in out/logreg-scratch/{run.name} (File too large)" in stderr
    assert "metrics.json holds a short record" in stderr
    metrics = read_metrics(run)
    assert metrics["status"] == "failed", metrics
    assert "File too large" in metrics["error"]["message"]
    assert metrics["record"].startswith("short (File too large"), metrics
    assert metrics["config"] == "logreg-scratch" and metrics["finished_at"]
    assert not {RESERVE_FILE, LOCK_FILE, OWNER_FILE} & run_files(run)
