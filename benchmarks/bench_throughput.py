"""Training throughput: `dlab run CONFIG` against the same model in plain Keras, on a noisy machine.

dlab wraps ``model.fit`` with its own machinery (config resolution, callbacks that time
epochs and rewrite history.csv every epoch, console tee to run.log, device selection) and
with its defaults: ``train.steps_per_execution: auto`` (several batches per compiled call
where dlab's speed table measured it faster) on the TensorFlow backend. The baseline is the
seed code as a plain Keras script (benchmarks/plain_keras.py): the same model, optimizer,
loss and metrics, trained on byte-identical synthetic data (dlab's generators, seed 42) with
the same epochs, batch size and validation data (the test split), and Keras's default of one
batch per compiled call.

What is measured, per process (both sides the same way, dlab's metrics.json ``timing``):

- **samples per CPU second** (the primary figure): training samples / the process's CPU
  seconds (``time.process_time``: user + system, all threads) of the median epoch after the
  first, from on_epoch_begin to the first on_test_begin (validation and the first, tracing
  epoch left out). dlab: ``timing.steady_train_samples_per_cpu_s``; plain_keras.py:
  ``steady_samples_per_cpu_s``. A VM's wall clock swings with steal time, frequency and
  neighbours (2-3x between identical runs here); the CPU time one epoch needs much less.
- samples/s: the same span in wall seconds (``timing.steady_train_samples_per_s``);
- the whole process: its wall seconds, and its CPU seconds (the child's rusage user + system,
  ``bench_common.run_measured``): start-up, data, training, validation, test evaluation and,
  for dlab, its plots and metrics.

The sides run as fresh subprocesses in pairs, interleaved A B, B A, A B, ... so each dlab run
is compared with its neighbouring plain run (drift hits both alike). Each pair gives ratios
dlab / plain; per config the script reports their median, min-max over pairs, and a 90%
interval of the median (distribution-free, from order statistics: min-max with 5-7 pairs,
none below 5), plus each side's coefficient of variation; the geometric mean over configs
gets a bootstrap interval (pairs resampled within each config, fixed seed). A pair during
which other processes used more than ``--skew-cores`` cores (their CPU seconds / the run's
wall seconds, from /proc/stat) is marked skewed: it is kept in the JSON and counted, but left
out of the statistics. ``--until-tight`` adds pairs (up to ``--max-repeats``) until the
per-CPU-second interval is within +-``--tight`` of its median.

Targets (the issue's; a verdict only where the interval clears the target, else UNDECIDED;
the script always exits 0):
- samples per CPU second dlab / plain >= 1.0 on every config, geometric mean >= 1.5;
- whole-process wall dlab / plain <= 1.1 on every config.

Sizes are per config (CONFIGS below), small enough for a 2-core CPU. kfold-boston is one
fold: dlab runs it with ``train.kfold=null`` (one fit of a fresh model whose Normalization
adapts on its own training rows, as each fold's fit is) on a fold's size, 303 of the 404
rows. chargru-timemachine counts characters in ``--train-samples``/``--test-samples`` (dlab's
data.train_samples) and 35-character subsequences in samples/s (dlab's timing does).
``--backends tensorflow jax`` adds a dlab side per backend (``dlab run --backend``). With
cnn-cifar10 the script also measures this CPU's float32 matmul peak and prints the share of
it that cnn-cifar10 reaches (samples/s * 27.3 MFLOP per sample, forward + backward).
``--variant NAME KEY=VALUE ... [env:NAME=VALUE ...]`` adds a dlab side run with those settings
(and environment), to find what costs dlab time: e.g. ``--variant spe1 train.steps_per_execution=1``.
``--threads N`` runs both sides at N TensorFlow (and OpenMP) threads. ``--json FILE`` keeps every
raw measurement and the summary; ``--from-json FILE`` reports a kept run again, measuring nothing.

    .venv/bin/python benchmarks/bench_throughput.py [--configs cnn-cifar10 ... chargru-timemachine] \\
        [--backends tensorflow jax] [--repeats 5] [--until-tight --max-repeats 15 --tight 0.05] \\
        [--skew-cores 0.1] [--json run.json | --from-json run.json] [--threads N] \\
        [--train-samples N] [--test-samples N] [--epochs N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench_common import dlab_command, run_measured  # same folder: run as a script
from bench_stats import (
    coefficient_of_variation,
    combined_verdict,
    fewest_for,
    geomean,
    geomean_of_medians_interval,
    median,
    median_interval,
    relative_half_width,
    verdict,
)

PLAIN = Path(__file__).resolve().parent / "plain_keras.py"
CONFIGS = {
    # config: (train samples, test samples, epochs, batch size: the config's own); plain_keras.py
    # writes each one out
    # 5 epochs: the steady figures are a median of 4 (with 3, the mean of 2 ~1 s epochs, which
    # moved 10-15% from run to run on this VM even with the machine otherwise idle)
    "cnn-cifar10": (2000, 500, 5, 32),
    "cnn-mnist": (4000, 1000, 5, 32),
    "mlp-mnist": (10000, 2000, 3, 32),
    "mlp-imdb": (10000, 2000, 4, 512),
    "kfold-boston": (303, 101, 20, 16),  # one fold of four on the 404 training rows
    # 5 epochs: one epoch takes ~0.68 s or ~1.19 s at the same CPU time (1.17-1.25 CPU-s) on this
    # VM, in the plain script too, so a 2-epoch run's one steady epoch read as 0.65-1.18x
    "lstm-imdb": (2000, 500, 5, 128),
    # characters: 26 batches of 32 x 35 per epoch; 5 epochs, so the steady rate is a median of 4
    "chargru-timemachine": (30000, 3000, 5, 32),
}
DLAB_SETTINGS = {"kfold-boston": ["train.kfold=null"]}  # one fit: one fold's worth of training
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
CNN_FLOP_PER_SAMPLE = 27.3e6  # cnn-cifar10, forward + backward (3 x the forward's multiply-adds x 2)

TARGET_CPU_EACH, TARGET_CPU_GEOMEAN, TARGET_WALL_EACH = 1.0, 1.5, 1.1
RATIOS = {
    # pair ratio name: (the run's value, column heading, what the ratio means); dlab / plain for each
    "cpu": ("cpu_rate", "per CPU-s (PRIMARY)", "samples per CPU second, steady epochs"),
    "rate": ("rate", "samples/s", "samples per wall second, steady epochs"),
    "process_wall": ("wall", "process wall", "whole-process wall seconds"),
    "process_cpu": ("cpu", "process CPU", "whole-process CPU seconds (user + system)"),
}
SIDE_VALUES = ("cpu_rate", "rate", "wall", "cpu")  # per side: median and coefficient of variation

MATMUL_PEAK = """
import json, os, statistics, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
import tensorflow as tf
n, repeats = int(sys.argv[1]), int(sys.argv[2])
a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
float(tf.reduce_sum(tf.matmul(a, b)))  # warm-up
rates = []
for _ in range(repeats):
    start = time.perf_counter()
    c = tf.matmul(a, b)
    float(c[0, 0])
    rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
