"""The experiment registry: ``@register`` a class, look it up by name.

Modelled on the TF Model Garden registry: registering a name twice is an error
(two modules silently fighting over a name is a bug, and the message names both
origins), and a failed lookup says what exists and what was probably meant.

Experiments come from three places, imported on first lookup (a name is never looked up
in one place before another: two places claiming it is an error):

1. the user's project: the modules its ``[tool.dlab] modules`` names
   (:mod:`dlab.config.project`);
2. installed plugins: each entry point of the group ``dlab.experiments`` names a module
   that registers experiments when imported
   (``[project.entry-points."dlab.experiments"] course-labs = "course_labs.experiments"``);
3. dlab's own catalogue, the ``dlab.experiments`` package.

Experiment modules import Keras only inside their methods, so looking one up stays cheap.

Example:
    >>> from dlab.framework import Experiment
    >>> @register("my_experiment")
    ... class MyExperiment(Experiment):
    ...     family = "examples"
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from dlab.config.project import find_project
from dlab.config.sources import EXPERIMENT_ENTRY_POINTS, PACKAGED, plugin_entries
from dlab.errors import ConfigError, DlabError, did_you_mean
from dlab.usercode import import_module_ref, import_path

if TYPE_CHECKING:
    from dlab.framework.base import Experiment

_REGISTRY: dict[str, type[Experiment]] = {}
_ORIGINS: dict[str, str] = {}
_discovered = False
_importing_origin = PACKAGED
"""The origin given to classes registered while a module is being imported by :func:`discover`."""


E = TypeVar("E", bound="type[Experiment]")


class DuplicateExperimentError(DlabError):
    """Two experiment classes claimed the same name."""


def register(name: str) -> Callable[[E], E]:
    """Class decorator that registers an experiment under ``name``.

    Raises:
        DuplicateExperimentError: ``name`` is already taken by another class.
    """

    def decorator(cls: E) -> E:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise DuplicateExperimentError(
                f"Experiment name '{name}' is registered twice: by "
                f"{existing.__module__}.{existing.__qualname__} ({_ORIGINS[name]}) and "
                f"{cls.__module__}.{cls.__qualname__} ({_importing_origin}). "
                "Give one of them another name."
            )
        cls.name = name
        _REGISTRY[name] = cls
        _ORIGINS[name] = _importing_origin
        return cls

    return decorator


def discover() -> None:
    """Import the project's modules, the plugins' and dlab's catalogue once, so that they register.

    Raises:
        ConfigError: a project or plugin module that cannot be imported (the user's traceback).
        DuplicateExperimentError: two of them register one name.
    """
    global _discovered
    if _discovered:
        return
    package = importlib.import_module("dlab.experiments")  # first: a failing user module leaves these
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    for entry in plugin_entries(EXPERIMENT_ENTRY_POINTS):
        distribution = entry.distribution
        with _origin(f"plugin {distribution}"):
            import_module_ref(entry.module, what=f"the plugin {distribution} ({EXPERIMENT_ENTRY_POINTS})")
    project = find_project()
    if project is not None:
        for path in project.modules:
            with _origin(project.origin):
                import_path(path, what=f"[tool.dlab] modules in {project.source}")
    _discovered = True


@contextlib.contextmanager
def _origin(origin: str) -> Iterator[None]:
    global _importing_origin
    previous, _importing_origin = _importing_origin, origin
    try:
        yield
    finally:
        _importing_origin = previous


def origin_of(name: str) -> str:
    """Where the experiment ``name`` was registered from: ``dlab``, ``plugin DIST`` or ``project ROOT``."""
    get(name)
    return _ORIGINS[name]


def names() -> list[str]:
    """Every registered experiment name, sorted."""
    discover()
    return sorted(_REGISTRY)


def get(name: str) -> type[Experiment]:
    """The experiment class registered as ``name``.

    Raises:
        ConfigError: no such experiment; the message lists the close matches.
    """
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"Unknown experiment '{name}' (the `experiment:` key).{did_you_mean(name, _REGISTRY)} "
            f"Registered experiments: {', '.join(sorted(_REGISTRY))}."
        ) from None
