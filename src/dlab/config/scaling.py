"""The scale-up settings of one run (``train.strategy``, ``train.precision``, ``train.jit_compile``).

They are plain strings checked here, rather than pydantic ``Literal`` fields, so that a refused
value can say *why* it is refused: ``multi_worker`` is a known gap of Keras 3 on TensorFlow, not a
typo, and the message points to what works instead. The values are checked when the config is
validated, long before TensorFlow starts; what the machine can do (a GPU for ``mixed_float16``) is
checked when the run starts (:mod:`dlab.run.scaling`).
"""

from __future__ import annotations

from typing import Any

STRATEGIES = ("default", "mirrored")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_CHOICES = ("auto", "true", "false")

MULTI_WORKER_REFUSAL = (
    "train.strategy 'multi_worker' is not available: Keras 3 on TensorFlow does not train under "
    "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras issue 20585, still open). Use "
    "'mirrored' to train one run on every GPU of one machine, and scale across machines by running "
    "many runs at once: dlab sweep ... --executor ray, or dlab tune NAME --chief / --worker."
)


def check_strategy(value: Any) -> str:
    """``train.strategy`` checked: ``default`` or ``mirrored``.

    Raises:
        ValueError: ``multi_worker`` (with the upstream reason) or any other value.
    """
    text = str(value).strip().lower()
    if text in ("multi_worker", "multi-worker", "multiworker", "multi_worker_mirrored"):
        raise ValueError(MULTI_WORKER_REFUSAL)
    if text not in STRATEGIES:
        raise ValueError(f"unknown strategy {value!r}; allowed: {', '.join(STRATEGIES)}")
    return text


def check_precision(value: Any) -> str:
    """``train.precision`` checked against the Keras dtype policies dlab trains with.

    Raises:
        ValueError: anything else (e.g. ``fp8``, which Keras offers only as a quantization mode).
    """
    text = str(value).strip().lower()
    aliases = {"fp32": "float32", "fp16": "mixed_float16", "bf16": "mixed_bfloat16"}
    text = aliases.get(text, text)
    if text not in PRECISIONS:
        hint = " (float8 is a Keras quantization mode for trained models, not a training policy)"
        raise ValueError(
            f"unknown precision {value!r}; allowed: {', '.join(PRECISIONS)}" + (hint if "8" in text else "")
        )
    return text


def check_jit(value: Any) -> bool | str:
    """``train.jit_compile``: ``auto``, or a boolean (``true``/``false`` also as text, from ``--jit``).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0"):
        return False
    raise ValueError(f"unknown jit_compile {value!r}; allowed: {', '.join(JIT_CHOICES)}")
