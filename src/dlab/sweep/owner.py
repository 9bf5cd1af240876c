"""Who runs a sweep folder, and whether it still does: the sweep's lock.

A sweep holds an exclusive lock on ``SWEEP_DIR/.dlab-sweep.lock`` while it runs, and its
summary.json names the holder (``driver``: pid and host). The kernel drops the lock when
the process dies, however it dies, so a summary with no ``finished_at`` whose lock nobody
holds belongs to a sweep that was killed (``kill -9``, the out-of-memory killer, a power
cut). Its rows still say which members were ``running`` and where their files are
(``node``, ``work_dir``, ``run_dir``): :func:`describe` says it in words, for ``dlab sweep
SWEEP_DIR``. A pid alone could not tell: it may have been reused by then.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from dlab.fileio import read_json_object

LOCK_FILE = ".dlab-sweep.lock"


class SweepLock:
    """The lock a running sweep holds on its folder (taken once, when the folder is new)."""

    def __init__(self, sweep_dir: Path) -> None:
        self.path = sweep_dir / LOCK_FILE
        self.owner = {"pid": os.getpid(), "host": socket.gethostname()}
        self._lock: FileLock | None = FileLock(self.path, thread_local=False, is_singleton=False)
        try:
            self._lock.acquire(blocking=False)  # a new folder: nobody else can hold it
        except OSError:  # a filesystem without locks: the sweep runs, unlocked
            self._lock = None

    def release(self) -> None:
        """Remove the lock file while still holding it, then unlock (a finished sweep keeps none)."""
        lock, self._lock = self._lock, None
        if lock is None or os.getpid() != self.owner["pid"]:
            return
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        lock.release()


def driver_alive(sweep_dir: Path) -> bool:
    """Whether a live process holds the sweep's lock (without taking it for long)."""
    path = sweep_dir / LOCK_FILE
    if not path.is_file():
        return False
    probe = FileLock(path, thread_local=False, is_singleton=False)
    try:
        probe.acquire(blocking=False)
    except Timeout:
        return True
    except OSError:
        return False
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)  # left by a killed sweep
    probe.release()
    return False


def describe(sweep_dir: Path) -> str:
    """The state of a sweep folder in words: running, finished, or killed with its members' files."""
    summary = read_json_object(sweep_dir / "summary.json") or {}
    driver = summary.get("driver") if isinstance(summary.get("driver"), dict) else {}
    who = f"pid {driver.get('pid', '?')} on {driver.get('host', '?')}"
    rows = [row for row in summary.get("runs") or [] if isinstance(row, dict)]
    if driver_alive(sweep_dir):
        return f"its sweep is still running ({who})"
    if summary.get("finished_at"):
        counts = ", ".join(f"{n} {status}" for status, n in (summary.get("counts") or {}).items())
        return f"its sweep finished at {summary['finished_at']} ({counts})"
    running = [row for row in rows if row.get("status") == "running"]
    lines = [
        f"its sweep ({who}) ended without finishing (killed?); "
        f"{len(running)} member(s) were running when it stopped"
    ]
    lines += [f"  {_member_files(row)}" for row in running]
    return "\n".join(lines)


def _member_files(row: dict[str, Any]) -> str:
    """Where a member that was running left its files, and what its run says about itself."""
    label = " ".join([str(row.get("config")), *map(str, row.get("overrides") or [])])
    node = f" on {row['node']}" if row.get("node") else ""
    if row.get("run_dir"):
        metrics = read_json_object(Path(row["run_dir"]) / "metrics.json") or {}
        status = f" (its metrics.json says {metrics['status']})" if metrics.get("status") else ""
        return f"#{row.get('index')} {label}{node}: its run is {row['run_dir']}{status}"
    if row.get("work_dir"):
        return f"#{row.get('index')} {label}{node}: it worked in {row['work_dir']} (no run directory yet)"
    return f"#{row.get('index')} {label}: it had not reported where it runs"
