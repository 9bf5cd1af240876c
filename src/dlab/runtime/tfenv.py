"""Starting TensorFlow quietly: environment settings and its native log lines.

TensorFlow 2.21 writes start-up lines from C++ straight to file descriptor 2
(``oneDNN custom operations are on``, ``Could not find cuda drivers``,
``failed call to cuInit``), and ``TF_CPP_MIN_LOG_LEVEL`` no longer silences
all of them. They bury the CLI's own messages, so :func:`start_tensorflow`
captures file descriptor 2 while TensorFlow imports and looks for devices, and
hands the text back for run.log (and for the console under ``--debug``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def prepare_environment() -> None:
    """Settings that must be in place before TensorFlow/Keras are first imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    data_dir = os.environ.get("DLAB_DATA_DIR")
    if data_dir:  # keras.utils.get_file caches under $KERAS_HOME/datasets
        os.environ.setdefault("KERAS_HOME", os.path.abspath(os.path.expanduser(data_dir)))


@contextmanager
def captured_native_stderr(lines: list[str]) -> Iterator[None]:
    """Redirect file descriptor 2 to a temporary file; append what was written to ``lines``."""
    try:
        original = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded interpreters): capture nothing
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(original, 2)
            os.close(original)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            lines.extend(line for line in text.splitlines() if line.strip())


def keras_cache_dir() -> Path:
    """Where ``keras.utils.get_file`` caches datasets: ``$KERAS_HOME/datasets``, where a run sets
    ``KERAS_HOME`` from ``DLAB_DATA_DIR`` when it is not set (see :mod:`dlab.runtime.tfenv`)."""
    data_dir = os.environ.get("DLAB_DATA_DIR")
    home = (
        os.environ.get("KERAS_HOME")
        or (os.path.abspath(os.path.expanduser(data_dir)) if data_dir else None)
        or os.path.join(os.path.expanduser("~"), ".keras")
    )
    return Path(home) / "datasets"
