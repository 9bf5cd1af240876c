"""Peak memory of resnet18-fashion: resize in the pipeline (dlab) vs resized arrays up front.

dlab keeps Fashion-MNIST as uint8 28x28 arrays and resizes to 96x96 with a
``Resizing`` layer inside the model, batch by batch (``dlab.models.blocks``). A naive
script resizes the whole dataset up front to 96x96 float32 and trains the same
network on that. This benchmark measures what that costs in memory on data of
the real size (60,000 train + 10,000 test images, dlab's synthetic twin):

- ``pipeline``: dlab's own data and model (``resolve_config("resnet18-fashion")``,
  ``exp.load_data``, ``exp.prepare``): uint8 (N, 28, 28, 1) arrays, Rescaling
  then Resizing(96, 96) in the model, then ResNet-18.
- ``materialized``: the same uint8 arrays resized once, in chunks of
  ``--chunk`` images with ``tf.image.resize`` (bilinear, as the Resizing layer),
  into preallocated float32 (N, 96, 96, 1) numpy arrays (train and test); then
  the same network without the Resizing layer (``dlab.models.blocks.build_classifier``
  with a 96x96 input: Rescaling, then ResNet-18; equal parameter counts are
  checked).

Each variant runs in a fresh subprocess (this script with ``--child``), which
compiles the model (SGD(0.01), sparse categorical cross-entropy on logits,
accuracy) and trains a few steps (``model.fit`` on the full arrays,
``steps_per_epoch=--steps``, 1 epoch, batch 64, no validation): the point is
peak memory, not accuracy. Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
of that subprocess, also recorded after each phase (imports, data, resize,
model, fit) to show where the memory goes. Reported: both peaks in MiB, their
ratio, and the theoretical sizes of the arrays.

The script only reports; it always exits 0 (unless a child fails).

    .venv/bin/python benchmarks/bench_resize_memory.py [--train-samples 60000] \
        [--test-samples 10000] [--steps 5] [--batch-size 64] [--size 96]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CONFIG = "resnet18-fashion"
VARIANTS = ("pipeline", "materialized")
MIB = 1024 * 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / MIB


def current_rss_mib() -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- child


def child(args: argparse.Namespace) -> None:
    """Load, (resize,) build, compile and fit one variant; print one JSON line."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    phases: list[dict[str, float | str | None]] = []
    started = time.perf_counter()

    def mark(name: str) -> None:
        phases.append(
            {
                "phase": name,
                "peak_mib": round(peak_rss_mib(), 1),
                "rss_mib": round(current_rss_mib() or 0.0, 1),
                "t_s": round(time.perf_counter() - started, 1),
            }
        )

    import keras
    import numpy as np
    import tensorflow as tf

    from dlab.framework.factory import resolve_config
    from dlab.framework.registry import get
    from dlab.models.blocks import build_classifier

    mark("imports")
    config = resolve_config(
        CONFIG,
        sets=[
            "data.source=synthetic",
            f"data.train_samples={args.train_samples}",
            f"data.test_samples={args.test_samples}",
        ],
    )
    keras.utils.set_random_seed(config.seed)
    experiment = get(config.experiment)()
    data = experiment.load_data(config)
    num_classes = data.num_classes
    dlab_model = experiment.prepare(config, data)  # uncompiled keras.Model
    mark("data (uint8) + dlab model")

    if args.child == "pipeline":
        model = dlab_model
        x_train, y_train, x_test = data.x_train, data.y_train, data.x_test
    else:
        size = args.size

        def materialize(x: np.ndarray) -> np.ndarray:
            out = np.empty((len(x), size, size, x.shape[-1]), dtype=np.float32)
            for start in range(0, len(x), args.chunk):
                out[start : start + args.chunk] = tf.image.resize(
                    x[start : start + args.chunk], (size, size)
                ).numpy()
            return out

        x_train, x_test = materialize(data.x_train), materialize(data.x_test)
        y_train = data.y_train
        del data  # the naive script keeps only the resized arrays (and the labels)
        mark("resized arrays")
        model = build_classifier("resnet18", x_train.shape[1:], num_classes, logits=True, input_size=size)
        layer_types = [type(layer).__name__ for layer in model.layers]
        if "Resizing" in layer_types or model.count_params() != dlab_model.count_params():
            raise RuntimeError(
                f"materialized model differs from dlab's beyond Resizing: "
                f"{model.count_params()} vs {dlab_model.count_params()} params"
            )
        del dlab_model

    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    mark("model compiled")
    model.fit(x_train, y_train, epochs=1, steps_per_epoch=args.steps, batch_size=args.batch_size, verbose=0)
    mark("fit")
    print(
        json.dumps(
            {
                "variant": args.child,
                "peak_mib": round(peak_rss_mib(), 1),
                "x_train": {
                    "shape": list(x_train.shape),
                    "dtype": str(x_train.dtype),
                    "mib": round(x_train.nbytes / MIB, 1),
                },
                "x_test": {
                    "shape": list(x_test.shape),
                    "dtype": str(x_test.dtype),
                    "mib": round(x_test.nbytes / MIB, 1),
                },
                "params": int(model.count_params()),
                "resizing_layer": any(type(layer).__name__ == "Resizing" for layer in model.layers),
                "phases": phases,
            }
        ),
        flush=True,
    )


