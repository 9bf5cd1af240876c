"""Where dlab's training costs CPU: `dlab run` and the plain Keras script, alternating in ONE process.

bench_throughput.py compares fresh processes, which is what a user gets, but each run pays
TensorFlow's start-up and lands at a different moment of a noisy machine. Here one Python
process imports TensorFlow once and alternates, round after round (A B C, C B A, ...):

- ``dlab``: ``dlab.api.run(CONFIG)`` with the benchmark's sizes (synthetic data, validation on
  the test split, --no-save), and one more dlab side per ``--variant NAME ITEM ...``, where an
  item is a ``--set`` override (``train.steps_per_execution=1``), ``option:NAME=VALUE`` (an
  ``api.run`` keyword: ``option:verbose=1``) or ``patch:NAME``, one of PATCHES below: dlab's
  code with one of its choices undone for that run, to measure what the choice costs;
- ``plain``: ``plain_keras.train`` (the baseline of bench_throughput.py).

Each run reports samples per CPU second of its steady epochs (dlab's
``timing.steady_train_samples_per_cpu_s``, plain's ``steady_samples_per_cpu_s``: the process's
CPU seconds, all threads, from on_epoch_begin to the first on_test_begin, median over the
epochs after the first). Neighbouring runs make a pair, and the script prints each side's ratio
to plain per pair, its median, min-max and a 90% interval of the median (bench_stats, from 5 rounds).

Settings that act when TensorFlow starts (thread counts, oneDNN) cannot change within one
process: compare those with bench_throughput.py's ``--variant NAME env:NAME=VALUE``.

    PYTHONPATH=benchmarks .venv/bin/python benchmarks/bench_fit_factors.py --config cnn-mnist \\
        --rounds 6 --epochs 4 --variant spe1 train.steps_per_execution=1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from typing import Any
from unittest import mock

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

import plain_keras  # noqa: E402  (same folder: run as a script; sets TensorFlow's environment)
from bench_stats import median, median_interval  # noqa: E402
from bench_throughput import CONFIGS, DLAB_SETTINGS  # noqa: E402


def keras_array_arguments(x, y, validation, batch_size, shuffle, model=None, seed=None) -> dict[str, Any]:
    """``dlab.training.batches.array_fit_arguments`` as Keras alone would take the arrays."""
    return {"x": x, "y": y, "validation_data": validation, "batch_size": batch_size, "shuffle": shuffle}


def keep_optimizer(optimizer):
    return optimizer


def no_batch_check(self, batch, logs=None):
    """A callback's default on_train_batch_end (does nothing)."""


PATCHES = {
    # name: (what mock.patch replaces, with what)
    "keras-arrays": ("dlab.training.fit.array_fit_arguments", keras_array_arguments),  # not dlab's tf.data
    "sparse-embedding-grads": ("dlab.training.compile.sum_repeated_rows", keep_optimizer),  # Keras's own
    "no-batch-guard": ("dlab.training.callbacks.RunGuardCallback.on_train_batch_end", no_batch_check),
}


def run_dlab(config: str, sizes: tuple[int, int, int, int], items: list[str]) -> dict:
    """One in-process `dlab run` with a variant's items (see the module docstring); its timing."""
    from dlab import api

    settings = [item for item in items if not item.startswith(("option:", "patch:"))]
    options = dict(item.removeprefix("option:").split("=", 1) for item in items if item.startswith("option:"))
    patches = [PATCHES[item.removeprefix("patch:")] for item in items if item.startswith("patch:")]

    train, test, epochs, batch = sizes
    sets = [
        "data.source=synthetic",
        f"data.train_samples={train}",
        f"data.test_samples={test}",
        "data.validation=test",
        *DLAB_SETTINGS.get(config, []),
        *settings,
    ]
    keywords = {key: int(value) if value.isdigit() else value for key, value in options.items()}
    with tempfile.TemporaryDirectory(prefix="dlab-factors-") as out, ExitStack() as stack:
        for target, new in patches:
            stack.enter_context(mock.patch(target, new))
        result = api.run(
            config,
            sets=sets,
            epochs=epochs,
            batch_size=batch,
            out=out,
            save_model=False,
            device="cpu",
            **{"quiet": True, **keywords},
        )
    timing = result.metrics["timing"]
    return {
        "cpu_rate": timing["steady_train_samples_per_cpu_s"],
        "rate": timing["steady_train_samples_per_s"],
        "steps_per_execution": result.metrics.get("execution", {}).get("steps_per_execution"),
    }


def run_plain(config: str, sizes: tuple[int, int, int, int]) -> dict:
    """One in-process run of the plain Keras script's training."""
    result = plain_keras.train(config, *sizes)
    return {"cpu_rate": result["steady_samples_per_cpu_s"], "rate": result["steady_samples_per_s"]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, choices=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side (default 5)")
    parser.add_argument("--epochs", type=int, help="default: bench_throughput's for the config")
    parser.add_argument("--train-samples", type=int, help="default: bench_throughput's for the config")
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME ITEM",
        help="one more dlab side: KEY=VALUE (--set), option:NAME=VALUE (api.run), patch:NAME "
        f"({', '.join(PATCHES)})",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    train, test, epochs, batch = CONFIGS[args.config]
    sizes = (args.train_samples or train, test, args.epochs or epochs, batch)
    sides = {"dlab": [], **{name: settings for name, *settings in args.variant}}
    names = [*sides, "plain"]
    rounds: list[dict[str, dict]] = []
    for index in range(args.rounds):
        runs = {}
        for name in names if index % 2 == 0 else reversed(names):
            cpu_before, started = time.process_time(), time.perf_counter()
            runs[name] = (
                run_plain(args.config, sizes)
                if name == "plain"
                else run_dlab(args.config, sizes, sides[name])
            )
            load = os.getloadavg()[0]
            print(
                f"round {index + 1} {name:<10} {runs[name]['cpu_rate']:9,.1f} samples/CPU-s "
                f"{runs[name]['rate']:9,.1f} samples/s  (run: {time.perf_counter() - started:5.1f} s wall, "
                f"{time.process_time() - cpu_before:5.1f} CPU-s; load {load:.1f})",
                flush=True,
            )
        rounds.append(runs)
    print(
        f"\n{args.config}, sizes {sizes}, {args.rounds} rounds in one process; dlab side / plain per round:"
    )
    for name in sides:
        for key, label in (("cpu_rate", "per CPU second"), ("rate", "per wall second")):
            ratios = [r[name][key] / r["plain"][key] for r in rounds]
            interval = median_interval(ratios)
            shown = (
                "no 90% interval (< 5 rounds)" if interval is None else "90% {:.3f}-{:.3f}".format(*interval)
            )
            print(
                f"  {name:<10} {label:<16} median {median(ratios):.3f} [{shown}] "
                f"min-max {min(ratios):.3f}-{max(ratios):.3f}"
            )
    for name in names:
        rates = [r[name]["cpu_rate"] for r in rounds]
        spread = f"min-max {min(rates):,.1f}-{max(rates):,.1f}"
        print(f"  {name:<10} samples/CPU-s median {median(rates):,.1f} {spread}")


if __name__ == "__main__":
    main()
