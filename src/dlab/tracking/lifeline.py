"""A server child that dies with its parent, even when the parent is killed with ``kill -9``.

``dlab tensorboard`` stops its TensorBoard server on Ctrl-C and SIGTERM, but a SIGKILL
(an OOM killer, a CI timeout, ``kill -9``) runs no handler: the server was orphaned and
kept its port. Two ties cut that, each enough alone:

- on Linux the child asks the kernel for SIGTERM when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``, set between fork and exec);
- everywhere, the child's stdin is a pipe whose only writer is the parent: when the
  parent is gone, however it went, the child reads end-of-file and sends itself
  SIGTERM (:func:`exit_when_stdin_closes`, called first thing in the child).

SIGTERM rather than SIGKILL lets the child stop cleanly (TensorBoard runs its exit
handlers, and its data server follows it when its own stdin closes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""


def popen_tied(command: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(command)`` tied to this process: stdin is the lifeline pipe.

    The child must call :func:`exit_when_stdin_closes` for the portable tie; on Linux the
    kernel's parent-death signal ties it as well. Keep ``process.stdin`` open for as long
    as the child should live (closing it stops the child).
    """
    return subprocess.Popen(list(command), stdin=subprocess.PIPE, preexec_fn=parent_death_signal(), **kwargs)


def parent_death_signal(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel send ``signum`` to the child when we die.

    None off Linux (no such call there; the stdin pipe ties the child instead). libc is
    loaded here, before the fork, so the child only makes the system call.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def tie() -> None:
        prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call took effect
            os.kill(os.getpid(), signum)

    return tie


def exit_when_stdin_closes(signum: int = signal.SIGTERM) -> threading.Thread:
    """In the child: a daemon thread that sends ``signum`` to this process at stdin's end.

    Whatever arrives before the end is ignored; the thread only waits for the parent's
    end of the pipe to close.
    """

    def watch() -> None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        if stream is None:
            return
        while stream.read(4096):
            pass
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=watch, name="dlab-lifeline", daemon=True)
    thread.start()
    return thread
