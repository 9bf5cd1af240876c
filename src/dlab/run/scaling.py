"""One run on more hardware: the distribution strategy, the dtype policy and XLA, set up for a run.

``train.strategy: mirrored`` builds and compiles the model under
``tf.distribute.MirroredStrategy`` over the visible GPUs (on a machine without
GPUs, over the logical CPUs, which is how the tests get two replicas);
``train.batch_size`` stays the *global* batch, split across the replicas, so a
mirrored run takes the same steps as a default one. ``train.precision`` picks a
Keras dtype policy; the model's last layer keeps computing in float32 so its
softmax or logits stay stable (:func:`keep_output_float32`). ``train.jit_compile``
goes to ``compile()``.

The policy is global Keras state, so :func:`scaled` sets it for the block and
restores the previous one afterwards: two runs in one process (the tests, a
sweep's members, a tuner's trials) do not leak settings into each other.
Multi-worker training is refused when the config is validated
(:mod:`dlab.config.scaling` says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlab.errors import ConfigError

if TYPE_CHECKING:
    from dlab.config import TrainConfig
    from dlab.runtime.device import DeviceInfo

MIXED_FLOAT16_MIN_CAPABILITY = (7, 0)
"""Tensor cores (Volta and later): below this, float16 is slower than float32, and Keras warns."""


@dataclass
class Scaling:
    """How a run uses its hardware; ``to_dict`` is metrics.json's ``scaling``."""

    strategy: str = "default"
    precision: str = "float32"
    jit_compile: bool | str = "auto"
    devices: list[str] = field(default_factory=list)
    distribute: Any = None  # the tf.distribute strategy (None: Keras's default, one device)

    @property
    def replicas(self) -> int:
        return int(self.distribute.num_replicas_in_sync) if self.distribute is not None else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "replicas": self.replicas,
            "devices": list(self.devices),
            "precision": self.precision,
            "jit_compile": self.jit_compile,
        }


def for_run(train: TrainConfig, backend: str, device: DeviceInfo) -> Scaling | None:
    """The run's :class:`Scaling` (None for a NumPy experiment, which must keep the defaults).

    Raises:
        ConfigError: scale-up settings on a NumPy experiment, or ones this machine cannot honour.
    """
    if backend == "numpy":
        changed = [
            f"train.{key}={getattr(train, key)}"
            for key, default in (("strategy", "default"), ("precision", "float32"))
            if getattr(train, key) != default
        ]
        if changed:
            raise ConfigError(
                f"{', '.join(changed)}: this experiment is written in NumPy and trains on one CPU "
                "in float64; strategies and dtype policies apply to Keras experiments. Remove the setting."
            )
        return None
    return plan_scaling(train, device, backend)


def plan_scaling(train: TrainConfig, device: DeviceInfo, backend: str = "tensorflow") -> Scaling:
    """Check the scale-up settings against this machine and make the strategy.

    The devices and GPU checks are asked of the backend that trains: on JAX and PyTorch
    TensorFlow may be imported for tf.data, but its device list says nothing about theirs.

    Raises:
        ConfigError: ``mixed_float16`` without a GPU of compute capability 7.0 or later, or
            ``mirrored`` off TensorFlow (it is ``tf.distribute``; :func:`dlab.api.runs` keeps
            ``auto`` on TensorFlow for it, so only a direct caller gets here).
    """
    if backend != "tensorflow":
        return _plan_off_tensorflow(train, device, backend)
    import tensorflow as tf

    if train.precision == "mixed_float16":
        _check_float16_gpu(tf, device)
    scaling = Scaling(strategy=train.strategy, precision=train.precision, jit_compile=train.jit_compile)
    if train.strategy == "mirrored":
        gpus = tf.config.list_logical_devices("GPU") if device.used == "gpu" else []
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        scaling.devices = devices
        scaling.distribute = tf.distribute.MirroredStrategy(devices=devices)
    else:
        scaling.devices = [tf.config.list_logical_devices("GPU" if device.used == "gpu" else "CPU")[0].name]
    return scaling


def _plan_off_tensorflow(train: TrainConfig, device: DeviceInfo, backend: str) -> Scaling:
    """:func:`plan_scaling` on JAX or PyTorch: one device, the dtype policy and jit as asked."""
    if train.strategy != "default":
        raise ConfigError(
            f"train.strategy '{train.strategy}' is tf.distribute, which trains on the TensorFlow "
            f"backend only; this run is on {backend}. Run it with --backend tensorflow."
        )
    if train.precision == "mixed_float16":
        if device.used != "gpu":
            _refuse_float16(has_gpu=False)
        if gpu_capability(backend) < MIXED_FLOAT16_MIN_CAPABILITY:
            _refuse_float16(has_gpu=True)
    return Scaling(
        strategy=train.strategy,
        precision=train.precision,
        jit_compile=train.jit_compile,
        devices=[f"{backend}:{device.used}:0"],
    )


