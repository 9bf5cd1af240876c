"""A saved run as something to use: checked first, then its typed config and its model.

The run itself is read by dlab's one run reader, :class:`dlab.results.index.SavedRun`
(its strict form, :meth:`~dlab.results.index.SavedRun.load_strict`, refuses what these
commands cannot use); what only using a model needs lives here: the config resolved and
validated as ``dlab run`` would, the model loaded in safe mode with dlab's own layers,
and the check that the run's task is one the command serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dlab.errors import UsageError
from dlab.framework.factory import resolve_config
from dlab.results.index import CONFIG_FILE, SavedRun
from dlab.runtime.tfenv import prepare_environment

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig


def open_run(path: str | Path, *, need_model: bool = True, command: str = "dlab predict") -> SavedRun:
    """Check that ``path`` is a completed run (with a model unless ``need_model`` is False).

    Raises:
        UsageError: not a run directory, a failed or unfinished run, a run saved with
            ``--no-save``, or a saved config that does not validate any more.
    """
    run = SavedRun.load_strict(path, need_model=need_model, command=command)
    run_config(run)  # a config this dlab cannot read is refused before anything is loaded
    return run


def run_config(run: SavedRun) -> RunConfig:
    """The run's config.yaml, resolved and validated as ``dlab run`` would (typed)."""
    return resolve_config(str(run.path / CONFIG_FILE))


def keras_model(run: SavedRun) -> keras.Model:
    """The run's ``model.keras`` in safe mode, with dlab's own layers, losses and metrics registered."""
    return load_safely(run.model_file)


def load_safely(path: Path) -> keras.Model:
    """Load a Keras model with ``safe_mode=True`` after registering dlab's serializable objects."""
    prepare_environment()
    # Keras and the modules that register dlab's objects with it import TensorFlow: only after
    # prepare_environment() has set its environment (and never for a command that loads no model).
    import keras

    import dlab.models.sparse_dense  # noqa: F401 - registers SparseInputDense (multi-hot MLPs); lazy: imports keras
    import dlab.models.transfer  # noqa: F401 - registers BackbonePreprocess
    import dlab.training.losses  # noqa: F401 - registers dlab's losses and metrics (perplexity)

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - a broken or foreign file: say which and why
        raise UsageError(f"Cannot load the model {path}: {type(error).__name__}: {error}") from None


def require_task(run: SavedRun, tasks: tuple[str, ...], command: str, instead: str) -> None:
    """Refuse a run whose task ``command`` cannot serve, saying what the run is for.

    Raises:
        UsageError: the run's inference.json names another task (or none).
    """
    if run.task in tasks:
        return
    what = f"a {run.task.replace('_', ' ')} run" if run.task else "a run without inference.json"
    raise UsageError(
        f"{command}: {run.path} is {what} (experiment {run.config.get('experiment')}); {command} needs "
        f"{' or '.join(t.replace('_', ' ') for t in tasks)}. {instead}"
    )
