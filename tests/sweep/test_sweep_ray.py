"""dlab sweep --backend ray on a real local Ray (started by the sweep with ray.init, stopped after it)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from dlab import api
from dlab.errors import UsageError

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")

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


@pytest.mark.slow
def test_ray_sweep_writes_what_a_local_sweep_writes(tmp_path):
    import builtins

    before = builtins.print
    local = api.sweep(MEMBERS, jobs=2, out=tmp_path / "local")
    copied = api.sweep(MEMBERS, backend="ray", cpus_per_run=1, out=tmp_path / "ray")
    shared = api.sweep(MEMBERS, backend="ray", cpus_per_run=1, shared_fs=True, out=tmp_path / "shared")
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
        assert summary["backend"] == "ray"
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


@pytest.mark.slow
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
    result = api.sweep(["perceptron-and", str(slow)], backend="ray", out=tmp_path / "out")
    killer.join(timeout=5)
    assert len(kills) == 2, "the member ran twice: once, then once more after its worker died"
    statuses = {row["config"]: row for row in result.rows}
    assert statuses["perceptron-and"]["status"] == "completed"
    lost = statuses["slow-member"]
    assert lost["status"] == "failed" and "after one retry" in lost["error"]
    assert result.exit_code == 1


def test_ray_backend_without_ray_says_which_extra(monkeypatch, cli, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = cli("sweep", "perceptron-and", "--backend", "ray", "--out", str(tmp_path / "o"))
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
        "--backend",
        "ray",
        "--address",
        f"127.0.0.1:{port}",
        "--out",
        str(tmp_path / "o"),
    )
    assert result.exit_code == 2 and "nothing answers there" in result.output
    assert time.monotonic() - started < 30
    assert not (tmp_path / "o" / "sweeps").exists()


@pytest.mark.slow
def test_gpus_per_run_on_a_cluster_without_gpus_is_refused_before_queueing(tmp_path):
    with pytest.raises(UsageError, match="has 0 GPU"):
        api.sweep(["perceptron-and"], backend="ray", gpus_per_run=1, out=tmp_path)
    assert not (tmp_path / "sweeps").exists()


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(UsageError, match="allowed: local"):
        api.sweep(["perceptron-and"], backend="dask", out=tmp_path)
