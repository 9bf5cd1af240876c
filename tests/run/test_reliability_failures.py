"""Reliability, round two: runs that fail while training, through the CLI, in-process.

NumPy losses that turn NaN, a disk that fills up while the backup is written, a run
directory deleted under a live run, an interrupt during the final evaluation.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_reliability import ENV, history_epochs, read_metrics


def only_run(root):
    (run,) = [path for path in root.glob("*/*") if path.is_dir()]
    return run


# --------------------------------------------------------------------------- NumPy NaN


def test_a_numpy_loss_that_overflows_fails_the_run(cli, tmp_path):
    result = cli("run", "linreg-scratch", "--set", "train.optimizer.learning_rate=1000000")
    assert result.exit_code == 1, result.output
    assert "completed" not in result.output
    run = only_run(tmp_path / "outputs")
    metrics = read_metrics(run)
    assert metrics["status"] == "failed" and metrics["error"]["type"] == "NonFiniteLoss"
    message = metrics["error"]["message"]
    assert re.match(
        r"non-finite loss at epoch \d+ batch 1 \(loss = (nan|inf)\); lower "
        r"train\.optimizer\.learning_rate",
        message,
    ), message
    assert "clipnorm" not in message, "NumPy runs refuse clipnorm: do not suggest it"
    assert 1 <= metrics["epochs_run"] < 200


# --------------------------------------------------------------------------- disk full


def test_a_full_disk_while_writing_the_backup_fails_cleanly_and_resumes(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DLAB_BACKUP_INTERVAL", "0")  # a backup after every epoch
    write_bytes = Path.write_bytes

    def disk_fills_in_epoch_2(self, data):
        if self.name.startswith(".epoch-2.weights.h5"):
            write_bytes(self, data[: len(data) // 2])  # half of it fits, then ENOSPC
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    args = ["playground-mlp", "--device", "cpu", "--epochs", "4"]
    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_bytes", disk_fills_in_epoch_2)
        result = cli("run", *args)
    assert result.exit_code == 1, result.output
    assert "no space left on device while writing the backup of epoch 2" in result.output
    assert "the backup of epoch 1 is kept" in result.output
    run = only_run(tmp_path / "outputs")
    metrics = read_metrics(run)
    assert metrics["status"] == "failed" and metrics["error"]["type"] == "BackupFailed"
    assert metrics["error"]["message"].startswith("no space left on device while writing the backup")
    assert sorted(path.name for path in (run / "backup").iterdir()) == [
        "epoch-1.weights.h5",
        "training_metadata.json",
    ], "no temporary file may stay"
    assert "BackupFailed" in (run / "run.log").read_text()

    resumed = cli("run", *args, "--resume", str(run))  # space is free again
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1 of 4" in resumed.output
    assert read_metrics(run)["status"] == "completed"
    assert history_epochs(run) == [1, 2, 3, 4]


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs (root only; skipped elsewhere): a real full disk, HDF5 included."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or not shutil.which("mount")
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs to mount a small tmpfs (root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.subprocess
def test_a_real_full_disk_during_the_backup_no_longer_crashes_the_process(cli, small_disk):
    filler = small_disk / "filler"
    stats = os.statvfs(small_disk)
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 700_000))  # room for 1 backup
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dlab",
            "run",
            "mlp-mnist",
            "--smoke",
            "--epochs",
            "5",
            "--out",
            str(small_disk / "out"),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, f"exit {done.returncode} (139: SIGSEGV inside HDF5)\n{done.stderr}"
    assert "no space left on device while writing the backup of epoch 2" in done.stderr
    run = only_run(small_disk / "out")
    metrics = read_metrics(run)
    assert metrics["status"] == "failed" and metrics["error"]["type"] == "BackupFailed"
    assert sorted(path.name for path in (run / "backup").iterdir()) == [
        "epoch-1.weights.h5",
        "training_metadata.json",
    ]
    assert "BackupFailed" in (run / "run.log").read_text()

    filler.unlink()  # free the space, then resume from the last good backup
    resumed = cli("run", str(run / "config.yaml"), "--resume", str(run))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1 of 5" in resumed.output
    assert history_epochs(run) == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- full disk at start


def test_a_full_disk_at_start_leaves_no_write_test_file(cli, tmp_path, monkeypatch):
    write_bytes = Path.write_bytes

    def no_space(self, data):
        if self.name.startswith(".dlab-write-test-"):
            write_bytes(self, b"")  # the file is created, its bytes do not fit
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", no_space)
    result = cli("run", "perceptron-and")
    assert result.exit_code == 2, result.output
    assert "Cannot write run outputs under 'outputs': No space left on device" in result.output
    assert list((tmp_path / "outputs").iterdir()) == [], "no zero-byte probe left behind"


# --------------------------------------------------------------------------- where the traceback is


def test_an_error_before_the_run_directory_does_not_point_to_a_run_log(cli, tmp_path, monkeypatch):
    from dlab.framework.recipes import ScratchExperiment

    def broken_loader(self, config):
        raise RuntimeError("boom while loading")

    monkeypatch.setattr(ScratchExperiment, "load_data", broken_loader)
    result = cli("run", "perceptron-and")
    assert result.exit_code == 1
    assert "error: the run could not start: RuntimeError: boom while loading" in result.output
    assert "no run directory was created, so there is no run.log" in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


def test_an_error_while_training_names_the_run_log(cli, tmp_path, monkeypatch):
    import dlab.models.numpy_models

    def broken_descent(*args, **kwargs):
        raise RuntimeError("boom in training")

    monkeypatch.setattr(dlab.models.numpy_models, "gradient_descent", broken_descent)
    result = cli("run", "perceptron-and")
    assert result.exit_code == 1
    run = only_run(tmp_path / "outputs")
    assert "error: the run failed: RuntimeError: boom in training" in result.output
    assert f"(the traceback is in outputs/perceptron-and/{run.name}/run.log;" in result.output


# --------------------------------------------------------------------------- run directory deleted


def test_a_run_directory_deleted_mid_run_fails_the_run_and_is_not_recreated(cli, tmp_path, monkeypatch):
    import dlab.models.numpy_models

    descent = dlab.models.numpy_models.gradient_descent

    def train_then_lose_the_folder(*args, **kwargs):
        history = descent(*args, **kwargs)
        shutil.rmtree(only_run(tmp_path / "outputs"))  # someone cleans outputs/ meanwhile
        return history

    monkeypatch.setattr(dlab.models.numpy_models, "gradient_descent", train_then_lose_the_folder)
    result = cli("run", "perceptron-and")
    assert result.exit_code == 1, result.output
    assert "was deleted while the run was going on" in result.output
    assert "Traceback" not in result.output
    assert list((tmp_path / "outputs" / "perceptron-and").iterdir()) == [], "not recreated"
