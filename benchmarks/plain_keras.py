"""The seed code of a dlab config as a plain Keras script: the baseline of bench_throughput.py.

``--model`` picks one of the lab-report models, written out here in plain Keras
exactly as dlab builds it (Rescaling(1/255) inside the image models, a
Normalization layer adapted on the training rows for kfold-boston, a frozen
identity Embedding as one-hot input for chargru-timemachine; same optimizer,
loss and metrics), trained on byte-identical synthetic data (dlab's own
generator, seed 42) with the same epochs, batch size, validation data (the
test split), one step per compiled call (Keras's default steps_per_execution=1) and
Keras's default progress bar (verbose=1; dlab prints one line per epoch, verbose=2, when its
output goes to a pipe, as in bench_throughput.py). Throughput is measured exactly as dlab's
``EpochTimer`` measures it for metrics.json's ``timing`` (same callback position, first in
the list; same span; same clocks):

- an epoch's training span runs from on_epoch_begin to the first on_test_begin (validation
  excluded), timed with ``time.perf_counter`` (wall) and ``time.process_time`` (the
  process's user + system CPU seconds, all threads);
- ``samples_per_s`` = training samples * epochs / the sum of the wall spans (dlab's
  ``train_samples_per_s``);
- ``steady_samples_per_s`` and ``steady_samples_per_cpu_s`` = training samples / the median
  span of the epochs after the first (dlab's ``steady_train_samples_per_s`` and
  ``steady_train_samples_per_cpu_s``; the first epoch also traces and compiles).

The last line of stdout is one JSON object with these (and the per-epoch wall and CPU
seconds, the parameter count); :func:`train` returns the same dict (bench_fit_factors.py
calls it in-process).

What a "sample" is follows dlab: an image, a review or a table row; for
chargru-timemachine one 35-character subsequence, where ``--train-samples`` and
``--test-samples`` count characters of the text (dlab's ``data.train_samples``),
cut with d2l's sequential partition into ``--batch-size`` rows that carry the
GRU's state from batch to batch. kfold-boston is one fit, as one fold of dlab's
k-fold is: a fresh model whose Normalization sees only its own training rows.

    python benchmarks/plain_keras.py --model cnn-cifar10 --train-samples 5000 \
        --test-samples 1000 --epochs 3 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from dlab.data.datasets import cifar10, imdb, mnist  # noqa: E402
from dlab.data.datasets.boston_housing import synthetic_housing  # noqa: E402
from dlab.data.datasets.timemachine import SYNTHETIC_CHARS, synthetic_text  # noqa: E402
from dlab.data.modalities.characters import (  # noqa: E402
    CHARACTERS,
    batches_per_epoch,
    encode,
    preprocess,
    sequential_batches,
)
from dlab.data.modalities.images import synthetic_images  # noqa: E402
from dlab.data.modalities.text import multi_hot, synthetic_corpus  # noqa: E402

IMDB_WORDS = 10_000  # mlp-imdb's data.num_words
LSTM_WORDS, LSTM_MAXLEN = 5_000, 300  # lstm-imdb's data.num_words and data.maxlen
NUM_STEPS = 35  # chargru-timemachine's model.num_steps
TEST_SPLIT = 0.1  # the share of the text the timemachine loader holds out


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
            keras.Input((IMDB_WORDS,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def kfold_boston(x_train: np.ndarray) -> keras.Model:  # 5,148 parameters: 5,121 trained, 27 statistics
    normalizer = layers.Normalization()
    normalizer.adapt(x_train)  # this fit's training rows only, as each of dlab's folds
    return keras.Sequential(
        [
            keras.Input((x_train.shape[1],)),
            normalizer,
            layers.Dense(64, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(1),
        ]
    )


def lstm_imdb() -> keras.Model:  # 76,051 parameters
    return keras.Sequential(
        [
            keras.Input((LSTM_MAXLEN,), dtype="int32"),
            layers.Embedding(LSTM_WORDS, 15),
            layers.LSTM(10),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def chargru_timemachine(batch_size: int, vocabulary: int) -> keras.Model:  # 227,628 parameters (28 chars)
    return keras.Sequential(
        [
            keras.Input(batch_shape=(batch_size, NUM_STEPS), dtype="int32"),
            # one-hot characters: a frozen identity embedding, as d2l feeds one_hot(X)
            layers.Embedding(vocabulary, vocabulary, embeddings_initializer="identity", trainable=False),
            layers.GRU(256, return_sequences=True, stateful=True),
            layers.Dense(vocabulary),
        ]
    )


class Perplexity(keras.metrics.Metric):
    """exp of the mean cross-entropy per character, accumulated over characters (d2l's)."""

    def __init__(self, name: str = "perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        self.total.assign_add(ops.sum(entropy))
        self.count.assign_add(ops.cast(ops.size(entropy), self.count.dtype))

    def result(self):
        return ops.exp(ops.divide_no_nan(self.total, self.count))


class ResetStates(keras.callbacks.Callback):
    """Every epoch and every validation pass starts from a zero state."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.layers[1].reset_state()

    def on_test_begin(self, logs=None):
        self.model.layers[1].reset_state()


# --------------------------------------------------------------------------- data: dlab's synthetic twins
def image_data(spec):
    return lambda train, test, seed, batch_size: synthetic_images(spec, train, test, seed=seed)


def mlp_imdb_data(train: int, test: int, seed: int, batch_size: int):
    """Reviews multi-hot encoded over 10,000 words."""
    (x_train, y_train), (x_test, y_test) = synthetic_corpus(imdb.SPEC, train, test, IMDB_WORDS, seed)
    return (
        (multi_hot(x_train, IMDB_WORDS), y_train.reshape(-1, 1)),
        (multi_hot(x_test, IMDB_WORDS), y_test.reshape(-1, 1)),
    )


def lstm_imdb_data(train: int, test: int, seed: int, batch_size: int):
    """Reviews over 5,000 words, padded and truncated at the front: the last 300 words are kept."""
    (x_train, y_train), (x_test, y_test) = synthetic_corpus(imdb.SPEC, train, test, LSTM_WORDS, seed)

    def pad(documents):
        return keras.utils.pad_sequences(
            list(documents), maxlen=LSTM_MAXLEN, padding="pre", truncating="pre", dtype="int32"
        )

    return (pad(x_train), y_train.reshape(-1, 1)), (pad(x_test), y_test.reshape(-1, 1))


def boston_data(train: int, test: int, seed: int, batch_size: int):
    """13 raw features (the model standardizes them), prices as a column."""
    (x_train, y_train), (x_test, y_test) = synthetic_housing(train, test, seed)

    def f32(array):
        return np.asarray(array, dtype=np.float32)

    return (f32(x_train), f32(y_train).reshape(-1, 1)), (f32(x_test), f32(y_test).reshape(-1, 1))


def timemachine_data(train: int, test: int, seed: int, batch_size: int):
    """The first ``train`` (``test``) characters of the synthetic book's training (held-out) text,
    sized as dlab's loader sizes it, cut once with d2l's sequential partition at offset 0 into
    rows of NUM_STEPS characters; batch b is rows b*batch_size ... (b+1)*batch_size - 1, and row r of
    batch b+1 continues row r of batch b. As many batches as dlab's epochs have (any offset)."""
    wanted = max(train / (1 - TEST_SPLIT), test / TEST_SPLIT)
    corpus = encode(preprocess(synthetic_text(int(wanted * 1.1) + 2 if wanted else SYNTHETIC_CHARS, seed)))
    n_test = max(2, int(round(len(corpus) * TEST_SPLIT)))
    splits = []
    for text in (corpus[:-n_test][: train + 1], corpus[-n_test:][: test + 1]):
        x, y = sequential_batches(text, batch_size, NUM_STEPS, 0)
        count = batches_per_epoch(len(text), batch_size, NUM_STEPS)
        splits.append((x[:count].reshape(-1, NUM_STEPS), y[:count].reshape(-1, NUM_STEPS)))
    return splits


class Baseline(NamedTuple):
    data: Callable  # (train, test, seed, batch_size) -> ((x_train, y_train), (x_test, y_test))
    build: Callable  # (x_train, batch_size) -> uncompiled model
    optimizer: Callable[[], keras.optimizers.Optimizer]
    loss: Any
    metrics: Callable[[], list] = lambda: ["accuracy"]
    callbacks: Callable[[], list] = list
    shuffle: bool = True


MODELS = {
    "cnn-cifar10": Baseline(
        image_data(cifar10.SPEC),
        lambda x, batch: cnn_cifar10(),
        lambda: keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ),
    "cnn-mnist": Baseline(
        image_data(mnist.SPEC),
        lambda x, batch: cnn_mnist(),
        lambda: keras.optimizers.SGD(0.01, momentum=0.9),
        "sparse_categorical_crossentropy",
    ),
    "mlp-mnist": Baseline(
        image_data(mnist.SPEC),
        lambda x, batch: mlp_mnist(),
        lambda: keras.optimizers.SGD(0.01),
        "sparse_categorical_crossentropy",
    ),
    "mlp-imdb": Baseline(
        mlp_imdb_data,
        lambda x, batch: mlp_imdb(),
        lambda: keras.optimizers.RMSprop(1e-3),
        "binary_crossentropy",
    ),
    "kfold-boston": Baseline(
        boston_data,
        lambda x, batch: kfold_boston(x),
        lambda: keras.optimizers.RMSprop(1e-3),
        "mean_squared_error",
        metrics=lambda: ["mae"],
    ),
    "lstm-imdb": Baseline(
        lstm_imdb_data,
        lambda x, batch: lstm_imdb(),
        lambda: keras.optimizers.Adam(1e-3),
        "mean_absolute_error",  # the report's choice, on a sigmoid output
    ),
    "chargru-timemachine": Baseline(
        timemachine_data,
        lambda x, batch: chargru_timemachine(batch, len(CHARACTERS)),  # <unk>, space, a-z
        lambda: keras.optimizers.SGD(1.0, global_clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [Perplexity()],
        callbacks=lambda: [ResetStates()],
        shuffle=False,  # the state carries over from batch to batch
    ),
}


def steady_rate(samples: int, train_seconds: list[float]) -> float | None:
    """Samples/s of the median epoch after the first (which also traces), as dlab's timing."""
    later = sorted(train_seconds[1:])
    if not later:
        return None
    middle = len(later) // 2
    median = later[middle] if len(later) % 2 else (later[middle - 1] + later[middle]) / 2
    return round(samples / median, 1)


class TrainTimer(keras.callbacks.Callback):
    """Seconds from on_epoch_begin to the first on_test_begin of each epoch (no validation),
    wall-clock and the process's CPU seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self.train_cpu_seconds: list[float] = []
        self._start = (0.0, 0.0)
        self._train_end: tuple[float, float] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        end = self._train_end or (time.perf_counter(), time.process_time())
        self.train_seconds.append(end[0] - self._start[0])
        self.train_cpu_seconds.append(end[1] - self._start[1])


def train(
    name: str, train_samples: int, test_samples: int, epochs: int, batch_size: int, seed: int = 42
) -> dict:
    """Train ``MODELS[name]`` as the seed code would; the figures main() prints as JSON."""
    baseline = MODELS[name]
    (x_train, y_train), (x_test, y_test) = baseline.data(train_samples, test_samples, seed, batch_size)
    keras.utils.set_random_seed(seed)
    model = baseline.build(x_train, batch_size)
    model.compile(optimizer=baseline.optimizer(), loss=baseline.loss, metrics=baseline.metrics())
    timer = TrainTimer()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_test, y_test),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=baseline.shuffle,
        callbacks=[timer, *baseline.callbacks()],
        verbose=1,
    )
    train_seconds = sum(timer.train_seconds)
    return {
        "samples_per_s": round(len(x_train) * len(timer.train_seconds) / train_seconds, 1),
        "steady_samples_per_s": steady_rate(len(x_train), timer.train_seconds),
        "steady_samples_per_cpu_s": steady_rate(len(x_train), timer.train_cpu_seconds),
        "train_seconds": [round(s, 3) for s in timer.train_seconds],
        "train_cpu_seconds": [round(s, 3) for s in timer.train_cpu_seconds],
        "params": int(model.count_params()),
        "train_samples": len(x_train),
        "epochs": len(timer.train_seconds),
        "batch_size": batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=list(MODELS), default="cnn-cifar10")
    parser.add_argument("--train-samples", type=int, default=5000)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    result = train(args.model, args.train_samples, args.test_samples, args.epochs, args.batch_size, args.seed)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
