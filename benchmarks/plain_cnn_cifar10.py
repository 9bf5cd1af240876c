"""The cnn-cifar10 experiment as a plain Keras script: the baseline for bench_throughput.py.

It trains exactly the model that ``dlab run cnn-cifar10`` trains (122,570
parameters, Adam(1e-3), sparse categorical cross-entropy on logits, accuracy),
on byte-identical synthetic data (dlab's own generator, seed 42), with the same
epochs, batch size, validation data and progress bar, and measures training
throughput with the same definition dlab records in metrics.json
(``timing.train_samples_per_s``):

    training samples * epochs / sum over epochs of (on_epoch_begin -> first on_test_begin)

i.e. validation is excluded. The last line of stdout is one JSON object with
``samples_per_s`` (and the per-epoch training seconds).

Run on its own:

    python benchmarks/plain_cnn_cifar10.py --train-samples 5000 --test-samples 1000 \
        --epochs 3 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from dlab.data.cifar10 import SPEC  # noqa: E402
from dlab.data.images import synthetic_images  # noqa: E402


class TrainTimer(keras.callbacks.Callback):
    """Seconds from on_epoch_begin to the first on_test_begin of each epoch (no validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self._start = 0.0
        self._train_end: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = self._train_end if self._train_end is not None else time.perf_counter()
        self.train_seconds.append(end - self._start)


def build_model() -> keras.Model:
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-samples", type=int, default=5000)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = synthetic_images(
        SPEC, args.train_samples, args.test_samples, seed=args.seed)
    keras.utils.set_random_seed(args.seed)

    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    timer = TrainTimer()
    model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
              batch_size=args.batch_size, callbacks=[timer], verbose=1)

    train_seconds = sum(timer.train_seconds)
    print(json.dumps({
        "samples_per_s": round(len(x_train) * len(timer.train_seconds) / train_seconds, 1),
        "train_seconds": [round(s, 3) for s in timer.train_seconds],
        "params": int(model.count_params()),
        "train_samples": len(x_train),
        "epochs": len(timer.train_seconds),
        "batch_size": args.batch_size,
    }), flush=True)


if __name__ == "__main__":
    main()
