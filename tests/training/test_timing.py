"""The ``timing`` block of metrics.json: what the epoch timer reports."""

from __future__ import annotations

from dlab.training.callbacks import EpochTimer


def timer_with(train_seconds: list[float]) -> EpochTimer:
    timer = EpochTimer()
    timer.train_seconds = list(train_seconds)
    timer.epoch_seconds = [seconds + 0.1 for seconds in train_seconds]
    return timer


def test_the_steady_rate_leaves_out_the_first_epoch_that_traces():
    timing = timer_with([2.0, 0.5, 0.4, 0.6]).summary(samples_per_epoch=1000)
    assert timing["steady_train_samples_per_s"] == 2000.0  # 1000 / median(0.5, 0.4, 0.6)
    assert timing["train_samples_per_s"] == round(4000 / 3.5, 1)  # every epoch, the first included


def test_one_epoch_has_no_steady_rate_and_no_epoch_has_no_rate():
    assert timer_with([2.0]).summary(samples_per_epoch=1000)["steady_train_samples_per_s"] is None
    empty = timer_with([]).summary(samples_per_epoch=1000)
    assert empty["train_samples_per_s"] is None and empty["steady_train_samples_per_s"] is None
