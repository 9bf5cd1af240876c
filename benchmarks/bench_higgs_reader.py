"""Reading the first rows of HIGGS.csv.gz: dlab's stream reader vs pandas vs tf.data CsvDataset.

The real file is 2.6 GB gzip'ed (11 million rows); a run needs the first
11,000-12,000. dlab reads the gzip stream line by line and stops
(``gzip`` + ``itertools.islice`` + ``np.loadtxt``); ``pandas.read_csv(nrows=...)``
also stops early; the TensorFlow tutorial's path is
``tf.data.experimental.CsvDataset(..., compression_type="GZIP")`` batched and
taken. The file here is generated: 1,000,000 rows of 29 columns in the real
format. Reported: median seconds and rows/second for each, and the ratios.

    .venv/bin/python benchmarks/bench_higgs_reader.py [--rows 11000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from dlab.data.datasets.higgs import read_rows


def write_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    with gzip.open(path, "wt", compresslevel=6) as handle:
        for start in range(0, rows, 100_000):
            block = rng.normal(size=(min(100_000, rows - start), 29)).astype(np.float32)
            block[:, 0] = rng.integers(0, 2, len(block))
            np.savetxt(handle, block, delimiter=",", fmt="%.17e")


def with_pandas(path: Path, rows: int) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(path, header=None, nrows=rows, dtype=np.float32).to_numpy()


def with_tf_csv_dataset(path: Path, rows: int) -> np.ndarray:
    import tensorflow as tf

    dataset = tf.data.experimental.CsvDataset(str(path), [0.0] * 29, compression_type="GZIP")
    packed = dataset.batch(rows).take(1)
    columns = next(iter(packed))
    return np.stack([c.numpy() for c in columns], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=11_000)
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "HIGGS.csv.gz"
        write_file(path, args.file_rows)
        readers = {
            "dlab read_rows": read_rows,
            "pandas read_csv(nrows)": with_pandas,
            "tf.data CsvDataset": with_tf_csv_dataset,
        }
        with_tf_csv_dataset(path, 10)  # pay TensorFlow's import outside the timings
        times: dict[str, list[float]] = {name: [] for name in readers}
        reference = None
        for _ in range(args.repeats):
            for name, reader in readers.items():
                start = time.perf_counter()
                table = reader(path, args.rows)
                times[name].append(time.perf_counter() - start)
                reference = table if reference is None else reference
                assert np.allclose(table, reference, rtol=1e-5), f"{name} read other values"
    ours = statistics.median(times["dlab read_rows"])
    print(f"first {args.rows:,} rows of a {args.file_rows:,}-row .csv.gz, {args.repeats} repeats")
    print(f"{'reader':<26}{'median s':>10}{'rows/s':>12}{'vs dlab':>10}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<26}{median:>10.3f}{args.rows / median:>12,.0f}{median / ours:>9.2f}x")


if __name__ == "__main__":
    main()
