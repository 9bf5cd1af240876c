"""Saved runs: compare, check, runs, report and diff read what runs wrote; they never start TensorFlow.

``compare``, ``check`` and ``report`` are the results package's own functions, not
wrappers: their keyword arguments are the CLI's flags, so the options are declared
(and documented) once, in :func:`dlab.results.compare.compare`,
:func:`dlab.results.check.check_runs` and :func:`dlab.results.report.write_report`.
``text_table`` is the one console-table renderer, for the CLI's own tables; ``fit_lines``
wraps the free text printed beside them to the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dlab.api.runs import DEFAULT_OUTPUTS
from dlab.config import find_config, load_yaml_chain
from dlab.errors import UsageError
from dlab.framework.factory import resolve_config
from dlab.results.check import check_runs as check
from dlab.results.compare import compare
from dlab.results.diff import ConfigDiff, DiffSide, diff_sides, run_side
from dlab.results.filters import RunFilter
from dlab.results.index import expand_paths, is_run_dir
from dlab.results.origins import leaf_origins
from dlab.results.report import write_report as report
from dlab.results.runs_table import RunRow, render_runs
from dlab.results.runs_table import list_runs as find_runs
from dlab.results.tables import check_format, fit_lines, text_table

__all__ = [
    "check",
    "check_format",
    "compare",
    "diff",
    "fit_lines",
    "list_runs",
    "render_runs",
    "report",
    "text_table",
]


def list_runs(
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS,
    *,
    experiment: str | None = None,
    status: str | None = None,
    config: str | None = None,
    tags: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
) -> list[RunRow]:
    """The runs under an outputs root (``dlab runs``), oldest first; see :mod:`dlab.results.runs_table`.

    ``config`` (a glob), ``tags`` (``KEY=VALUE`` or ``KEY``), ``since`` and ``until`` (a date or
    an age such as ``7d``) narrow the list; see :class:`dlab.results.filters.RunFilter`.
    """
    where = RunFilter.parse(config, tags, since, until)
    return find_runs(out, experiment=experiment, status=status, where=where)


def diff(left: str, right: str) -> ConfigDiff:
    """Compare two configs or runs key by key (``dlab diff A B``); for two runs, also their metrics.

    Each side is a config name (``xor-mlp``), a YAML file, or a run directory (or its
    metrics.json). Configs are resolved exactly as ``dlab run`` would (defaults, the
    ``extends`` chain); a run's saved config.yaml is used as it is.

    Returns:
        A :class:`dlab.results.diff.ConfigDiff`: ``render(fmt)`` gives the text.

    Raises:
        UsageError: a run or file that does not exist, an unknown config name.
    """
    return diff_sides(_diff_side(left), _diff_side(right))


def _diff_side(ref: str) -> DiffSide:
    """One side of :func:`diff`: a run directory read from disk, or a config resolved with its origins."""
    path = Path(ref).expanduser()
    if path.is_dir() or path.suffix == ".json":
        if not path.exists() or (path.is_dir() and not is_run_dir(path)):
            raise UsageError(
                f"dlab diff: '{ref}' is not a run: "
                + ("it does not exist" if not path.exists() else "it has no metrics.json")
                + ". Give two run directories (outputs/<config>/<time>-<id>), config names "
                "(see `dlab list`) or YAML files."
            )
        return run_side(expand_paths([ref])[0])
    looks_like_run = "/" in ref and not ref.endswith((".yaml", ".yml"))
    if looks_like_run and not path.exists():
        raise UsageError(
            f"dlab diff: '{ref}' does not exist. Give two run directories "
            "(outputs/<config>/<time>-<id>), config names (see `dlab list`) or YAML files."
        )
    config = resolve_config(ref)
    origins: dict[str, str] = {}
    load_yaml_chain(find_config(ref), origins)
    return DiffSide(config.name or ref, config.to_dict(), origins=leaf_origins(origins))
