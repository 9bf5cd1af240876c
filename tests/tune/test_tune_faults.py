"""Distributed tune under faults: real chiefs and workers (``python -m dlab tune``) on 127.0.0.1,
real SIGKILL / SIGTERM / SIGINT. Every wait has a deadline and every process is killed at the end.

What each test holds a search to (docs/reliability.md, distributed tune):

* a worker killed mid-trial: the chief notices within ``--worker-timeout``, hands the trial to
  the other worker, and the search ends with every trial recorded;
* a worker stopped by SIGTERM: it exits 143 with its scratch folder removed, and the chief gives
  its trial to the other worker at once;
* a chief killed: its workers leave within their ``--connect-timeout`` with one clear message,
  their scratch folders removed;
* a chief stopped by SIGTERM or SIGINT: it ends within seconds (``interrupted``, its gRPC server
  stopped), and its workers leave at once;
* a chief started without ``--bind`` listens on 127.0.0.1 only, before and while it serves.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")]

WORKER_TIMEOUT = 8
"""The chief's --worker-timeout here: 4 missed heartbeats (the default is 60 s)."""
CONNECT_TIMEOUT = 8
"""The workers' --connect-timeout here: how long they wait for a silent chief."""
TRIALS = 3
# 3 trials of 6 epochs of 400 batches (2,000 synthetic images, 20% for validation, batch 4): a
# trial lasts several seconds, long enough to be stopped in the middle of it
SEARCH = (
    "tune-mnist-mlp",
    "--smoke",
    "--max-trials",
    str(TRIALS),
    "--epochs",
    "6",
    "--batch-size",
    "4",
    "--device",
    "cpu",
    "--no-save",
    "--set",
    "data.train_samples=2000",
    "--set",
    "data.test_samples=40",
    "--set",
    "model.retrain_epochs=1",  # the chief retrains the best config (no --shared-dir): briefly
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Search:
    """A chief and its workers as processes, their logs in ``tmp_path``; :meth:`close` kills them all."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.out = tmp_path / "out"
        self.scratch = tmp_path / "scratch"  # the workers' TMPDIR: their scratch folders go here
        self.scratch.mkdir()
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, scratch: bool = True) -> subprocess.Popen:
        """``dlab tune SEARCH ARGS`` as ``name``; ``scratch``: with TMPDIR in :attr:`scratch` (not
        for Ray, whose socket paths would grow too long)."""
        env = {
            **os.environ,
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            **({"TMPDIR": str(self.scratch)} if scratch else {}),
        }
        with open(self.tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "dlab", "tune", *SEARCH, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.processes[name] = process
        return process

    def chief(self, *args: str) -> subprocess.Popen:
        flags = ("--chief", "--port", str(self.port), "--worker-timeout", str(WORKER_TIMEOUT))
        return self.start("chief", *flags, "--out", str(self.out), *args)

    def worker(self, number: int) -> subprocess.Popen:
        address = f"127.0.0.1:{self.port}"
        timeout = ("--connect-timeout", str(CONNECT_TIMEOUT))
        return self.start(f"worker{number}", "--worker", str(number), "--chief-address", address, *timeout)

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def wait_for(self, name: str, text: str, seconds: float) -> None:
        """Wait until ``text`` is in ``name``'s log (it must not have exited first)."""
        deadline = time.monotonic() + seconds
        while text not in self.log(name):
            assert self.processes[name].poll() is None, f"{name} exited:\n{self.log(name)[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in {name}'s log:\n{self.log(name)[-3000:]}"
            time.sleep(0.2)

    def wait_exit(self, name: str, seconds: float) -> int:
        try:
            return self.processes[name].wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} still running after {seconds} s:\n{self.log(name)[-3000:]}")

    def run_dir(self) -> Path:
        (run,) = self.out.glob("tune-mnist-mlp/*/")
        return run

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def searches(tmp_path):
    """Make :class:`Search` objects (one folder each); every process they started is killed at the end."""
    made: list[Search] = []

    def make(name: str = "search") -> Search:
        folder = tmp_path / name
        folder.mkdir()
        made.append(Search(folder))
        return made[-1]

    try:
        yield make
    finally:
        for search in made:
            search.close()


@pytest.fixture
def search(searches):
    return searches()


