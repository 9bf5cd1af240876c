"""The run lock and the dataset-cache lock (filelock): processes exclude each other, threads do
not own a hold, a dead holder blocks nobody, and a finished run leaves no lock file behind.

The cross-process tests start a real second Python process that takes the lock, so they
prove what a second ``dlab`` process would see.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dlab.data.formats.cache import file_lock
from dlab.errors import UsageError
from dlab.run.lock import LOCK_FILE, OWNER_FILE, RunLock, RunStillRunning, check_not_running

HOST = socket.gethostname()

HOLD = """
import sys
from pathlib import Path

kind, target = sys.argv[1], Path(sys.argv[2])
if kind == "run":
    from dlab.run.lock import RunLock

    lock = RunLock.acquire(target)
    print("locked", flush=True)
    sys.stdin.readline()
    lock.release()
else:
    from dlab.data.formats.cache import file_lock

    with file_lock(target):
        Path(sys.argv[3]).write_text("locked")
        print("locked", flush=True)
        sys.stdin.readline()
print("released", flush=True)
"""
"""Take a lock (``run DIR`` or ``file PATH MARKER``), say so, hold it until a line comes on stdin."""

TRY_RUN = """
import sys
from dlab.run.lock import RunLock, RunStillRunning

try:
    RunLock.acquire(sys.argv[1], "--resume " + sys.argv[1]).release()
except RunStillRunning as error:
    print(error)
    sys.exit(3)
print("acquired")
"""


def hold(*args: str) -> subprocess.Popen:
    """A second process holding a lock; returns once it has it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line == "locked\n", (line, process.communicate(timeout=60))
    return process


def try_run_lock(run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", TRY_RUN, str(run_dir)], capture_output=True, text=True, timeout=120
    )


def lock_files(run_dir: Path) -> list[str]:
    return sorted(name for name in (LOCK_FILE, OWNER_FILE) if (run_dir / name).exists())


