"""Training throughput: `dlab run cnn-cifar10` against the same model in plain Keras.

dlab wraps ``model.fit`` with its own machinery (config resolution, callbacks
that time epochs and rewrite history.csv every epoch, console tee to run.log,
device selection). This benchmark checks that the wrapping costs (almost)
nothing while training: dlab must reach >= 97% of the training samples/s of a
plain Keras script (benchmarks/plain_cnn_cifar10.py) that trains the same
model on byte-identical synthetic data with the same epochs and batch size.

Both sides measure samples/s the same way (dlab's ``timing.train_samples_per_s``
in metrics.json): training samples * epochs / sum over epochs of the time from
on_epoch_begin to the first on_test_begin, i.e. validation is excluded. Each
side runs as a fresh subprocess, ``--repeats`` times, interleaved (the order
alternates every repeat so drift hits both alike); their progress output is
captured and discarded. Reported: median samples/s of each, the ratio
dlab/plain, and, for information, the median wall time of each subprocess
(which also includes interpreter and TensorFlow start-up, data generation,
validation, test evaluation, and for dlab writing plots and metrics).
Each run also shows how many CPU-seconds *other* processes used meanwhile (from
/proc/stat): on a small machine any other work skews the numbers.

Target: dlab / plain samples/s >= 0.97. The script only reports: it exits 0 whether or
not the target is met (a run that crashes stops it with the run's error).

    .venv/bin/python benchmarks/bench_throughput.py [--train-samples 5000] \
        [--test-samples 1000] [--epochs 3] [--batch-size 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 0.97
CONFIG = "cnn-cifar10"
PLAIN_SCRIPT = Path(__file__).with_name("plain_cnn_cifar10.py")


def dlab_command() -> list[str]:
    """The dlab console script next to this interpreter, else ``python -m dlab``."""
    script = Path(sys.executable).parent / "dlab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dlab"]


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_captured(argv: list[str]) -> tuple[float, str, float | None]:
    """Run ``argv`` with its output captured.

    Returns wall seconds, stdout, and the CPU seconds that *other* processes used
    meanwhile (machine busy time minus the child's), to spot runs skewed by other work.
    """
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before = busy_cpu_seconds()
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    busy_after = busy_cpu_seconds()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{tail}")
    other = None
    if busy_before is not None and busy_after is not None:
        child = (children_after.ru_utime + children_after.ru_stime
                 - children_before.ru_utime - children_before.ru_stime)
        other = max(busy_after - busy_before - child, 0.0)
    return elapsed, result.stdout, other


def run_dlab(args: argparse.Namespace) -> tuple[float, float, float | None]:
    """One `dlab run`; samples/s from the newest metrics.json in a fresh output folder."""
    with tempfile.TemporaryDirectory(prefix="dlab-bench-") as out:
        argv = [*dlab_command(), "run", CONFIG,
                "--set", "data.source=synthetic",
                "--set", f"data.train_samples={args.train_samples}",
                "--set", f"data.test_samples={args.test_samples}",
                "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                "--no-save", "--out", out, "--device", "cpu"]
        wall, _, other = run_captured(argv)
        runs = sorted(Path(out).glob(f"{CONFIG}/*/metrics.json"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise RuntimeError(f"dlab run wrote no {CONFIG}/*/metrics.json under {out}")
        metrics = json.loads(runs[-1].read_text())
        return float(metrics["timing"]["train_samples_per_s"]), wall, other


def run_plain(args: argparse.Namespace) -> tuple[float, float, float | None]:
    """One plain Keras run; samples/s from the JSON line it prints last."""
    argv = [sys.executable, str(PLAIN_SCRIPT),
            "--train-samples", str(args.train_samples), "--test-samples", str(args.test_samples),
            "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    wall, stdout, other = run_captured(argv)
    line = [text for text in stdout.splitlines() if text.startswith("{")][-1]
    return float(json.loads(line)["samples_per_s"]), wall, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-samples", type=int, default=5000, help="default 5000")
    parser.add_argument("--test-samples", type=int, default=1000,
                        help="validation = test samples (default 1000)")
    parser.add_argument("--epochs", type=int, default=3, help="default 3")
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each side, interleaved (default 3)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    sides = {"dlab": run_dlab, "plain": run_plain}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    others: list[float] = []
    for repeat in range(args.repeats):
        order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
        for name in order:
            rate, wall, other = sides[name](args)
            rates[name].append(rate)
            walls[name].append(wall)
            others.append(other or 0.0)
            busy = "" if other is None else f", other processes used {other:5.1f} CPU-s"
            print(f"  repeat {repeat + 1}/{args.repeats} {name:<5}: {rate:8.1f} samples/s, "
                  f"wall {wall:6.1f} s{busy}", flush=True)

    median = {name: statistics.median(values) for name, values in rates.items()}
    ratio = median["dlab"] / median["plain"]
    print(f"\n{CONFIG}: {args.train_samples} train / {args.test_samples} test synthetic samples, "
          f"{args.epochs} epochs, batch {args.batch_size}, {args.repeats} interleaved repeats")
    print(f"{'side':<6} {'median samples/s':>17} {'min':>8} {'max':>8} {'median wall s':>14}")
    for name in sides:
        print(f"{name:<6} {median[name]:>17.1f} {min(rates[name]):>8.1f} "
              f"{max(rates[name]):>8.1f} {statistics.median(walls[name]):>14.1f}")
    print(f"ratio dlab/plain samples/s: {ratio:.3f}  (target >= {TARGET_RATIO}: "
          f"{'met' if ratio >= TARGET_RATIO else 'MISSED'})")
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs; other processes used up to {max(others):.1f} CPU-s "
          "during one run (more than ~1 CPU-s: that run is skewed, rerun on a quiet machine)")


if __name__ == "__main__":
    main()
