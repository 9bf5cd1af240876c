"""Choosing the Keras 3 backend of a run: ``--backend tensorflow|jax|torch|auto`` / ``train.backend``.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the choice is
made here, before anything imports Keras. The math is the same on every
backend (same layers, same optimizer, same batches); what differs is the host
overhead per step and the kernels, and on a small dense model that is worth
several times the speed. ``auto`` picks the fastest installed backend for the
experiment's compute family from the measured table in
:mod:`dlab.runtime.speed` (never from a guess).

No heavy imports here: the choice is made before Keras exists in the process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass

from dlab.errors import UsageError
from dlab.runtime.speed import fastest_backend

BACKENDS = ("tensorflow", "jax", "torch")
"""The Keras 3 backends dlab runs on."""

BACKEND_CHOICES = ("auto", *BACKENDS)

EXTRAS = {"tensorflow": None, "jax": "jax", "torch": "torch"}
"""The pyproject extra that installs each backend (TensorFlow is a base dependency)."""

TORCH_CPU_INSTALL = "pip install --index-url https://download.pytorch.org/whl/cpu torch"
"""PyTorch's CPU wheel (about 200 MB). PyPI's Linux ``torch`` is the CUDA build and pulls
gigabytes of nvidia-* wheels, so the ``torch`` extra alone would install that; with the CPU
wheel installed first, the extra finds it satisfied. README "Tests" and .ci/run use this index."""

_INSTALL_FIRST = {"torch": TORCH_CPU_INSTALL}

_DISTRIBUTIONS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


@dataclass(frozen=True)
class BackendChoice:
    """The backend a run uses and why (for metrics.json).

    Attributes:
        name: tensorflow, jax or torch.
        requested: what the config or flag asked for (``auto`` or a name).
        reason: how ``auto`` decided, or ``requested``.
    """

    name: str
    requested: str
    reason: str


def check_backend_name(name: str, where: str = "--backend") -> str:
    """Return ``name`` if it is a backend choice.

    Raises:
        UsageError: an unknown name (the allowed ones are listed).
    """
    if name not in BACKEND_CHOICES:
        raise UsageError(
            f"Invalid {where} '{name}'. Allowed: {', '.join(BACKEND_CHOICES)} "
            "(auto: the fastest installed backend for this experiment, from dlab's measured table)."
        )
    return name


def is_installed(name: str) -> bool:
    """True when the backend's library can be imported (without importing it)."""
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def install_command(name: str) -> str:
    """The commands that install a backend's CPU build into dlab's environment."""
    first = f"{_INSTALL_FIRST[name]}, then " if name in _INSTALL_FIRST else ""
    return f"{first}pip install -e '.[{EXTRAS[name]}]'"


def library_version(name: str) -> str | None:
    """The installed version of a backend's library, read from its metadata (no import)."""
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__version__", None):
        return str(module.__version__)
    try:
        return importlib.metadata.version(_DISTRIBUTIONS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return None


def loaded_backend() -> str | None:
    """The backend of the Keras already imported in this process (None: Keras is not imported yet)."""
    if "keras" not in sys.modules:
        return None
    import keras

    return keras.backend.backend()


def choose_backend(
    requested: str, *, family: str, requires_tensorflow: str | None, experiment: str
) -> BackendChoice:
    """Resolve ``requested`` to a concrete, installed backend for this experiment.

    Args:
        requested: ``auto``, ``tensorflow``, ``jax`` or ``torch``.
        family: the experiment's compute family (dense, convolutional, recurrent, embedding,
            transfer), the row of the speed table that ``auto`` reads.
        requires_tensorflow: why the experiment needs TensorFlow itself (None: pure Keras).
        experiment: the experiment's name, for the messages.

    Raises:
        UsageError: an unknown backend, a backend that is not installed (the extra that
            installs it is named), another backend for an experiment that needs TensorFlow,
            or a backend other than the one Keras already runs on in this process.
    """
    check_backend_name(requested)
    if requires_tensorflow and requested not in ("auto", "tensorflow"):
        raise UsageError(
            f"--backend {requested}: experiment {experiment} needs TensorFlow itself "
            f"({requires_tensorflow}). Run it with --backend tensorflow (or auto)."
        )
    if requested != "auto" and not is_installed(requested):
        raise UsageError(
            f"--backend {requested}: {requested} is not installed. Install it with "
            f"{install_command(requested)} (CPU build), or choose --backend tensorflow or auto."
        )
    loaded = loaded_backend()
    if loaded is not None:
        if requested not in ("auto", loaded):
            raise UsageError(
                f"--backend {requested}: Keras is already running on {loaded} in this process, and "
                "Keras fixes its backend when it is first imported. Start a fresh process "
                f"(`dlab run ... --backend {requested}` from a shell)."
            )
        return BackendChoice(
            loaded, requested, "requested" if requested != "auto" else "Keras already imported"
        )
    if requested != "auto":
        return BackendChoice(requested, requested, "requested")
    environment = os.environ.get("KERAS_BACKEND")
    if environment in BACKENDS and is_installed(environment):
        return BackendChoice(environment, requested, "KERAS_BACKEND is set")
    if requires_tensorflow:
        return BackendChoice(
            "tensorflow", requested, f"the experiment needs TensorFlow ({requires_tensorflow})"
        )
    name, reason = fastest_backend(family, [b for b in BACKENDS if is_installed(b)])
    return BackendChoice(name, requested, reason)


def activate(choice: BackendChoice) -> None:
    """Set ``KERAS_BACKEND`` for the Keras that is about to be imported (a no-op once it is)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = choice.name
