"""The callbacks of every Keras run: epoch timing, the live history, the run guard, the resumable backup,
and those ``train`` asks for (ReduceLROnPlateau, the user's own)."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from dlab.run.backupfile import save_backup
from dlab.run.history import History
from dlab.run.resume import read_backup_metadata
from dlab.training.options import current_learning_rate, user_callbacks

if TYPE_CHECKING:
    from dlab.config import TrainConfig
    from dlab.run.context import RunContext


class EpochTimer(keras.callbacks.Callback):
    """Times the training part of each epoch (validation excluded) and whole epochs, in
    wall-clock seconds and in the CPU seconds the process used meanwhile.

    CPU time is there for shared and virtual machines: there an epoch's wall time can
    double while its CPU time stays the same (the process waited for a core), so the
    CPU rate compares two runs where the wall rate only reports the machine's mood.
    """

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self.epoch_seconds: list[float] = []
        self.train_cpu_seconds: list[float] = []
        self._epoch_start = self._epoch_cpu_start = 0.0
        self._train_end: tuple[float, float] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start, self._epoch_cpu_start = time.perf_counter(), time.process_time()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        train_end, train_cpu_end = self._train_end or (end, time.process_time())
        self.train_seconds.append(train_end - self._epoch_start)
        self.train_cpu_seconds.append(train_cpu_end - self._epoch_cpu_start)
        self.epoch_seconds.append(end - self._epoch_start)

    def summary(self, samples_per_epoch: int) -> dict[str, float | None]:
        """The ``timing`` block of metrics.json; samples/s counts training steps only.

        ``train_samples_per_s`` averages over every epoch, the first included (it also
        traces and compiles the training step); ``steady_train_samples_per_s`` is the rate
        of the median later epoch, what a longer run settles at (None with one epoch), and
        ``steady_train_samples_per_cpu_s`` the same per CPU second of the process (all its
        threads: 2 busy cores for 1 s count 2). ``first_epoch_s`` is the first epoch's wall time and
        ``first_epoch_extra_s`` what it took beyond the median later epoch: the tracing and
        compiling (what a persistent compilation cache saves; None with one epoch).
        """
        if not self.epoch_seconds:
            return {
                "fit_seconds": 0.0,
                "time_per_epoch_s": None,
                "train_samples_per_s": None,
                "steady_train_samples_per_s": None,
                "steady_train_samples_per_cpu_s": None,
                "first_epoch_s": None,
                "first_epoch_extra_s": None,
            }
        train_seconds = sum(self.train_seconds)
        return {
            "fit_seconds": round(sum(self.epoch_seconds), 3),
            "time_per_epoch_s": round(statistics.median(self.epoch_seconds), 4),
            "train_samples_per_s": round(samples_per_epoch * len(self.train_seconds) / train_seconds, 1)
            if train_seconds > 0
            else None,
            "steady_train_samples_per_s": _steady_rate(samples_per_epoch, self.train_seconds),
            "steady_train_samples_per_cpu_s": _steady_rate(samples_per_epoch, self.train_cpu_seconds),
            # the first epoch traces and compiles: what it took beyond a later epoch is that cost
            "first_epoch_s": round(self.epoch_seconds[0], 3),
            "first_epoch_extra_s": round(self.epoch_seconds[0] - statistics.median(self.epoch_seconds[1:]), 3)
            if len(self.epoch_seconds) > 1
            else None,
        }


def _steady_rate(samples_per_epoch: int, seconds: list[float]) -> float | None:
    """Samples per second of the median epoch after the first (None without one)."""
    later = statistics.median(seconds[1:]) if len(seconds) > 1 else 0.0
    return round(samples_per_epoch / later, 1) if later > 0 else None


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites history.csv/json atomically after every epoch.

    It appends to ``ctx.history``, so an interrupted run still reports its
    finished epochs and a resumed run continues the history it already has.

    Where the learning rate changes during training (``train.optimizer.schedule``,
    ``train.reduce_lr_on_plateau`` or callbacks of the user's, see :func:`records_learning_rate`)
    it also records the ``learning_rate`` each epoch trained with: the optimizer's rate at the
    epoch's first step, read when the epoch begins (a schedule's value at the optimizer's step
    count, which a resumed run restores, so the curve continues where it stopped).
    """

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.history: History = ctx.history
        self.record_rate = records_learning_rate(ctx.config.train)
        self._rate: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.record_rate and self.model is not None and self.model.optimizer is not None:
            self._rate = current_learning_rate(self.model.optimizer)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        done = max((len(values) for values in self.history.values()), default=0)
        rates = self.history.get(LEARNING_RATE, [])
        if self._rate is not None and LEARNING_RATE not in logs and len(rates) == done:
            logs[LEARNING_RATE] = self._rate  # the same length as every column, or none at all
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self.ctx.run_dir.write_history(self.history)


LEARNING_RATE = "learning_rate"
"""The history column of the rate each epoch trained with (Keras's ReduceLROnPlateau logs the same key)."""


def records_learning_rate(train: TrainConfig) -> bool:
    """Whether the history records the learning rate: where something changes it as training goes."""
    return (
        train.optimizer.schedule is not None
        or train.reduce_lr_on_plateau is not None
        or bool(train.callbacks)
    )


