"""Character language model tokens/second: `dlab run char*-timemachine` against plain Keras.

dlab trains the d2l character models through its own machinery: a
``tf.data`` pipeline that redraws d2l's sequential partition (a new offset)
every epoch, a state-reset callback, the perplexity metric, the epoch timer and
history writer. The baseline is what a lab report would write in plain Keras:
the same stateful one-hot -> SimpleRNN/GRU/LSTM(256) -> Dense(28) model, the same
SGD(lr 1, global clipnorm 1) and loss, on byte-identical text (dlab's synthetic
Time Machine grammar, seed 42, 10% held out), cut once with d2l's sequential
partition into NumPy arrays and fed to ``model.fit(shuffle=False)``, with a
callback that resets the state every epoch and computing perplexity as
exp(loss) afterwards (no metric: the strictest baseline).

Both sides measure tokens/s the same way (dlab's ``tokens_per_second`` in
metrics.json): training subsequences * 35 * epochs / sum over epochs of the time
from on_epoch_begin to the first on_test_begin (validation excluded). Each side
runs as a fresh subprocess, ``--repeats`` times, interleaved with alternating
order; reported: medians, the ratio dlab/plain (target >= 0.97) and the median
wall time of each subprocess.

    .venv/bin/python benchmarks/bench_charlm.py [--configs charrnn-timemachine] \
        [--epochs 3] [--repeats 3] [--in-process ROUNDS]

``--in-process 8 --repeats 0`` compares both sides inside one process instead, one
epoch each in turn (start-up and machine-load drift cancel out; on a shared
machine the subprocess medians swing by +-30%).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_common import dlab_command, run_captured  # same folder: run as a script

TARGET_RATIO = 0.97
CELLS = {"charrnn-timemachine": "SimpleRNN", "chargru-timemachine": "GRU", "charlstm-timemachine": "LSTM"}
BATCH, STEPS, UNITS, SEED = 32, 35, 256, 42


def plain_data():
    """The plain script's data: dlab's synthetic text, reduced and cut as a lab report would."""
    import re

    import numpy as np

    from dlab.data.datasets.timemachine import SYNTHETIC_CHARS, synthetic_text

    text = re.sub("[^A-Za-z]+", " ", synthetic_text(SYNTHETIC_CHARS, SEED)).strip().lower()
    vocab = ["<unk>", " ", *"abcdefghijklmnopqrstuvwxyz"]
    index = {char: i for i, char in enumerate(vocab)}
    corpus = np.array([index.get(char, 0) for char in text], dtype=np.int32)
    n_test = int(round(len(corpus) * 0.1))
    train, test = corpus[:-n_test], corpus[-n_test:]

    def partition(tokens):  # d2l's sequential partition at offset 0, in batch order
        n = ((len(tokens) - 1) // BATCH) * BATCH
        xs, ys = tokens[:n].reshape(BATCH, -1), tokens[1 : n + 1].reshape(BATCH, -1)
        batches = xs.shape[1] // STEPS
        cut = lambda a: a[:, : batches * STEPS].reshape(BATCH, batches, STEPS).transpose(1, 0, 2)  # noqa: E731
        return cut(xs).reshape(-1, STEPS), cut(ys).reshape(-1, STEPS)

    return partition(train), partition(test), (train, test)


def plain_model(config: str):
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input(batch_shape=(BATCH, STEPS), dtype="int32"),
            layers.Embedding(28, 28, embeddings_initializer="identity", trainable=False),
            getattr(layers, CELLS[config])(UNITS, return_sequences=True, stateful=True),
            layers.Dense(28),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def plain_timer():
    """Resets the RNN state every epoch and validation; times epoch begin -> first validation batch."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.model.layers[1].reset_state()
            self.start, self.end = time.perf_counter(), None

        def on_test_begin(self, logs=None):
            self.model.layers[1].reset_state()
            self.end = self.end or time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append((self.end or time.perf_counter()) - self.start)

    return Timer()


