"""Smoke sweep wall time: `dlab sweep CONFIGS --smoke --jobs 1` against `--jobs 2`.

`dlab sweep --jobs N` runs N `dlab run` processes at a time, each with
cpu_count // N TensorFlow/BLAS threads. A smoke run is mostly process start-up
(Python, TensorFlow import, a tiny model): single-threaded work that a second
job overlaps almost perfectly on a second core. This script times whole sweeps
of the same configs with --jobs 1 and --jobs 2 (fresh subprocesses, alternating
order per round so machine noise hits both alike), and reports the median wall
time of each, the speed-up jobs1 / jobs2, and the CPU-seconds other processes
used meanwhile (from /proc/stat: a busy machine makes the ratio meaningless),
next to the sweep's own CPU-seconds (its processes' user + system time).

Targets (issue 9): speed-up >= 1.6x on 2 cores; the smoke sweep of every shipped
config within 10 minutes on 2 cores (`--all`). The script only reports; exit 0.

    .venv/bin/python benchmarks/bench_sweep.py                     # a small set, 1 round
    .venv/bin/python benchmarks/bench_sweep.py --repeats 3
    .venv/bin/python benchmarks/bench_sweep.py --all --repeats 1   # every packaged config
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import children_cpu_seconds, dlab_command, run_captured

SMALL_SET = [
    "perceptron-and",
    "xor-mlp",
    "softmax-decoder",
    "linreg-scratch",
    "playground-mlp",
    "mlp-mnist",
    "cnn-mnist",
    "mlp-imdb",
]
TARGET_SPEEDUP = 1.6
BUSY_LOOP = "s = 0\nfor i in range(2 * 10**7):\n    s += i"


def control_seconds(parallel: bool) -> float:
    """Two CPU-bound Python processes, one after the other or side by side: the speed-up this
    machine can give two processes right now (about 2 on two idle cores, 1 on a saturated one)."""
    argv = [sys.executable, "-c", BUSY_LOOP]
    start = time.perf_counter()
    if parallel:
        processes = [subprocess.Popen(argv) for _ in range(2)]
        for process in processes:
            process.wait()
    else:
        for _ in range(2):
            subprocess.run(argv, check=True)
    return time.perf_counter() - start


TARGET_ALL_SECONDS = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=SMALL_SET, help="configs to sweep")
    parser.add_argument("--all", action="store_true", help="every packaged config (slow)")
    parser.add_argument("--repeats", type=int, default=1, help="timed rounds (default 1)")
    args = parser.parse_args()
    configs = ["*"] if args.all else args.configs
    print(f"cpus: {len(os.sched_getaffinity(0))}, load average before: {os.getloadavg()[0]:.2f}")
    print(f"configs: {'every packaged config' if args.all else ' '.join(configs)}")

    times: dict[int, list[float]] = {1: [], 2: []}
    others: dict[int, list[float]] = {1: [], 2: []}
    own_cpu: dict[int, list[float]] = {1: [], 2: []}
    control: dict[int, list[float]] = {1: [], 2: []}
    for round_index in range(args.repeats):
        control[1].append(control_seconds(parallel=False))
        control[2].append(control_seconds(parallel=True))
        order = (1, 2) if round_index % 2 == 0 else (2, 1)
        for jobs in order:
            with tempfile.TemporaryDirectory() as out:
                argv = [
                    *dlab_command(),
                    "sweep",
                    *configs,
                    "--smoke",
                    "--no-save",
                    "--device",
                    "cpu",
                    "--jobs",
                    str(jobs),
                    "--out",
                    out,
                ]
                cpu_before = children_cpu_seconds()
                elapsed, _, other = run_captured(argv, check=False)
                own_cpu[jobs].append(children_cpu_seconds() - cpu_before)
            times[jobs].append(elapsed)
            if other is not None:
                others[jobs].append(other)
            print(
                f"  round {round_index + 1}, --jobs {jobs}: {elapsed:.1f} s, the sweep's own "
                f"{own_cpu[jobs][-1]:.1f} CPU-s (other processes: "
                f"{other if other is None else round(other, 1)} CPU-s)"
            )

    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"\n{'sweep':<12}{'median s':>10}{'own CPU-s':>12}{'other CPU-s':>14}")
    for jobs, median in ((1, one), (2, two)):
        other = statistics.median(others[jobs]) if others[jobs] else float("nan")
        print(
            f"{'--jobs ' + str(jobs):<12}{median:>10.1f}{statistics.median(own_cpu[jobs]):>12.1f}"
            f"{other:>14.1f}"
        )
    print(f"speed-up --jobs 1 / --jobs 2: {one / two:.2f}x (target >= {TARGET_SPEEDUP}x on 2 idle cores)")
    control_ratio = statistics.median(control[1]) / statistics.median(control[2])
    print(
        f"control, two busy Python processes in sequence / side by side: {control_ratio:.2f}x "
        f"({statistics.median(control[1]):.1f} s / {statistics.median(control[2]):.1f} s): what "
        "this machine could give two processes during the benchmark"
    )
    if args.all:
        print(f"whole smoke sweep with --jobs 2: {two:.0f} s (target <= {TARGET_ALL_SECONDS} s)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
