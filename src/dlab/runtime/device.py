"""Choosing the device a run trains on: ``--device auto|cpu|gpu``.

TensorFlow fixes its visible devices when its runtime starts, so the choice is
made before the first TensorFlow operation: ``cpu`` hides every GPU (through
``CUDA_VISIBLE_DEVICES`` if TensorFlow is not imported yet, and through
``tf.config.set_visible_devices`` otherwise), ``auto`` uses the first GPU when
there is one, and ``gpu`` refuses to start on a machine without one.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass
from typing import Literal

from dlab.errors import UsageError

DeviceChoice = Literal["auto", "cpu", "gpu"]
DEVICE_CHOICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class DeviceInfo:
    """What a run asked for and what it got; stored in metrics.json."""

    requested: str
    used: str
    name: str
    gpus_visible: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def select_device(requested: str) -> DeviceInfo:
    """Make TensorFlow use the requested device and report the one it will use.

    Raises:
        UsageError: an unknown choice, or ``gpu`` on a machine where TensorFlow sees none.
    """
    if requested not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{requested}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    if requested == "cpu" and "tensorflow" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if requested == "cpu" and gpus:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError as error:  # the runtime already started in this process
            raise UsageError(
                "--device cpu: TensorFlow has already started on the GPU in this process, "
                "so it cannot be hidden any more. Run dlab in a fresh process, or set "
                "CUDA_VISIBLE_DEVICES=-1."
            ) from error
        gpus_visible = 0
    else:
        gpus_visible = len(gpus)

    if requested == "gpu" and not gpus:
        raise UsageError(
            "--device gpu: TensorFlow sees no GPU on this machine. Install the GPU build "
            "(pip install -e '.[gpu]') on a machine with an NVIDIA GPU and driver, or run with "
            "--device auto (uses a GPU when there is one) or --device cpu."
        )
    if requested != "cpu" and gpus:
        for gpu in gpus:
            try:  # share the GPU politely with parallel runs
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass
        details = tf.config.experimental.get_device_details(gpus[0])
        return DeviceInfo(requested, "gpu", details.get("device_name", gpus[0].name), len(gpus))
    return DeviceInfo(requested, "cpu", platform.processor() or platform.machine(), gpus_visible)


def select_device_for(backend: str, requested: str) -> DeviceInfo:
    """:func:`select_device` for the JAX and PyTorch backends (TensorFlow is never imported for it).

    Raises:
        UsageError: ``gpu`` where the backend sees none.
    """
    if requested not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{requested}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    if requested == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    elif backend == "jax":
        # JAX takes 75% of the GPU's memory when it starts, so a second run on the same GPU
        # (a sweep's --jobs 2) fails to start; allocate as needed instead, as TensorFlow's
        # memory growth does above. A user's own setting wins.
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if backend == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        gpu_name = gpus[0].device_kind if gpus else ""
    else:
        import torch

        gpus = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        gpu_name = torch.cuda.get_device_name(0) if gpus else ""
    if requested == "gpu" and not gpus:
        raise UsageError(
            f"--device gpu: {backend} sees no GPU on this machine (dlab's {backend} extra is the CPU "
            f"build). Install {backend}'s GPU build, or run with --device auto or --device cpu."
        )
    if requested != "cpu" and gpus:
        return DeviceInfo(requested, "gpu", gpu_name, len(gpus))
    return DeviceInfo(requested, "cpu", platform.processor() or platform.machine(), len(gpus))
