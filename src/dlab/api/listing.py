"""``dlab list`` as Python functions: the packaged configs with their family, dataset and description.

Kept apart from :mod:`dlab.api.runs` so that listing imports neither pydantic nor
the experiment modules when the catalogue cache is fresh (see
:mod:`dlab.framework.catalogue`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlab.config.files import config_names, find_config, load_yaml_chain, packaged_configs_dir
from dlab.errors import DlabError
from dlab.framework.catalogue import Row, cached_rows
from dlab.framework.listing import render_listing


@dataclass
class ExperimentRow:
    """One line of ``dlab list``."""

    name: str
    family: str
    dataset: str
    description: str


def list_experiments() -> list[ExperimentRow]:
    """Every packaged config with its family, dataset and one-line description."""
    return [ExperimentRow(**row) for row in cached_rows(packaged_configs_dir(), _build_rows)]


def experiments_listing(family: str | None = None, fmt: str = "table", width: int | None = None) -> str:
    """``dlab list``: configs grouped by family (a table wrapped to ``width``, json or names)."""
    return render_listing(list_experiments(), family=family, fmt=fmt, width=width)


def _build_rows() -> list[Row]:
    from dlab.framework import registry  # imports every experiment module: only on a cache miss

    rows = []
    for name in config_names():
        try:
            data = load_yaml_chain(find_config(name), {})
        except DlabError as error:  # one broken file must not hide the others
            rows.append(_row(name, "?", "?", f"(invalid config: {error})"))
            continue
        try:
            family = registry.get(str(data.get("experiment"))).family
        except DlabError:
            family = "?"
        description = " ".join(str(data.get("description", "")).split())
        first_sentence = description.split(". ")[0].rstrip(".")
        rows.append(_row(name, family, str(data.get("data", {}).get("dataset", "")), first_sentence))
    return rows


def _row(name: str, family: str, dataset: str, description: str) -> Row:
    return {"name": name, "family": family, "dataset": dataset, "description": description}
