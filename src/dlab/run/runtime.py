"""Starting the compute backend for a run: device, seeds, versions.

Keras experiments start TensorFlow (quietly, on the requested device). NumPy
experiments never import it: they run in a fraction of a second, and paying
three seconds of TensorFlow start-up for a perceptron would be absurd.
"""

from __future__ import annotations

import platform
import random
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlab.errors import UsageError
from dlab.run.device import DeviceInfo


@dataclass
class Runtime:
    """What a run trains on, for metrics.json."""

    device: DeviceInfo
    backend: str
    native_log: list[str] = field(default_factory=list)
    scaling: Any = None  # dlab.run.scaling.Scaling of a Keras run, once its config is known

    def versions(self) -> dict[str, str]:
        """Versions of Python and the libraries that shape this run's results."""
        import dlab

        versions = {
            "dlab": dlab.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        }
        if self.backend != "numpy":
            import keras
            import tensorflow

            versions.update(tensorflow=tensorflow.__version__, keras=keras.__version__)
        return versions


def start(uses_keras: bool, device: str, debug: bool = False) -> Runtime:
    """Start TensorFlow on the requested device, or nothing for a NumPy experiment.

    Raises:
        UsageError: an impossible device request (see :func:`dlab.run.device.select_device`).
    """
    from dlab.run.device import DEVICE_CHOICES

    if device not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{device}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    if not uses_keras:
        if device == "gpu":
            raise UsageError(
                "--device gpu: this experiment is written in NumPy and runs on the "
                "CPU. Use --device auto or cpu."
            )
        return Runtime(DeviceInfo(device, "cpu", "NumPy", 0), backend="numpy")

    from dlab.run.device import select_device
    from dlab.run.tfenv import captured_native_stderr, prepare_environment

    prepare_environment()
    native_log: list[str] = []
    try:
        with captured_native_stderr(native_log):
            device_info = select_device(device)
    finally:
        if debug and native_log:
            print("\n".join(native_log), file=sys.stderr)
    import keras

    return Runtime(device_info, backend=keras.backend.backend(), native_log=native_log)


def seed_everything(seed: int, runtime: Runtime) -> None:
    """Seed Python, NumPy and (for Keras runs) the backend, so equal seeds give equal runs."""
    random.seed(seed)
    np.random.seed(seed)
    if runtime.backend != "numpy":
        import keras

        keras.utils.set_random_seed(seed)
