"""A sweep as it was asked for: its targets, how to expand them, where members run, and the one
:class:`~dlab.pipeline.request.RunRequest` every member gets (with its own config, seed and grid
values added by :meth:`~dlab.pipeline.request.RunRequest.for_member`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dlab.pipeline.request import RunRequest
from dlab.scaleout.cluster import RayOptions

NOT_FOR_SWEEPS = ("seed", "resume", "fresh", "max_trials", "result_file")
"""``dlab run`` options a sweep does not take: members get their seeds from ``seeds`` (a study's
or ``--seeds``), and each member is a new run."""


@dataclass(frozen=True)
class SweepRequest:
    """Everything ``dlab sweep`` was given.

    Attributes:
        targets: one study (name or file), or config names, YAML files and globs.
        run: what every member gets, as ``dlab run`` takes it (its config is the member's).
        grid: ``key=v1,v2`` specs; every combination runs.
        seeds: a count (seeds 1..N) or a list of seeds; each member runs once per seed.
        jobs: local runs at a time.
        fail_fast: stop at the first failed run.
        executor: ``local`` (``jobs`` processes here) or ``ray`` (one Ray task per member).
        ray: the cluster and what each member reserves on it.
    """

    targets: tuple[str, ...]
    run: RunRequest = field(default_factory=RunRequest)
    grid: tuple[str, ...] = ()
    seeds: int | str | tuple[int, ...] | None = None
    jobs: int = 1
    fail_fast: bool = False
    executor: str = "local"
    ray: RayOptions = field(default_factory=RayOptions)

    @classmethod
    def from_options(cls, targets: Sequence[str], **options: Any) -> SweepRequest:
        """A sweep from flat options, as ``dlab sweep`` and :func:`dlab.api.sweep` take them: its
        own (grid, seeds, jobs, fail_fast, executor), Ray's (address, cpus_per_run, gpus_per_run,
        shared_fs, bind: where a Ray the sweep starts listens) and the ``dlab run`` options every
        member gets.

        Raises:
            TypeError: an option a sweep does not have.
        """
        refused = [name for name in NOT_FOR_SWEEPS if name in options]
        if refused:
            raise TypeError(
                f"sweep() takes no {', '.join(refused)}: members get their seeds from seeds= (or a "
                "study's), and every member is a new run"
            )
        own = {name: options.pop(name) for name in ("jobs", "fail_fast", "executor") if name in options}
        grid = tuple(options.pop("grid", ()) or ())
        seeds = options.pop("seeds", None)
        if seeds is not None and not isinstance(seeds, (int, str)):
            seeds = tuple(seeds)
        ray_names = ("address", "cpus_per_run", "gpus_per_run", "shared_fs", "bind")
        ray = RayOptions(**{name: options.pop(name) for name in ray_names if name in options})
        run = RunRequest.from_options("", **options)
        return cls(tuple(targets), run, grid, seeds, ray=ray, **own)

    def run_flags(self) -> dict[str, Any]:
        """The flags every member got, as the sweep's summary.json records them (``run_flags``)."""
        output, overrides = self.run.output, self.run.overrides
        return {
            "out": str(output.out),
            "device": self.run.device,
            "smoke": overrides.smoke,
            "epochs": overrides.epochs,
            "sets": list(overrides.sets),
            "save_model": output.save_model,
        }
