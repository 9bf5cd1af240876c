"""Stopping a run cleanly: stop signals, non-finite losses and the wall-time limit.

A :class:`RunGuard` lives in the run's context and is consulted by the training
loops at every batch and epoch boundary (the Keras callback in
:mod:`dlab.training`, the NumPy loop in :mod:`dlab.models.numpy_models`):

- SIGINT (Ctrl-C), SIGTERM or SIGHUP while training only sets a flag; the loop raises
  :class:`~dlab.errors.RunInterrupted` at the next batch boundary, so the
  history of the finished epochs, the plots and metrics.json ("interrupted")
  are written and the process exits 130 / 143 / 129. A second signal stops at once.
- While the run writes its final metrics.json (:meth:`RunGuard.deferred`), a signal is only
  noted: a record cut in the middle would be worse than the milliseconds it waits.
- A NaN or infinite batch loss raises :class:`~dlab.errors.NonFiniteLoss`
  ("non-finite loss at epoch E batch B"); the run ends "failed" with its outputs.
- ``train.max_wall_time`` (``--max-wall-time``): the epoch that crosses it is the last.

No heavy imports: NumPy runs use it without TensorFlow.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

from dlab.errors import NonFiniteLoss, RunInterrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))
"""Ctrl-C, a scheduler's or kill's SIGTERM, and SIGHUP (the terminal or SSH session closed)."""


class RunGuard:
    """The stop conditions of one run, checked by the training loops.

    Args:
        max_wall_time: seconds the run may take (None: no limit); the clock
            starts when the guard is made (the start of ``dlab run``).
    """

    def __init__(self, max_wall_time: float | None = None) -> None:
        self.started = time.monotonic()
        self.max_wall_time = max_wall_time
        self.signal_received: int | None = None
        self.signals = 0
        """How many stop signals arrived (the messages say "a second SIGINT", "a third ...")."""
        self.time_limit_reached = False
        self._previous: dict[int, Any] = {}
        self._deferring = False

    # -- signals -------------------------------------------------------------------

    def __enter__(self) -> RunGuard:
        """Catch SIGINT and SIGTERM while the block runs (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self._deferring:  # the final record is being written: it ends in a moment anyway
            self.signal_received = self.signal_received or number
            name = signal.Signals(number).name
            print(f"\ndlab: {name} received: the run is writing its record and stops then", flush=True)
            return
        if self.signal_received is not None:  # a second signal: do not wait for the batch to end
            name = signal.Signals(number).name
            raise RunInterrupted(f"stopped at once by a {self.nth_signal()} {name}", number)
        self.signal_received = number
        print(
            f"\ndlab: {signal.Signals(number).name} received: stopping at the end of the "
            "current batch (send it again to stop at once)",
            flush=True,
        )

    def nth_signal(self) -> str:
        """The latest stop signal's rank in words: "second", "third", "4th" ..."""
        return {1: "first", 2: "second", 3: "third"}.get(self.signals, f"{self.signals}th")

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """While the block runs, a stop signal is noted but raises nothing (the block must be
        short: writing the run's last record)."""
        before, self._deferring = self._deferring, True
        try:
            yield
        finally:
            self._deferring = before

    def check_interrupt(self, where: str = "") -> None:
        """Raise RunInterrupted if a stop signal arrived.

        Args:
            where: e.g. "epoch 3 batch 17", for the message.
        """
        if self.signal_received is not None:
            name = signal.Signals(self.signal_received).name
            raise RunInterrupted(
                f"interrupted by {name}" + (f" at {where}" if where else ""), self.signal_received
            )

    # -- losses and time -----------------------------------------------------------

    @staticmethod
    def check_loss(loss: Any, epoch: int, batch: int, hint: str | None = None) -> None:
        """Raise NonFiniteLoss when ``loss`` is NaN or infinite (epoch and batch count from 1).

        Args:
            hint: what to do about it (default: a lower learning rate or gradient clipping).
        """
        if loss is None:
            return
        value = float(loss)
        if not math.isfinite(value):
            raise NonFiniteLoss(
                f"non-finite loss at epoch {epoch} batch {batch} (loss = {value}); "
                + (hint or "lower train.optimizer.learning_rate or add train.optimizer.clipnorm")
            )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def time_is_up(self) -> bool:
        """True once the wall-time limit is crossed (remembered, for metrics.json)."""
        if self.max_wall_time is not None and self.elapsed() >= self.max_wall_time:
            self.time_limit_reached = True
        return self.time_limit_reached

    def check_batch(self, loss: Any, epoch: int, batch: int, hint: str | None = None) -> None:
        """The batch-boundary check of every training loop (epoch and batch count from 1).

        Loops call it with keywords (``loss=``, ``epoch=``, ``batch=``): the order is easy to
        get wrong, and a loss taken for a batch number is never checked for NaN.
        """
        self.check_interrupt(f"epoch {epoch} batch {batch}")
        self.check_loss(loss, epoch, batch, hint)
