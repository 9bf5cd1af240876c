"""`dlab tune tune-mnist-mlp` against the same search written as a plain keras-tuner script.

Both search the tune-mnist-mlp space (Dense units 32..512 step 32, Adam lr in
{1e-2, 1e-3, 1e-4}) with RandomSearch(seed 42) on dlab's synthetic MNIST twin
(byte-identical data, last 20% of the training images validate), the same
trials, epochs and batch size. dlab adds its checks before the search (every
end of every range builds a model), the trials table after every trial, the
best-trial evaluation, figures and the run directory. Commands run round-robin
as fresh subprocesses; median wall and CPU seconds (the subprocess's own user +
system time, steadier on a shared machine) and the ratios dlab / plain are printed.

    .venv/bin/python benchmarks/bench_tune.py [--repeats 3] [--trials 3] [--epochs 2]
        [--train-samples 6000]

``--plain`` runs only the plain keras-tuner search (what the benchmark times).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from bench_common import children_cpu_seconds, dlab_command, run_captured  # same folder


def plain_search(args: argparse.Namespace, directory: str) -> None:
    """The search as a keras-tuner user writes it, on dlab's synthetic MNIST."""
    import os

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import keras_tuner
    from keras import layers

    from dlab.data.datasets import mnist
    from dlab.data.modalities.images import synthetic_images

    (x_train, y_train), (x_test, y_test) = synthetic_images(
        mnist.SPEC, args.train_samples, args.train_samples // 6, seed=42
    )
    split = int(len(x_train) * 0.8)

    def build(hp: keras_tuner.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [
                keras.Input(x_train.shape[1:]),
                layers.Flatten(),
                layers.Rescaling(1.0 / 255),
                layers.Dense(hp.Int("units", 32, 512, step=32), activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3, 1e-4])),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    keras.utils.set_random_seed(42)
    tuner = keras_tuner.RandomSearch(
        build,
        objective="val_accuracy",
        max_trials=args.trials,
        seed=42,
        directory=directory,
        project_name="plain",
    )
    tuner.search(
        x_train[:split],
        y_train[:split],
        epochs=args.epochs,
        batch_size=32,
        validation_data=(x_train[split:], y_train[split:]),
        verbose=1,
    )
    best = tuner.get_best_models(1)[0]
    print(best.evaluate(x_test, y_test, verbose=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-samples", type=int, default=6000)
    parser.add_argument("--plain", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_search(args, args.plain)
        return
    with tempfile.TemporaryDirectory() as out:
        shared = [
            "--trials",
            str(args.trials),
            "--epochs",
            str(args.epochs),
            "--train-samples",
            str(args.train_samples),
        ]
        cases = {
            "dlab tune": [
                *dlab_command(),
                "tune",
                "tune-mnist-mlp",
                "--device",
                "cpu",
                "--no-save",
                "--out",
                out,
                "--epochs",
                str(args.epochs),
                "--max-trials",
                str(args.trials),
                "--set",
                "data.source=synthetic",
                "--set",
                f"data.train_samples={args.train_samples}",
                "--set",
                f"data.test_samples={args.train_samples // 6}",
            ],
            "plain keras-tuner": [sys.executable, __file__, *shared, "--plain", out],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        others: dict[str, list[float]] = {name: [] for name in cases}
        for round_index in range(args.repeats):
            for name, argv in cases.items():
                if name == "plain keras-tuner":
                    argv = [*argv[:-1], f"{out}/plain-{round_index}"]
                cpu_before = children_cpu_seconds()
                elapsed, _, other = run_captured(argv)
                cpu[name].append(children_cpu_seconds() - cpu_before)
                times[name].append(elapsed)
                others[name].append(other or 0.0)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"{args.trials} trials x {args.epochs} epochs, {args.train_samples} synthetic images, "
        f"{args.repeats} rounds"
    )
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"{'command':<20}{'wall s':>8}{'runs':>22}{'CPU s':>8}{'other CPU s':>13}")
    for name, median in medians.items():
        runs = ", ".join(f"{value:.1f}" for value in times[name])
        print(
            f"{name:<20}{median:>8.2f}{runs:>22}{cpu_medians[name]:>8.1f}"
            f"{statistics.median(others[name]):>13.1f}"
        )
    plain = "plain keras-tuner"
    print(
        f"ratio dlab / plain: wall {medians['dlab tune'] / medians[plain]:.2f}, "
        f"CPU {cpu_medians['dlab tune'] / cpu_medians[plain]:.2f} (CPU time is the steadier "
        "measure on a shared machine)"
    )


if __name__ == "__main__":
    main()
