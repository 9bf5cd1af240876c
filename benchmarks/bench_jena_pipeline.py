"""Jena input pipeline: windows/second and peak memory, dlab vs the DLwP and lab-report code paths.

A series of the real length (420,551 rows x 14 columns, dlab's synthetic twin)
is split 50/25/25, standardized with the training statistics, and the training
windows (sequence_length 120, sampling_rate 6, target 24 h after the window's
end, batch 256, shuffled) are read once per pass, as one training epoch reads them:

- ``dlab``: ``dlab.data.datasets.jena.split_rows`` + ``window_dataset`` (the code path of
  ``dlab run lstm-jena``): shuffled window starts batched first, then one
  ``tf.gather`` of (256, 120) row indices per batch from the training rows.
- ``dlwp``: Deep Learning with Python's code: ``timeseries_dataset_from_array`` over
  ``raw_data[:-delay]`` with ``targets=temperature[delay:]``, ``start_index=0``,
  ``end_index=num_train_samples`` (the same windows; it gathers window by window).
- ``materialized``: the lab report's way: every training window copied into one
  float32 NumPy array (N, 120, 14) up front (here with ``sliding_window_view``,
  the fastest way to build it), then batches sliced from it in shuffled order.

Each variant runs in a fresh subprocess (this script with ``--child``); a pass
is timed from its first to its last batch, and the setup (building datasets or
the window array) separately. Peak RSS is ``ru_maxrss`` of that subprocess;
"added" is the peak minus the RSS after importing TensorFlow and generating the
series. Reported: median windows/second over ``--repeats`` passes, setup
seconds, peak and added memory, and the ratios against dlab.

    .venv/bin/python benchmarks/bench_jena_pipeline.py [--rows 420551] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

VARIANTS = ("dlab", "dlwp", "materialized")
SEQUENCE_LENGTH, SAMPLING_RATE, BATCH_SIZE = 120, 6, 256


def rss_mib() -> float:
    """Current resident memory of this process (Linux /proc), in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(variant: str, rows: int, repeats: int) -> dict:
    """Set up one variant, read the training windows ``repeats`` times; timings and memory."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from dlab.data.datasets.jena import (
        COLUMNS,
        TEMPERATURE,
        Windows,
        split_rows,
        synthetic_series,
        window_dataset,
    )

    values = synthetic_series(rows, seed=0)
    before = rss_mib()
    windows = Windows(SEQUENCE_LENGTH, SAMPLING_RATE, 24)
    started = time.perf_counter()
    if variant == "dlab":
        data = split_rows(values, list(COLUMNS))
        dataset = window_dataset(data, "train", windows, BATCH_SIZE, shuffle=True, seed=0)

        def one_pass():
            return sum(int(y.shape[0]) for _, y in dataset)
    elif variant == "dlwp":
        raw_data = values.astype(np.float64)  # the book parses the CSV into float64 arrays
        temperature = raw_data[:, COLUMNS.index(TEMPERATURE)].copy()
        num_train_samples = int(0.5 * len(raw_data))
        mean = raw_data[:num_train_samples].mean(axis=0)
        raw_data -= mean
        std = raw_data[:num_train_samples].std(axis=0)
        raw_data /= std
        delay = SAMPLING_RATE * (SEQUENCE_LENGTH + 24 - 1)
        dataset = keras.utils.timeseries_dataset_from_array(
            raw_data[:-delay],
            targets=temperature[delay:],
            sampling_rate=SAMPLING_RATE,
            sequence_length=SEQUENCE_LENGTH,
            shuffle=True,
            batch_size=BATCH_SIZE,
            start_index=0,
            end_index=num_train_samples,
            seed=0,
        )

        def one_pass():
            return sum(int(y.shape[0]) for _, y in dataset)
    else:
        data = split_rows(values, list(COLUMNS))
        count = windows.count(len(data.x_train), last=False)
        view = np.lib.stride_tricks.sliding_window_view(data.x_train, windows.span + 1, axis=0)
        x = np.ascontiguousarray(view[:count, :, ::SAMPLING_RATE].transpose(0, 2, 1))  # (N, 120, 14)
        temperature = np.concatenate([data.y_train, data.y_val, data.y_test])
        y = temperature[windows.delay : windows.delay + count]
        rng = np.random.default_rng(0)

        def one_pass():
            order = rng.permutation(count)
            seen = 0
            for start in range(0, count, BATCH_SIZE):
                picked = np.sort(order[start : start + BATCH_SIZE])
                batch_x, batch_y = x[picked], y[picked]  # copies, as fit() slices arrays
                seen += min(len(batch_x), len(batch_y))
            return seen

    setup = time.perf_counter() - started
    seconds, counted = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        counted = one_pass()
        seconds.append(time.perf_counter() - started)
    return {
        "variant": variant,
        "windows": counted,
        "setup_s": setup,
        "pass_s": seconds,
        "rss_before_mib": before,
        "peak_mib": peak_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=420_551)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=VARIANTS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.repeats)))
        return

    results = {}
    for variant in VARIANTS:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                variant,
                "--rows",
                str(args.rows),
                "--repeats",
                str(args.repeats),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{out.stderr[-3000:]}")
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])

    print(
        f"Jena training windows: {args.rows:,} rows, sequence_length {SEQUENCE_LENGTH}, "
        f"sampling_rate {SAMPLING_RATE}, batch {BATCH_SIZE}, shuffled; median of {args.repeats} passes"
    )
    print(
        f"{'variant':<14} {'windows':>9} {'setup s':>8} {'pass s':>8} {'windows/s':>11} "
        f"{'peak MiB':>9} {'added MiB':>10}"
    )
    base = results["dlab"]
    for variant, result in results.items():
        median = statistics.median(result["pass_s"])
        result["windows_per_s"] = result["windows"] / median
        result["added_mib"] = result["peak_mib"] - result["rss_before_mib"]
        print(
            f"{variant:<14} {result['windows']:>9,} {result['setup_s']:>8.2f} {median:>8.2f} "
            f"{result['windows_per_s']:>11,.0f} {result['peak_mib']:>9,.0f} {result['added_mib']:>10,.0f}"
        )
    for variant in VARIANTS[1:]:
        other = results[variant]
        print(
            f"dlab / {variant}: windows/s x{base['windows_per_s'] / other['windows_per_s']:.2f}, "
            f"peak memory x{base['peak_mib'] / other['peak_mib']:.2f}, "
            f"added memory x{base['added_mib'] / max(other['added_mib'], 1e-9):.2f}"
        )


if __name__ == "__main__":
    main()
