"""What each of dlab's training choices costs per CPU second, epoch by epoch in ONE process.

On a noisy VM the CPU time of the same epoch moves 10-30% over minutes, so two whole runs a
minute apart can disagree by more than the effect looked for. Here every variant is a model
of its own, built and compiled once, and they take turns one epoch at a time (A B C, C B A,
...): neighbouring epochs share the machine's mood, and a round of all variants takes seconds.

The model, data, optimizer, loss and metrics are the plain baseline's (plain_keras.MODELS, the
same as dlab builds). A variant switches dlab's choices on or off, one ``KEY=VALUE`` each:

- ``spe``: steps per compiled call: a number, or ``auto`` (dlab's speed-table choice for this
  model's family, ``dlab.runtime.speed.best_steps_per_execution``);
- ``feed``: ``keras`` (Keras batches the arrays) or ``dlab`` (``dlab.training.batches.
  array_fit_arguments``: dlab's tf.data pipeline; it keeps Keras's batching for recurrent models);
- ``wrap``: 1 to give the optimizer dlab's ``sum_repeated_rows`` (dense embedding gradients);
- ``guard``: 1 to add a callback that reads the loss after every compiled call, as dlab's run
  guard does (``float(loss)`` and a finite check);
- ``verbose``: Keras's verbose (plain: 1; dlab in a pipe: 2).

``plain`` (spe=1 feed=keras wrap=0 guard=0 verbose=1) and ``dlab`` (spe=auto feed=dlab wrap=1
guard=1 verbose=2) are always there; ``--variant NAME KEY=VALUE ...`` adds one that starts from
dlab's choices. Each epoch's training span is timed as dlab's EpochTimer times it (no validation
here); the first round traces and is left out. Per variant the script prints the median ratio to
plain (and to dlab: what undoing one choice changes) of neighbouring epochs' samples per CPU
second, its 90% interval (order statistics) and min-max, and the same for wall samples/s.

Not covered: what dlab does around fit (start-up, data checks, plots), the character models'
own tf.data pipeline (chargru-timemachine), and settings fixed when TensorFlow starts (threads):
use bench_throughput.py (``--variant``, ``--threads``) for those.

    cd benchmarks && ../.venv/bin/python bench_epoch_factors.py --config cnn-mnist --rounds 15 \\
        --variant spe1 spe=1 --variant keras-feed feed=keras
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

import keras  # noqa: E402
import plain_keras  # noqa: E402  (same folder: run as a script)
from bench_stats import median, median_interval  # noqa: E402
from bench_throughput import CONFIGS  # noqa: E402

PLAIN = {"spe": "1", "feed": "keras", "wrap": "0", "guard": "0", "verbose": "1"}
DLAB = {"spe": "auto", "feed": "dlab", "wrap": "1", "guard": "1", "verbose": "2"}


class LossGuard(keras.callbacks.Callback):
    """What dlab's RunGuardCallback does after every compiled call: read the loss, check it."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise RuntimeError(f"non-finite loss at batch {batch + 1}")


class Variant:
    """One model trained with one set of choices, an epoch per :meth:`epoch` call."""

    def __init__(self, name: str, choices: dict[str, str], config: str, data, batch_size: int) -> None:
        from dlab.models.families import model_family
        from dlab.runtime.speed import best_steps_per_execution
        from dlab.training.batches import array_fit_arguments
        from dlab.training.compile import sum_repeated_rows

        self.name, self.choices = name, choices
        baseline = plain_keras.MODELS[config]
        (x, y), validation = data
        keras.utils.set_random_seed(42)
        self.model = baseline.build(x, batch_size)
        steps = math.ceil(len(x) / batch_size)
        spe = choices["spe"]
        spe = (
            best_steps_per_execution("tensorflow", model_family(self.model), steps)
            if spe == "auto"
            else int(spe)
        )
        optimizer = baseline.optimizer()
        if choices["wrap"] == "1":
            sum_repeated_rows(optimizer)
        self.model.compile(
            optimizer=optimizer, loss=baseline.loss, metrics=baseline.metrics(), steps_per_execution=spe
        )
        self.steps_per_execution = spe
        if choices["feed"] == "dlab":
            self.fit_arguments = array_fit_arguments(
                x, y, validation, batch_size, baseline.shuffle, self.model, 42
            )
        else:
            self.fit_arguments = {"x": x, "y": y, "batch_size": batch_size, "shuffle": baseline.shuffle}
        for key in ("validation_data", "validation_steps"):  # training only
            self.fit_arguments.pop(key, None)
        self.callbacks = [*baseline.callbacks(), *([LossGuard()] if choices["guard"] == "1" else [])]
        self.samples = len(x)

    def epoch(self) -> tuple[float, float]:
        """One epoch of training: (samples per CPU second, samples per wall second)."""
        timer = plain_keras.TrainTimer()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the progress output
            self.model.fit(
                **self.fit_arguments,
                epochs=1,
                callbacks=[timer, *self.callbacks],
                verbose=int(self.choices["verbose"]),
            )
        return self.samples / timer.train_cpu_seconds[-1], self.samples / timer.train_seconds[-1]


