"""A run's tags and note: ``--tag KEY=VALUE``/``--note`` when it starts, ``dlab tag`` afterwards.

Tags are the user's own labels for a run (``purpose=baseline``, ``dataset=v2``): ``dlab runs
--tag`` filters by them, the HTML report and MLflow show them. They live in metrics.json next to
the status, so a run folder copied elsewhere keeps them. ``dlab tag`` rewrites metrics.json under
the run's lock, so it never races the process that trains the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.fileio import atomic_write_json, read_json
from dlab.run.lock import RunLock

TAG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]{0,63}")
"""A tag key: a letter or underscore, then letters, digits, ``_ . - /``; at most 64 characters
(what MLflow and TensorBoard accept as tag names without escaping)."""
MAX_VALUE = 500
"""A tag value's length limit (MLflow keeps 5,000 characters; a label is not a document)."""


def parse_tags(assignments: Sequence[str], option: str = "--tag") -> dict[str, str]:
    """``["purpose=baseline", "data=v2"]`` as a mapping, later ones winning.

    Raises:
        UsageError: an assignment without ``=``, a key outside :data:`TAG_KEY`, or a value
            longer than :data:`MAX_VALUE` (exit 2, naming it).
    """
    tags: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"{option} {assignment!r}: give KEY=VALUE, e.g. {option} purpose=baseline.")
        check_tag_key(key, option)
        if len(value) > MAX_VALUE or "\n" in value:
            raise UsageError(
                f"{option} {key}=...: a tag value is one line of at most {MAX_VALUE} characters; "
                "put longer text in --note."
            )
        tags[key] = value
    return tags


def check_tag_key(key: str, option: str = "--tag") -> str:
    """``key`` if it is a valid tag key.

    Raises:
        UsageError: otherwise, with the rule.
    """
    if not TAG_KEY.fullmatch(key):
        raise UsageError(
            f"{option}: {key!r} is not a tag key: start with a letter or _, then letters, digits, "
            "_ . - / (at most 64 characters)."
        )
    return key


def retag(
    run_dir: str | os.PathLike[str],
    tags: Mapping[str, str] = {},
    remove: Sequence[str] = (),
    note: str | None = None,
) -> dict[str, Any]:
    """Set and remove tags (and set the note, ``""`` clearing it) of a finished run.

    Returns:
        The run's metrics.json as written.

    Raises:
        UsageError: not a run directory, a metrics.json that cannot be read as one, or a run
            that is still running (its process owns metrics.json until it ends).
    """
    path = Path(run_dir)
    for key in remove:
        check_tag_key(key, "--remove")
    metrics, problem = read_json(path / "metrics.json")
    if not isinstance(metrics, dict):
        raise UsageError(
            f"{path}: not a run directory that can be tagged (metrics.json {problem or 'is not an object'})."
        )
    with RunLock.acquire(path, str(path), record=False):
        metrics, _ = read_json(path / "metrics.json")  # again, now that nobody else writes it
        if not isinstance(metrics, dict):
            raise UsageError(f"{path}: metrics.json changed while tagging; try again.")
        current = metrics.get("tags") if isinstance(metrics.get("tags"), dict) else {}
        updated = {k: v for k, v in {**current, **tags}.items() if k not in set(remove)}
        metrics["tags"] = updated
        if note is not None:
            metrics["note"] = note or None
        for key in ("tags", "note"):
            if not metrics.get(key):
                metrics.pop(key, None)
        atomic_write_json(path / "metrics.json", metrics)
    return metrics
