"""Multi-hot encoding of 25,000 IMDB-like reviews: dlab vs the lab reports' loop.

The lab reports built the multi-hot matrix word by word into a float64 array
(``results[i, j] = 1.``), which costs about 1.9 GiB for 25,000 x 10,000 and a
Python iteration per word. dlab gathers every index into one array and scatters
them into a uint8 matrix in one assignment (:func:`dlab.data.modalities.text.multi_hot`).

The reviews come from dlab's synthetic twin of IMDB (the real length
distribution: median 174 words, about 5.8 million words in all), so both
encoders see the same input. Targets: at least 3x faster, at least 6x smaller.

Run by hand:  python benchmarks/bench_multi_hot.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from dlab.data.datasets.imdb import SPEC
from dlab.data.modalities.text import multi_hot, synthetic_corpus

NUM_WORDS = 10_000


def lab_report_loop(sequences, dimension: int = NUM_WORDS) -> np.ndarray:
    """The seed code: a float64 matrix filled one word at a time."""
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        for j in sequence:
            results[i, j] = 1.0
    return results


def timed(function, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reviews", type=int, default=25_000)
    args = parser.parse_args()

    (reviews, _), _ = synthetic_corpus(SPEC, args.reviews, 1, NUM_WORDS, seed=42)
    words = sum(len(r) for r in reviews)
    ours, loop = [], []
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        seconds, fast = timed(multi_hot, reviews, NUM_WORDS)
        ours.append(seconds)
        seconds, slow = timed(lab_report_loop, reviews)
        loop.append(seconds)
        assert np.array_equal(fast, slow), "the encodings differ"
        del slow
    fast_mb, slow_mb = fast.nbytes / 2**20, args.reviews * NUM_WORDS * 8 / 2**20
    print(
        f"{args.reviews:,} reviews, {words:,} words, {NUM_WORDS:,} columns, {args.repeats} repeats (medians)"
    )
    print(f"{'encoder':<22}{'seconds':>10}{'matrix MiB':>12}")
    print(f"{'dlab multi_hot':<22}{statistics.median(ours):>10.3f}{fast_mb:>12.0f}")
    print(f"{'lab-report loop':<22}{statistics.median(loop):>10.3f}{slow_mb:>12.0f}")
    print(
        f"speed-up {statistics.median(loop) / statistics.median(ours):.1f}x (target >= 3x); "
        f"memory {slow_mb / fast_mb:.1f}x smaller (target >= 6x)"
    )


if __name__ == "__main__":
    main()
