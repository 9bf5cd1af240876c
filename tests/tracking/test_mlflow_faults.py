"""MLflow faults (issue 31), for real: FIFOs made with os.mkfifo, a real SQLite store held locked by
another connection, a store file the process may read but not write, concurrent ``dlab mlflow-sync``
processes, and a store whose artifact folder breaks in the middle of logging a run.

Every wait has a deadline: a FIFO that dlab would block on is opened from the other end once the
deadline passes (the test then fails instead of hanging), subprocesses run under ``timeout``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fake_runs import make_run

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="the mlflow extra is not installed"
)  # not importorskip: collecting the suite must not import MLflow


def mlflow_client(uri: str):
    """MLflow's client for a store, imported when a test here runs."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


DEADLINE_S = 60


def logged_runs(uri: str) -> list:
    client = mlflow_client(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=3)]
    return client.search_runs(ids, run_view_type=3) if ids else []


@contextmanager
def opened_after(fifo: Path, seconds: float) -> Iterator[threading.Event]:
    """After ``seconds``, keep opening ``fifo`` for writing (which lets a reader blocked on it go on)
    until the block ends; the event says whether that was needed, i.e. whether dlab blocked."""
    fired, done = threading.Event(), threading.Event()

    def release() -> None:
        if done.wait(seconds):
            return
        fired.set()
        while not done.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        done.set()
        thread.join(timeout=10)


# --------------------------------------------------------------------------- unreadable run folders


@pytest.mark.parametrize("name", ["metrics.json", "config.yaml"])
def test_a_fifo_in_a_run_folder_is_refused_at_once_and_nothing_is_logged(cli, tmp_path, store, name):
    run = make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100000-f1f0aa")
    (run / name).unlink()
    os.mkfifo(run / name)
    started = time.monotonic()
    with opened_after(run / name, DEADLINE_S) as blocked:
        result = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
    assert not blocked.is_set(), f"mlflow-sync blocked on the FIFO {name} for {DEADLINE_S} s"
    assert time.monotonic() - started < DEADLINE_S
    assert result.exit_code == 2, result.output
    assert f"{name} cannot be read (not a regular file)" in result.output
    assert "nothing was logged" in result.output and "Traceback" not in result.output
    assert logged_runs(store) == []  # no run left RUNNING (or at all)


def test_metrics_json_nested_3000_deep_is_refused(cli, tmp_path, store):
    run = make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100000-dee9aa")
    (run / "metrics.json").write_text("[" * 3000 + "]" * 3000)
    good = make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100001-900d00")
    result = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
    assert result.exit_code == 2, result.output
    assert "RecursionError" not in result.output and "Traceback" not in result.output
    assert "nested too deeply" in result.output and str(run) in result.output
    assert str(good) not in result.output  # only the bad folder is named
    assert logged_runs(store) == []  # read everything first: nothing is logged


# --------------------------------------------------------------------------- failing stores


def test_a_run_whose_logging_fails_is_ended_failed_and_completed_by_the_next_sync(cli, tmp_path, store):
    """The experiment's artifact folder lies under a regular file: creating the run works, uploading
    its first artifact fails (also for root). The MLflow run must not stay RUNNING."""
    run = make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100000-fa11ed")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    mlflow_client(store).create_experiment("mlp-mnist", artifact_location=(blocker / "artifacts").as_uri())
    result = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
    assert result.exit_code == 2, result.output
    assert "failed while logging" in result.output and "Traceback" not in result.output
    assert "marked FAILED" in result.output and "running mlflow-sync again completes it" in result.output
    (failed,) = logged_runs(store)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["dlab.logging"] == "incomplete" and "dlab.log_error" in failed.data.tags

    blocker.unlink()  # the store is repaired: the next sync completes the same MLflow run
    (blocker / "artifacts").mkdir(parents=True)
    again = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
    assert again.exit_code == 0, again.output
    (repaired,) = logged_runs(store)
    assert repaired.info.run_id == failed.info.run_id and repaired.info.status == "FINISHED"
    assert repaired.data.tags["dlab.logging"] == "complete" and "dlab.log_error" not in repaired.data.tags
    client = mlflow_client(store)
    assert [p.step for p in client.get_metric_history(repaired.info.run_id, "loss")] == [1, 2, 3]
    assert {"config.yaml", "metrics.json"} <= {a.path for a in client.list_artifacts(repaired.info.run_id)}
    assert str(run) in again.output


