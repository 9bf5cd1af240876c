"""Faults around a Ray sweep's driver, on a real local Ray started by dlab: SIGTERM, ``kill -9``, and
where that Ray listens.

Each test starts the sweep through the CLI (``python -m dlab sweep ... --executor ray``) with
NumPy members that train for ever (one sample per batch), waits until the summary says both
are ``running`` and where, then hits the driver. Nothing is mocked: the signals are real, and
so are Ray's processes, which each test finds (and, should a check fail, kills) by walking the
driver's descendants.
"""

from __future__ import annotations

import builtins
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dlab.scaleout.reaper import ray_descendants

_RAY = importlib.util.find_spec("ray")
pytestmark = pytest.mark.skipif(_RAY is None, reason="the [ray] extra is not installed")
# Ray's package folder, found without importing Ray (collecting the suite must not start it).
RAY_DIR = os.path.dirname(_RAY.origin) if _RAY else ""

STARTED_BOUND_S = 240
"""Ray's start and both members' first epochs (minutes on a loaded 2-core machine, seconds elsewhere)."""
STOP_BOUND_S = 60
"""SIGTERM to exit: the members stop at their next batch and write their files, which come back."""
REAP_BOUND_S = 30
"""kill -9 to nothing left: Ray's processes, and the members, which record themselves first."""


def _members(tmp_path: Path, count: int = 3) -> list[str]:
    """``count`` NumPy configs that train until stopped (one sample per batch: a batch is short)."""
    paths = []
    for n in range(1, count + 1):
        path = tmp_path / f"forever-{n}.yaml"
        path.write_text(
            f"extends: logreg-scratch\nname: forever-{n}\ntrain: {{epochs: 1000000, batch_size: 1}}\n"
        )
        paths.append(str(path))
    return paths


def _start_driver(tmp_path: Path) -> subprocess.Popen:
    """A Ray sweep of 3 members on this machine's 2 CPUs: two train, one waits in Ray's queue.

    Started as a shell starts a background job (``dlab sweep ... &``): in a session of its own,
    with SIGINT ignored, which every process it starts inherits unless dlab sees to it.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "dlab", "sweep", *_members(tmp_path), "--executor", "ray"]
        + ["--cpus-per-run", "1", "--out", "out"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509 - as a shell does
    )


def _summary(tmp_path: Path) -> tuple[Path | None, dict]:
    found = sorted((tmp_path / "out" / "sweeps").glob("*/summary.json"))
    if not found:
        return None, {}
    return found[0].parent, json.loads(found[0].read_text())


def _wait_until_both_train(tmp_path: Path, driver: subprocess.Popen) -> tuple[Path, list[dict]]:
    """The sweep folder and the two running rows, once each names a run directory that has begun
    its epochs (the summary is the only place the test learns where the members are)."""
    deadline = time.monotonic() + STARTED_BOUND_S
    while time.monotonic() < deadline and driver.poll() is None:
        sweep_dir, summary = _summary(tmp_path)
        running = [row for row in summary.get("runs", []) if row["status"] == "running"]
        if len(running) == 2 and all(_training(row["run_dir"]) for row in running):
            return sweep_dir, running
        time.sleep(0.3)
    _, summary = _summary(tmp_path)
    pytest.fail(f"the members did not both start training in time: {summary.get('runs')}")


def _training(run_dir: str | None) -> bool:
    """Whether the run has finished an epoch (its run.log says so)."""
    try:
        return run_dir is not None and "Epoch " in Path(run_dir, "run.log").read_text()
    except OSError:
        return False


def _clean_up(ray_processes, driver, tmp_path) -> None:
    """Teardown of a driver test: every Ray process it started, the driver, the scratch folders."""
    _kill_all(ray_processes)
    if driver.poll() is None:
        driver.kill()
        driver.communicate()
    _remove_scratch(tmp_path)


def _remove_scratch(tmp_path: Path) -> None:
    """The working folders a stopped or killed sweep's tasks left in the temporary folder."""
    sweep_dir, _ = _summary(tmp_path)
    if sweep_dir is not None:
        for folder in Path(tempfile.gettempdir()).glob(f"dlab-ray-{sweep_dir.name}-*"):
            shutil.rmtree(folder, ignore_errors=True)


