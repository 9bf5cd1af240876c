"""Training throughput: `dlab run CONFIG` against the same model in plain Keras.

dlab wraps ``model.fit`` with its own machinery (config resolution, callbacks
that time epochs and rewrite history.csv every epoch, console tee to run.log,
device selection). This benchmark checks that the wrapping costs (almost)
nothing while training: for each config, dlab must reach >= 97% of the training
samples/s of the seed code as a plain Keras script (benchmarks/plain_keras.py)
that trains the same model on byte-identical synthetic data (dlab's generator,
seed 42) with the same epochs, batch size and validation data (the test split).

Both sides measure samples/s the same way (dlab's ``timing.train_samples_per_s``
in metrics.json): training samples * epochs / sum over epochs of the time from
on_epoch_begin to the first on_test_begin, i.e. validation is excluded. Each
side runs as a fresh subprocess, ``--repeats`` times per config, interleaved
(the order alternates every repeat so drift hits both alike); their progress
output is captured and discarded. Reported per config: median samples/s of each
side, the ratio dlab/plain, and, for information, the median wall time of each
subprocess (which also includes interpreter and TensorFlow start-up, data
generation, validation, test evaluation, and for dlab plots and metrics).

Target: dlab / plain samples/s >= 0.97 for each config. The script only
reports; it always exits 0 (a run that crashes stops it with the run's error).

    .venv/bin/python benchmarks/bench_throughput.py [--configs cnn-cifar10 cnn-mnist mlp-mnist] \
        [--train-samples 5000] [--test-samples 1000] [--epochs 3] [--batch-size 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_common import dlab_command, run_captured  # same folder: run as a script

TARGET_RATIO = 0.97
PLAIN = Path(__file__).resolve().parent / "plain_keras.py"
CONFIGS = ("cnn-cifar10", "cnn-mnist", "mlp-mnist", "mlp-imdb")  # the models plain_keras.py writes out


def run_dlab(config: str, args: argparse.Namespace) -> tuple[float, float, float | None]:
    """One `dlab run`; samples/s from the newest metrics.json in a fresh output folder."""
    with tempfile.TemporaryDirectory(prefix="dlab-bench-") as out:
        argv = [
            *dlab_command(),
            "run",
            config,
            "--set",
            "data.source=synthetic",
            "--set",
            f"data.train_samples={args.train_samples}",
            "--set",
            f"data.test_samples={args.test_samples}",
            "--set",
            "data.validation=test",  # as the plain script validates
            *(["--set", "data.num_words=10000"] if "imdb" in config else []),
            "--epochs",
            str(args.epochs),
            "--batch-size",
            str(args.batch_size),
            "--no-save",
            "--out",
            out,
            "--device",
            "cpu",
        ]
        wall, _, other = run_captured(argv)
        runs = sorted(Path(out).glob(f"{config}/*/metrics.json"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise RuntimeError(f"dlab run wrote no {config}/*/metrics.json under {out}")
        metrics = json.loads(runs[-1].read_text())
        return float(metrics["timing"]["train_samples_per_s"]), wall, other


def run_plain(config: str, args: argparse.Namespace) -> tuple[float, float, float | None]:
    """One plain Keras run; samples/s from the JSON line it prints last."""
    argv = [
        sys.executable,
        str(PLAIN),
        "--model",
        config,
        "--train-samples",
        str(args.train_samples),
        "--test-samples",
        str(args.test_samples),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
    ]
    wall, stdout, other = run_captured(argv)
    line = [text for text in stdout.splitlines() if text.startswith("{")][-1]
    return float(json.loads(line)["samples_per_s"]), wall, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS[:3]), choices=CONFIGS)
    parser.add_argument("--train-samples", type=int, default=5000)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    sides = {"dlab": run_dlab, "plain": run_plain}
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    others: list[float] = []
    for config in args.configs:
        rates: dict[str, list[float]] = {name: [] for name in sides}
        walls: dict[str, list[float]] = {name: [] for name in sides}
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for name in order:
                rate, wall, other = sides[name](config, args)
                rates[name].append(rate)
                walls[name].append(wall)
                others.append(other or 0.0)
                busy = "" if other is None else f", other processes used {other:5.1f} CPU-s"
                print(
                    f"  {config} repeat {repeat + 1}/{args.repeats} {name:<5}: "
                    f"{rate:8.1f} samples/s, wall {wall:6.1f} s{busy}",
                    flush=True,
                )
        results[config] = {"rates": rates, "walls": walls}

    print(
        f"\n{args.train_samples} train / {args.test_samples} test synthetic samples, "
        f"{args.epochs} epochs, batch {args.batch_size}, {args.repeats} interleaved repeats"
    )
    print(
        f"{'config':<12} {'dlab samples/s':>15} {'plain samples/s':>16} {'dlab/plain':>11} "
        f"{'dlab wall s':>12} {'plain wall s':>13}  target >= {TARGET_RATIO}"
    )
    for config, result in results.items():
        rates, walls = result["rates"], result["walls"]
        median = {name: statistics.median(values) for name, values in rates.items()}
        ratio = median["dlab"] / median["plain"]
        print(
            f"{config:<12} {median['dlab']:>15.1f} {median['plain']:>16.1f} {ratio:>11.3f} "
            f"{statistics.median(walls['dlab']):>12.1f} "
            f"{statistics.median(walls['plain']):>13.1f}  "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}"
        )
    for config, result in results.items():
        rates = result["rates"]
        spread = ", ".join(f"{name} {min(values):.1f}-{max(values):.1f}" for name, values in rates.items())
        print(f"  {config} min-max samples/s: {spread}")
    print(
        f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs; other processes used up to {max(others):.1f} CPU-s "
        "during one run (more than ~1 CPU-s: that run is skewed, rerun on a quiet machine)"
    )


if __name__ == "__main__":
    main()
