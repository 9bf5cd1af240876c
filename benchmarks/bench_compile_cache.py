"""The persistent compilation cache: how much a second run, and a sweep member, saves.

For each config, pairs of `dlab run CONFIG --backend jax` are run interleaved: a *cold* run with an
empty cache folder (``DLAB_COMPILE_CACHE`` pointing at a new folder) and a *warm* run with the
folder a previous run of the same model filled. Reported per side: the first epoch's wall time
(the epoch that traces and compiles: metrics.json ``timing.first_epoch_s``, else fit time minus the
steady epochs), the whole process's wall and CPU seconds (user + sys of the child), medians with
min-max over the pairs, and the warm/cold ratio of each.

    .venv/bin/python benchmarks/bench_compile_cache.py [--configs mlp-mnist lstm-imdb] [--pairs 3]

A sweep shares the cache between its members: the first member to train a model compiles it, the
members after it read it (``--sweep`` adds a 3-member seed sweep on a cold cache and prints each
member's first-epoch time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import children_cpu_seconds, dlab_command  # same folder: run as a script

SETTINGS = ["--smoke", "--epochs", "3", "--no-save", "--device", "cpu", "-q"]


def run_once(config: str, cache: Path, out: Path, backend: str) -> dict:
    """One `dlab run` with ``cache`` as its compilation cache; timings from metrics.json."""
    env = {**os.environ, "DLAB_COMPILE_CACHE": str(cache)}
    argv = [*dlab_command(), "run", config, "--backend", backend, "--out", str(out), *SETTINGS]
    cpu_before, start = children_cpu_seconds(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    (metrics_path,) = sorted(out.glob(f"{config}/*/metrics.json"))[-1:]
    return {"first_epoch": first_epoch_s(json.loads(metrics_path.read_text())), "wall": wall, "cpu": cpu}


def first_epoch_s(metrics: dict) -> float:
    """The first epoch's seconds: the recorded one, else the fit minus the steady epochs."""
    timing = metrics.get("timing", {})
    if timing.get("first_epoch_s") is not None:
        return float(timing["first_epoch_s"])
    epochs = max(int(metrics.get("epochs_run") or 1), 1)
    steady = float(timing.get("time_per_epoch_s") or 0.0)
    return float(timing["fit_seconds"]) - steady * (epochs - 1)


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def bench_config(config: str, pairs: int, backend: str) -> None:
    sides: dict[str, list[dict]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="dlab-cc-") as scratch:
        root = Path(scratch)
        warm_cache = root / "warm-cache"
        run_once(config, warm_cache, root / "fill", backend)  # fill the warm cache once
        for pair in range(pairs):
            order = ("cold", "warm") if pair % 2 == 0 else ("warm", "cold")
            for side in order:
                cache = root / f"cold-{pair}" if side == "cold" else warm_cache
                sides[side].append(run_once(config, cache, root / f"{side}-{pair}", backend))
                print(f"  {config} pair {pair + 1} {side}: {sides[side][-1]}", flush=True)
    print(f"\n{config} ({backend}, {pairs} interleaved pairs; median (min-max))")
    for key, label in (
        ("first_epoch", "first epoch s"),
        ("wall", "process wall s"),
        ("cpu", "process CPU s"),
    ):
        cold = [run[key] for run in sides["cold"]]
        warm = [run[key] for run in sides["warm"]]
        ratios = [w / c for w, c in zip(warm, cold, strict=True)]
        print(
            f"  {label:<15} cold {summary(cold)}  warm {summary(warm)}  "
            f"warm/cold {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )


def bench_sweep(config: str, backend: str) -> None:
    """A 3-member seed sweep on a cold cache: each member's first-epoch seconds, in order."""
    with tempfile.TemporaryDirectory(prefix="dlab-cc-sweep-") as scratch:
        root = Path(scratch)
        env = {**os.environ, "DLAB_COMPILE_CACHE": str(root / "cache")}
        argv = [*dlab_command(), "sweep", config, "--seeds", "1,2,3", "--backend", backend]
        argv += ["--out", str(root / "o"), "--smoke", "--epochs", "3", "--no-save", "-q"]
        subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        members = sorted(root.glob(f"o/{config}/*/metrics.json"), key=lambda p: p.parent.name)
        times = [first_epoch_s(json.loads(path.read_text())) for path in members]
        print(f"\nsweep of {config}, 3 seeds, one cold cache: first epoch s per member {times}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["mlp-mnist", "lstm-imdb"])
    parser.add_argument("--backend", default="jax", choices=["jax", "tensorflow"])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--sweep", action="store_true", help="also a 3-member sweep on a cold cache")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for config in args.configs:
        bench_config(config, args.pairs, args.backend)
        if args.sweep:
            bench_sweep(config, args.backend)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
