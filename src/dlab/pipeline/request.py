"""One run as it was asked for: a typed, frozen request built once and passed down unchanged.

The command line (``dlab run``, ``show``, ``sweep``, ``tune``) and :func:`dlab.api.run`'s keyword
arguments both become a :class:`RunRequest` through :meth:`RunRequest.from_options`; the API,
sweep members, tuner trials and the run lifecycle read it as it is. Flags stay typed on the way
down: ``--epochs 3`` is the integer 3 until the config resolution sets ``train.epochs``, and
``--precision``, ``--strategy``, ``--jit`` and ``--backend`` are named overrides of their
``train.*`` keys (:meth:`Overrides.flags`), applied after ``--smoke`` and before ``--set``.

A member of a sweep and a Ray tuner worker are processes of their own: :meth:`RunRequest.argv`
writes a request as the ``dlab`` flags that parse back into the same request (a test checks
every option).

Nothing here imports more than the standard library and :mod:`dlab.fileio`: ``dlab --help``
builds requests too, and a Ray task reads a member's result file (:func:`read_result`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dlab.fileio import atomic_write_json, read_json_object

DEFAULT_OUTPUTS = "outputs"

FLAG_NAMES = {"train.jit_compile": "--jit", "model.max_trials": "--max-trials"}
"""The flag behind a named override whose name is not its key's last part (``--jit``), for
messages that say where a bad value came from."""


@dataclass(frozen=True)
class Overrides:
    """What the command changes in the config (None: keep the config's value).

    The config resolves in one order (:mod:`dlab.framework.factory`): defaults, YAML, ``smoke``,
    the named flags below, then ``sets``.
    """

    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = None
    sets: tuple[str, ...] = ()
    smoke: bool = False
    max_wall_time: str | float | None = None
    strategy: str | None = None
    precision: str | None = None
    jit: str | bool | None = None
    backend: str | None = None
    max_trials: int | None = None  # dlab tune --max-trials: model.max_trials of a tuner config

    def flags(self) -> dict[str, Any]:
        """The named overrides as dotted config keys (None: not given)."""
        return {
            "train.epochs": self.epochs,
            "train.batch_size": self.batch_size,
            "seed": self.seed,
            "train.max_wall_time": self.max_wall_time,
            "train.strategy": self.strategy,
            "train.precision": self.precision,
            "train.jit_compile": self.jit,
            "train.backend": self.backend,
            "model.max_trials": self.max_trials,
        }

    @property
    def change_config(self) -> bool:
        """Whether the run's config differs from the named one, so that only the run's saved
        config.yaml reproduces it (``max_wall_time`` is a budget, not a setting)."""
        named = (self.strategy, self.precision, self.jit, self.backend, self.max_trials, self.seed)
        return bool(self.sets or self.smoke or self.epochs or self.batch_size) or any(
            value is not None for value in named
        )

    def argv(self) -> list[str]:
        """These overrides as flags (``--epochs 3 --set k=v ...``)."""
        argv = ["--smoke"] if self.smoke else []
        for name in ("epochs", "batch_size", "seed", "max_wall_time", "strategy", "precision"):
            argv += _valued(name, getattr(self, name))
        argv += _valued("jit", None if self.jit is None else str(self.jit).lower())
        argv += _valued("backend", self.backend) + _valued("max_trials", self.max_trials)
        for assignment in self.sets:
            argv += ["--set", assignment]
        return argv


@dataclass(frozen=True)
class Output:
    """Where the run is written and what it keeps.

    Attributes:
        out: the outputs root; the run goes to ``out/<config name>/<time>-<id>/``.
        save_model: write model.keras (``--no-save``: False).
        resume: continue this run directory from its last complete epoch.
        fresh: start a new run directory (the default; refused together with ``resume``).
        result_file: once the run directory exists, write ``{"run_dir": ...}`` here (JSON): how a
            sweep learns where its member's process wrote (:func:`read_result`).
    """

    out: str | os.PathLike[str] = DEFAULT_OUTPUTS
    save_model: bool = True
    resume: str | os.PathLike[str] | None = None
    fresh: bool = False
    result_file: str | os.PathLike[str] | None = None

    def argv(self) -> list[str]:
        argv = ["--out", str(self.out)]
        argv += [] if self.save_model else ["--no-save"]
        argv += _valued("resume", None if self.resume is None else str(self.resume))
        argv += ["--fresh"] if self.fresh else []
        return argv + _valued("result_file", None if self.result_file is None else str(self.result_file))


@dataclass(frozen=True)
class Reporting:
    """How a run reports while and after it trains: console verbosity, TensorBoard, MLflow, and
    the user's tags (``KEY=VALUE`` as given, checked by :func:`dlab.run.tags.parse_tags`) and note."""

    verbose: int | None = None
    quiet: bool = False
    tensorboard: bool = False
    mlflow: bool = False
    mlflow_uri: str | None = None
    register: str | None = None  # dlab run --register NAME: the model's registered name in MLflow
    tags: tuple[str, ...] = ()
    note: str | None = None
    profile: bool = False  # print metrics.json's `stages` at the end (dlab.run.stages)

    def argv(self) -> list[str]:
        argv = _valued("verbose", self.verbose)
        argv += [f"--{name}" for name in ("quiet", "tensorboard", "mlflow", "profile") if getattr(self, name)]
        for tag in self.tags:
            argv += ["--tag", tag]
        argv += _valued("mlflow_uri", self.mlflow_uri) + _valued("register", self.register)
        return argv + _valued("note", self.note)


@dataclass(frozen=True)
class RunRequest:
    """One run, as the command (or :func:`dlab.api.run`) asked for it.

    Attributes:
        config: a packaged config name or a YAML file ("" until a sweep member or a resumed
            search names it).
        overrides, output, reporting: see :class:`Overrides`, :class:`Output`, :class:`Reporting`.
        device: ``auto`` (a GPU when there is one), ``cpu`` or ``gpu``.
        debug: full tracebacks, and TensorFlow's native start-up log on the console.
    """

    config: str = ""
    overrides: Overrides = field(default_factory=Overrides)
    output: Output = field(default_factory=Output)
    reporting: Reporting = field(default_factory=Reporting)
    device: str = "auto"
    debug: bool = False

    @classmethod
    def from_options(cls, config: str = "", **options: Any) -> RunRequest:
        """A request from flat options, as ``dlab run`` and :func:`dlab.api.run` take them
        (``epochs=2, smoke=True, out=...``); each goes to the part that has a field of its name.

        Raises:
            TypeError: an option that no part of a request has.
        """
        parts: dict[str, Any] = {}
        for name, part in (("overrides", Overrides), ("output", Output), ("reporting", Reporting)):
            given = {f.name: options.pop(f.name) for f in fields(part) if f.name in options}
            for listed in ("sets", "tags"):
                if listed in given:
                    given[listed] = tuple(given[listed] or ())
            parts[name] = part(**given)
        return cls(config=config, **parts, **options)

    def for_member(self, config: str, seed: int | None, sets: Sequence[str]) -> RunRequest:
        """The request of one member of a sweep: its config, its seed and its grid values (applied
        after the sweep's own ``sets``). The sweep's console flags (``debug``, ``quiet``) and its
        MLflow run are the sweep's, not the member's."""
        overrides = replace(
            self.overrides,
            seed=self.overrides.seed if seed is None else seed,
            sets=(*self.overrides.sets, *sets),
        )
        reporting = replace(self.reporting, quiet=False, mlflow=False, mlflow_uri=None, register=None)
        return replace(self, config=config, overrides=overrides, reporting=reporting, debug=False)

    def argv(self) -> list[str]:
        """This request as ``dlab run`` arguments (the config first)."""
        argv = [self.config, *self.output.argv(), "--device", self.device, *self.overrides.argv()]
        return argv + self.reporting.argv() + (["--debug"] if self.debug else [])


def _valued(name: str, value: Any) -> list[str]:
    """``--name value`` for a given value, nothing for None."""
    return [] if value is None else ["--" + name.replace("_", "-"), str(value)]


def write_result(path: str | os.PathLike[str], run_dir: Path) -> None:
    """Name the run directory in the result file the caller chose (``Output.result_file``)."""
    atomic_write_json(path, {"run_dir": str(Path(run_dir).resolve())})


def read_result(path: str | os.PathLike[str]) -> Path | None:
    """The run directory a member's process named in its result file; None when it wrote none
    (it stopped before its run directory existed: bad input, or stopped while starting)."""
    result = read_json_object(Path(path))
    run_dir = (result or {}).get("run_dir")
    return Path(run_dir) if isinstance(run_dir, str) and run_dir else None
