"""Leaving a process without Python's teardown (dlab.cli.leave), in real subprocesses with TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = """
import atexit, sys, threading, time
import tensorflow  # what makes the teardown slow
from dlab.cli.leave import leave

atexit.register(lambda: open(sys.argv[1] + "/atexit", "w").write("ran"))


class TornDown:  # Python's teardown deletes module globals; leave() skips it
    def __init__(self, path, opener):
        self.path, self.open = path, opener  # module globals may be gone by then

    def __del__(self):
        with self.open(self.path, "w") as marker:
            marker.write("ran")


torn_down = TornDown(sys.argv[1] + "/teardown", open)
if sys.argv[2] == "thread":  # a non-daemon thread still working: a normal exit waits for it
    def work():
        time.sleep(1.0)
        open(sys.argv[1] + "/thread", "w").write("finished")
    threading.Thread(target=work).start()
print("buffered line", end="")  # no newline: still in the buffer when leave() is called
leave(int(sys.argv[3]))
"""


def run(tmp_path, mode: str, code: int) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path), mode, str(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_leave_runs_atexit_handlers_flushes_the_console_and_keeps_the_exit_code(tmp_path):
    done = run(tmp_path, "plain", 3)
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout == "buffered line"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()  # no interpreter teardown


def test_leave_waits_for_a_working_thread_as_a_normal_exit_does(tmp_path):
    done = run(tmp_path, "thread", 0)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "thread").read_text() == "finished"
    assert (tmp_path / "atexit").read_text() == "ran" and done.stdout == "buffered line"
    assert (tmp_path / "teardown").read_text() == "ran"  # the normal exit, teardown included
