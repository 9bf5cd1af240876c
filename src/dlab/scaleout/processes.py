"""Child processes that never outlive the sweep that started them.

``dlab sweep`` runs every member as ``python -m dlab run ...``. When the sweep is
stopped (SIGTERM from a scheduler, SIGHUP from a closed terminal, even SIGKILL), its
runs must stop too, and record themselves as interrupted, instead of training on under
PID 1 with nobody to collect them:

- each child starts in its own process group, so a Ctrl-C at the terminal reaches the
  sweep only, and the sweep forwards one signal to each run (two signals would make a
  run stop at once instead of at its batch boundary);
- on Linux the child asks the kernel for SIGTERM when its parent dies
  (``prctl(PR_SET_PDEATHSIG)`` through ctypes, in ``preexec_fn``);
- elsewhere (or with ``DLAB_CHILD_WATCH=pipe``) the child inherits the read end of a
  pipe whose write end only the sweep holds; :func:`watch_parent`, called when
  ``python -m dlab`` starts, sends the child SIGTERM when the pipe reaches its end,
  which is when the sweep is gone, however it died.

A run handles that SIGTERM like any other: it stops at a batch boundary and writes
metrics.json ``interrupted``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from dlab.errors import RunInterrupted

PIPE_ENV = "DLAB_PARENT_PIPE_FD"
"""The child's environment names the inherited read end of the watchdog pipe."""
MODE_ENV = "DLAB_CHILD_WATCH"
"""``pipe`` forces the watchdog pipe where prctl exists (tests cover both ways)."""
PR_SET_PDEATHSIG = 1

_pipe: tuple[int, int] | None = None
_STOP_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the parent (never between fork and exec), or None."""
    if not sys.platform.startswith("linux") or os.environ.get(MODE_ENV) == "pipe":
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _watch_pipe() -> tuple[int, int]:
    """The sweep's one watchdog pipe (made once; the write end stays open until it dies)."""
    global _pipe
    if _pipe is None:
        _pipe = os.pipe()  # both ends non-inheritable: only pass_fds hands the read end on
    return _pipe


def child_options(env: dict[str, str]) -> dict[str, Any]:
    """``subprocess.Popen`` keyword arguments (``env`` included) for a child that stops when
    this process dies and does not share its process group."""
    parent = os.getpid()
    prctl = _prctl()
    if prctl is not None:

        def die_with_parent() -> None:  # runs in the child, between fork and exec
            _own_group()
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), signal.SIGTERM)

        return {"env": env, "preexec_fn": die_with_parent}
    read_end, _ = _watch_pipe()
    return {
        "env": {**env, PIPE_ENV: str(read_end)},
        "pass_fds": (read_end,),
        "preexec_fn": _own_group if hasattr(os, "setpgid") else None,
    }


def _own_group() -> None:
    os.setpgid(0, 0)
    # A blocked signal stays blocked across exec: a Ray worker blocks SIGINT, and a run it
    # started would never see the Ctrl-C its task forwards.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def watch_parent() -> None:
    """In a child started with the watchdog pipe: SIGTERM this process once the parent is gone.

    Does nothing unless ``DLAB_PARENT_PIPE_FD`` names an open descriptor.
    """
    text = os.environ.pop(PIPE_ENV, None)
    if not text:
        return
    try:
        fd = int(text)
        os.fstat(fd)
    except (ValueError, OSError):
        return

    def wait_for_end() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_for_end, name="dlab-parent-watch", daemon=True).start()


_received: list[int] = []
"""The stop signals :func:`stop_signals_interrupt` has turned into an interrupt, latest last."""


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise like Ctrl-C while the block runs (main thread only).

    The KeyboardInterrupt raised is a :class:`~dlab.errors.RunInterrupted` carrying the
    signal, so the caller can forward that signal and exit 143 / 129 (see
    :func:`as_stop_signal` where a library turned it into a bare KeyboardInterrupt).
    """

    def interrupt(number: int, frame: FrameType | None) -> None:
        _received.append(number)
        raise RunInterrupted(f"stopped by {signal.Signals(number).name}", number)

    numbers = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, interrupt) for number in numbers}
    _received.clear()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def as_stop_signal(error: KeyboardInterrupt) -> KeyboardInterrupt:
    """The interrupt to re-raise for ``error``: a :class:`~dlab.errors.RunInterrupted` naming the
    SIGTERM or SIGHUP behind it, when a library swallowed that.

    Ray turns any exception a signal handler raises while Ray waits (``ray.wait``, ``ray.get``)
    into a bare KeyboardInterrupt, which would make a SIGTERM'd sweep exit 130 as if it had been
    Ctrl-C; :func:`stop_signals_interrupt` remembers which signal it was.
    """
    if isinstance(error, RunInterrupted) or not _received:
        return error
    number = _received[-1]
    return RunInterrupted(f"stopped by {signal.Signals(number).name}", number)
