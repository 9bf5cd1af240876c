"""The experiment registry: ``@register`` a class, look it up by name.

Modelled on the TF Model Garden registry: registering a name twice is an error
(two modules silently fighting over a name is a bug), and a failed lookup says
what exists and what was probably meant. Experiment modules live in the
``dlab.experiments`` package and are imported on first lookup; they import
Keras only inside their methods, so looking one up stays cheap.

Example:
    >>> from dlab.framework import Experiment
    >>> @register("my_experiment")
    ... class MyExperiment(Experiment):
    ...     family = "examples"
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from dlab.errors import ConfigError, DlabError, did_you_mean

if TYPE_CHECKING:
    from dlab.framework.base import Experiment

_REGISTRY: dict[str, type[Experiment]] = {}
_discovered = False

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
                f"{existing.__module__}.{existing.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}. Give one of them another name."
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def discover() -> None:
    """Import every module of ``dlab.experiments`` once so that they register."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module("dlab.experiments")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True


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
