"""The dataset registry: ``@dataset`` a loader, look it up by name.

Datasets register the way experiments do (:mod:`dlab.framework.registry`): a module of
:mod:`dlab.data.datasets` decorates its ``load_data(config, seed)`` with the names it
loads (one module may load several: the truth tables, the Playground's four problems).
Registering a name twice is an error, and a failed lookup says what exists and what was
probably meant. The dataset modules are imported on the first lookup, never by
``dlab --help``, ``list`` or ``show`` (they import NumPy).

Example:
    >>> @dataset("logic_and", "logic_xor")
    ... def load_data(config, seed):
    ...     ...
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from dlab.errors import ConfigError, DlabError, did_you_mean

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data.contract import Dataset

Loader = Callable[..., "Dataset"]
"""``load_data(config, seed, **options)``: a dataset of the contract, before the sample limits
and the validation split of :func:`dlab.data.load_dataset`."""

L = TypeVar("L", bound=Callable[..., Any])

PACKAGE = "dlab.data.datasets"

_LOADERS: dict[str, Loader] = {}
_discovered = False


class DuplicateDatasetError(DlabError):
    """Two loaders claimed the same dataset name."""


def dataset(*names: str) -> Callable[[L], L]:
    """Function decorator that registers a loader under each of ``names``.

    Raises:
        DuplicateDatasetError: a name is already taken by another loader.
    """

    def decorator(load: L) -> L:
        for name in names:
            existing = _LOADERS.get(name)
            if existing is not None and existing is not load:
                raise DuplicateDatasetError(
                    f"Dataset name '{name}' is registered twice: by "
                    f"{existing.__module__}.{existing.__qualname__} and "
                    f"{load.__module__}.{load.__qualname__}. Give one of them another name."
                )
            _LOADERS[name] = load
        return load

    return decorator


def discover() -> None:
    """Import every module of ``dlab.data.datasets`` once so that they register."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{PACKAGE}.{module.name}")
    _discovered = True


def names() -> list[str]:
    """Every registered dataset name, sorted."""
    discover()
    return sorted(_LOADERS)


def loader(name: str) -> Loader:
    """The loader registered as ``name``.

    Raises:
        ConfigError: no such dataset; the message lists the close matches and every name.
    """
    discover()
    try:
        return _LOADERS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown dataset '{name}' (data.dataset).{did_you_mean(name, _LOADERS)}"
            f" Available: {', '.join(sorted(_LOADERS))}."
        ) from None


def load(config: DataConfig, seed: int, **options: Any) -> Dataset:
    """``config.dataset`` as its loader gives it (see :func:`dlab.data.load_dataset`)."""
    return loader(config.dataset)(config, seed, **options)
