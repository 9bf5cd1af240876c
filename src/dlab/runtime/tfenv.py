"""Starting TensorFlow (and JAX) quietly: environment settings, log levels and native log lines.

TensorFlow 2.21 writes start-up lines from C++ straight to file descriptor 2, once per
shared library it loads (``WARNING: All log messages before absl::InitializeLog()``,
``oneDNN custom operations are on``, ``cudart_stub.cc ... Could not find cuda drivers``,
``cpu_feature_guard.cc``), whatever ``TF_CPP_MIN_LOG_LEVEL`` or ``ABSL_MIN_LOG_LEVEL`` say:
absl has not read any setting yet when they are written. They buried the CLI's own lines
(``dlab evaluate`` printed 13 lines of which 9 were TensorFlow's) and landed in every
run.log twice.

Every command imports TensorFlow somewhere else (a run when it starts the device, ``dlab
evaluate`` when it loads the model, a JAX run through tf.data, a search through
keras-tuner), so the silencing is done once per process, before any of them, by
:func:`quiet_native_output`: the CLI's entry point calls it, and so does everything that is
about to import Keras (:func:`prepare_environment`), for the API used from Python. It

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` (TensorFlow's later C++ lines, such as ``failed call to
  cuInit ... UNKNOWN ERROR (303)`` when the first device is looked for) and
  ``GRPC_VERBOSITY=ERROR`` (keras-tuner's chief and workers);
- raises the ``tensorflow`` and ``absl`` Python loggers to ERROR (``5 out of the last 5 calls
  ... triggered tf.function retracing`` in a search);
- captures file descriptor 2 while ``tensorflow`` and ``jax`` are first imported (an import
  hook on ``sys.meta_path``: the one way to catch a line written by C++ during the import),
  and drops what was written there unless the import fails, when it is shown with the error.

``--debug`` (``show=True``) does none of it: TensorFlow then logs as it would by itself.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

NOISY_LIBRARIES = ("tensorflow", "jax")
"""Top-level packages whose first import writes native log lines to file descriptor 2."""

QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
"""What the native libraries read when they start (set over the user's values: ``--debug`` is
the switch that shows their lines)."""

QUIET_LOGGERS = ("tensorflow", "absl")
"""Python loggers raised to ERROR: TensorFlow's warnings (retracing, deprecations) and absl's."""

_decision: list[bool] = []
"""The first call's ``show`` (this process's choice, made once; empty: not made yet)."""


def quiet_native_output(show: bool = False) -> None:
    """Silence TensorFlow's and JAX's start-up logs in this process, before either is imported.

    The first call decides for the process (the CLI's entry point, with ``--debug`` as
    ``show``); later calls keep that decision, so a command's own call cannot undo it.

    Args:
        show: True (``--debug``): leave every log line where the libraries write it.
    """
    if _decision:
        return
    _decision.append(show)
    if show:
        return
    os.environ.update(QUIET_ENVIRONMENT)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    sys.meta_path.insert(0, _QuietImports(NOISY_LIBRARIES))


def prepare_environment() -> None:
    """Settings that must be in place before TensorFlow/Keras are first imported: the quiet logs
    (:func:`quiet_native_output`, unless the CLI already chose), the backend and the cache."""
    quiet_native_output()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    data_dir = os.environ.get("DLAB_DATA_DIR")
    if data_dir:  # keras.utils.get_file caches under $KERAS_HOME/datasets
        os.environ.setdefault("KERAS_HOME", os.path.abspath(os.path.expanduser(data_dir)))


class _QuietImports(importlib.abc.MetaPathFinder):
    """Finds the noisy libraries as the other finders would, with a loader that captures fd 2."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = frozenset(names)

    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if name not in self._names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader with fd 2 captured; the module keeps the real loader as its own."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader  # importlib.resources and pkgutil ask the real one
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        said: list[str] = []
        try:
            with captured_native_stderr(said):
                self._loader.exec_module(module)
        except BaseException:  # a broken install: what the library said belongs with its error
            if said:
                print("\n".join(said), file=sys.stderr)
            raise


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
    ``KERAS_HOME`` from ``DLAB_DATA_DIR`` when it is not set (see :func:`prepare_environment`)."""
    data_dir = os.environ.get("DLAB_DATA_DIR")
    home = (
        os.environ.get("KERAS_HOME")
        or (os.path.abspath(os.path.expanduser(data_dir)) if data_dir else None)
        or os.path.join(os.path.expanduser("~"), ".keras")
    )
    return Path(home) / "datasets"
