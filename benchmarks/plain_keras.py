"""The seed code of a dlab config as a plain Keras script: the baseline of bench_throughput.py.

``--model`` picks one of the lab-report models, written out here in plain Keras
exactly as dlab builds it (Rescaling(1/255) inside the model; same optimizer,
loss and metrics), trained on byte-identical synthetic data (dlab's own
generator, seed 42) with the same epochs, batch size, validation data (the
test split, as those configs validate) and progress bar. Throughput is measured
with the definition dlab records in metrics.json (``timing.train_samples_per_s``):

    training samples * epochs / sum over epochs of (on_epoch_begin -> first on_test_begin)

i.e. validation is excluded. The last line of stdout is one JSON object with
``samples_per_s`` (and the per-epoch training seconds).

    python benchmarks/plain_keras.py --model cnn-cifar10 --train-samples 5000 \
        --test-samples 1000 --epochs 3 --batch-size 32
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

from dlab.data import cifar10, imdb, mnist  # noqa: E402
from dlab.data.images import synthetic_images  # noqa: E402
from dlab.data.text import multi_hot, synthetic_corpus  # noqa: E402


def cnn_cifar10() -> keras.Model:  # 122,570 parameters
    return keras.Sequential(
        [
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
        ]
    )


def cnn_mnist() -> keras.Model:  # 542,230 parameters
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(100, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def mlp_mnist() -> keras.Model:  # 101,770 parameters
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Rescaling(1.0 / 255),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def mlp_imdb() -> keras.Model:  # 160,305 parameters on 10,000 words
    return keras.Sequential(
        [
            keras.Input((10_000,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


MODELS = {
    # config: (dataset spec, model, optimizer, loss)
    "cnn-cifar10": (
        cifar10.SPEC,
        cnn_cifar10,
        lambda: keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ),
    "cnn-mnist": (
        mnist.SPEC,
        cnn_mnist,
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
        "sparse_categorical_crossentropy",
    ),
    "mlp-mnist": (
        mnist.SPEC,
        mlp_mnist,
        lambda: keras.optimizers.SGD(0.01),
        "sparse_categorical_crossentropy",
    ),
    "mlp-imdb": (imdb.SPEC, mlp_imdb, lambda: keras.optimizers.RMSprop(1e-3), "binary_crossentropy"),
}


def synthetic_data(spec, train: int, test: int, seed: int):
    """dlab's synthetic twin: images as they are, reviews multi-hot encoded (10,000 words)."""
    if spec is imdb.SPEC:
        (x_train, y_train), (x_test, y_test) = synthetic_corpus(spec, train, test, 10_000, seed)
        return (
            (multi_hot(x_train, 10_000), y_train.reshape(-1, 1)),
            (multi_hot(x_test, 10_000), y_test.reshape(-1, 1)),
        )
    return synthetic_images(spec, train, test, seed=seed)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=list(MODELS), default="cnn-cifar10")
    parser.add_argument("--train-samples", type=int, default=5000)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    spec, build, optimizer, loss = MODELS[args.model]
    (x_train, y_train), (x_test, y_test) = synthetic_data(
        spec, args.train_samples, args.test_samples, args.seed
    )
    keras.utils.set_random_seed(args.seed)
    model = build()
    model.compile(optimizer=optimizer(), loss=loss, metrics=["accuracy"])
    timer = TrainTimer()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_test, y_test),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[timer],
        verbose=1,
    )

    train_seconds = sum(timer.train_seconds)
    print(
        json.dumps(
            {
                "samples_per_s": round(len(x_train) * len(timer.train_seconds) / train_seconds, 1),
                "train_seconds": [round(s, 3) for s in timer.train_seconds],
                "params": int(model.count_params()),
                "train_samples": len(x_train),
                "epochs": len(timer.train_seconds),
                "batch_size": args.batch_size,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
