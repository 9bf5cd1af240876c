"""Study files (configs/studies/NAME.yaml): several runs to compare, and what to compare.

A study lists member configs (``runs:``) or a ``base`` config with a ``grid``
over dotted keys, optionally repeated over ``seeds``, and names the metric to
compare. :func:`expand_study` turns it into concrete runs, each one resolved
and validated like ``dlab run`` would, so a broken study fails before the
first run starts. ``dlab sweep`` (:mod:`dlab.sweep`) runs them.

Example:
    >>> study = load_study("playground-architectures")
    >>> len(expand_study(study))  # 4 architectures x 1 activation x 2 rates x 5 seeds
    40
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from dlab.config import StrictModel, read_yaml, validate_section
from dlab.errors import ConfigError, did_you_mean
from dlab.framework.factory import resolve_config


class CompareSpec(StrictModel):
    """What a study compares across its runs."""

    metric: str = Field(
        ...,
        description="A metrics.json field (test_loss, test.accuracy ...) or a history column (val_loss ...).",
    )
    goal: Literal["min", "max"] = Field("min", description="Whether lower or higher is better.")
    threshold: float | None = Field(None, description="A target value that counts as reached.")


class StudyConfig(StrictModel):
    """A study: member configs or a grid over one base config."""

    study: str = Field(..., description="Study name (names the sweep folder).")
    description: str = ""
    runs: list[str] = Field(default_factory=list, description="Member configs (names or files).")
    base: str | None = Field(None, description="The config a grid varies.")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Dotted key -> values; every combination runs."
    )
    seeds: list[int] = Field(default_factory=list, description="Repeat every member per seed.")
    compare: CompareSpec

    @model_validator(mode="after")
    def _members_or_grid(self) -> StudyConfig:
        if bool(self.runs) == bool(self.base):
            raise ValueError("give either runs: [config, ...] or base: CONFIG with a grid")
        if self.grid and not self.base:
            raise ValueError("grid: needs base: (the config it varies)")
        if self.base and not self.grid:
            raise ValueError(
                "base: needs a non-empty grid: {key: [values, ...]} "
                "(to run configs as they are, list them under runs:)"
            )
        empty = [key for key, values in self.grid.items() if not values]
        if empty:
            raise ValueError(f"grid values must be non-empty lists: {', '.join(empty)}")
        return self


@dataclass(frozen=True)
class StudyMember:
    """One concrete run of a study: a config and the overrides that make it this member."""

    config: str
    sets: tuple[str, ...]
    seed: int | None

    @property
    def label(self) -> str:
        parts = [self.config, *self.sets] + ([f"seed={self.seed}"] if self.seed is not None else [])
        return " ".join(parts)


def study_names() -> list[str]:
    folder = Path(str(resources.files("dlab.configs"))) / "studies"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def find_study(ref: str) -> Path:
    """A study name (``imdb-capacity``) or a path to a study YAML."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    packaged = Path(str(resources.files("dlab.configs"))) / "studies" / f"{ref}.yaml"
    if packaged.is_file():
        return packaged
    names = study_names()
    raise ConfigError(f"Unknown study '{ref}'.{did_you_mean(ref, names)} Studies: {', '.join(names)}.")


def load_study(ref: str) -> StudyConfig:
    """Read and validate a study file (unknown keys and bad values are ConfigErrors)."""
    path = find_study(ref)
    data = read_yaml(path)
    origins = {key: str(path) for key in data}
    return validate_section(StudyConfig, data, (), origins)


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def expand_study(study: StudyConfig) -> list[StudyMember]:
    """Every run of the study, each resolved and validated as ``dlab run`` would.

    Raises:
        ConfigError: a member config or grid key/value that ``dlab run`` would refuse;
            the message says which member.
    """
    if study.runs:
        combos = [(name, ()) for name in study.runs]
    else:
        keys = list(study.grid)
        combos = [
            (study.base, tuple(f"{k}={_yaml_value(v)}" for k, v in zip(keys, values, strict=True)))
            for values in itertools.product(*(study.grid[k] for k in keys))
        ]
    members = [StudyMember(config, sets, seed) for config, sets in combos for seed in (study.seeds or [None])]
    for member in members:
        sets = list(member.sets) + ([f"seed={member.seed}"] if member.seed is not None else [])
        try:
            resolve_config(member.config, sets=sets)
        except ConfigError as error:
            raise ConfigError(f"Study '{study.study}', member '{member.label}': {error}") from None
    return members
