"""The ``timing`` block of metrics.json: what the epoch timer reports."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlab.training.callbacks import EpochTimer


def timer_with(train_seconds: list[float]) -> EpochTimer:
    from dlab.training.callbacks import EpochTimer  # here: collecting the suite must not import Keras

    timer = EpochTimer()
    timer.train_seconds = list(train_seconds)
    timer.epoch_seconds = [seconds + 0.1 for seconds in train_seconds]
    timer.train_cpu_seconds = [seconds * 1.5 for seconds in train_seconds]
    return timer


def test_the_steady_rate_leaves_out_the_first_epoch_that_traces():
    timing = timer_with([2.0, 0.5, 0.4, 0.6]).summary(samples_per_epoch=1000)
    assert timing["steady_train_samples_per_s"] == 2000.0  # 1000 / median(0.5, 0.4, 0.6)
    assert timing["train_samples_per_s"] == round(4000 / 3.5, 1)  # every epoch, the first included
    assert timing["steady_train_samples_per_cpu_s"] == round(1000 / 0.75, 1)  # 1.5 cores busy
    assert timing["first_epoch_s"] == 2.1 and timing["first_epoch_extra_s"] == 1.5  # 2.1 - median 0.6


def test_cpu_seconds_count_the_process_threads_during_training_only():
    """Measured for real: a fit whose epochs burn CPU in the training part only."""
    import keras
    import numpy as np

    from dlab.training.callbacks import EpochTimer  # here: collecting the suite must not import Keras

    class Burn(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            deadline = time.process_time() + 0.05
            while time.process_time() < deadline:
                pass

        def on_test_batch_end(self, batch, logs=None):
            time.sleep(0.05)  # wall time in validation, no CPU: not in the training part

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    timer = EpochTimer()
    x = np.zeros((8, 2), "float32")
    model.fit(
        x,
        x[:, :1],
        batch_size=4,
        epochs=3,
        validation_data=(x, x[:, :1]),
        verbose=0,
        callbacks=[Burn(), timer],
    )
    assert len(timer.train_cpu_seconds) == 3
    assert all(cpu >= 0.1 for cpu in timer.train_cpu_seconds)  # two batches of 0.05 CPU-s
    assert all(
        epoch >= train + 0.1 for epoch, train in zip(timer.epoch_seconds, timer.train_seconds, strict=True)
    )


def test_one_epoch_has_no_steady_rate_and_no_epoch_has_no_rate():
    one = timer_with([2.0]).summary(samples_per_epoch=1000)
    assert one["steady_train_samples_per_s"] is None and one["first_epoch_extra_s"] is None
    empty = timer_with([]).summary(samples_per_epoch=1000)
    assert empty["train_samples_per_s"] is None and empty["steady_train_samples_per_s"] is None
    assert empty["steady_train_samples_per_cpu_s"] is None
