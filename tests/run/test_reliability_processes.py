"""Reliability, round two: live processes (run locks, signals to NumPy runs, tune and sweep).

Every test here starts ``python -m dlab`` as a real process and talks to it with real
signals, on tiny built-in or synthetic data, each bounded by timeouts.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_reliability import (
    ENV,
    KERAS_LONG,
    NUMPY_LONG,
    history_epochs,
    read_metrics,
    start_run,
    wait_for_training,
)

pytestmark = pytest.mark.subprocess


def wait_for_file(pattern: str, root: Path, process, timeout: float = 120) -> Path:
    """The first path under ``root`` matching ``pattern``, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        if process.poll() is not None:
            raise AssertionError(f"the process ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"nothing matched {pattern} in time")


# --------------------------------------------------------------------------- run lock


def test_resuming_a_run_that_is_still_training_is_refused_and_a_killed_one_resumes(cli, tmp_path):
    process = start_run(*KERAS_LONG, "--out", "out", cwd=tmp_path)
    try:
        backup = wait_for_file("*/*/backup/training_metadata.json", tmp_path / "out", process)
        run = backup.parent.parent
        result = cli("run", *KERAS_LONG, "--resume", str(run), "--max-wall-time", "1s")
        assert result.exit_code == 2, result.output
        assert f"still running (pid {process.pid} on {socket.gethostname()})" in result.output
        assert process.poll() is None, "a refused resume leaves the live run alone"
        metrics = read_metrics(run)
        assert metrics["status"] == "running" and "resumed" not in metrics
        assert metrics["process"] == {"pid": process.pid, "host": socket.gethostname()}
    finally:
        process.kill()  # SIGKILL: the kernel drops the lock with the process
        process.communicate(timeout=60)
    resumed = cli("run", *KERAS_LONG, "--resume", str(run), "--max-wall-time", "1s")
    assert resumed.exit_code == 0, resumed.output
    metrics = read_metrics(run)
    assert metrics["status"] == "completed" and len(metrics["resumed"]) == 1
    epochs = history_epochs(run)
    assert epochs == list(range(1, len(epochs) + 1))
    assert not (run / ".dlab-run.lock").exists(), "a finished run keeps no lock file"


# --------------------------------------------------------------------------- NumPy signals


def test_sigterm_names_the_numpy_batch_and_suggests_a_new_run_not_resume(tmp_path):
    process = start_run(*NUMPY_LONG, "--out", "out", cwd=tmp_path)
    run = wait_for_training(tmp_path / "out", process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    message = read_metrics(run)["error"]["message"]
    found = re.fullmatch(r"interrupted by SIGTERM at epoch (\d+) batch (\d+)", message)
    assert found, message
    assert len(history_epochs(run)) == int(found.group(1)) - 1
    assert 1 <= int(found.group(2)) <= 455, "logreg-scratch has 455 training rows, batch 1"
    assert "--resume" not in stderr
    assert "cannot be resumed" in stderr and f"dlab run out/logreg-scratch/{run.name}/config.yaml`" in stderr


# --------------------------------------------------------------------------- tune


def test_sigint_stops_a_tune_trial_mid_training_and_records_it(tmp_path):
    args = [
        "tune-mnist-mlp",
        "--smoke",
        "--device",
        "cpu",
        "--epochs",
        "2000",
        "--max-trials",
        "3",
        "--set",
        "data.train_samples=256",
        "--out",
        "out",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "dlab", "tune", *args],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        trial = wait_for_file("*/*/tuner/search/trial_*/trial.json", tmp_path / "out", process)
        time.sleep(2)  # into the first trial's 2000 epochs
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)  # the trial alone would take minutes
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    run = trial.parents[3]
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    # With 256 samples an epoch is a few compiled calls, so the signal may land between
    # epochs as well as inside one; all three places are an honest stop.
    assert re.fullmatch(
        r"interrupted by SIGINT (at epoch \d+ (batch \d+|\(validation\))|at the end of epoch \d+)",
        metrics["error"]["message"],
    ), metrics["error"]["message"]
    assert metrics["tuner"]["trials"] == {"total": 1, "completed": 0, "failed": 0, "interrupted": 1}
    with open(run / "trials.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["status"] == "INTERRUPTED" and row["error"].startswith("interrupted by SIGINT")
    assert f"dlab tune --resume out/tune-mnist-mlp/{run.name}`" in stderr
    assert "dlab run" not in stderr


# --------------------------------------------------------------------------- sweep


SWEEP = [
    "logreg-scratch",
    "--epochs",
    "1000000",
    "--set",
    "train.batch_size=1",
    "--seeds",
    "3",
    "--jobs",
    "2",
    "--out",
    "out",
    "--no-save",
]
"""Three NumPy runs that only end by a signal, two at a time (no TensorFlow start-up)."""


def start_sweep(tmp_path: Path, mode: str = "") -> tuple[subprocess.Popen, list[Path]]:
    """A sweep with both of its first runs training; returns it and their run directories."""
    env = {**ENV, **({"DLAB_CHILD_WATCH": mode} if mode else {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "dlab", "sweep", *SWEEP],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = sorted((tmp_path / "out" / "logreg-scratch").glob("*/metrics.json"))
        if len(runs) == 2:
            time.sleep(1)  # training
            return process, [path.parent for path in runs]
        if process.poll() is not None:
            raise AssertionError(f"the sweep ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the sweep's runs did not start in time")


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left to a container's PID 1 counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def summary_rows(tmp_path: Path) -> list[dict]:
    (summary,) = (tmp_path / "out" / "sweeps").glob("*/summary.json")
    return json.loads(summary.read_text())["runs"]


@pytest.fixture
def no_orphans():
    """Kills what a failing sweep test left training (the runs it names), at teardown."""
    runs: list[Path] = []
    yield runs
    for run in runs:
        pid = read_metrics(run)["process"]["pid"]
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_to_a_sweep_stops_its_runs_and_records_them(tmp_path, no_orphans):
    process, runs = start_sweep(tmp_path)
    no_orphans.extend(runs)
    try:
        assert [row["status"] for row in summary_rows(tmp_path)] == ["running", "running", "pending"]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    assert [row["status"] for row in summary_rows(tmp_path)] == ["interrupted", "interrupted", "skipped"]
    for run in runs:
        metrics = read_metrics(run)
        assert metrics["status"] == "interrupted" and "SIGTERM" in metrics["error"]["message"]
        assert not alive(metrics["process"]["pid"])


@pytest.mark.parametrize("mode", ["", "pipe"])  # prctl(PR_SET_PDEATHSIG) on Linux; the pipe elsewhere
def test_a_sweep_killed_outright_takes_its_runs_with_it(tmp_path, mode, no_orphans):
    process, runs = start_sweep(tmp_path, mode)
    no_orphans.extend(runs)
    process.kill()  # SIGKILL: the sweep itself cannot forward anything
    process.communicate(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(read_metrics(run)["status"] == "running" for run in runs):
        time.sleep(0.1)
    for run in runs:
        metrics = read_metrics(run)
        assert metrics["status"] == "interrupted", "the orphan kept training"
        assert "SIGTERM" in metrics["error"]["message"]
        deadline = time.monotonic() + 30
        while alive(metrics["process"]["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(metrics["process"]["pid"])
    assert [row["status"] for row in summary_rows(tmp_path)] == ["running", "running", "pending"]


# --------------------------------------------------------------------------- closed stdout


def test_a_closed_stdout_does_not_break_the_run(tmp_path):
    """`dlab run ... | head -c 300`: the reader goes away after 300 bytes."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dlab",
            "run",
            "playground-mlp",
            "--device",
            "cpu",
            "--epochs",
            "20",
            "--out",
            "out",
        ],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert len(process.stdout.read(300)) == 300
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 0, stderr
    finally:
        process.kill()
    assert "BrokenPipeError" not in stderr and "Traceback" not in stderr
    (run,) = (tmp_path / "out" / "playground-mlp").iterdir()
    metrics = read_metrics(run)
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 20
    assert "Epoch 20/20" in (run / "run.log").read_text(), "run.log keeps the whole console"


# --------------------------------------------------------------------------- the test evaluation


def test_an_interrupt_during_the_test_evaluation_resumes_by_evaluating(cli, tmp_path):
    args = [
        "mlp-mnist",
        "--smoke",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--set",
        "data.train_samples=256",
        "--set",
        "data.validation=0.25",
        "--set",
        "data.test_samples=60000",
        "--out",
        "out",
    ]  # a long test evaluation
    process = start_run(*args, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the final backup: fit has returned
            found = list((tmp_path / "out").glob("*/*/backup/training_metadata.json"))
            if found and json.loads(found[0].read_text()).get("complete"):
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    run = found[0].parents[1]
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    assert metrics["error"]["message"] == (
        "interrupted by SIGINT at the test evaluation (training had finished)"
    )
    assert history_epochs(run) == [1, 2] and "--resume" in stderr

    resumed = cli("run", str(run / "config.yaml"), "--device", "cpu", "--resume", str(run))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 2 of 2 (training had finished: evaluating)" in resumed.output
    assert "Epoch 1/2" not in resumed.output and "Epoch 2/2" not in resumed.output
    metrics = read_metrics(run)
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 2
    assert metrics["test"]["accuracy"] > 0 and not (run / "backup").exists()


def test_sighup_stops_a_run_like_sigterm(tmp_path):
    process = start_run(*NUMPY_LONG, "--out", "out", cwd=tmp_path)
    try:
        run = wait_for_training(tmp_path / "out", process)
        process.send_signal(signal.SIGHUP)  # the terminal or the SSH session went away
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 129, stderr
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    assert re.fullmatch(r"interrupted by SIGHUP at epoch \d+ batch \d+", metrics["error"]["message"])
    assert len(history_epochs(run)) >= 1
