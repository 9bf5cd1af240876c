"""Saved runs: compare, check, runs, report and diff read what runs wrote; they never start TensorFlow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab.api.runs import DEFAULT_OUTPUTS
from dlab.config import find_config, load_yaml_chain
from dlab.errors import UsageError
from dlab.framework.factory import resolve_config


def compare(
    paths: Sequence[str],
    *,
    metrics: Sequence[str] = (),
    baseline: str | None = None,
    fail_if: Sequence[str] = (),
    curve: str | None = None,
    curve_output: str | None = None,
    params: Sequence[str] = (),
) -> Any:
    """Compare saved runs (``dlab compare``); see :func:`dlab.results.compare.compare`.

    Returns:
        A :class:`dlab.results.compare.Comparison`: ``render(fmt)`` gives the table, ``failed_gates``
        the gates that fail (the CLI exits with 1 when there are any).
    """
    from dlab.results.compare import compare as compare_runs

    return compare_runs(
        paths,
        metrics=metrics,
        baseline=baseline,
        fail_if=fail_if,
        curve=curve,
        curve_output=curve_output,
        params=params,
    )


def check(paths: Sequence[str], *, tolerance: str = "5%", include_smoke: bool = False) -> Any:
    """Check runs against their configs' ``reference:`` values (``dlab check``).

    Returns:
        A :class:`dlab.results.check.CheckReport`; its ``failed`` list is empty when every run
        reproduces its references within the tolerance.
    """
    from dlab.results.check import check_runs

    return check_runs(paths, tolerance=tolerance, include_smoke=include_smoke)


def list_runs(
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS, *, experiment: str | None = None, status: str | None = None
) -> list[Any]:
    """The runs under an outputs root (``dlab runs``), oldest first; see :mod:`dlab.results.runs_table`."""
    from dlab.results.runs_table import list_runs as find

    return find(out, experiment=experiment, status=status)


def check_format(name: str) -> str:
    """An output format name (``table``, ``csv``, ``json``, ``markdown``), checked."""
    from dlab.results.tables import check_format as checked

    return checked(name)


def render_runs(rows: Sequence[Any], fmt: str) -> str:
    """The rows of :func:`list_runs` as text in ``fmt`` (``dlab runs``)."""
    from dlab.results.runs_table import render_runs as render

    return render(rows, fmt)


def report(
    paths: Sequence[str],
    output: str | os.PathLike[str] = "report.html",
    *,
    metrics: Sequence[str] = (),
    title: str | None = None,
    params: Sequence[str] = (),
) -> Path:
    """Write one self-contained HTML report of runs (``dlab report``) and return its path."""
    from dlab.results.report import write_report

    return write_report(paths, output, metrics=metrics, title=title, params=params)


def diff(left: str, right: str) -> Any:
    """Compare two configs or runs key by key (``dlab diff A B``); for two runs, also their metrics.

    Each side is a config name (``xor-mlp``), a YAML file, or a run directory (or its
    metrics.json). Configs are resolved exactly as ``dlab run`` would (defaults, the
    ``extends`` chain); a run's saved config.yaml is used as it is.

    Returns:
        A :class:`dlab.results.diff.ConfigDiff`: ``render(fmt)`` gives the text.

    Raises:
        UsageError: a run or file that does not exist, an unknown config name.
    """
    from dlab.results.diff import diff_sides

    return diff_sides(_diff_side(left), _diff_side(right))


def _diff_side(ref: str) -> Any:
    """One side of :func:`diff`: a run directory read from disk, or a config resolved with its origins."""
    from dlab.results.diff import DiffSide
    from dlab.results.index import expand_paths, is_run_dir

    path = Path(ref).expanduser()
    if path.is_dir() or path.suffix == ".json":
        if not path.exists() or (path.is_dir() and not is_run_dir(path)):
            raise UsageError(
                f"dlab diff: '{ref}' is not a run: "
                + ("it does not exist" if not path.exists() else "it has no metrics.json")
                + ". Give two run directories (outputs/<config>/<time>-<id>), config names "
                "(see `dlab list`) or YAML files."
            )
        run = expand_paths([ref])[0]
        return DiffSide(run.label, run.config, run=run, default_origin="run config.yaml")
    looks_like_run = "/" in ref and not ref.endswith((".yaml", ".yml"))
    if looks_like_run and not path.exists():
        raise UsageError(
            f"dlab diff: '{ref}' does not exist. Give two run directories "
            "(outputs/<config>/<time>-<id>), config names (see `dlab list`) or YAML files."
        )
    config = resolve_config(ref)
    origins: dict[str, str] = {}
    load_yaml_chain(find_config(ref), origins)
    return DiffSide(config.name or ref, config.to_dict(), origins=origins)
