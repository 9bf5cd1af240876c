"""Throughput of each precision and of XLA on and off, against float32 without XLA, per config.

Every setting is a fresh ``dlab run CONFIG --smoke`` subprocess (``--precision P --jit J``),
so TensorFlow starts clean each time; the number is dlab's own
``timing.train_samples_per_s`` from metrics.json (training samples x epochs / fit time).
mixed_float16 is measured only where a GPU of compute capability 7.0+ is visible (dlab
refuses it elsewhere). The script prints one line per config and setting with the median
samples/s and the ratio to float32 without XLA; it only reports (exit 0).

    .venv/bin/python benchmarks/bench_precision.py                          # CPU, cnn-cifar10 + mlp-mnist
    .venv/bin/python benchmarks/bench_precision.py --configs cnn-cifar10 --device gpu --epochs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench_common import dlab_command, run_captured


def has_tensor_core_gpu() -> bool:
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        if tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)) >= (
            7,
            0,
        ):
            return True
    return False


def samples_per_s(config: str, precision: str, jit: str, args: argparse.Namespace, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        argv = [
            *dlab_command(),
            "run",
            config,
            "--smoke",
            "--no-save",
            "--out",
            out,
            "--device",
            args.device,
            "--precision",
            precision,
            "--jit",
            jit,
            "--epochs",
            str(args.epochs),
            *extra,
        ]
        argv += ["--set", f"data.train_samples={args.samples}", "--set", "data.test_samples=256"]
        run_captured(argv)
        metrics = json.loads(next(Path(out).glob("*/*/metrics.json")).read_text())
        return float(metrics["timing"]["train_samples_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cnn-cifar10", "mlp-mnist"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--strategy", default=None, help="also pass --strategy (e.g. mirrored on a GPU box)")
    args = parser.parse_args()
    extra = ["--strategy", args.strategy] if args.strategy else []
    precisions = ["float32", "mixed_bfloat16"] + (["mixed_float16"] if has_tensor_core_gpu() else [])
    settings = [(p, j) for p in precisions for j in ("false", "true")]
    print(f"device {args.device}; {args.samples} samples x {args.epochs} epochs; median of {args.repeats}")
    for config in args.configs:
        base = None
        for precision, jit in settings:
            values = [samples_per_s(config, precision, jit, args, extra) for _ in range(args.repeats)]
            median = statistics.median(values)
            base = base or median
            print(
                f"{config:14s} precision={precision:15s} jit={jit:5s} {median:10.1f} samples/s  "
                f"x{median / base:5.2f} vs float32 without XLA",
                flush=True,
            )


if __name__ == "__main__":
    main()
