"""Leave the process as soon as a command is done, without Python's slow teardown.

Once TensorFlow is loaded, a Python process takes about 1.2 s to exit on a 2-core
machine (measured: 1.23 s from the last line of a small Keras script to the end of the
process; 0.07 s with the exit below). That is interpreter finalization: it destroys
every module object of TensorFlow, Keras and NumPy and runs TensorFlow's C++ teardown.
None of it writes anything of a run's, since every file dlab writes is complete and
closed (atomically replaced) before the command returns. For ``dlab run`` on a small
config that second is a tenth of the whole process, and a sweep pays it per member.

So when a command has finished and TensorFlow is loaded, :func:`leave` does what must
happen at exit, and only that: it runs the ``atexit`` handlers (logging's shutdown,
MLflow's end of run, multiprocessing's cleanup...) and flushes the console, then exits
with ``os._exit``. Where another non-daemon thread is still alive, which a normal
exit would wait for (a gRPC server's pool, an executor's workers), it exits normally.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

HEAVY_MODULES = ("tensorflow", "jax", "torch")
"""Libraries whose teardown the fast exit skips; without any of them Python exits fast anyway."""


def leave(code: object) -> NoReturn:
    """End the process with ``code`` (what ``sys.exit`` takes) once the command is done."""
    if not isinstance(code, int | None) or not _teardown_is_slow() or _threads_to_wait_for():
        sys.exit(code)
    atexit._run_exitfuncs()  # what a normal exit runs first (private, in CPython since 3.0)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code or 0)


def _teardown_is_slow() -> bool:
    return any(name in sys.modules for name in HEAVY_MODULES)


def _threads_to_wait_for() -> list[threading.Thread]:
    """Non-daemon threads other than this one: a normal exit joins them."""
    current = threading.current_thread()
    return [t for t in threading.enumerate() if t is not current and not t.daemon and t.is_alive()]
