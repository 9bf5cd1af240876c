"""dlab sweep --executor ray on a real local Ray (started by the sweep with ray.init, stopped after it)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from dlab import api
from dlab.errors import UsageError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="the [ray] extra is not installed"
)  # not importorskip: collecting the suite must not import Ray

MEMBERS = ["perceptron-and", "xor-mlp", "softmax-decoder", "linreg-scratch"]  # NumPy: deterministic, fast


def run_files(out: Path) -> dict[str, dict]:
    """config name -> {relative file names, test metrics} for every run under an outputs root."""
    found = {}
    for metrics_path in out.glob("*/*/metrics.json"):
        if metrics_path.parts[-3] == "sweeps":
            continue
        run_dir = metrics_path.parent
        files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
        metrics = json.loads(metrics_path.read_text())
        found[run_dir.parent.name] = {
            "files": files,
            "test": metrics.get("test"),
            "status": metrics["status"],
        }
    return found


@pytest.mark.engine
def test_ray_sweep_writes_what_a_local_sweep_writes(tmp_path):
    import builtins

    before = builtins.print
    local = api.sweep(MEMBERS, jobs=2, out=tmp_path / "local")
    copied = api.sweep(MEMBERS, executor="ray", cpus_per_run=1, out=tmp_path / "ray")
    shared = api.sweep(MEMBERS, executor="ray", cpus_per_run=1, shared_fs=True, out=tmp_path / "shared")
    assert local.exit_code == copied.exit_code == shared.exit_code == 0
    assert builtins.print is before  # Ray's print replacement does not outlive the sweep
    expected = run_files(tmp_path / "local")
    assert sorted(expected) == sorted(MEMBERS)
    for result, root in ((copied, "ray"), (shared, "shared")):
        got = run_files(tmp_path / root)
        assert got == expected, root
        assert [row["status"] for row in result.rows] == ["completed"] * 4
        assert all(Path(row["run_dir"]).is_relative_to(tmp_path / root) for row in result.rows)
        summary = json.loads((result.sweep_dir / "summary.json").read_text())
        assert summary["executor"] == "ray"
        assert sorted(p.name for p in (result.sweep_dir).iterdir()) == sorted(
            p.name for p in local.sweep_dir.iterdir()
        )


def _dlab_runs_of(marker: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of every `dlab run` process whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if " dlab run " in cmdline and marker in cmdline:
            found.append((int(entry.name), parent))
    return found


@pytest.mark.engine
def test_a_member_whose_task_dies_is_retried_once_then_recorded(tmp_path):
    slow = tmp_path / "slow-member.yaml"
    slow.write_text("extends: playground-mlp\nname: slow-member\ntrain: {epochs: 100000}\n")
    kills: list[int] = []

    def kill_the_task_twice() -> None:  # kill the Ray worker running the member (and its run)
        deadline = time.monotonic() + 240
        seen: set[int] = set()
        while len(kills) < 2 and time.monotonic() < deadline:
            for pid, parent in _dlab_runs_of("slow-member.yaml"):
                if parent in seen:
                    continue
                seen.add(parent)
                time.sleep(2)
                for victim in (pid, parent):
                    try:
                        os.kill(victim, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                kills.append(parent)
            time.sleep(0.5)

    killer = threading.Thread(target=kill_the_task_twice, daemon=True)
    killer.start()
    result = api.sweep(["perceptron-and", str(slow)], executor="ray", out=tmp_path / "out")
    killer.join(timeout=5)
    assert len(kills) == 2, "the member ran twice: once, then once more after its worker died"
    statuses = {row["config"]: row for row in result.rows}
    assert statuses["perceptron-and"]["status"] == "completed"
    lost = statuses["slow-member"]
    assert lost["status"] == "failed" and "after one retry" in lost["error"]
    assert lost["node"] and Path(lost["work_dir"]).name.startswith(f"dlab-ray-{result.sweep_dir.name}-002-")
    assert result.exit_code == 1
    for folder in Path(tempfile.gettempdir()).glob(f"dlab-ray-{result.sweep_dir.name}-*"):
        shutil.rmtree(folder)  # the lost attempts' working folders, which the row names


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _in_group(pgid: int) -> list[int]:
    """Live processes of a process group (the driver's: Ray's raylet, GCS and workers start in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _training_run_of(marker: str) -> Path | None:
    """The metrics.json of a member training in its Ray task's scratch folder, once it has one."""
    for pid, _ in _dlab_runs_of(marker):
        try:
            argv = (Path(f"/proc/{pid}") / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "--out" in argv:
            found = sorted(Path(argv[argv.index("--out") + 1]).glob("*/*/metrics.json"))
            if found:
                return found[0]
    return None


@pytest.mark.engine
@pytest.mark.parametrize("target", ["driver", "terminal"])  # kill -INT on the driver; Ctrl-C at a terminal
def test_ctrl_c_on_a_ray_sweep_cancels_its_tasks_and_leaves_the_summary(tmp_path, target):
    """The finished member is kept, the training one is interrupted (its files come back), the
    queued one never starts; exit 130, and nothing of Ray or of the runs is left running."""
    configs = []
    for name in ("slow-a", "slow-b"):
        configs.append(tmp_path / f"{name}.yaml")
        configs[-1].write_text(
            f"extends: logreg-scratch\nname: {name}\ntrain: {{epochs: 1000000, batch_size: 1}}\n"
        )
    marker = str(tmp_path)
    driver = subprocess.Popen(
        [sys.executable, "-m", "dlab", "sweep", "perceptron-and", *map(str, configs), "--executor", "ray"]
        + ["--cpus-per-run", "2", "--out", "out"],  # a 2-CPU Ray: one member at a time
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a shell gives a foreground job
    )
    try:
        deadline = time.monotonic() + 180
        training = None
        while time.monotonic() < deadline and driver.poll() is None:
            summaries = list((tmp_path / "out" / "sweeps").glob("*/summary.json"))
            rows = json.loads(summaries[0].read_text())["runs"] if summaries else []
            done = any(row["config"] == "perceptron-and" and row["status"] == "completed" for row in rows)
            training = _training_run_of(marker)
            if done and training is not None:
                break
            time.sleep(0.2)
        assert training is not None and driver.poll() is None, "no member training in time"
        time.sleep(1)  # well into its epochs
        if target == "driver":
            os.kill(driver.pid, signal.SIGINT)
        else:
            os.killpg(driver.pid, signal.SIGINT)
        stdout, stderr = driver.communicate(timeout=90)
        assert driver.returncode == 130, stdout + stderr
        (summary,) = (tmp_path / "out" / "sweeps").glob("*/summary.json")
        rows = {row["config"]: row for row in json.loads(summary.read_text())["runs"]}
        assert rows["perceptron-and"]["status"] == "completed"
        assert Path(rows["perceptron-and"]["run_dir"], "metrics.json").is_file()
        stopped = training.parts[-3]  # the member that was training
        queued = ({"slow-a", "slow-b"} - {stopped}).pop()
        assert rows[stopped]["status"] == "interrupted", rows[stopped]
        metrics = json.loads(Path(rows[stopped]["run_dir"], "metrics.json").read_text())  # copied back
        assert Path(rows[stopped]["run_dir"]).is_relative_to(tmp_path / "out")
        assert metrics["status"] == "interrupted" and "SIGINT" in metrics["error"]["message"]
        assert rows[queued]["status"] == "skipped" and "before it started" in rows[queued]["error"]
        assert "interrupted" in stdout and "skipped" not in stdout  # a run that never started is no line
        deadline = time.monotonic() + 30  # nothing keeps training, and the Ray it started is gone
        while (_dlab_runs_of(marker) or _in_group(driver.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _dlab_runs_of(marker) and not _alive(metrics["process"]["pid"])
        assert not _in_group(driver.pid)
    finally:
        for pid in [driver.pid, *_in_group(driver.pid), *(pid for pid, _ in _dlab_runs_of(marker))]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        driver.communicate()


def test_ray_backend_without_ray_says_which_extra(monkeypatch, cli, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = cli("sweep", "perceptron-and", "--executor", "ray", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "dlab[ray]" in result.output
    assert not (tmp_path / "o").exists()


def test_an_unreachable_address_is_reported_within_30_seconds(cli, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = cli(
        "sweep",
        "perceptron-and",
        "--executor",
        "ray",
        "--address",
        f"127.0.0.1:{port}",
        "--out",
        str(tmp_path / "o"),
    )
    assert result.exit_code == 2 and "nothing answers there" in result.output
    assert time.monotonic() - started < 30
    assert not (tmp_path / "o" / "sweeps").exists()


@pytest.mark.engine
def test_gpus_per_run_on_a_cluster_without_gpus_is_refused_before_queueing(tmp_path):
    with pytest.raises(UsageError, match="has 0 GPU"):
        api.sweep(["perceptron-and"], executor="ray", gpus_per_run=1, out=tmp_path)
    assert not (tmp_path / "sweeps").exists()


def test_an_unknown_executor_is_refused(tmp_path):
    with pytest.raises(UsageError, match="allowed: local"):
        api.sweep(["perceptron-and"], executor="dask", out=tmp_path)
    with pytest.raises(UsageError, match="Allowed: auto, tensorflow, jax, torch"):
        api.sweep(["perceptron-and"], backend="dask", out=tmp_path)
