"""The experiment interface: what every registered experiment provides.

An experiment is a class registered with :func:`dlab.framework.registry.register`. It
says only what is specific to it; the API does the rest (config, device, run
directory, metrics.json, console log, status):

1. ``load_data(config)`` reads and checks everything the run needs, and
2. ``prepare(config, data)`` builds the model (``build_model``) and checks it
   fits the data. Both run *before* the run directory exists, so bad input (a
   missing path, a malformed file, an offline download, images too small for
   the network) stops the run with a clear message and leaves nothing behind.
3. ``run(ctx, data, model)`` trains and evaluates, writing history, figures and
   results through ``ctx``.

:class:`KerasExperiment` implements ``run`` as the standard Keras recipe
(build, compile, fit with validation data, evaluate on test, save, plot), so a
Keras experiment only writes ``build_model`` and, optionally, ``figures``.
Experiments without ``model.fit`` (NumPy from scratch, k-fold, tuner searches)
subclass :class:`Experiment` and write their own ``run``; they report through
the same ``ctx`` helpers, so their run directories look the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from dlab.config import EmptyModelConfig
from dlab.errors import ConfigError
from dlab.framework.inference import write_inference
from dlab.run.resume import read_backup_metadata

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from dlab.config import RunConfig
    from dlab.run.context import RunContext


class Experiment:
    """Base class of every experiment; subclasses are registered with ``@register``.

    Attributes:
        name: the registered name (set by ``@register``), used by ``experiment:``.
        family: a short group name shown by ``dlab list``.
        ModelConfig: pydantic model of the config's ``model`` section.
        smoke_overrides: extra dotted-key settings applied by ``--smoke``.
        uses_keras: False for NumPy experiments: the run then never imports TensorFlow.
        supports_kfold: whether ``train.kfold`` can split this experiment's data.
        kfold_unsupported_because: why not, for the error message (when it cannot).
        compute_family: what dominates its training step (dense, convolutional, recurrent,
            embedding, transfer, multi_hot): the row of the speed table that
            ``train.backend: auto`` reads.
        requires_tensorflow: why it needs TensorFlow itself rather than pure Keras (None: it
            runs on every Keras backend); another ``--backend`` is then refused.
    """

    name: ClassVar[str] = ""
    uses_keras: ClassVar[bool] = True
    family: ClassVar[str] = "other"
    ModelConfig: ClassVar[type[BaseModel]] = EmptyModelConfig
    smoke_overrides: ClassVar[dict[str, Any]] = {}
    supports_kfold: ClassVar[bool] = False
    kfold_unsupported_because: ClassVar[str] = "it does not train with model.fit on arrays"
    compute_family: ClassVar[str] = "dense"
    requires_tensorflow: ClassVar[str | None] = None

    def check_config(self, config: RunConfig) -> None:
        """Refuse settings this experiment cannot honour, before any data is read."""
        if config.train.kfold and not self.supports_kfold:
            raise ConfigError(
                f"train.kfold is not available for {config.name}: {self.kfold_unsupported_because}. "
                "Remove train.kfold."
            )

    def load_data(self, config: RunConfig) -> Any:
        """Read and check the data, before the run directory is created."""
        raise NotImplementedError

    def build_model(self, config: RunConfig, data: Any) -> Any:
        """Return the model this config trains on this data (None if the run builds its own)."""
        return None

    def prepare(self, config: RunConfig, data: Any) -> Any:
        """Build the model and check it against the config, before the run directory exists."""
        return self.build_model(config, data)

    def run(self, ctx: RunContext, data: Any, model: Any) -> None:
        """Train and evaluate; write history, figures and results through ``ctx``."""
        raise NotImplementedError

    def inference_spec(self, config: RunConfig, data: Any) -> dict[str, Any] | None:
        """What turns raw input into this model's input and its output into answers, beyond the
        model itself (class names, a vocabulary, standardization statistics ...); None: nothing
        can be predicted from raw input. Saved as the run's ``inference.json`` (see
        :mod:`dlab.framework.inference`) so that ``dlab predict`` never needs the training data.
        """
        return None

    def save_inference(self, ctx: RunContext, data: Any) -> None:
        """Write ``inference.json`` beside ``model.keras`` (not under ``--no-save``)."""
        if ctx.save_model:
            write_inference(ctx.run_dir.path, self.inference_spec(ctx.config, data))

    def resume_unsupported(self, config: RunConfig) -> str | None:
        """Why ``--resume`` cannot continue this config (None: it can).

        Only runs trained by one ``model.fit`` with dlab's backup callback resume.
        """
        return f"experiment {self.name} trains with its own loop, which keeps no backup of its training state"

    def resume_hint(self, config: RunConfig, config_ref: str, run_dir: Path, overridden: bool) -> str:
        """What an interrupted run's message suggests: how to continue it, or to start again.

        Args:
            config_ref: the config as the command named it.
            run_dir: the interrupted run's directory.
            overridden: the command changed the config (flags, ``--set``, ``--smoke``): then
                only the run's saved config.yaml reproduces it.
        """
        source = str(run_dir / "config.yaml") if overridden else config_ref
        reason = self.resume_unsupported(config)
        if reason:
            return f"this run cannot be resumed: {reason} (`dlab run {source}` starts it again)"
        if read_backup_metadata(run_dir / "backup") is None:  # stopped before its first backup
            return (
                "it stopped before its first backup (written at the end of an epoch), so there is "
                f"nothing to resume: `dlab run {source}` starts it again"
            )
        return f"continue with `dlab run {source} --resume {run_dir}`"
