"""Finding one's way around a config: ``dlab show --explain`` and shell completion of ``--set`` keys.

Both read the keys and their descriptions from the pydantic schema that validates a config
(:mod:`dlab.config.keys`), with the ``model`` section from the config's own experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dlab.config import RunConfig
from dlab.config.files import find_config, load_yaml_chain
from dlab.config.keys import complete_keys, explained_yaml
from dlab.errors import DlabError
from dlab.framework import registry
from dlab.framework.catalogue import experiment_of
from dlab.pipeline import steps
from dlab.pipeline.request import RunRequest

RUN_CONFIG = "config.yaml"
"""The resolved config a run directory keeps."""


def explain_config(request: RunRequest) -> str:
    """The resolved config as ``dlab show`` prints it, each key under a comment saying what it
    means (and where its value came from, when not from the config's own file).

    Raises:
        UsageError / ConfigError: as :func:`dlab.api.show_config`.
    """
    config = steps.resolve(request)
    return explained_yaml(config, config.to_dict(), config.key_origins, config.source_path)


def complete_set_keys(incomplete: str, config_ref: str | None = None, section: str = "") -> list[str]:
    """``--set`` key paths (or, after ``KEY=``, the values a choice allows) starting with
    ``incomplete``; ``model.`` keys are the experiment's of ``config_ref`` (a config name, a YAML
    file or a run directory). Never raises: a completion that fails offers nothing.

    Args:
        section: only keys under this section (``data``: ``dlab evaluate``'s ``--set``).
    """
    model = _model_schema(config_ref) if config_ref else None
    sections = {"model": model} if model is not None else {}
    if section and not incomplete.startswith(f"{section}."):
        incomplete = f"{section}." if f"{section}.".startswith(incomplete) else incomplete
    try:
        found = complete_keys(RunConfig, incomplete, sections)
    except (DlabError, ValueError, TypeError):
        return []
    return [key for key in found if not section or key.startswith(f"{section}.")]


def _model_schema(config_ref: str) -> type[BaseModel] | None:
    """The ``model`` section's schema of a config's experiment (None where it cannot be told)."""
    try:
        path = Path(config_ref).expanduser()
        if path.is_dir() and (path / RUN_CONFIG).is_file():
            path = path / RUN_CONFIG
        elif not path.is_file():
            path = find_config(config_ref)
        experiment: Any = experiment_of(load_yaml_chain(path, {}))
        return registry.get(str(experiment)).ModelConfig if experiment else None
    except (DlabError, OSError, ValueError):
        return None