def test_a_locked_store_is_a_clear_exit_2(cli, tmp_path, store):
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE: readers still pass, as the old
    read-only check did); the sync stops with a short message instead of SQLAlchemy's traceback."""
    make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100000-10cced")
    holder = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        result = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2, result.output
    assert "is locked: another process is writing to it" in result.output
    assert "Traceback" not in result.output and "[SQL:" not in result.output
    assert len(result.output.strip().splitlines()) <= 3
    assert logged_runs(store) == []


def test_a_store_lock_held_past_the_deadline_is_a_clear_exit_2(cli, tmp_path, store, monkeypatch):
    from filelock import FileLock

    from dlab.tracking.mlflow_locks import lock_path

    make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100000-dead11")
    monkeypatch.setenv("DLAB_MLFLOW_LOCK_TIMEOUT", "1")
    with FileLock(lock_path(store), is_singleton=False, thread_local=False):
        started = time.monotonic()
        result = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
        waited = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert "has held its lock" in result.output and "DLAB_MLFLOW_LOCK_TIMEOUT" in result.output
    assert waited < 30


def _without_root_override() -> dict:
    """subprocess options under which file permissions hold: as root, the child drops
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set before exec (root writes
    read-only files otherwise); nothing for other users."""
    if os.geteuid() != 0:
        return {}
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return {"preexec_fn": drop}


@pytest.mark.subprocess
def test_a_read_only_store_stops_the_run_before_training(mlflow_store_template, tmp_path):
    """The store file can be read but not written (another user's, or a read-only copy): the pre-check
    writes, so `dlab run --mlflow` stops with exit 2 before loading data, not after training (before:
    the read-only check passed, the run trained, and logging died with a 90-line traceback)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("read-only for root is made with Linux capabilities (prctl)")
    (tmp_path / "store").mkdir()
    shutil.copyfile(mlflow_store_template, tmp_path / "store" / "mlflow.db")
    (tmp_path / "store" / "mlflow.db").chmod(0o444)
    (tmp_path / "work").mkdir()
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    result = subprocess.run(
        [sys.executable, "-m", "dlab", "run", "perceptron-and", "--mlflow", "--mlflow-uri", uri],
        cwd=tmp_path / "work",
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=240,
        **_without_root_override(),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "cannot be written" in output and "readonly database" in output, output
    assert "Nothing was trained" in output and "Traceback" not in output
    assert not list((tmp_path / "work").rglob("metrics.json"))  # no run folder: nothing trained


# --------------------------------------------------------------------------- concurrent syncs


@pytest.mark.subprocess
def test_concurrent_syncs_create_the_store_once_and_log_each_run_once(tmp_path):
    """Three `dlab mlflow-sync` processes at once on 9 runs and a store that does not exist yet: before,
    one died with "duplicate column name: step" (both migrated the new database) and 4 runs of 9 were
    logged twice (both checked, then both created)."""
    for index in range(9):
        make_run(tmp_path / "outputs", f"cfg-{index % 3}", f"20261122-10000{index}-c0c0{index}a")
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "dlab", "mlflow-sync", "outputs", "--mlflow-uri", uri]
    processes = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(3)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert not any("duplicate column" in output for output in outputs)
    runs = logged_runs(uri)
    identities = sorted(run.data.tags["dlab.run_id"] for run in runs)
    assert len(identities) == 9 and len(set(identities)) == 9, identities
    assert all(run.data.tags["dlab.logging"] == "complete" for run in runs)
    fresh = sum(int(output.rsplit(" run(s) logged", 1)[0].rsplit("\n", 1)[-1]) for output in outputs)
    assert fresh == 9, outputs


def test_a_second_sync_in_one_process_logs_nothing_new(cli, tmp_path, store):
    make_run(tmp_path / "outputs", "mlp-mnist", "20261122-100000-0ce0aa")
    assert cli("mlflow-sync", "outputs", "--mlflow-uri", store).exit_code == 0
    again = cli("mlflow-sync", "outputs", "--mlflow-uri", store)
    assert "0 run(s) logged, 1 already in MLflow" in again.output
    (run,) = logged_runs(store)
    assert run.info.run_name == "mlp-mnist · 0ce0aa"  # CONFIG · short id, not the folder's timestamp
    assert json.loads(json.dumps(run.data.tags))["dlab.run_id"] == "mlp-mnist/20261122-100000-0ce0aa"
