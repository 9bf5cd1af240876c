"""Resuming a search: which run directories can continue, and refusing a changed search.

A search is fingerprinted (its space and settings) into the tuner directory; ``--resume``
compares fingerprints, because keras-tuner would reload old trials under a new space silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.config import flatten_dotted
from dlab.errors import ConfigError, UsageError
from dlab.fileio import atomic_write_json
from dlab.run.lock import check_not_running

if TYPE_CHECKING:
    from dlab.config import RunConfig

from dlab.tune.layout import FINGERPRINT_FILE, RESUMABLE_CHANGES, TUNER_DIR

# --------------------------------------------------------------------------- fingerprint, resume

_continued: ContextVar[Path | None] = ContextVar("dlab_continued_search", default=None)


@contextmanager
def continuing(search: Path | None) -> Iterator[None]:
    """The search run in this block continues the trials of ``search``, an earlier search's run
    directory (``dlab tune --resume``; None: a new search). It belongs to the search, not to every
    run: :func:`dlab.api.tune` says it here and :func:`dlab.tune.search.run_search` reads it back
    (:func:`continued_search`)."""
    token = _continued.set(search)
    try:
        yield
    finally:
        _continued.reset(token)


def continued_search() -> Path | None:
    """The earlier search whose trials the current search continues (see :func:`continuing`)."""
    return _continued.get()


def check_resumable(run_dir: str | Path) -> Path:
    """A run directory of a tuner search that ``--resume`` can continue.

    Raises:
        UsageError: not a folder, no tuner search in it, or a search still running.
    """
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise UsageError(
            f"--resume {run_dir}: no such folder. Give the run directory of a "
            "`dlab tune` search (outputs/<config>/<time>-<id>/)."
        )
    if not (path / TUNER_DIR / FINGERPRINT_FILE).is_file() or not (path / "config.yaml").is_file():
        raise UsageError(
            f"--resume {run_dir}: this folder holds no tuner search (expected "
            f"config.yaml and {TUNER_DIR}/{FINGERPRINT_FILE}). Give the run "
            "directory that `dlab tune` printed."
        )
    check_not_running(path, f"--resume {run_dir}")  # its tuner folder is still being written
    return path


def fingerprint(config: RunConfig) -> dict[str, Any]:
    """Everything that changes a search's trials: the config without name, description,
    reference, and the settings that only act after the trials or on how many there are
    (raising max_trials is how a search is extended)."""
    data = config.to_dict()
    for key in ("name", "description", "reference"):
        data.pop(key, None)
    for key in RESUMABLE_CHANGES:
        data["model"].pop(key, None)
    return data


def fingerprint_hash(print_: dict[str, Any]) -> str:
    text = json.dumps(print_, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fingerprint_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per dotted key whose value differs: ``key: old -> new``."""
    old_flat, new_flat = flatten_dotted(old), flatten_dotted(new)
    missing = object()
    lines = []
    for key in sorted(set(old_flat) | set(new_flat)):
        before, after = old_flat.get(key, missing), new_flat.get(key, missing)
        if before != after:
            show = lambda value: "(absent)" if value is missing else json.dumps(value)  # noqa: E731
            lines.append(f"{key}: {show(before)} -> {show(after)}")
    return lines


def check_same_search(config: RunConfig, run_dir: Path) -> None:
    """Refuse to resume ``run_dir`` under a config whose search differs from the saved one.

    Raises:
        ConfigError: the search space or a setting that changes results differs; the
            message lists each changed key with its old and new value.
    """
    saved = json.loads((run_dir / TUNER_DIR / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    changes = fingerprint_changes(saved["fingerprint"], fingerprint(config))
    if changes:
        listed = "\n  ".join(changes)
        raise ConfigError(
            f"--resume {run_dir}: the search space or settings changed since that search "
            f"started, so its trials do not belong to this search (keras-tuner would reload them "
            f"silently). What changed:\n  {listed}\nUndo the change to continue that search, or "
            "start a new one without --resume. (These may change: "
            f"{', '.join('model.' + key for key in RESUMABLE_CHANGES)}.)"
        )


def write_fingerprint(config: RunConfig, tuner_dir: Path) -> None:
    print_ = fingerprint(config)
    atomic_write_json(tuner_dir / FINGERPRINT_FILE, {"hash": fingerprint_hash(print_), "fingerprint": print_})
