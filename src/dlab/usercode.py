"""Importing the user's own code: ``models.py:build_cnn``, ``mypkg.losses:focal``, project modules.

Configs may name Python objects of the user's (a model builder, a loss, a callback), and a
project may name modules whose ``@register`` experiments should exist. Importing them runs
the user's code: that is the point, so each file imported is said once on stderr, and an
error inside it is shown with the user's own traceback (dlab's and importlib's frames cut),
as a :class:`~dlab.errors.ConfigError` (exit 2) raised before anything trains.

A reference is ``MODULE:NAME`` where MODULE is an importable dotted name
(``mypkg.losses``) or a path to a ``.py`` file (``models.py``, ``src/nets.py``) or a package
folder. A relative path is looked up in each of ``base_dirs`` in turn (the config's folder,
then the project root), then in the working folder.

A file is imported under its own name with its folder put on ``sys.path`` (as pytest does
with a rootdir), so ``models.py`` can import its neighbours, and one file imported twice,
by two configs or by the project and a config, is one module: its ``@register`` runs once.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab.errors import ConfigError, did_you_mean

_DLAB_SOURCE = str(Path(__file__).resolve().parent) + os.sep
_IMPORTLIB_SOURCE = str(Path(importlib.__file__).resolve().parent) + os.sep

_IMPORTED: dict[Path, Any] = {}
"""Modules imported from files, by resolved path."""
_IMPORTED_AS: dict[str, Path] = {}
"""The file each module name was imported from here."""


def split_reference(reference: str, *, what: str) -> tuple[str, str]:
    """``"models.py:build_cnn"`` -> ``("models.py", "build_cnn")``.

    Raises:
        ConfigError: not ``MODULE:NAME`` (``what`` names the config key in the message).
    """
    module, sep, name = reference.rpartition(":")
    if len(module) == 1 and module.isalpha():  # a Windows drive letter, not a module
        module, sep, name = "", "", reference
    if not sep or not module or not name.isidentifier():
        raise ConfigError(
            f"{what}: {reference!r} is not a reference to Python code. Write MODULE:NAME, e.g. "
            "'models.py:build_model' (a file beside the config) or 'mypkg.nets:build_model'."
        )
    return module, name


def resolve_object(reference: str, *, what: str, base_dirs: Sequence[Path] = ()) -> Any:
    """The object ``reference`` names, importing its module first.

    Raises:
        ConfigError: a bad reference, a module that is not found or fails to import (with the
            user's traceback), or a module without that name (with close names).
    """
    module_ref, name = split_reference(reference, what=what)
    module = import_module_ref(module_ref, what=what, base_dirs=base_dirs)
    try:
        return getattr(module, name)
    except AttributeError:
        public = [item for item in dir(module) if not item.startswith("_")]
        raise ConfigError(
            f"{what}: {module_ref} has no {name!r}.{did_you_mean(name, public)} "
            f"It defines: {', '.join(public) or 'nothing public'}."
        ) from None


def import_module_ref(module_ref: str, *, what: str, base_dirs: Sequence[Path] = ()) -> Any:
    """Import a dotted module name or a ``.py`` file / package folder path (see the module doc)."""
    path = find_module_path(module_ref, base_dirs)
    if path is not None:
        return import_path(path, what=what)
    if module_ref.endswith(".py") or os.sep in module_ref or "/" in module_ref:
        searched = [str(Path(folder) / module_ref) for folder in (*base_dirs, Path.cwd())]
        raise ConfigError(f"{what}: no file {module_ref!r}; looked for {', '.join(searched)}.")
    return _import_dotted(module_ref, what)


def find_module_path(module_ref: str, base_dirs: Sequence[Path]) -> Path | None:
    """The file or package folder a path-like ``module_ref`` names, or None for a dotted name."""
    candidate = Path(module_ref).expanduser()
    looks_like_path = module_ref.endswith(".py") or "/" in module_ref or os.sep in module_ref
    folders = [Path(folder) for folder in base_dirs] + [Path.cwd()]
    options = [candidate] if candidate.is_absolute() else [folder / candidate for folder in folders]
    for option in options:
        if option.is_file() and option.suffix == ".py":
            return option.resolve()
        if looks_like_path and (option / "__init__.py").is_file():
            return option.resolve()
    return None


def import_path(path: Path, *, what: str) -> Any:
    """Import a ``.py`` file or a package folder under its own name (once per resolved path)."""
    path = path.resolve()
    if path in _IMPORTED:
        return _IMPORTED[path]
    folder, name = (path.parent, path.stem) if path.is_file() else (path.parent, path.name)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    existing_file = getattr(sys.modules.get(name), "__file__", None)
    earlier = _IMPORTED_AS.get(name)
    if earlier is not None and earlier != path:  # another project's file of this name, imported by
        # us in this process (a test suite, a notebook): the newer project's file replaces it
        del sys.modules[name]
        _IMPORTED.pop(earlier, None)
        existing_file = None
    if existing_file and Path(existing_file).resolve() not in {path, path / "__init__.py"}:
        raise ConfigError(
            f"{what}: cannot import {path} as module {name!r}: a module of that name is already "
            f"imported from {existing_file}. Rename the file."
        )
    module = _import_dotted(name, what, shown=path)
    _IMPORTED[path] = module
    _IMPORTED_AS[name] = path
    print(f"dlab: imported {path}", file=sys.stderr)
    return module


def _import_dotted(name: str, what: str, shown: Path | None = None) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name or (error.name and name.startswith(error.name + ".")):
            raise ConfigError(
                f"{what}: no module named {name!r}. Install it, or give a file path such as "
                f"'{name.replace('.', '/')}.py:NAME'."
            ) from None
        raise ConfigError(_failed_import(shown or name, error)) from None
    except Exception as error:  # the user's code raised while being imported
        raise ConfigError(_failed_import(shown or name, error)) from None


def _failed_import(target: Path | str, error: BaseException) -> str:
    """The user's traceback of a failed import, without importlib's and dlab's own frames."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(("<frozen importlib", _DLAB_SOURCE, _IMPORTLIB_SOURCE))
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return f"importing {target} failed:\n" + "".join(lines).rstrip()
