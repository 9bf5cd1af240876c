"""A saved run as something to use: checked first, then its typed config and its model.

The run itself is read by dlab's one run reader, :class:`dlab.results.index.SavedRun`
(its strict form, :meth:`~dlab.results.index.SavedRun.load_strict`, refuses what these
commands cannot use); what only using a model needs lives here: the config resolved and
validated as ``dlab run`` would, the model loaded in safe mode with dlab's own layers,
and the check that the run's task is one the command serves.

A run folder may have been edited since dlab wrote it, so every file these commands read
from it (metrics.json, config.yaml, inference.json, model.keras and the files inference.json
names, such as ``text.vocabulary``) must be a regular file whose real path is inside the
run folder: a name like ``../../secret/id_rsa``, an absolute path or a link out of the
folder is refused, and so is a FIFO (which would block the command forever). The check is
:func:`dlab.saferead.resolve_inside`, the one ``dlab report`` makes for plots.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from dlab.errors import UsageError
from dlab.framework.factory import resolve_config
from dlab.framework.inference import named_files
from dlab.results.index import CONFIG_FILE, INFERENCE_FILE, METRICS_FILE, MODEL_FILE, SavedRun
from dlab.runtime.tfenv import prepare_environment
from dlab.saferead import OutsideFolder, read_regular_text, resolve_inside

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
    own = [METRICS_FILE, CONFIG_FILE, *([MODEL_FILE] if need_model else [])]
    if os.path.lexists(run.path / INFERENCE_FILE):
        own.append(INFERENCE_FILE)
    for name in own:
        run_file(run, name, name)
    for key, name in named_files(run.spec).items():
        run_file(run, name, f"{INFERENCE_FILE}'s {key}")
    run_config(run)  # a config this dlab cannot read is refused before anything is loaded
    return run


def run_file(run: SavedRun, name: object, what: str) -> Path:
    """The real path of the regular file ``name`` inside the run folder.

    Args:
        name: a path relative to the run folder, as the run's files give it.
        what: where the name comes from, for the message (``inference.json's text.vocabulary``).

    Raises:
        UsageError: an absolute path or not a name, a name or link that leads outside the run
            folder, a missing file, or one that is not a regular file (a FIFO, a folder).
    """
    fix = (
        "dlab reads only regular files inside a run folder, and this one was changed after "
        "dlab wrote it: restore the file, or train the run again."
    )
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        raise UsageError(
            f"{run.path}: {what} is {name!r}; it must name a file inside the run folder by a "
            f"relative path. {fix}"
        )
    try:
        real = resolve_inside(run.path, name)
    except OutsideFolder:
        outside = os.path.realpath(run.path / name)
        raise UsageError(
            f"{run.path}: {what} names {name!r}, which leads outside the run folder (to {outside}). {fix}"
        ) from None
    except (OSError, RuntimeError) as error:
        why = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"{run.path}: {what} names {name!r}, which cannot be read ({why}). {fix}") from None
    if not stat.S_ISREG(real.stat().st_mode):
        raise UsageError(
            f"{run.path}: {what} names {name!r}, which is not a regular file (a FIFO, a device or "
            f"a folder: reading it could block forever). {fix}"
        )
    return real


def read_run_text(run: SavedRun, name: object, what: str) -> str:
    """The UTF-8 text of a file inside the run folder (see :func:`run_file`).

    Raises:
        UsageError: see :func:`run_file`; or the file cannot be read or is not UTF-8.
    """
    real = run_file(run, name, what)
    try:
        return read_regular_text(real)
    except (OSError, UnicodeDecodeError) as error:
        why = getattr(error, "strerror", None) or str(error)
        raise UsageError(
            f"{run.path}: {what} names {name!r}, which cannot be read as text ({why})."
        ) from None


def run_config(run: SavedRun, sets: list[str] | None = None) -> RunConfig:
    """The run's config.yaml (with ``sets`` applied), resolved and validated as ``dlab run`` would.

    Raises:
        UsageError: the config does not validate, or it ``extends`` another file (dlab writes a
            run's config whole, and the file it names would be read from outside the run).
    """
    if "extends" in run.config:
        raise UsageError(
            f"{run.path}: its {CONFIG_FILE} extends {run.config['extends']!r}, but dlab writes a run's "
            "config whole; the file it names would be read from outside the run folder. Restore the "
            "run's config.yaml, or train the run again."
        )
    return resolve_config(str(run_file(run, CONFIG_FILE, CONFIG_FILE)), sets=sets)


def keras_model(run: SavedRun) -> keras.Model:
    """The run's ``model.keras`` in safe mode, with dlab's own layers, losses and metrics registered."""
    return load_safely(run_file(run, MODEL_FILE, MODEL_FILE))


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
