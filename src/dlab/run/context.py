"""The run context: what an experiment and the training loop get while a run trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlab.run.guard import RunGuard
from dlab.run.stages import Stages

if TYPE_CHECKING:
    from dlab.config import RunConfig
    from dlab.run.directory import RunDir
    from dlab.runtime.device import DeviceInfo


@dataclass
class RunContext:
    """What an experiment gets while it runs.

    Attributes:
        config: the resolved, validated config.
        run_dir: writes the run's files (history, figures, model).
        device: the device the run trains on.
        save_model: False under ``--no-save``: do not write model.keras.
        summary: fields an experiment adds to metrics.json (use :meth:`record`).
        guard: stop signals, non-finite losses and the wall-time limit; training
            loops call it at every batch and epoch boundary (:mod:`dlab.run.guard`).
        history: the per-epoch history so far, filled by the training loop while it
            runs, so an interrupted or failed run still reports its finished epochs
            (a resumed run starts with the epochs it already has).
        resume: True when ``--resume`` continues this run directory (Keras's
            BackupAndRestore restores the model from ``run_dir/backup``).
        backup: under ``--resume``, the backup metadata that :func:`dlab.run.resume.check_resume`
            read (the epoch the history was cut to); the model is restored from exactly it.
        state: what an experiment keeps between the steps of this run (e.g. the test
            images it showed), so that nothing of one run lingers on the experiment.
        verbose: Keras's ``verbose`` for fit and search (0 silent, 1 progress bar, 2 a line
            per epoch; :mod:`dlab.runtime.console` picks it); NumPy loops print at 1 and 2.
        stages: seconds per stage of the run (``ctx.stages.time("figures")``), for metrics.json's
            ``stages`` (:mod:`dlab.run.stages`).
    """

    config: RunConfig
    run_dir: RunDir
    device: DeviceInfo
    save_model: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    guard: RunGuard = field(default_factory=RunGuard)
    history: dict[str, list[float]] = field(default_factory=dict)
    resume: bool = False
    backup: dict[str, Any] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    verbose: int = 2
    stages: Stages = field(default_factory=Stages)

    def record(self, **fields: Any) -> None:
        """Add fields to metrics.json (a later call with the same key wins)."""
        self.summary.update(fields)