def config_callbacks(
    train: TrainConfig,
) -> tuple[list[keras.callbacks.Callback], list[keras.callbacks.Callback]]:
    """The callbacks ``train`` asks for beyond dlab's standard ones: (dlab's, the user's).

    dlab's: ``keras.callbacks.ReduceLROnPlateau`` for ``train.reduce_lr_on_plateau``. It goes
    before the resume backup, so a backup holds the rate it reduced to (the optimizer's
    learning-rate variable is part of the backed-up optimizer state).

    The user's: ``train.callbacks``, instantiated with their kwargs (checked against the
    constructor before training, :func:`dlab.training.options.check_callbacks`). The order of
    a run's callbacks is then::

        EpochTimer, HistoryWriter, the experiment's callbacks, EarlyStopping,
        ModelCheckpoint, TensorBoard, ReduceLROnPlateau, RunBackup,
        the user's train.callbacks (in the config's order), RunGuardCallback

    so a user callback sees every log dlab's callbacks wrote for the epoch, and the run guard
    stays last: a stop signal at an epoch's end keeps that epoch (history and backup) after the
    user's callbacks have seen it, and a resumed run calls them for the remaining epochs only.
    """
    own: list[keras.callbacks.Callback] = []
    plateau = train.reduce_lr_on_plateau
    if plateau is not None:
        own.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=plateau.monitor,
                factor=plateau.factor,
                patience=plateau.patience,
                mode=plateau.mode,
                min_delta=plateau.min_delta,
                cooldown=plateau.cooldown,
                min_lr=plateau.min_lr,
                verbose=1,  # "Epoch N: ReduceLROnPlateau reducing learning rate to X." in run.log
            )
        )
    return own, user_callbacks(train)


class RunGuardCallback(keras.callbacks.Callback):
    """Checks the run's :class:`~dlab.run.guard.RunGuard` at every batch and epoch end.

    A stop signal or a NaN/Inf loss raises at the batch boundary (before the
    epoch is recorded, so the history holds whole epochs only); the wall-time
    limit ends training after the epoch that crosses it.

    Args:
        time_limit: False for the k-fold folds (a cut fold would bias the average).
    """

    def __init__(self, ctx: RunContext, time_limit: bool = True) -> None:
        super().__init__()
        self.guard = ctx.guard
        self.time_limit = time_limit
        self.stopped_for_time = False
        self._epoch = 1
        self._fitting = False  # test batches inside fit are validation; after it, the test split

    def on_train_begin(self, logs=None):
        self._fitting = True

    def on_train_end(self, logs=None):
        self._fitting = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self.guard.check_batch(loss=(logs or {}).get("loss"), epoch=self._epoch, batch=batch + 1)

    def on_test_batch_end(self, batch, logs=None):
        self.guard.check_interrupt(
            f"epoch {self._epoch} (validation)"
            if self._fitting
            else "the test evaluation (training had finished)"
        )

    def on_predict_batch_end(self, batch, logs=None):
        self.guard.check_interrupt("prediction")

    def on_epoch_end(self, epoch, logs=None):
        self.guard.check_interrupt(f"the end of epoch {epoch + 1}")
        if self.time_limit and self.guard.time_is_up() and epoch + 1 < self.params.get("epochs", 0):
            self.stopped_for_time = True
            self.model.stop_training = True


class RunBackup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup survives a kill at any moment.

    Keras's callback overwrites one weights file and then its metadata; a
    process killed between the two (or in the middle of the weights) leaves a
    backup that cannot be loaded or that names the wrong epoch. Here each
    epoch's weights (model and optimizer state) go to a new file written
    atomically, then ``training_metadata.json`` (epoch, weights file) is
    replaced atomically, then the older weights are removed: the metadata
    always names complete weights of the epoch it says.

    A backup costs a few tens of milliseconds (the weights file dominates), so it
    is written after an epoch only when ``min_interval_s`` (``$DLAB_BACKUP_INTERVAL``,
    default 5 s) have passed since the last one: every epoch of a real run, while a
    tiny model with 30 ms epochs pays at most ~1% and a resume repeats at most
    those seconds. When fit ends, the final model is backed up marked ``complete``
    and kept until the run completes (:func:`dlab.run.backupfile.remove_resume_state`):
    a run stopped while evaluating or plotting resumes by evaluating, not by training
    again.
    """

    DEFAULT_INTERVAL_S = 5.0
    READ = "read"
    """``restore=READ``: read the metadata from the folder when training begins."""

    def __init__(
        self,
        backup_dir: Path,
        min_interval_s: float | None = None,
        restore: dict[str, Any] | None | str = READ,
    ) -> None:
        super().__init__(backup_dir=str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.folder = Path(backup_dir)
        self.restore = restore  # the metadata --resume read (None: a new run restores nothing)
        self.min_interval_s = self.DEFAULT_INTERVAL_S if min_interval_s is None else min_interval_s
        if min_interval_s is None:
            try:
                self.min_interval_s = float(os.environ.get("DLAB_BACKUP_INTERVAL", self.DEFAULT_INTERVAL_S))
            except ValueError:
                pass
        self._last_save = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if epoch + 1 >= self.params.get("epochs", 0):
            return  # on_train_end backs the final epoch up
        if time.monotonic() - self._last_save >= self.min_interval_s:
            self._save_model()
            self._last_save = time.monotonic()

    def on_train_end(self, logs=None):  # Keras's would delete the backup here
        if self._current_epoch > 0:  # epochs ran in this fit (none when it resumed a complete one)
            save_backup(self.model, self.folder, self._current_epoch, complete=True)

    def _load_model(self):
        metadata = read_backup_metadata(self.folder) if self.restore == self.READ else self.restore
        if not metadata:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(self.folder / metadata["weights"]))
        self.model._initial_epoch = int(metadata["epoch"])
        if metadata.get("complete"):  # training had finished (maybe early): evaluate only
            self.model._initial_epoch = max(int(metadata["epoch"]), self.params.get("epochs", 0))

    def _save_model(self):
        save_backup(self.model, self.folder, self._current_epoch)