def parse_variant(items: list[str]) -> tuple[str, dict[str, str]]:
    """``NAME KEY=VALUE ...`` -> (name, dlab's choices with these changed)."""
    name, *changes = items
    choices = {**DLAB, **dict(change.split("=", 1) for change in changes)}
    unknown = set(choices) - set(DLAB)
    if unknown:
        raise SystemExit(f"--variant {name}: unknown choices {sorted(unknown)} (known: {', '.join(DLAB)})")
    return name, choices


def print_ratios(rounds: list[dict[str, tuple[float, float]]], names: list[str], reference: str) -> None:
    """Each variant against ``reference``, epoch pair by epoch pair (neighbours in time)."""
    for column, label in ((0, "per CPU second"), (1, "per wall second")):
        print(f"\n{label}: variant / {reference} of neighbouring epochs, median [90% interval] min-max")
        for name in names:
            if name == reference:
                continue
            ratios = [r[name][column] / r[reference][column] for r in rounds]
            interval = median_interval(ratios)
            shown = "-" if interval is None else "{:.3f}-{:.3f}".format(*interval)
            print(f"  {name:<14} {median(ratios):.3f} [{shown}] {min(ratios):.3f}-{max(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, choices=[c for c in CONFIGS if c != "chargru-timemachine"])
    parser.add_argument("--rounds", type=int, default=15, help="timed epochs of each variant (default 15)")
    parser.add_argument("--train-samples", type=int, help="default: bench_throughput's for the config")
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar="NAME KEY=VALUE")
    args = parser.parse_args()

    train, test, _, batch = CONFIGS[args.config]
    data = plain_keras.MODELS[args.config].data(args.train_samples or train, test, 42, batch)
    choices = {"plain": PLAIN, "dlab": DLAB, **dict(map(parse_variant, args.variant))}
    variants = {name: Variant(name, c, args.config, data, batch) for name, c in choices.items()}
    for variant in variants.values():
        print(f"{variant.name:<14} {variant.choices} -> {variant.steps_per_execution} steps/call", flush=True)
        variant.epoch()  # traces and compiles: left out
    names = list(variants)
    rounds: list[dict[str, tuple[float, float]]] = []
    for index in range(args.rounds):
        measured = {name: variants[name].epoch() for name in (names if index % 2 == 0 else names[::-1])}
        rounds.append(measured)
        shown = ", ".join(f"{name} {cpu:,.0f}/CPU-s {wall:,.0f}/s" for name, (cpu, wall) in measured.items())
        print(
            f"round {index + 1} (load {os.getloadavg()[0]:.1f}, {time.strftime('%H:%M:%S')}): {shown}",
            flush=True,
        )
    print(f"\n{args.config}, {len(data[0][0])} samples an epoch, {args.rounds} rounds")
    for name in names:
        cpu = [r[name][0] for r in rounds]
        print(f"  {name:<14} samples/CPU-s median {median(cpu):,.0f} min-max {min(cpu):,.0f}-{max(cpu):,.0f}")
    print_ratios(rounds, names, "plain")
    print_ratios(rounds, names, "dlab")  # what each choice changes


if __name__ == "__main__":
    main()
