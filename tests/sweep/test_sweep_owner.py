"""A sweep folder tells who runs it and, once its driver is gone, which members were running and where.

No Ray here: the folder is written as a sweep writes it (summary.json, the lock), and the lock is
a real kernel lock, held by this process or by nobody.
"""

from __future__ import annotations

import json
import os
import socket

from dlab.sweep.owner import LOCK_FILE, SweepLock, describe, driver_alive


def _sweep_folder(tmp_path, rows, finished_at=None):
    folder = tmp_path / "sweeps" / "grid-20261206-101500-ab12cd"
    (folder / "logs").mkdir(parents=True)
    header = {"sweep": "grid", "driver": {"pid": 4242, "host": "node-a"}, "finished_at": finished_at}
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    (folder / "summary.json").write_text(json.dumps({**header, "counts": counts, "runs": rows}))
    return folder


def _row(index, status, **places):
    return {"index": index, "config": "mlp", "overrides": [f"seed={index}"], "status": status, **places}


def test_a_running_sweep_is_told_by_its_lock(tmp_path):
    folder = _sweep_folder(tmp_path, [])
    lock = SweepLock(folder)
    assert lock.owner == {"pid": os.getpid(), "host": socket.gethostname()}
    assert driver_alive(folder) and "still running (pid 4242 on node-a)" in describe(folder)
    lock.release()
    assert not (folder / LOCK_FILE).exists() and not driver_alive(folder)


def test_a_killed_sweep_names_its_running_members_and_their_files(tmp_path, cli):
    run_dir = tmp_path / "scratch" / "mlp" / "20261206-101501-aaaaaa"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"status": "interrupted"}))
    rows = [
        _row(1, "running", node="node-b", work_dir=str(tmp_path / "scratch"), run_dir=str(run_dir)),
        _row(2, "running", node="node-b", work_dir="/tmp/dlab-ray-x-002-abc", run_dir=None),
        _row(3, "completed", run_dir=None),
        _row(4, "pending"),
    ]
    folder = _sweep_folder(tmp_path, rows)
    (folder / LOCK_FILE).write_text("")  # left by the killed driver; nobody holds it
    text = describe(folder)
    assert "(pid 4242 on node-a) ended without finishing" in text and "2 member(s) were running" in text
    assert f"#1 mlp seed=1 on node-b: its run is {run_dir} (its metrics.json says interrupted)" in text
    assert "#2 mlp seed=2 on node-b: it worked in /tmp/dlab-ray-x-002-abc (no run directory yet)" in text
    assert "#3" not in text and "#4" not in text
    assert not (folder / LOCK_FILE).exists()  # the stale lock file is cleared
    result = cli("sweep", str(folder))
    assert result.exit_code == 2
    assert "is a sweep folder, not a config or study" in result.output and "dlab compare" in result.output


def test_a_finished_sweep_says_when(tmp_path):
    folder = _sweep_folder(tmp_path, [_row(1, "completed")], finished_at="2026-12-06T10:20:00")
    assert describe(folder) == "its sweep finished at 2026-12-06T10:20:00 (1 completed)"
