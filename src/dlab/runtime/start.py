"""Starting the compute backend for a run: device, seeds, versions.

Keras experiments start TensorFlow (quietly, on the requested device). NumPy
experiments never import it: they run in a fraction of a second, and paying
three seconds of TensorFlow start-up for a perceptron would be absurd.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

import dlab
from dlab.errors import UsageError
from dlab.runtime import compile_cache
from dlab.runtime.backend import BackendChoice, activate, library_version
from dlab.runtime.device import DEVICE_CHOICES, DeviceInfo, select_device, select_device_for
from dlab.runtime.tfenv import prepare_environment, quiet_native_output


@dataclass
class Runtime:
    """What a run trains on, for metrics.json."""

    device: DeviceInfo
    backend: str
    choice: BackendChoice | None = None
    scaling: Any = None  # dlab.run.scaling.Scaling of a Keras run, once its config is known
    compile_cache: str | None = None  # the persistent compilation cache (dlab.runtime.compile_cache)

    def versions(self) -> dict[str, str]:
        """Versions of Python and the libraries that shape this run's results."""
        versions = {
            "dlab": dlab.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        }
        if self.backend != "numpy":
            import keras

            versions["keras"] = keras.__version__
            # TensorFlow is named when it trains or feeds a tf.data pipeline; never imported for this
            for library in ("tensorflow", "jax", "torch"):
                if library == self.backend or library in sys.modules:
                    versions[library] = library_version(library) or "unknown"
        return versions

    def execution(self) -> dict[str, str | None]:
        """The backend, its version and how it was chosen (metrics.json ``execution``)."""
        choice = self.choice
        return {
            "backend": self.backend,
            "backend_version": library_version(self.backend),
            "requested": choice.requested if choice else None,
            "reason": choice.reason if choice else None,
            "compile_cache": self.compile_cache,
        }


def start(
    uses_keras: bool, device: str, debug: bool = False, backend: BackendChoice | None = None
) -> Runtime:
    """Start Keras on the chosen backend and device, or nothing for a NumPy experiment.

    Args:
        backend: the Keras backend (:func:`dlab.runtime.backend.choose_backend`); None: TensorFlow
            unless ``KERAS_BACKEND`` says otherwise.

    Raises:
        UsageError: an impossible device request (see :func:`dlab.runtime.device.select_device`).
    """
    if device not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{device}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    if not uses_keras:
        if device == "gpu":
            raise UsageError(
                "--device gpu: this experiment is written in NumPy and runs on the "
                "CPU. Use --device auto or cpu."
            )
        return Runtime(DeviceInfo(device, "cpu", "NumPy", 0), backend="numpy")

    if backend is not None:
        activate(backend)
    quiet_native_output(show=debug)  # a no-op where the CLI's entry point already chose
    prepare_environment()
    name = backend.name if backend is not None else None
    cache = compile_cache.enable(name or os.environ.get("KERAS_BACKEND", "tensorflow"))
    if name in (None, "tensorflow"):
        device_info = select_device(device)
    else:
        device_info = select_device_for(name, device)
    import keras

    return Runtime(
        device_info,
        backend=keras.backend.backend(),
        choice=backend,
        compile_cache=None if cache is None else str(cache),
    )


def seed_everything(seed: int, runtime: Runtime) -> None:
    """Seed Python, NumPy and (for Keras runs) the backend, so equal seeds give equal runs."""
    random.seed(seed)
    np.random.seed(seed)
    if runtime.backend != "numpy":
        import keras

        keras.utils.set_random_seed(seed)