def plain(config: str, epochs: int) -> None:
    """The plain Keras script; prints one JSON line with tokens_per_s."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    import keras
    import numpy as np

    keras.utils.set_random_seed(SEED)
    (x_train, y_train), (x_val, y_val), _ = plain_data()
    model, timer = plain_model(config), plain_timer()
    history = model.fit(
        x_train,
        y_train,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        validation_data=(x_val, y_val),
        callbacks=[timer],
        verbose=2,
    )
    print(
        json.dumps(
            {
                "tokens_per_s": x_train.size * epochs / sum(timer.seconds),
                "perplexity": float(np.exp(history.history["loss"][-1])),
            }
        )
    )


def in_process(config: str, rounds: int) -> None:
    """Both sides in one process, one epoch each in turn: start-up and load drift cancel out.

    dlab's side is its own pieces as its run uses them: the config's model and compile
    (perplexity metric included), the per-epoch tf.data draws, the state resetter and the epoch
    timer; the plain side is the script above.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    import keras
    from dlab.experiments.charlm import char_model

    from dlab.data.modalities.characters import char_batches
    from dlab.framework.factory import resolve_config
    from dlab.models.sequences import state_resetter
    from dlab.training import EpochTimer, compile_model

    keras.utils.set_random_seed(SEED)
    (x_train, y_train), (x_val, y_val), (train, test) = plain_data()
    run_config = resolve_config(config)
    dlab_model = char_model(run_config.model, 28, BATCH, STEPS, True, "dlab")
    batches = char_batches(train, "sequential", BATCH, STEPS, SEED)
    validation = char_batches(test, "sequential", BATCH, STEPS, SEED + 1, redraw=False)
    compile_model(dlab_model, run_config.train, len(batches))
    dlab_timer = EpochTimer()
    model, timer = plain_model(config), plain_timer()
    rates: dict[str, list[float]] = {"dlab": [], "plain": []}
    for round_ in range(rounds + 1):  # round 0 traces both and is not counted
        dlab_model.fit(
            batches, validation_data=validation, epochs=1, verbose=0, callbacks=[dlab_timer, state_resetter()]
        )
        model.fit(
            x_train,
            y_train,
            batch_size=BATCH,
            epochs=1,
            shuffle=False,
            validation_data=(x_val, y_val),
            callbacks=[timer],
            verbose=0,
        )
        if round_:
            rates["dlab"].append(len(batches) * BATCH * STEPS / dlab_timer.train_seconds[-1])
            rates["plain"].append(x_train.size / timer.seconds[-1])
            print(
                f"  round {round_}: dlab {rates['dlab'][-1]:9.1f}  plain {rates['plain'][-1]:9.1f} tokens/s",
                flush=True,
            )
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(
        f"{config} in one process, {rounds} alternating epochs: dlab {median['dlab']:.1f}, plain "
        f"{median['plain']:.1f} tokens/s, dlab/plain {median['dlab'] / median['plain']:.3f} "
        f"(target >= {TARGET_RATIO})"
    )


def run_dlab(config: str, epochs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="dlab-bench-") as out:
        wall, _, _ = run_captured(
            [
                *dlab_command(),
                "run",
                config,
                "--set",
                "data.source=synthetic",
                "--epochs",
                str(epochs),
                "--no-save",
                "--out",
                out,
                "--device",
                "cpu",
            ]
        )
        (metrics,) = Path(out).glob(f"{config}/*/metrics.json")
        return float(json.loads(metrics.read_text())["tokens_per_second"]), wall


def run_plain(config: str, epochs: int) -> tuple[float, float]:
    wall, stdout, _ = run_captured([sys.executable, __file__, "--plain", config, "--epochs", str(epochs)])
    line = [text for text in stdout.splitlines() if text.startswith("{")][-1]
    return float(json.loads(line)["tokens_per_s"]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["charrnn-timemachine"], choices=CELLS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--in-process",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="also compare in one process, ROUNDS alternating epochs per side",
    )
    parser.add_argument("--plain", choices=CELLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain, args.epochs)
        return
    if args.in_process:
        for config in args.configs:
            in_process(config, args.in_process)
        if args.repeats == 0:
            return

    load_before = os.getloadavg()[0]
    sides = {"dlab": run_dlab, "plain": run_plain}
    results = {}
    for config in args.configs:
        rates: dict[str, list[float]] = {name: [] for name in sides}
        walls: dict[str, list[float]] = {name: [] for name in sides}
        for repeat in range(args.repeats):
            for name in list(sides) if repeat % 2 == 0 else list(reversed(sides)):
                rate, wall = sides[name](config, args.epochs)
                rates[name].append(rate)
                walls[name].append(wall)
                print(
                    f"  {config} repeat {repeat + 1}/{args.repeats} {name:<5}: {rate:9.1f} tokens/s, "
                    f"wall {wall:6.1f} s",
                    flush=True,
                )
        results[config] = (rates, walls)

    print(
        f"\nsynthetic Time Machine (dlab's grammar, seed {SEED}), batch {BATCH} x {STEPS} steps, "
        f"{args.epochs} epochs, {args.repeats} interleaved repeats"
    )
    print(
        f"{'config':<22} {'dlab tokens/s':>14} {'plain tokens/s':>15} {'dlab/plain':>11} "
        f"{'dlab wall s':>12} {'plain wall s':>13}  target >= {TARGET_RATIO}"
    )
    for config, (rates, walls) in results.items():
        median = {name: statistics.median(values) for name, values in rates.items()}
        ratio = median["dlab"] / median["plain"]
        print(
            f"{config:<22} {median['dlab']:>14.1f} {median['plain']:>15.1f} {ratio:>11.3f} "
            f"{statistics.median(walls['dlab']):>12.1f} {statistics.median(walls['plain']):>13.1f}  "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}"
        )
        print(
            "  min-max tokens/s: "
            + ", ".join(f"{name} {min(v):.0f}-{max(v):.0f}" for name, v in rates.items())
        )
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
