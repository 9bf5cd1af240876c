"""Throughput of each precision and of XLA on and off, against float32 without XLA, per config.

Every setting is a fresh ``dlab run CONFIG --smoke`` subprocess (``--precision P --jit J``),
so the backend starts clean each time; the number is dlab's own steady rate from
metrics.json (``timing.steady_train_samples_per_s``: the median of the epochs after the
first, so XLA's compile time is left out; ``train_samples_per_s`` where a run has one epoch).
mixed_float16 is tried everywhere and reported as refused where dlab refuses it (no GPU of
compute capability 7.0+), so this script never imports a backend itself: on a GPU, a JAX
imported here would take the memory its runs need. A setting that runs past ``--timeout``
(JAX without jit runs op by op) is reported as such. The script only reports (exit 0).

    .venv/bin/python benchmarks/bench_precision.py                          # CPU, cnn-cifar10 + mlp-mnist
    .venv/bin/python benchmarks/bench_precision.py --configs cnn-cifar10 --device gpu --epochs 3
    python benchmarks/bench_precision.py --backend jax --device gpu --configs cnn-cifar10 lstm-imdb
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench_common import dlab_command

REFUSED = "refused"
TIMED_OUT = "timed out"
"""What a setting without a rate prints; a failed run prints its exit code and last line."""


def samples_per_s(
    config: str, precision: str, jit: str, args: argparse.Namespace, extra: list[str]
) -> float | str:
    """The run's steady samples/s, or why there is none (refused, timed out, failed)."""
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
            "--backend",
            args.backend,
            "--precision",
            precision,
            "--jit",
            jit,
            "--epochs",
            str(args.epochs),
            "--set",
            f"data.train_samples={args.samples}",
            "--set",
            "data.test_samples=256",
            *extra,
        ]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return TIMED_OUT
        if result.returncode == 2 and precision == "mixed_float16":
            return REFUSED
        if result.returncode != 0:
            last = ((result.stderr + result.stdout).strip().splitlines() or [""])[-1]
            return f"failed (exit {result.returncode}): {last[:200]}"
        metrics = json.loads(next(Path(out).glob("*/*/metrics.json")).read_text())
        timing = metrics["timing"]
        return float(timing.get("steady_train_samples_per_s") or timing["train_samples_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cnn-cifar10", "mlp-mnist"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="tensorflow", help="tensorflow, jax or torch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one run may take")
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--jits", nargs="+", default=["false", "true"])
    parser.add_argument("--strategy", default=None, help="also pass --strategy (e.g. mirrored on a GPU box)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="also pass --set")
    args = parser.parse_args()
    extra = ["--strategy", args.strategy] if args.strategy else []
    for override in args.set:
        extra += ["--set", override]
    settings = [(p, j) for p in args.precisions for j in args.jits]
    print(
        f"{args.backend} on {args.device}; {args.samples} samples x {args.epochs} epochs; "
        f"steady samples/s, median of {args.repeats}; base: {settings[0][0]} jit={settings[0][1]}"
        + (f"; {' '.join(args.set)}" if args.set else "")
    )
    for config in args.configs:
        base = None
        for precision, jit in settings:
            values = [samples_per_s(config, precision, jit, args, extra) for _ in range(args.repeats)]
            numbers = [value for value in values if isinstance(value, float)]
            label = f"{config:14s} precision={precision:15s} jit={jit:5s}"
            if not numbers:
                print(f"{label} {values[0]}", flush=True)
                continue
            median = statistics.median(numbers)
            base = base or median
            print(f"{label} {median:10.1f} samples/s  x{median / base:5.2f}", flush=True)


if __name__ == "__main__":
    main()