def trial_lines(log: str, prefix: str, status: str = "COMPLETED") -> list[int]:
    """The trial numbers of ``prefix ... trial N STATUS`` lines."""
    return [
        int(line.split(" trial ")[1].split()[0])
        for line in log.splitlines()
        if line.startswith(prefix) and " trial " in line and f" {status}" in line
    ]


def listening(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port`` (IPv4 and IPv6), from /proc."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def test_a_worker_killed_mid_trial_is_handed_over_and_the_search_ends(search):
    """kill -9 of worker 1 in the middle of its trial: the chief notices within --worker-timeout and
    hands the trial to worker 2 (or, where worker 2 had already been told the search is over, fails
    it with the reason), and the search ends with every trial recorded (before, the chief waited
    forever with the trial RUNNING and metrics.json ``running``)."""
    search.chief()
    search.worker(1)
    search.worker(2)
    search.wait_for("worker1", "Epoch 3/6", 240)
    search.processes["worker1"].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    search.wait_exit("worker1", 10)
    bound = WORKER_TIMEOUT + 120  # the loss is noticed, then worker 2 runs up to 3 trials of seconds
    assert search.wait_exit("chief", bound) == 0, search.log("chief")[-3000:]
    took = time.monotonic() - killed
    assert search.wait_exit("worker2", 30) == 0, search.log("worker2")[-3000:]
    assert not list(search.scratch.glob("dlab-tune-worker2-*"))  # (kill -9 leaves worker 1's behind)

    (lost_line,) = [line for line in search.log("chief").splitlines() if "worker worker1 is lost" in line]
    assert "no sign of life for" in lost_line, lost_line
    rows = list(csv.DictReader((search.run_dir() / "trials.csv").open()))
    assert [int(row["trial"]) for row in rows] == list(range(1, TRIALS + 1))
    metrics = json.loads((search.run_dir() / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    (lost,) = metrics["tuner"]["lost_workers"]
    assert lost["worker"] == "worker1" and lost["outcome"] in ("handed over", "failed"), lost
    ran_by_worker2 = trial_lines(search.log("worker2"), "dlab: worker worker2")
    finished = trial_lines(search.log("worker1"), "dlab: worker worker1") + ran_by_worker2
    completed = sorted(int(row["trial"]) for row in rows if row["status"] == "COMPLETED")
    assert completed == sorted(finished)  # every trial a worker finished is recorded as it ended
    if lost["outcome"] == "handed over":  # worker 2 ran the lost trial again
        assert f"its trial {lost['trial']} goes to the next worker" in lost_line
        assert lost["trial"] in ran_by_worker2 and completed == list(range(1, TRIALS + 1))
    else:
        (failed,) = [row for row in rows if row["status"] != "COMPLETED"]
        assert int(failed["trial"]) == lost["trial"] and failed["status"] == "FAILED"
        assert "lost with worker worker1 (no sign of life" in failed["error"]
    assert metrics["tuner"]["trials"]["total"] == TRIALS
    print(f"the search ended {took:.1f} s after the kill; worker 1's trial was {lost['outcome']}")


def test_a_stopped_worker_hands_its_trial_back_and_workers_leave_a_killed_chief(search):
    """A chief started without --bind listens on 127.0.0.1 only. SIGTERM to worker 2 mid-trial: it
    exits 143 with its scratch folder gone (before, SIGTERM's default action left it behind) and
    tells the chief, which gives its trial to worker 1 at once. Then kill -9 of the chief: worker 1
    leaves within its --connect-timeout with one clear message, its scratch folder gone (before, it
    trained on, then waited in keras-tuner's get_trial for up to an hour)."""
    search.chief()
    search.worker(1)
    search.worker(2)
    search.wait_for("chief", "serving the search", 240)
    assert listening(search.port) == {"127.0.0.1"}
    search.wait_for("worker2", "Epoch 2/6", 240)
    search.processes["worker2"].send_signal(signal.SIGTERM)
    assert search.wait_exit("worker2", 20) == 143, search.log("worker2")[-3000:]
    assert "interrupted: stopped by SIGTERM" in search.log("worker2")
    assert not list(search.scratch.glob("dlab-tune-worker2-*"))
    search.wait_for("chief", "worker worker2 is lost (it left the search: stopped by SIGTERM)", 10)

    search.wait_for("worker1", "Epoch 2/6", 120)
    search.processes["chief"].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    assert search.wait_exit("worker1", CONNECT_TIMEOUT + 20) == 1, search.log("worker1")[-3000:]
    took = time.monotonic() - killed
    message = search.log("worker1")
    assert "error: worker worker1: the chief at 127.0.0.1" in message
    assert "stopped answering" in message and "leaving the search" in message
    assert "Traceback" not in message
    assert not list(search.scratch.glob("dlab-tune-worker1-*"))
    assert took < CONNECT_TIMEOUT + 20
    print(f"worker 1 left {took:.1f} s after the chief was killed")


def test_a_serving_chief_ends_on_sigterm_or_sigint_within_seconds(searches):
    """Two chiefs serve, one with a worker training: SIGTERM to it and SIGINT to the other end each
    within seconds (143 / 130, interrupted, the running trial INTERRUPTED, the port closed), and the
    worker leaves at once (before, a chief printed "stopping at the end of the current batch" and
    served on). Before it serves, a chief's port answers on 127.0.0.1 only."""
    terminated, interrupted = searches("sigterm"), searches("sigint")
    terminated.chief()
    terminated.worker(1)
    interrupted.chief()
    deadline = time.monotonic() + 120
    while not listening(interrupted.port):  # a chief answers on its port from its first seconds
        assert interrupted.processes["chief"].poll() is None, interrupted.log("chief")
        assert time.monotonic() < deadline, interrupted.log("chief")
        time.sleep(0.2)
    assert listening(interrupted.port) == {"127.0.0.1"}
    interrupted.wait_for("chief", "serving the search", 240)
    terminated.wait_for("worker1", "Epoch 2/6", 240)
    for search, stop in ((terminated, signal.SIGTERM), (interrupted, signal.SIGINT)):
        search.processes["chief"].send_signal(stop)
        sent = time.monotonic()
        assert search.wait_exit("chief", 30) == 128 + stop, search.log("chief")[-3000:]
        took = time.monotonic() - sent
        metrics = json.loads((search.run_dir() / "metrics.json").read_text())
        assert metrics["status"] == "interrupted", metrics.get("error")
        assert f"interrupted by {stop.name} at the chief" in metrics["error"]["message"]
        assert listening(search.port) == set()
        assert took < 15
        print(f"the chief ended {took:.1f} s after {stop.name}")
    assert terminated.wait_exit("worker1", 15) == 1, terminated.log("worker1")[-3000:]
    assert "stopped the search (interrupted by SIGTERM at the chief" in terminated.log("worker1")
    assert not list(terminated.scratch.glob("dlab-tune-worker1-*"))
    rows = list(csv.DictReader((terminated.run_dir() / "trials.csv").open()))
    assert "INTERRUPTED" in {row["status"] for row in rows}, rows


def processes_with(*words: str) -> list[int]:
    """The pids whose command line holds every one of ``words`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if all(word.encode() in argv for word in words):
                found.append(int(entry.name))
    return found


def test_a_ray_worker_process_killed_mid_trial_does_not_hold_the_search(search):
    """``--executor ray --workers 2``: kill -9 of one worker task's process (Ray does not retry it:
    the task itself returns) in the middle of a trial; the chief hands that trial on or fails it
    after --worker-timeout, and the search ends with every trial recorded."""
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    search.start(
        "chief",
        "--executor",
        "ray",
        "--workers",
        "2",
        "--port",
        str(search.port),
        "--worker-timeout",
        str(WORKER_TIMEOUT),
        "--out",
        str(search.out),
        scratch=False,
    )
    search.wait_for("chief", "Search: Running Trial #2", 300)  # both workers train
    time.sleep(1)
    address = f"127.0.0.1:{search.port}"
    (pid,) = processes_with("--worker", "ray-1", address)
    os.kill(pid, signal.SIGKILL)
    assert search.wait_exit("chief", WORKER_TIMEOUT + 150) == 0, search.log("chief")[-3000:]
    chief = search.log("chief")
    assert "worker ray-1 is lost (no sign of life for" in chief
    assert "a Ray worker ended with exit code -9" in chief
    rows = list(csv.DictReader((search.run_dir() / "trials.csv").open()))
    assert [int(row["trial"]) for row in rows] == list(range(1, TRIALS + 1))
    metrics = json.loads((search.run_dir() / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    (lost,) = metrics["tuner"]["lost_workers"]
    assert lost["worker"] == "ray-1" and lost["outcome"] in ("handed over", "failed", None), lost
    assert processes_with(address) == []  # no worker left behind