def in_thread(function, timeout: float = 60):
    """Run ``function`` in another thread; its result, or its exception raised here."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{function} did not return in {timeout} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# --------------------------------------------------------------------------- run lock: processes


@pytest.mark.subprocess
def test_a_run_held_by_another_process_is_refused_with_its_pid_until_it_dies(tmp_path):
    holder = hold("run", str(tmp_path))
    try:
        assert json.loads((tmp_path / OWNER_FILE).read_text()) == {"pid": holder.pid, "host": HOST}
        for attempt in (
            lambda: RunLock.acquire(tmp_path, f"--resume {tmp_path}"),
            lambda: check_not_running(tmp_path, f"--resume {tmp_path}"),
        ):
            with pytest.raises(RunStillRunning) as refused:
                attempt()
            message = str(refused.value)
            assert message.startswith(f"--resume {tmp_path}: that run is still running")
            assert f"(pid {holder.pid} on {HOST})" in message
        assert holder.poll() is None, "a refused lock leaves the holder alone"
    finally:
        holder.kill()  # SIGKILL: the operating system drops the lock with the process
        holder.communicate(timeout=60)
    assert lock_files(tmp_path) == [LOCK_FILE, OWNER_FILE], "a killed run leaves its files"
    with RunLock.acquire(tmp_path) as lock:  # ... but no lock: it resumes
        assert lock.owner == {"pid": os.getpid(), "host": HOST}
        assert json.loads((tmp_path / OWNER_FILE).read_text()) == lock.owner
    assert lock_files(tmp_path) == []


@pytest.mark.subprocess
def test_a_run_held_here_is_refused_to_another_process_until_released(tmp_path):
    with RunLock.acquire(tmp_path):
        refused = try_run_lock(tmp_path)
        assert refused.returncode == 3, refused
        assert f"still running (pid {os.getpid()} on {HOST})" in refused.stdout
        assert lock_files(tmp_path) == [LOCK_FILE, OWNER_FILE], "a refused process removes nothing"
    assert lock_files(tmp_path) == []
    taken = try_run_lock(tmp_path)
    assert taken.returncode == 0 and taken.stdout == "acquired\n", taken
    assert lock_files(tmp_path) == []


@pytest.mark.subprocess
def test_a_run_released_by_another_process_can_be_taken_and_leaves_no_files(tmp_path):
    holder = hold("run", str(tmp_path))
    out, err = holder.communicate("\n", timeout=60)
    assert holder.returncode == 0 and out == "released\n", err
    assert lock_files(tmp_path) == []
    RunLock.acquire(tmp_path).release()


# --------------------------------------------------------------------------- run lock: one process


def test_one_process_cannot_take_a_run_lock_it_already_holds_from_any_thread(tmp_path):
    with RunLock.acquire(tmp_path):
        with pytest.raises(RunStillRunning, match=f"pid {os.getpid()} on {re.escape(HOST)}"):
            RunLock.acquire(tmp_path)
        with pytest.raises(RunStillRunning):
            in_thread(lambda: RunLock.acquire(tmp_path))
        with pytest.raises(RunStillRunning):
            check_not_running(tmp_path)
    check_not_running(tmp_path)


def test_a_run_lock_is_released_whichever_thread_releases_it(tmp_path):
    lock = in_thread(lambda: RunLock.acquire(tmp_path))
    with pytest.raises(RunStillRunning):
        RunLock.acquire(tmp_path)
    lock.release()  # here, not in the thread that took it
    assert lock_files(tmp_path) == []
    lock = RunLock.acquire(tmp_path)
    in_thread(lock.release)
    RunLock.acquire(tmp_path).release()


def test_checking_a_dead_run_takes_no_record_and_clears_what_it_left(tmp_path):
    (tmp_path / LOCK_FILE).write_text("")
    (tmp_path / OWNER_FILE).write_text(json.dumps({"pid": 999999, "host": HOST}))
    check_not_running(tmp_path)
    assert lock_files(tmp_path) == []
    check_not_running(tmp_path)
    assert lock_files(tmp_path) == [], "a check writes no owner record"


def test_the_holder_falls_back_to_metrics_json_then_to_unknown(tmp_path):
    from dlab.run.lock import holder

    assert holder(tmp_path) == "pid unknown"
    (tmp_path / "metrics.json").write_text(json.dumps({"process": {"pid": 12, "host": "elsewhere"}}))
    assert holder(tmp_path) == "pid 12 on elsewhere"
    (tmp_path / OWNER_FILE).write_text("{not json")
    assert holder(tmp_path) == "pid 12 on elsewhere"
    (tmp_path / OWNER_FILE).write_text(json.dumps({"pid": 34, "host": "here"}))
    assert holder(tmp_path) == "pid 34 on here"


def test_a_run_directory_that_cannot_hold_a_lock_is_a_usage_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    for bad in (tmp_path / "no-such-run", tmp_path / "a-file"):
        with pytest.raises(UsageError, match="cannot create the run lock") as refused:
            RunLock.acquire(bad, f"--resume {bad}")
        assert not isinstance(refused.value, RunStillRunning)
        assert str(refused.value).startswith(f"--resume {bad}: ")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"], "no folder is created"


# --------------------------------------------------------------------------- dataset-cache lock


@pytest.mark.subprocess
def test_the_dataset_lock_makes_another_process_wait_until_it_is_released(tmp_path):
    path, marker = tmp_path / "cache" / "mnist.lock", tmp_path / "marker"
    with file_lock(path):
        waiter = subprocess.Popen(
            [sys.executable, "-c", HOLD, "file", str(path), str(marker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3)  # ample for the child to start and reach the lock
            assert waiter.poll() is None and not marker.exists(), "the second process must wait"
        except BaseException:
            waiter.kill()
            raise
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and waiter.poll() is None:
        time.sleep(0.05)
    out, err = waiter.communicate("\n", timeout=60)
    assert marker.exists() and out == "locked\nreleased\n", (out, err)
    assert path.is_file(), "on POSIX the lock file stays: every waiter locks the same file"


@pytest.mark.subprocess
def test_a_dataset_lock_whose_holder_was_killed_blocks_nobody(tmp_path):
    path = tmp_path / "cache" / "mnist.lock"
    holder = hold("file", str(path), str(tmp_path / "marker"))
    holder.kill()
    holder.communicate(timeout=60)

    def take():
        with file_lock(path):
            return "taken"

    assert in_thread(take) == "taken"


def test_threads_of_one_process_take_the_dataset_lock_one_at_a_time(tmp_path):
    path, log = tmp_path / "mnist.lock", []

    def hold_briefly():
        with file_lock(path):
            log.append("start")
            time.sleep(0.2)
            log.append("end")

    threads = [threading.Thread(target=hold_briefly) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert log == ["start", "end"] * 3


def test_a_dataset_lock_that_cannot_be_created_lets_the_block_run(tmp_path, caplog):
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "mnist.lock"  # a file where the cache folder should be
    with caplog.at_level(logging.WARNING, logger="dlab.data.formats.cache"):
        with file_lock(path) as yielded:
            ran = yielded
    assert ran == path
    assert "going on without it" in caplog.text