def gpu_capability(backend: str) -> tuple[int, int]:
    """The first GPU's CUDA compute capability as JAX or PyTorch reports it ((0, 0): unknown).

    JAX gives it as a string (``"9.0"``) on CUDA devices only; a ROCm or other GPU reports none
    and is taken as not capable, so mixed_float16 is refused there rather than run slowly.
    """
    if backend == "torch":
        import torch

        return tuple(torch.cuda.get_device_capability(0))
    import jax

    gpus = [device for device in jax.devices() if device.platform == "gpu"]
    text = str(getattr(gpus[0], "compute_capability", "") or "") if gpus else ""
    major, _, minor = text.partition(".")
    return (int(major), int(minor or 0)) if major.isdigit() and (minor or "0").isdigit() else (0, 0)


def _check_float16_gpu(tf: Any, device: DeviceInfo) -> None:
    gpus = tf.config.list_physical_devices("GPU") if device.used == "gpu" else []
    capable = []
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)
        if tuple(capability) >= MIXED_FLOAT16_MIN_CAPABILITY:
            capable.append(gpu)
    if not capable:
        _refuse_float16(has_gpu=bool(gpus))


def _refuse_float16(has_gpu: bool) -> None:
    """Raise the ``mixed_float16`` refusal: on the CPU, or on GPUs without tensor cores."""
    where = "on GPUs older than compute capability 7.0" if has_gpu else "on the CPU"
    raise ConfigError(
        f"train.precision 'mixed_float16' runs {where}, where float16 is slower than float32 "
        "(no tensor cores) and loses precision for nothing. Use mixed_bfloat16 (runs on CPUs "
        "and recent GPUs) or float32, or run on an NVIDIA GPU of compute capability 7.0+ "
        "(V100, T4, A100, H100 ...)."
    )


@contextmanager
def scaled(scaling: Scaling | None) -> Iterator[None]:
    """Inside the block, new models use the run's dtype policy and distribution strategy."""
    if scaling is None or (scaling.distribute is None and scaling.precision == "float32"):
        yield
        return
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(scaling.precision)
    try:
        if scaling.distribute is None:
            yield
        else:
            with scaling.distribute.scope():
                yield
    finally:
        keras.config.set_dtype_policy(previous)


def keep_output_float32(model: Any) -> None:
    """Make the model's last layer compute in float32 under a mixed policy (Keras's advice).

    Float16 softmax outputs saturate and float16 logits overflow in the loss; casting the last
    layer's inputs to float32 costs one small layer and keeps the loss and metrics exact. Layers
    with an activity regularizer stay float32 too: Keras 3 adds their penalty, computed in the
    layer's dtype, to the float32 loss, which fails with a dtype mismatch (the fraud autoencoder).
    """
    import keras

    if not isinstance(model, keras.Model) or not model.layers:
        return
    float32 = [model.layers[-1], *(layer for layer in model.layers if layer.activity_regularizer is not None)]
    for layer in float32:
        if layer.dtype_policy.compute_dtype != "float32":
            layer.dtype_policy = keras.dtype_policies.DTypePolicy("float32")


def keep_recurrent_float32(model: Any) -> None:
    """On JAX, make recurrent layers (LSTM, GRU and the RNNs inside a Bidirectional) compute in float32.

    On a GPU, Keras's JAX LSTM and GRU call jaxlib's cuDNN kernel, which takes float32 only: under a
    mixed policy the first step fails with ``ValueError: Unknown output type bfloat16`` (float16
    alike; seen on an H200 with jax 0.11). Keeping these layers float32 keeps the cuDNN kernel; on
    the CPU it is faster too (lstm-imdb: 5,800 samples/s in float32, 1,100 in bfloat16's scan
    loop). The rest of the model still runs in the mixed policy. The layer and its cell both carry
    a policy, and the cell's is the one the step computes in, so both are set.
    """
    import keras

    if keras.backend.backend() != "jax" or not isinstance(model, keras.Model):
        return
    float32 = keras.dtype_policies.DTypePolicy("float32")
    # Keras's own walk: a Bidirectional's two RNNs are tracked sublayers, not entries of `.layers`
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.RNN) and layer.dtype_policy.compute_dtype != "float32":
            layer.dtype_policy = float32
            cell = getattr(layer, "cell", None)
            if cell is not None:
                cell.dtype_policy = float32
