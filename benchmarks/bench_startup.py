"""CLI start-up time: `dlab --help`, `dlab list`, `dlab show` against `import tensorflow`.

dlab promises that the commands which do not train answer at once: the CLI and
``dlab.api`` never import TensorFlow/Keras for ``--help``, ``list`` or ``show``.
Importing TensorFlow costs seconds, so one stray top-level import would make
every command that slow. This script measures the wall time of each command as
a fresh subprocess (what a user waits for, interpreter start included) and of
``python -c "import tensorflow"`` as the yardstick.

The commands are run round-robin (one of each per round, ``--repeats`` rounds)
so that machine noise hits all of them alike, after ``--warmup`` untimed rounds
that fill the file-system cache. Reported: the median per command, the ratio
median(import tensorflow) / median(command), and the CPU-seconds that other
processes used meanwhile (from /proc/stat), since other work skews the numbers.

Target: every dlab command median < 0.5 s (`dlab list` < 0.3 s, from its catalogue
cache; the cache is warmed by the warm-up round) and >= 5x faster than importing
TensorFlow. ``dlab list (no cache)`` lists with the cache switched off (a fresh,
empty ``XDG_CACHE_HOME`` per call) to show what the cache saves; it has no target.
The script only reports; it always exits 0 (a failing command is a warning).

    .venv/bin/python benchmarks/bench_startup.py [--repeats 7] [--warmup 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from bench_common import busy_cpu_seconds, children_cpu_seconds, dlab_command, timed

TARGET_SECONDS = 0.5
TARGET_SECONDS_BY_COMMAND = {"dlab list": 0.3}
TARGET_RATIO = 5.0
NO_TARGET = "dlab list (no cache)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--config", default="cnn-cifar10", help="config for `dlab show`")
    args = parser.parse_args()

    dlab = dlab_command()
    cases = {
        "dlab --help": [*dlab, "--help"],
        "dlab list": [*dlab, "list"],
        NO_TARGET: ["env", "XDG_CACHE_HOME=/dev/null/none", *dlab, "list"],
        f"dlab show {args.config}": [*dlab, "show", args.config],
        "import tensorflow": [sys.executable, "-c", "import tensorflow"],
    }
    load_before = os.getloadavg()[0]
    busy_before, children_before = busy_cpu_seconds(), children_cpu_seconds()
    start = time.perf_counter()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_index in range(args.warmup + args.repeats):
        for name, argv in cases.items():
            elapsed = timed(argv)
            if round_index >= args.warmup:
                times[name].append(elapsed)

    total = time.perf_counter() - start
    busy_after, children_after = busy_cpu_seconds(), children_cpu_seconds()
    medians = {name: statistics.median(values) for name, values in times.items()}
    tf_median = medians.pop("import tensorflow")
    print(
        f"CLI start-up, {args.repeats} interleaved runs each ({args.warmup} warm-up), dlab = {' '.join(dlab)}"
    )
    print(f"{'command':<24} {'median s':>9} {'min s':>7} {'max s':>7} {'TF/cmd':>7}  target")
    for name, median in medians.items():
        ratio = tf_median / median
        target = TARGET_SECONDS_BY_COMMAND.get(name, TARGET_SECONDS)
        met = median < target and ratio >= TARGET_RATIO
        verdict = "-" if name == NO_TARGET else f"< {target} s: {'met' if met else 'MISSED'}"
        print(
            f"{name:<24} {median:>9.3f} {min(times[name]):>7.3f} {max(times[name]):>7.3f} "
            f"{ratio:>6.1f}x  {verdict}"
        )
    tf_times = times["import tensorflow"]
    print(
        f"{'import tensorflow':<24} {tf_median:>9.3f} {min(tf_times):>7.3f} {max(tf_times):>7.3f} {'1.0x':>7}"
    )
    print(
        f"target: each dlab command median under its limit and >= {TARGET_RATIO:.0f}x "
        "faster than `import tensorflow`"
    )
    print(
        f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    if busy_before is not None and busy_after is not None:
        other = max(busy_after - busy_before - (children_after - children_before), 0.0)
        print(
            f"other processes used {other:.1f} CPU-s during the {total:.0f} s benchmark "
            "(more than a few: the numbers are skewed, rerun on a quiet machine)"
        )


if __name__ == "__main__":
    main()