# --------------------------------------------------------------------------- parent


def run_variant(variant: str, args: argparse.Namespace) -> dict:
    argv = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        variant,
        "--train-samples",
        str(args.train_samples),
        "--test-samples",
        str(args.test_samples),
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
        "--size",
        str(args.size),
        "--chunk",
        str(args.chunk),
    ]
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{tail}")
    line = [text for text in result.stdout.splitlines() if text.startswith("{")][-1]
    return {**json.loads(line), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-samples", type=int, default=60000)
    parser.add_argument("--test-samples", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=5, help="training steps (default 5)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=96, help="resize target (resnet18: 96)")
    parser.add_argument(
        "--chunk", type=int, default=1000, help="images per tf.image.resize call in the materialized variant"
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    results = {}
    for variant in VARIANTS:
        results[variant] = run_variant(variant, args)
        r = results[variant]
        print(
            f"  {variant:<12}: peak RSS {r['peak_mib']:8.1f} MiB, x_train "
            f"{tuple(r['x_train']['shape'])} {r['x_train']['dtype']}, wall {r['wall_s']:.1f} s",
            flush=True,
        )
        for phase in r["phases"]:
            print(
                f"      after {phase['phase']:<28} peak {phase['peak_mib']:8.1f} MiB, "
                f"current {phase['rss_mib']:8.1f} MiB  (t={phase['t_s']:.1f} s)"
            )

    n_train, n_test, size = args.train_samples, args.test_samples, args.size
    small = {n: n * 28 * 28 * 1 for n in (n_train, n_test)}
    big = {n: n * size * size * 1 * 4 for n in (n_train, n_test)}
    pipeline, materialized = results["pipeline"]["peak_mib"], results["materialized"]["peak_mib"]
    print(
        f"\n{CONFIG}: {n_train} train + {n_test} test synthetic images, "
        f"fit {args.steps} steps of batch {args.batch_size}, no validation"
    )
    print(f"{'variant':<13} {'peak RSS MiB':>13}  data held")
    print(f"{'pipeline':<13} {pipeline:>13.1f}  uint8 28x28x1, Resizing({size}, {size}) in the model")
    print(f"{'materialized':<13} {materialized:>13.1f}  float32 {size}x{size}x1 resized up front")
    print(
        f"ratio materialized/pipeline peak RSS: {materialized / pipeline:.2f}x "
        f"(+{materialized - pipeline:.1f} MiB)"
    )
    print("theoretical array sizes:")
    print(
        f"  {n_train} x 28x28x1 uint8        = {small[n_train] / MIB:8.1f} MiB "
        f"(+ test {small[n_test] / MIB:.1f} MiB)"
    )
    print(
        f"  {n_train} x {size}x{size}x1 float32      = {big[n_train] / MIB:8.1f} MiB "
        f"(+ test {big[n_test] / MIB:.1f} MiB)"
    )
    total_small = (small[n_train] + small[n_test]) / MIB
    total_big = (big[n_train] + big[n_test]) / MIB
    print(
        f"  train+test: {total_small:.1f} MiB vs {total_big:.1f} MiB "
        f"({total_big / total_small:.0f}x, difference {total_big - total_small:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
