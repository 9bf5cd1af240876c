"""End-to-end time of `dlab run perceptron-and` against `python -c "import numpy"`.

The from-scratch experiments are NumPy only, and a run should cost what its
work costs: Python start-up, NumPy, the config, the gradient descent (70
epochs on four rows: microseconds) and two small matplotlib figures. It must
not pay for TensorFlow (about 3-5 s here). Commands run round-robin as fresh
subprocesses; medians are reported with the ratio run / import numpy, and the
ratio of `import tensorflow` to the run for scale.

    .venv/bin/python benchmarks/bench_numpy_run.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from bench_common import dlab_command, timed  # same folder: run as a script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        cases = {
            "dlab run perceptron-and": [*dlab_command(), "run", "perceptron-and", "--out", out],
            "import numpy": [sys.executable, "-c", "import numpy"],
            "import numpy, matplotlib": [sys.executable, "-c", "import numpy, matplotlib.figure"],
            "import tensorflow": [sys.executable, "-c", "import tensorflow"],
        }
        times = {name: [] for name in cases}
        for _ in range(args.repeats + 1):  # the first round warms the file cache
            for name, argv in cases.items():
                times[name].append(timed(argv))
    medians = {name: statistics.median(values[1:]) for name, values in times.items()}
    run = medians["dlab run perceptron-and"]
    print(f"{'command':<26}{'median s':>10}{'x import numpy':>16}")
    for name, median in medians.items():
        print(f"{name:<26}{median:>10.3f}{median / medians['import numpy']:>15.1f}x")
    print(
        f"the run takes {run:.2f} s; importing TensorFlow alone would take "
        f"{medians['import tensorflow'] / run:.1f}x as long"
    )


if __name__ == "__main__":
    main()
