"""A saved run as something to use: its config, metrics, inference spec and model, all checked first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.errors import UsageError
from dlab.fileio import read_json_object
from dlab.framework.inference import INFERENCE_FILE

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig


@dataclass
class SavedRun:
    """A run directory that holds a trained model (see :func:`open_run`).

    Attributes:
        path: the run directory.
        config: its resolved config (config.yaml).
        metrics: its metrics.json.
        spec: its inference.json ({} for runs saved before dlab wrote one).
    """

    path: Path
    config: RunConfig
    metrics: dict[str, Any]
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return str(self.spec.get("task", ""))

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.get("class_names") or [])

    @property
    def model_file(self) -> Path:
        return self.path / "model.keras"

    def keras_model(self) -> keras.Model:
        """``model.keras`` in safe mode, with dlab's own layers, losses and metrics registered."""
        return load_safely(self.model_file)


def load_safely(path: Path) -> keras.Model:
    """Load a Keras model with ``safe_mode=True`` after registering dlab's serializable objects."""
    from dlab.runtime.tfenv import prepare_environment

    prepare_environment()
    import keras

    import dlab.models.sparse_dense  # noqa: F401 - registers SparseInputDense (multi-hot MLPs)
    import dlab.models.transfer  # noqa: F401 - registers BackbonePreprocess
    import dlab.training.losses  # noqa: F401 - registers dlab's losses and metrics (perplexity)

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - a broken or foreign file: say which and why
        raise UsageError(f"Cannot load the model {path}: {type(error).__name__}: {error}") from None


def open_run(path: str | Path, *, need_model: bool = True, command: str = "dlab predict") -> SavedRun:
    """Check that ``path`` is a completed run (with a model unless ``need_model`` is False).

    Raises:
        UsageError: not a run directory, a failed or unfinished run, a run saved with
            ``--no-save``, or a run whose experiment cannot predict from raw input.
    """
    from dlab.framework.factory import resolve_config

    folder = Path(path).expanduser()
    if folder.name in ("metrics.json", "config.yaml", "model.keras") and folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{command}: '{path}' is not a run directory (no such folder).")
    metrics = read_json_object(folder / "metrics.json")
    if metrics is None or not (folder / "config.yaml").is_file():
        raise UsageError(
            f"{command}: '{path}' is not a run directory (it needs metrics.json and config.yaml, "
            "as `dlab run` writes them under outputs/<config>/<time>-<id>/)."
        )
    status = metrics.get("status")
    if status != "completed":
        error = metrics.get("error") or {}
        why = f" ({error.get('type')}: {error.get('message')})" if error else ""
        raise UsageError(
            f"{command}: the run {folder} is {status}{why}, so its model is not a finished one. "
            "Use a completed run (`dlab runs --status completed` lists them)."
        )
    if need_model and not (folder / "model.keras").is_file():
        raise UsageError(
            f"{command}: the run {folder} has no model.keras (it was trained with --no-save, or its "
            "experiment saves no Keras model). Train it again without --no-save."
        )
    config = resolve_config(str(folder / "config.yaml"))
    spec = read_json_object(folder / INFERENCE_FILE) or {}
    return SavedRun(path=folder, config=config, metrics=metrics, spec=spec)


def require_task(run: SavedRun, tasks: tuple[str, ...], command: str, instead: str) -> None:
    """Refuse a run whose task ``command`` cannot serve, saying what the run is for.

    Raises:
        UsageError: the run's inference.json names another task (or none).
    """
    if run.task in tasks:
        return
    what = f"a {run.task.replace('_', ' ')} run" if run.task else "a run without inference.json"
    raise UsageError(
        f"{command}: {run.path} is {what} (experiment {run.config.experiment}); {command} needs "
        f"{' or '.join(t.replace('_', ' ') for t in tasks)}. {instead}"
    )
