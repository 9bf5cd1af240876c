"""The cost of --tensorboard and --mlflow per epoch, as a ratio against the same run without them.

Each variant runs as ``dlab run CONFIG --set data.source=synthetic ... --no-save`` in a
fresh process (real-size synthetic data: 50,000 CIFAR-10 / 60,000 MNIST images), round
robin, and the medians are compared two ways:

- in-epoch: metrics.json's ``timing.time_per_epoch_s`` (what the TensorBoard callback
  adds inside fit);
- per epoch overall: the process's wall time divided by the epochs (it also counts the
  MLflow connection and the logging of history and artifacts after training).

Target: under 3% each on real-size data. Usage::

    .venv/bin/python benchmarks/bench_tracking.py                        # both configs, 3 epochs, 3 rounds
    .venv/bin/python benchmarks/bench_tracking.py --configs mlp-mnist --epochs 2 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench_common import dlab_command, run_captured

SIZES = {"cnn-cifar10": 50_000, "mlp-mnist": 60_000}
VARIANTS = {"plain": [], "tensorboard": ["--tensorboard"], "mlflow": ["--mlflow"]}


def one_run(config: str, variant: str, epochs: int, folder: Path) -> tuple[float, float]:
    """(process wall seconds, in-epoch median seconds) of one run."""
    out = folder / variant
    argv = [
        *dlab_command(),
        "run",
        config,
        "--set",
        "data.source=synthetic",
        "--set",
        f"data.train_samples={SIZES[config]}",
        "--set",
        "data.test_samples=10000",
        "--epochs",
        str(epochs),
        "--no-save",
        "--device",
        "cpu",
        "--out",
        str(out),
        *VARIANTS[variant],
    ]
    if variant == "mlflow":
        argv += ["--mlflow-uri", f"sqlite:///{folder}/mlflow.db"]
    wall, _, _ = run_captured(argv)
    latest = max(out.glob(f"{config}/*/metrics.json"), key=lambda p: p.stat().st_mtime)
    timing = json.loads(latest.read_text())["timing"]
    return wall, float(timing["time_per_epoch_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(SIZES))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'config':<12} {'variant':<12} {'s/epoch (wall)':>15} {'ratio':>7} "
        f"{'s/epoch (fit)':>14} {'ratio':>7}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for config in args.configs:
            walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
            fits: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for _ in range(args.repeats):
                for variant in VARIANTS:
                    wall, fit = one_run(config, variant, args.epochs, folder)
                    walls[variant].append(wall / args.epochs)
                    fits[variant].append(fit)
            base_wall, base_fit = statistics.median(walls["plain"]), statistics.median(fits["plain"])
            for variant in VARIANTS:
                wall, fit = statistics.median(walls[variant]), statistics.median(fits[variant])
                print(
                    f"{config:<12} {variant:<12} {wall:>15.3f} {wall / base_wall:>7.3f} "
                    f"{fit:>14.3f} {fit / base_fit:>7.3f}"
                )
    print("target: ratio < 1.03 for --tensorboard and --mlflow")


if __name__ == "__main__":
    main()