def _gone(pids: dict[int, int], bound_s: float) -> list[int]:
    """The processes (pid -> start time) still alive after at most ``bound_s`` seconds."""
    deadline = time.monotonic() + bound_s
    while True:
        alive = [pid for pid, started in pids.items() if _start_time(pid) == started]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


def _start_time(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def _kill_all(pids: dict[int, int]) -> None:
    for pid, started in pids.items():
        if _start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.engine
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_to_a_ray_sweep_driver_stops_it_like_ctrl_c(tmp_path):
    """SIGTERM does what Ctrl-C does: the training members stop at a batch boundary and their runs
    land in --out as ``interrupted``, the queued one is ``skipped``, the summary is final, the
    driver exits 143 within STOP_BOUND_S, and no Ray process outlives it. Before, Ray's own SIGTERM
    handler ended the driver at once (exit 1, "*** SIGTERM received ... PC: @"), nothing landed,
    and the rows stayed ``pending``."""
    driver = _start_driver(tmp_path)
    ray_processes: dict[int, int] = {}
    try:
        sweep_dir, running = _wait_until_both_train(tmp_path, driver)
        ray_processes = ray_descendants(driver.pid, RAY_DIR)
        members = {row["pid"]: _start_time(row["pid"]) for row in running}
        time.sleep(1)  # a few epochs in
        driver.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        stdout, stderr = driver.communicate(timeout=STOP_BOUND_S)
        took = time.monotonic() - sent
        print(f"SIGTERM to exit: {took:.1f} s")
        assert driver.returncode == 143, stdout + stderr
        assert "SIGTERM received at time" not in stderr  # Ray's crash handler no longer has the signal
        assert took < STOP_BOUND_S
        summary = json.loads((sweep_dir / "summary.json").read_text())
        assert summary["finished_at"] and not (sweep_dir / ".dlab-sweep.lock").exists()
        rows = {row["config"]: row for row in summary["runs"]}
        trained = {row["config"] for row in running}
        for name in trained:  # every member that trained is recorded, with its files here
            row = rows[name]
            assert row["status"] == "interrupted", row
            run_dir = Path(row["run_dir"])
            assert run_dir.is_relative_to(tmp_path / "out")
            metrics = json.loads((run_dir / "metrics.json").read_text())
            assert metrics["status"] == "interrupted" and metrics["epochs_run"] >= 1
            assert len((run_dir / "history.csv").read_text().splitlines()) == metrics["epochs_run"] + 1
        (queued,) = set(rows) - trained
        assert rows[queued]["status"] == "skipped"
        assert "interrupted" in stdout
        assert _gone({**ray_processes, **members}, 15) == []
        assert not list(Path(tempfile.gettempdir()).glob(f"dlab-ray-{sweep_dir.name}-*"))  # scratch removed
    finally:
        _clean_up(ray_processes, driver, tmp_path)


@pytest.mark.engine
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_a_ray_sweep_driver_leaves_no_ray_process_and_says_where_members_are(tmp_path, cli):
    """After ``kill -9`` of the driver: every Ray process it started is gone within REAP_BOUND_S
    (the dashboard and runtime-env agents lived on for minutes), each training member got SIGTERM
    and recorded itself ``interrupted`` in its working folder, the summary still says which members
    were running and where (rows are saved ``running`` as their tasks start, with node, pid, working
    folder and run directory), and ``dlab sweep SWEEP_DIR`` tells that the driver is gone."""
    driver = _start_driver(tmp_path)
    ray_processes: dict[int, int] = {}
    try:
        sweep_dir, running = _wait_until_both_train(tmp_path, driver)
        ray_processes = ray_descendants(driver.pid, RAY_DIR)
        names = {Path(argv).name for pid in ray_processes for argv in _argv(pid)[:1]}
        assert {"gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names
        members = {row["pid"]: _start_time(row["pid"]) for row in running}
        time.sleep(1)
        driver.kill()
        driver.communicate()
        killed = time.monotonic()
        assert _gone({**ray_processes, **members}, REAP_BOUND_S) == []
        print(f"kill -9 to no Ray process or member left: {time.monotonic() - killed:.1f} s")
        summary = json.loads((sweep_dir / "summary.json").read_text())
        assert summary["finished_at"] is None and summary["driver"]["pid"] == driver.pid
        rows = [row for row in summary["runs"] if row["status"] == "running"]
        assert len(rows) == 2 and {row["pid"] for row in rows} == set(members)
        for row in rows:
            assert row["node"] and Path(row["run_dir"]).is_relative_to(row["work_dir"])
            metrics = json.loads(Path(row["run_dir"], "metrics.json").read_text())
            assert metrics["status"] == "interrupted" and "SIGTERM" in metrics["error"]["message"]
        assert [row["status"] for row in summary["runs"]].count("pending") == 1  # never started
        result = cli("sweep", str(sweep_dir))
        assert result.exit_code == 2
        assert f"pid {driver.pid}" in result.output and "ended without finishing" in result.output
        assert all(row["run_dir"] in result.output.replace("\n", "") for row in rows)
    finally:
        _clean_up(ray_processes, driver, tmp_path)


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _listening(pids: set[int]) -> list[tuple[int, str]]:
    """(pid, local address) of every listening TCP socket the processes hold, from /proc."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address = fields[1].split(":")[0]
                assert len(address) == width
                found.append((inodes[fields[9]], _address(address)))
    return found


def _address(hex_address: str) -> str:
    """/proc/net's little-endian hex address as text (IPv6 shown as its four 32-bit words)."""
    words = [bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, len(hex_address), 8)]
    if len(words) == 1:
        return ".".join(str(b) for b in words[0])
    if words[:2] == [b"\0" * 4] * 2 and words[2] == b"\0\0\xff\xff":  # an IPv4-mapped address
        return "::ffff:" + ".".join(str(b) for b in words[3])
    return ":".join(word.hex() for word in words)


@pytest.mark.engine
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_ray_started_by_dlab_listens_on_loopback_only_and_ends_with_its_shutdown():
    """Every listening socket of the Ray dlab starts (GCS, raylet, agents, workers, this driver)
    is on 127.0.0.1; before, Ray's gRPC servers listened on every interface and the agents on the
    machine's address. The caller's SIGTERM handler survives ``ray.init``, and shutdown leaves no
    Ray process (nor its reaper) behind."""
    from dlab.scaleout.cluster import RayOptions, connect, shutdown

    def mine(number, frame):  # pragma: no cover - never called
        pass

    saved_print = builtins.print
    previous = signal.signal(signal.SIGTERM, mine)
    processes: dict[int, int] = {}
    try:
        started = connect(RayOptions())
        try:
            assert signal.getsignal(signal.SIGTERM) is mine
            worker_pid = started.remote(num_cpus=0)(lambda: os.getpid())
            assert started.get(worker_pid.remote(), timeout=120) != os.getpid()
            processes = ray_descendants(os.getpid(), RAY_DIR)
            listening = _listening({os.getpid(), *processes})
            assert len({pid for pid, _ in listening}) >= 3, listening  # GCS, raylet, worker at least
            assert all(address in ("127.0.0.1", "::ffff:127.0.0.1") for _, address in listening), listening
        finally:
            shutdown(started, saved_print)
        assert _gone(processes, 10) == []
    finally:
        signal.signal(signal.SIGTERM, previous)
        _kill_all(processes)