print(json.dumps({"gflops": statistics.median(rates), "min": min(rates), "max": max(rates)}))
"""


# --------------------------------------------------------------------------- one run of each side
def sizes(config: str, args: argparse.Namespace) -> tuple[int, int, int, int]:
    """(train samples, test samples, epochs, batch size): the config's, or what the flags override."""
    defaults = CONFIGS[config]
    given = (args.train_samples, args.test_samples, args.epochs, args.batch_size)
    return tuple(default if value is None else value for value, default in zip(given, defaults, strict=True))


def process_fields(measured, started: float) -> dict:
    """What every run records about its process, beside the training figures."""
    return {
        "started": round(started, 3),
        "load1": round(os.getloadavg()[0], 2),
        "wall": round(measured.wall, 3),
        "cpu": round(measured.cpu, 3),
        "other": None if measured.other is None else round(measured.other, 3),
    }


class DlabSide(NamedTuple):
    """How one dlab side runs: its backend, and a variant's settings and environment."""

    backend: str
    settings: tuple[str, ...] = ()  # KEY=VALUE, as --set
    env: tuple[str, ...] = ()  # NAME=VALUE


def dlab_sides(args: argparse.Namespace) -> dict[str, DlabSide]:
    """ "dlab BACKEND" for each ``--backends``, and "dlab NAME" for each ``--variant NAME ...`` (on
    the first backend; its ``env:NAME=VALUE`` items go to the environment, the others to --set)."""
    sides = {f"dlab {backend}": DlabSide(backend) for backend in args.backends}
    for name, *items in args.variant:
        env = tuple(item.removeprefix("env:") for item in items if item.startswith("env:"))
        settings = tuple(item for item in items if not item.startswith("env:"))
        sides[f"dlab {name}"] = DlabSide(args.backends[0], settings, env)
    return sides


