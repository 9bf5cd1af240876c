"""Ray's processes never outlive the dlab process that started them, however it ends.

``ray.init()`` starts Ray on this machine as children of the calling process: the GCS and
the raylet die with it (Ray asks the kernel for that), but the raylet's own children, the
dashboard agent and the runtime-env agent, only notice a minute or more later (they first
try to report the raylet's death to a GCS that is gone). After a ``kill -9`` of a sweep
they lived on for 1 to 2.5 minutes, holding ports and memory.

So when dlab starts a local Ray it also starts this small watcher, in a session of its own
(a terminal's Ctrl-C or a scheduler's signal to the job does not reach it). It holds the
read end of a pipe whose write end only the starter holds, and every half second it notes
which of the starter's descendants are Ray's (started from Ray's package folder, or named
``ray::...``; not dlab's own runs, which stop themselves when their parent dies). When the
pipe reaches its end (the starter closed it after ``ray.shutdown()``, or died) it sends
each of those still alive SIGTERM, and SIGKILL after :data:`GRACE_S`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 3.0
"""How long Ray's processes get after SIGTERM before SIGKILL."""
WATCH_INTERVAL_S = 0.5


class Reaper:
    """The watcher of one local Ray, seen from the process that started it."""

    def __init__(self, process: subprocess.Popen, write_end: int) -> None:
        self.process = process
        self.write_end: int | None = write_end

    @classmethod
    def start(cls, package_dir: str) -> Reaper:
        """Start the watcher of this process's Ray processes (``package_dir``: Ray's package folder)."""
        read_end, write_end = os.pipe()  # neither end inheritable: stdin= hands the read end over
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "dlab.scaleout.reaper", str(os.getpid()), package_dir],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        return cls(process, write_end)

    def stop(self) -> None:
        """Close the pipe (the watcher ends what Ray left) and wait for the watcher."""
        if self.write_end is not None:
            os.close(self.write_end)
            self.write_end = None
        try:
            self.process.wait(timeout=GRACE_S + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --------------------------------------------------------------------------- the watcher process


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def ray_descendants(root: int, package_dir: str) -> dict[int, int]:
    """Ray's processes below ``root``: pid -> start time.

    A process counts when one of its arguments lies in Ray's package folder (the GCS, the
    raylet, the monitors, a worker before it renames itself) or its name starts with
    ``ray::`` (workers and agents). The walk does not go below anything else: a dlab run
    started by a Ray task is the task's, and stops itself when its parent dies.
    """
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
                started[int(entry)] = stat[1]
    found: dict[int, int] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        argv = _argv(pid)
        ours = argv and (argv[0].startswith("ray::") or any(arg.startswith(package_dir) for arg in argv))
        if ours and pid != os.getpid():  # not this watcher, whose arguments name the folder too
            found[pid] = started[pid]
            stack.extend(children.get(pid, []))
    return found


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] == started  # the same process, not a reused pid


def end_processes(processes: dict[int, int], grace_s: float = GRACE_S) -> None:
    """SIGTERM each process still alive, then SIGKILL what is left after ``grace_s``."""
    for number in (signal.SIGTERM, signal.SIGKILL):
        for pid, started in processes.items():
            if _alive(pid, started):
                with contextlib.suppress(OSError):
                    os.kill(pid, number)
        deadline = time.monotonic() + grace_s
        while any(_alive(pid, started) for pid, started in processes.items()):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)


def watch(owner: int, package_dir: str) -> None:
    """Note the owner's Ray processes until stdin ends or the owner is gone; then end them."""
    owner_stat = _stat(owner)
    seen: dict[int, int] = {}
    while owner_stat is not None and _alive(owner, owner_stat[1]):
        seen = ray_descendants(owner, package_dir)
        readable, _, _ = select.select([0], [], [], WATCH_INTERVAL_S)
        if readable and not os.read(0, 4096):
            break
    end_processes(seen)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the pipe's end stops the watch
    watch(int(sys.argv[1]), sys.argv[2])