def run_dlab(config: str, side: DlabSide, args: argparse.Namespace) -> dict:
    """One `dlab run` with dlab's defaults (and a variant's changes); its figures from metrics.json."""
    train, test, epochs, batch = sizes(config, args)
    settings = [
        "data.source=synthetic",
        f"data.train_samples={train}",
        f"data.test_samples={test}",
        "data.validation=test",  # as the plain script validates
        *DLAB_SETTINGS.get(config, []),
        *side.settings,
    ]
    with tempfile.TemporaryDirectory(prefix="dlab-bench-") as out:
        argv = [*dlab_command(), "run", config]
        for setting in settings:
            argv += ["--set", setting]
        argv += ["--epochs", str(epochs), "--batch-size", str(batch), "--backend", side.backend]
        argv += ["--no-save", "--out", out, "--device", "cpu"]
        started = time.time()
        measured = run_measured(argv, env=environment(args, side.env))
        runs = sorted(Path(out).glob(f"{config}/*/metrics.json"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise RuntimeError(f"dlab run wrote no {config}/*/metrics.json under {out}")
        metrics = json.loads(runs[-1].read_text())
    timing = metrics["timing"]
    return {
        "rate": float(timing.get("steady_train_samples_per_s") or timing["train_samples_per_s"]),
        "rate_all": float(timing["train_samples_per_s"]),
        "cpu_rate": timing.get("steady_train_samples_per_cpu_s"),
        "params": int(metrics["params"]["total"]),
        "steps_per_execution": metrics.get("execution", {}).get("steps_per_execution"),
        **process_fields(measured, started),
    }


def describe_side(side: DlabSide) -> str:
    """The side as the arguments and environment its `dlab run` gets."""
    changes = [f"--set {setting}" for setting in side.settings] + [f"env {item}" for item in side.env]
    return " ".join(["dlab run --backend", side.backend, *changes])


def environment(args: argparse.Namespace, assignments: tuple[str, ...] = ()) -> dict[str, str] | None:
    """A run's environment: this one, with ``--threads`` (both sides) and a variant's ``NAME=VALUE``
    assignments over it (None: unchanged)."""
    threads = {} if args.threads is None else {name: str(args.threads) for name in THREAD_VARIABLES}
    changes = {**threads, **dict(assignment.split("=", 1) for assignment in assignments)}
    return {**os.environ, **changes} if changes else None


def run_plain(config: str, args: argparse.Namespace) -> dict:
    """One plain Keras run; its figures from the JSON line it prints last."""
    train, test, epochs, batch = sizes(config, args)
    argv = [sys.executable, str(PLAIN), "--model", config, "--train-samples", str(train)]
    argv += ["--test-samples", str(test), "--epochs", str(epochs), "--batch-size", str(batch)]
    started = time.time()
    measured = run_measured(argv, env=environment(args))
    result = json.loads([text for text in measured.stdout.splitlines() if text.startswith("{")][-1])
    return {
        "rate": float(result.get("steady_samples_per_s") or result["samples_per_s"]),
        "rate_all": float(result["samples_per_s"]),
        "cpu_rate": result.get("steady_samples_per_cpu_s"),
        "params": result["params"],
        "train_seconds": result.get("train_seconds"),
        "train_cpu_seconds": result.get("train_cpu_seconds"),
        **process_fields(measured, started),
    }


def run_side(config: str, side: str, args: argparse.Namespace) -> dict:
    """One run of ``side`` ("plain", or one of ``args.dlab_sides``) on ``config``."""
    if side == "plain":
        return run_plain(config, args)
    return run_dlab(config, args.dlab_sides[side], args)


def other_cores(run: dict) -> float | None:
    """How many cores other processes kept busy on average during ``run``."""
    return None if run["other"] is None else run["other"] / max(run["wall"], 1e-9)


def describe_run(run: dict) -> str:
    """One progress line's figures for a run."""
    parts = [
        f"{run['cpu_rate'] or float('nan'):9,.1f} samples/CPU-s",
        f"{run['rate']:9,.1f} samples/s",
        f"process wall {run['wall']:5.1f} s, CPU {run['cpu']:5.1f} s",
    ]
    if run.get("steps_per_execution") is not None:
        parts.append(f"{run['steps_per_execution']} steps/call")
    cores = other_cores(run)
    if cores is not None:
        parts.append(f"others {run['other']:5.1f} CPU-s ({cores:.2f} cores)")
    return ", ".join(parts)


# --------------------------------------------------------------------------- pairs
def measure_pair(config: str, sides: list[str], index: int, args: argparse.Namespace) -> dict:
    """One run of every side, in the order that alternates pair by pair (A B, then B A)."""
    order = sides if index % 2 == 0 else list(reversed(sides))
    runs = {}
    for side in order:
        run = {"config": config, "side": side, "pair": index, **run_side(config, side, args)}
        runs[side] = run
        print(f"  {config} pair {index + 1} {side:<16}: {describe_run(run)}", flush=True)
    cores = [other_cores(run) for run in runs.values()]
    skewed = any(c is not None and c > args.skew_cores for c in cores)
    return {"config": config, "index": index, "order": order, "runs": runs, "skewed": skewed}


def pair_ratio(pair: dict, side: str, name: str) -> float | None:
    """dlab / plain of one pair for RATIOS[name] (None where either value is missing)."""
    key = RATIOS[name][0]
    mine, plain = pair["runs"][side][key], pair["runs"]["plain"][key]
    return mine / plain if mine and plain else None


def clean_ratios(pairs: list[dict], side: str, name: str) -> list[float]:
    """The ratios of the pairs that are not skewed."""
    values = (pair_ratio(pair, side, name) for pair in pairs if not pair["skewed"])
    return [value for value in values if value is not None]


def is_tight(pairs: list[dict], sides: list[str], args: argparse.Namespace) -> bool:
    """Whether every dlab side's per-CPU-second interval is within +-``args.tight`` of its median."""
    for side in sides[:-1]:
        ratios = clean_ratios(pairs, side, "cpu")
        if len(ratios) < 2:
            return False
        interval = median_interval(ratios, args.level)
        if interval is None or relative_half_width(interval, median(ratios)) > args.tight:
            return False
    return True


def wants_another_pair(pairs: list[dict], sides: list[str], args: argparse.Namespace) -> bool:
    if len(pairs) < args.repeats:
        return True
    return args.until_tight and len(pairs) < args.max_repeats and not is_tight(pairs, sides, args)


def measure_config(config: str, sides: list[str], args: argparse.Namespace) -> list[dict]:
    """``--repeats`` pairs, then (``--until-tight``) more until the interval is tight enough."""
    pairs: list[dict] = []
    while wants_another_pair(pairs, sides, args):
        pair = measure_pair(config, sides, len(pairs), args)
        pairs.append(pair)
        ratios = ", ".join(
            f"{side} per CPU-s {pair_ratio(pair, side, 'cpu') or float('nan'):.2f}" for side in sides[:-1]
        )
        print(f"    pair {len(pairs)}: {ratios}{'  (skewed by other processes)' if pair['skewed'] else ''}")
    return pairs


# --------------------------------------------------------------------------- summary
def ratio_summary(ratios: list[float], args: argparse.Namespace) -> dict | None:
    """Median, min-max and the interval of the median (None: too few pairs) of a list of pair ratios."""
    if not ratios:
        return None
    return {
        "median": median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "interval": median_interval(ratios, args.level),
        "values": ratios,
    }


def side_summary(pairs: list[dict], side: str) -> dict:
    """Each measured value of one side over the clean pairs: median and coefficient of variation."""
    runs = [pair["runs"][side] for pair in pairs if not pair["skewed"]]
    summary = {}
    for key in SIDE_VALUES:
        values = [run[key] for run in runs if run[key] is not None]
        summary[key] = {
            "median": median(values) if values else None,
            "cv": coefficient_of_variation(values),
        }
    return summary


def config_summary(pairs: list[dict], side: str, args: argparse.Namespace) -> dict:
    """The ratios of one dlab side against plain on one config, and both sides' own spread."""
    return {
        "pairs": len(pairs),
        "skewed": sum(pair["skewed"] for pair in pairs),
        "ratios": {name: ratio_summary(clean_ratios(pairs, side, name), args) for name in RATIOS},
        "dlab": side_summary(pairs, side),
        "plain": side_summary(pairs, "plain"),
        "params": (pairs[0]["runs"][side]["params"], pairs[0]["runs"]["plain"]["params"]),
    }


def side_verdicts(per_config: dict[str, dict], results: dict[str, list[dict]], side: str, args) -> dict:
    """The issue's targets for one dlab side: a verdict per config and for the geometric mean."""
    cpu = {config: s["ratios"]["cpu"] for config, s in per_config.items()}
    wall = {config: s["ratios"]["process_wall"] for config, s in per_config.items()}
    why = f"fewer than {fewest_for(args.level)} clean pairs: no {args.level:.0%} interval"
    cpu_each = {c: verdict(r and r["interval"], TARGET_CPU_EACH, why_none=why) for c, r in cpu.items()}
    wall_each = {
        c: verdict(r and r["interval"], TARGET_WALL_EACH, at_least=False, why_none=why)
        for c, r in wall.items()
    }
    groups = [clean_ratios(results[config], side, "cpu") for config in per_config]
    geo = None
    if all(groups):
        geo = {
            "value": geomean([median(group) for group in groups]),
            "interval": geomean_of_medians_interval(groups, args.level, args.seed)
            if min(map(len, groups)) >= fewest_for(args.level)
            else None,
        }
    return {
        "cpu_each": cpu_each,
        "cpu_every": combined_verdict(list(cpu_each.values())),
        "cpu_geomean": geo,
        "cpu_geomean_verdict": verdict(geo and geo["interval"], TARGET_CPU_GEOMEAN, why_none=why),
        "wall_each": wall_each,
        "wall_every": combined_verdict(list(wall_each.values())),
    }


def summarize(results: dict[str, list[dict]], sides: list[str], args: argparse.Namespace) -> dict:
    """Per dlab side: each config's summary and the verdicts."""
    summary = {}
    for side in sides[:-1]:
        per_config = {config: config_summary(pairs, side, args) for config, pairs in results.items()}
        summary[side] = {"configs": per_config, "targets": side_verdicts(per_config, results, side, args)}
    return summary


# --------------------------------------------------------------------------- printing
def fmt_ratio(summary: dict | None) -> str:
    """ "1.04 [0.98-1.10] 0.95-1.12": median, interval ([-] without one), min-max (if any)."""
    if summary is None:
        return "n/a"
    interval = "[-]" if summary["interval"] is None else "[{:.2f}-{:.2f}]".format(*summary["interval"])
    spread = "" if summary.get("min") is None else f" {summary['min']:.2f}-{summary['max']:.2f}"
    return f"{summary['median']:.2f} {interval}{spread}"


def fmt_value(value: dict, digits: int = 0) -> str:
    """ "1,820 (cv 4%)": a side's median and its coefficient of variation."""
    if value["median"] is None:
        return "n/a"
    cv = "" if value["cv"] is None else f" (cv {value['cv']:.0%})"
    return f"{value['median']:,.{digits}f}{cv}"


def print_ratios(side: str, per_config: dict[str, dict], args: argparse.Namespace) -> None:
    print(
        f"\n{side} / plain: median ratio of the clean pairs [{args.level:.0%} interval of the median, "
        f"from {fewest_for(args.level)} pairs] min-max over pairs"
    )
    header = f"{'config':<20} {'pairs':<11}" + "".join(f" {heading:<26}" for _, heading, _ in RATIOS.values())
    print(header + "  params dlab / plain")
    for config, s in per_config.items():
        pairs = f"{s['pairs']}" + (f" ({s['skewed']} sk.)" if s["skewed"] else "")
        cells = "".join(f" {fmt_ratio(s['ratios'][name]):<26}" for name in RATIOS)
        dlab_params, plain_params = s["params"]
        differ = "" if dlab_params == plain_params else "  PARAMETER COUNTS DIFFER"
        print(f"{config:<20} {pairs:<11}{cells}  {dlab_params:,} / {plain_params:,}{differ}")
    print(
        "  dlab / plain of: " + "; ".join(f"{heading}: {meaning}" for _, heading, meaning in RATIOS.values())
    )


def print_sides(side: str, per_config: dict[str, dict]) -> None:
    print(f"\n{side} and plain on their own: median of the clean runs (coefficient of variation)")
    print(
        f"{'config':<20} {'dlab samples/CPU-s':>20} {'plain samples/CPU-s':>20} {'dlab samples/s':>20} "
        f"{'plain samples/s':>20} {'dlab wall s':>14} {'plain wall s':>14}"
    )
    for config, s in per_config.items():
        dlab, plain = s["dlab"], s["plain"]
        print(
            f"{config:<20} {fmt_value(dlab['cpu_rate']):>20} {fmt_value(plain['cpu_rate']):>20} "
            f"{fmt_value(dlab['rate']):>20} {fmt_value(plain['rate']):>20} "
            f"{fmt_value(dlab['wall'], 1):>14} {fmt_value(plain['wall'], 1):>14}"
        )


def print_targets(side: str, per_config: dict[str, dict], targets: dict) -> None:
    subset = "" if len(per_config) == len(CONFIGS) else " (a subset: the geometric mean is over these only)"
    print(f"\ntargets, {side} / plain, {len(per_config)} of the {len(CONFIGS)} configs{subset}:")
    print(f"  samples per CPU second >= {TARGET_CPU_EACH} on every config: {targets['cpu_every']}")
    for config, result in targets["cpu_each"].items():
        print(f"    {config:<20} {fmt_ratio(per_config[config]['ratios']['cpu']):<28} {result}")
    geo = targets["cpu_geomean"]
    value = "n/a" if geo is None else fmt_ratio({**geo, "median": geo["value"], "min": None})
    geo_verdict = targets["cpu_geomean_verdict"]
    print(f"  samples per CPU second, geometric mean >= {TARGET_CPU_GEOMEAN}: {value}  {geo_verdict}")
    print(f"  whole-process wall <= {TARGET_WALL_EACH} on every config: {targets['wall_every']}")
    for config, result in targets["wall_each"].items():
        print(f"    {config:<20} {fmt_ratio(per_config[config]['ratios']['process_wall']):<28} {result}")


def print_noise(results: dict[str, list[dict]], machine: dict, args: argparse.Namespace) -> None:
    """The machine's load and other processes' CPU use, and how many pairs they skewed."""
    runs = [run for pairs in results.values() for pair in pairs for run in pair["runs"].values()]
    others = [run["other"] for run in runs if run["other"] is not None]
    cores = [c for c in map(other_cores, runs) if c is not None]
    pairs = [pair for config_pairs in results.values() for pair in config_pairs]
    skewed = sum(pair["skewed"] for pair in pairs)
    print(
        f"\nload average (1 min) before/after: {machine['load_before']:.2f} / {machine['load_after']:.2f} "
        f"on {machine['cpus']} CPUs"
    )
    if others:
        print(
            f"other processes used {min(others):.1f}-{max(others):.1f} CPU-s per run "
            f"({min(cores):.2f}-{max(cores):.2f} cores); {skewed} of {len(pairs)} pairs skewed "
            f"(a run with others above {args.skew_cores} cores) and left out of the statistics"
        )
    if skewed == len(pairs):
        print("every pair was skewed: no verdict is possible; rerun on a quiet machine or raise --skew-cores")


def print_peak(results: dict[str, list[dict]], sides: list[str], peak: dict) -> None:
    """cnn-cifar10's samples/s as a share of this CPU's matmul peak."""
    shares = []
    for side in sides:
        rates = [pair["runs"][side]["rate"] for pair in results["cnn-cifar10"] if not pair["skewed"]]
        if rates:
            gflops = median(rates) * CNN_FLOP_PER_SAMPLE / 1e9
            shares.append(f"{side} {gflops:.1f} GFLOP/s = {gflops / peak['gflops']:.1%}")
    print(
        f"\ncnn-cifar10 share of the float32 matmul peak ({peak['gflops']:.1f} GFLOP/s; "
        f"{CNN_FLOP_PER_SAMPLE / 1e6:.1f} MFLOP per sample, wall samples/s): {', '.join(shares) or 'n/a'}"
    )


# --------------------------------------------------------------------------- main
def matmul_peak(size: int, repeats: int) -> dict:
    """This CPU's float32 matmul GFLOP/s in TensorFlow (a fresh subprocess; median of ``repeats``)."""
    measured = run_measured([sys.executable, "-c", MATMUL_PEAK, str(size), str(repeats)])
    return json.loads(measured.stdout.strip().splitlines()[-1])


def commit() -> str | None:
    """The checked-out commit (and whether the tree has changes), for the JSON record."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def write_json(path: Path, args: argparse.Namespace, record: dict) -> None:
    """Every raw measurement and the summary, to keep a run and compare it later."""
    path.write_text(json.dumps({"argv": sys.argv, "args": vars(args), **record}, indent=1, default=str))
    print(f"\nwrote {path}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["tensorflow"],
        choices=["tensorflow", "jax", "torch", "auto"],
        help="a dlab side per backend (dlab run --backend; auto: the speed table's choice per model "
        "family, on a warm compile cache after the first run); the plain script stays on TensorFlow",
    )
    parser.add_argument("--train-samples", type=int, help="override every config's (see CONFIGS)")
    parser.add_argument("--test-samples", type=int, help="override every config's")
    parser.add_argument("--epochs", type=int, help="override every config's (at least 2: steady epochs)")
    parser.add_argument("--batch-size", type=int, help="override every config's (default: its own)")
    parser.add_argument("--repeats", type=int, default=5, help="pairs per config (default 5)")
    parser.add_argument("--until-tight", action="store_true", help="add pairs until the interval is tight")
    parser.add_argument(
        "--max-repeats", type=int, default=15, help="most pairs per config with --until-tight"
    )
    parser.add_argument(
        "--tight", type=float, default=0.05, help="interval half-width / median (default 0.05)"
    )
    parser.add_argument("--level", type=float, default=0.9, help="the intervals' confidence (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="the geometric mean's bootstrap seed")
    parser.add_argument(
        "--skew-cores",
        type=float,
        default=0.1,
        help="a pair is skewed when other processes kept more cores than this busy during one of its "
        "runs (default 0.1; 'inf' keeps every pair)",
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME KEY=VALUE",
        help="one more dlab side, named NAME: dlab run with these --set settings (env:NAME=VALUE: in its "
        "environment), on the first backend; e.g. --variant spe1 train.steps_per_execution=1",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="run both sides with TensorFlow's intra- and inter-op thread pools (and OpenMP's) at N "
        "threads: --threads 1 measures one core's work per sample, without idle threads spinning",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="measure nothing: report the pairs a --json FILE holds (with this run's --skew-cores, "
        "--level, --configs)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every measurement and the summary")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--matmul-repeats", type=int, default=10)
    parser.add_argument("--no-peak", action="store_true", help="skip the matmul peak (cnn-cifar10's share)")
    args = parser.parse_args()
    args.dlab_sides = dlab_sides(args)
    return args


def measure(args: argparse.Namespace) -> dict:
    """Run every config's pairs (and the matmul peak); the record ``--json`` writes."""
    started, load_before = time.time(), os.getloadavg()[0]
    peak = None
    if "cnn-cifar10" in args.configs and not args.no_peak:
        peak = matmul_peak(args.matmul_size, args.matmul_repeats)
        print(
            f"float32 matmul peak ({args.matmul_size}x{args.matmul_size}, TensorFlow, median of "
            f"{args.matmul_repeats}): {peak['gflops']:.1f} GFLOP/s "
            f"(min {peak['min']:.1f}, max {peak['max']:.1f})",
            flush=True,
        )
    sides = [*args.dlab_sides, "plain"]
    print(f"load average (1 min) {load_before:.2f} on {os.cpu_count()} CPUs; sides:")
    for name, side in args.dlab_sides.items():
        print(f"  {name}: {describe_side(side)}")
    print("  plain: benchmarks/plain_keras.py (TensorFlow)")
    if args.threads is not None:
        print(f"  both sides with {', '.join(THREAD_VARIABLES)} = {args.threads}")
    results = {config: measure_config(config, sides, args) for config in args.configs}
    return {
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()[0]},
        "commit": commit(),
        "started": started,
        "finished": time.time(),
        "matmul_peak": peak,
        "sides": sides,
        "pairs": [pair for pairs in results.values() for pair in pairs],
    }


def reread(args: argparse.Namespace) -> dict:
    """A record written by ``--json``, its pairs judged skewed or not by this run's ``--skew-cores``."""
    record = json.loads(args.from_json.read_text())
    for pair in record["pairs"]:
        cores = [other_cores(run) for run in pair["runs"].values()]
        pair["skewed"] = any(c is not None and c > args.skew_cores for c in cores)
    print(f"{args.from_json}: {len(record['pairs'])} pairs measured by: {' '.join(record['argv'])}")
    return record


def report(record: dict, args: argparse.Namespace) -> dict:
    """Print the tables, the verdicts and the noise; return the summary."""
    results: dict[str, list[dict]] = {}
    for pair in record["pairs"]:
        if pair["config"] in args.configs:
            results.setdefault(pair["config"], []).append(pair)
    first = record["pairs"][0]["runs"]
    sides = record.get("sides") or [*(side for side in first if side != "plain"), "plain"]
    summary = summarize(results, sides, args)
    print(
        "\nsynthetic data, seed 42; pairs of fresh processes, interleaved (A B, B A, ...); dlab with its "
        "defaults (steps_per_execution auto), plain Keras one step per call"
    )
    for side, result in summary.items():
        print_ratios(side, result["configs"], args)
        print_sides(side, result["configs"])
        print_targets(side, result["configs"], result["targets"])
    if record["matmul_peak"] is not None and "cnn-cifar10" in results:
        print_peak(results, sides, record["matmul_peak"])
    print_noise(results, record["machine"], args)
    return summary


def main() -> None:
    args = parse_args()
    record = reread(args) if args.from_json else measure(args)
    summary = report(record, args)
    if args.json:
        write_json(args.json, args, {**record, "summary": summary})


if __name__ == "__main__":
    main()
