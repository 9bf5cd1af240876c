"""Planning a sweep: targets, ``--grid`` and ``--seeds`` turned into validated runs.

A sweep plans every run and validates each one exactly as ``dlab run`` would
(config, keys, values) before the first one starts, so a typo in the 37th
member is a clear error (exit code 2), not a surprise an hour in.

Example:
    >>> plan = plan_sweep(["xor-mlp", "softmax-decoder"], seeds=3, smoke=True)
    >>> len(plan.runs)
    6
"""

from __future__ import annotations

import fnmatch
import glob
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dlab.config import config_names, find_config, read_yaml
from dlab.config.yamlload import load_yaml
from dlab.errors import ConfigError, UsageError, did_you_mean
from dlab.pipeline.request import RunRequest
from dlab.pipeline.steps import resolve
from dlab.sweep.owner import describe
from dlab.sweep.study import StudyConfig, expand_study, load_study, study_names

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: a config, the overrides that make it this member, and a seed."""

    index: int
    config: str  # what ``dlab run`` is given: a packaged name or a YAML path
    name: str  # the config's name (its run folder)
    overrides: tuple[str, ...]  # the member's ``key=value`` sets (grid values)
    seed: int | None

    @property
    def label(self) -> str:
        seed = [f"seed={self.seed}"] if self.seed is not None else []
        return " ".join([self.name, *self.overrides, *seed])


@dataclass
class SweepPlan:
    """Every run of a sweep, validated, and what the sweep is (for its name and summary)."""

    name: str
    kind: str  # study | configs | grid
    runs: list[PlannedRun]
    seeds: list[int] = field(default_factory=list)
    grid: dict[str, list[str]] = field(default_factory=dict)
    study: StudyConfig | None = None


# --------------------------------------------------------------------------- planning


def split_values(text: str) -> list[str]:
    """Split ``1,[3,3],{a: 1}`` at the commas outside brackets, braces and quotes.

    Raises:
        ValueError: unbalanced brackets or quotes.
    """
    items, depth, quote, start = [], 0, "", 0
    for position, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"'{char}' at position {position + 1} closes nothing")
        elif char == "," and depth == 0:
            items.append(text[start:position].strip())
            start = position + 1
    if depth or quote:
        raise ValueError("a bracket or quote is not closed")
    items.append(text[start:].strip())
    return items


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """``--grid key=v1,v2`` flags -> key -> the values (as ``--set`` would read them).

    Raises:
        UsageError: no ``=``, a key that is not dotted, no values, an empty value,
            a value that is not YAML, or the same key twice.
    """
    grid: dict[str, list[str]] = {}
    example = "e.g. --grid train.optimizer.learning_rate=0.01,0.1 --grid model.hidden=[3],[3,3]"
    for spec in specs:
        key, equals, text = spec.partition("=")
        key = key.strip()
        if not equals:
            raise UsageError(f"--grid expects KEY=V1,V2,... ({example}), got '{spec}': there is no '='.")
        if not _KEY.match(key):
            raise UsageError(
                f"--grid '{spec}': '{key}' is not a dotted key such as "
                f"train.optimizer.learning_rate ({example})."
            )
        if key in grid:
            raise UsageError(
                f"--grid '{spec}': the key '{key}' is given twice; put all its values in one --grid flag."
            )
        try:
            values = split_values(text)
        except ValueError as error:
            raise UsageError(f"--grid '{spec}': {error}.") from None
        if not text.strip():
            raise UsageError(f"--grid '{spec}': no values after '='. Give at least one ({example}).")
        if any(not value for value in values):
            raise UsageError(
                f"--grid '{spec}': an empty value between commas. Give values such as {key}=1,2,3."
            )
        for value in values:
            try:
                load_yaml(value, f"--grid {key}")
            except yaml.YAMLError:
                raise UsageError(f"--grid '{spec}': the value '{value}' is not valid YAML.") from None
        grid[key] = values
    return grid


def parse_seeds(seeds: int | str | Sequence[int] | None) -> list[int]:
    """``--seeds 5`` -> seeds 1..5; ``--seeds 7,11,13`` -> those seeds; None -> no seed axis.

    Raises:
        UsageError: a count below 1, or something that is neither a count nor a list of integers.
    """
    if seeds is None:
        return []
    if isinstance(seeds, str):
        parts = [part.strip() for part in seeds.split(",")]
        try:
            numbers = [int(part) for part in parts]
        except ValueError:
            raise UsageError(
                f"--seeds '{seeds}': give a count (--seeds 5 runs seeds 1..5) or a "
                "comma-separated list of integer seeds (--seeds 7,11,13)."
            ) from None
        seeds = numbers[0] if len(numbers) == 1 and "," not in seeds else numbers
    if isinstance(seeds, int):
        if seeds < 1:
            raise UsageError(f"--seeds {seeds}: the number of seeds must be at least 1.")
        _check_seed_count(seeds)
        return list(range(1, seeds + 1))
    seeds = list(seeds)
    _check_seed_count(len(seeds))
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {','.join(map(str, seeds))}: a seed is repeated.")
    return seeds


MAX_SEEDS = 1000
"""Seeds per member: each one is a whole training run (1e9 of them would not even fit in
memory as a plan)."""


def _check_seed_count(count: int) -> None:
    if count > MAX_SEEDS:
        raise UsageError(
            f"--seeds: {count:,} seeds is more than the {MAX_SEEDS:,} allowed; each "
            "seed is one more training run of every member, so the sweep would "
            "never finish (and its plan alone would not fit in memory). A few "
            "seeds (--seeds 5) give the mean and a 95% interval."
        )


def _is_study_file(path: Path) -> bool:
    return "study" in read_yaml(path)


def _refuse_sweep_folder(target: str) -> None:
    """A sweep folder is not something to sweep: say what state it is in instead.

    After a sweep was killed, this is how ``dlab sweep SWEEP_DIR`` tells which members were
    running and where their files are (see :func:`dlab.sweep.owner.describe`).

    Raises:
        UsageError: ``target`` is a folder with a sweep's summary.json.
    """
    folder = Path(target).expanduser()
    if folder.is_dir() and (folder / "summary.json").is_file():
        raise UsageError(
            f"'{target}' is a sweep folder, not a config or study: {describe(folder)}.\n"
            f"`dlab compare {target}` shows the runs it names; to run the sweep again, give its "
            "configs or study."
        )


def _expand_targets(targets: Sequence[str]) -> tuple[list[str], str | None]:
    """Targets -> (config refs, study ref); globs expanded, a study recognized."""
    if not targets:
        raise UsageError(
            "dlab sweep needs something to run: a study (`dlab sweep imdb-capacity`), "
            "configs or globs (`dlab sweep '*'` for every config, `dlab sweep 'mnist-*'`, "
            "or YAML files such as `'my-configs/*.yaml'`)."
        )
    configs: list[str] = []
    studies: list[str] = []
    packaged_studies = set(study_names())
    for target in targets:
        _refuse_sweep_folder(target)
        path_like = target.endswith((".yaml", ".yml")) or "/" in target or "\\" in target
        if _GLOB_CHARS & set(target):
            if path_like:
                matches = sorted(glob.glob(os.path.expanduser(target)))
            else:
                matches = fnmatch.filter(config_names(), target)
            if not matches:
                where = "no file" if path_like else "no packaged config name (see `dlab list`)"
                raise UsageError(
                    f"'{target}' matches {where}. Check the pattern; packaged configs "
                    "also take name patterns, e.g. dlab sweep 'mnist-*'."
                )
            for match in matches:
                (studies if path_like and _is_study_file(Path(match)) else configs).append(match)
        elif path_like and Path(target).expanduser().is_file() and _is_study_file(Path(target)):
            studies.append(target)
        elif not path_like and target in packaged_studies:
            studies.append(target)
        else:
            configs.append(target)
    if studies and (configs or len(studies) > 1):
        raise UsageError(
            f"A study runs on its own: got study {', '.join(studies)} together with "
            f"{', '.join(configs + studies[1:])}. Run one study per sweep."
        )
    for ref in configs:
        try:
            find_config(ref)
        except ConfigError as error:
            close = did_you_mean(ref, sorted(packaged_studies))
            hint = f" Studies too can be swept:{close.removeprefix(' Did you mean')}" if close else ""
            raise ConfigError(f"{error}{hint}") from None
    return list(dict.fromkeys(configs)), (studies[0] if studies else None)


def plan_sweep(
    targets: Sequence[str],
    *,
    grid: Sequence[str] = (),
    seeds: int | str | Sequence[int] | None = None,
    request: RunRequest | None = None,
    epochs: int | None = None,
    sets: Sequence[str] = (),
    smoke: bool = False,
) -> SweepPlan:
    """Expand the targets into concrete runs and validate every one of them.

    Args:
        targets: one study (name or file), or configs: names, YAML files, globs of files
            (``configs/*.yaml``) or of packaged names (``mnist-*``).
        grid: ``key=v1,v2`` specs; every combination runs for every config.
        seeds: a count (seeds 1..N) or a list; replaces a study's ``seeds:``.
        request: what every run gets (the sweep's ``dlab run`` flags); each member is resolved
            with it exactly as its ``dlab run`` will resolve it.
        epochs, sets, smoke: the common flags, when there is no ``request``.

    Raises:
        UsageError / ConfigError: anything ``dlab run`` would refuse for any run, an empty or
            malformed grid, bad seeds, a study mixed with configs or with ``--grid``.
    """
    if request is None:
        request = RunRequest.from_options(epochs=epochs, sets=sets, smoke=smoke)
    config_refs, study_ref = _expand_targets(targets)
    grid_values = parse_grid(grid)
    seed_list = parse_seeds(seeds)
    clash = sorted(set(grid_values) & {s.partition("=")[0].strip() for s in request.overrides.sets})
    if clash:
        raise UsageError(f"{', '.join(clash)} is both a --grid axis and a --set override; drop one of them.")
    study = None
    if study_ref is not None:
        if grid_values:
            raise UsageError(
                f"Study '{study_ref}' has its own runs or grid:; --grid works on "
                "configs (dlab sweep CONFIG --grid KEY=V1,V2)."
            )
        study = load_study(study_ref)
        if seed_list:
            study = study.model_copy(update={"seeds": seed_list})
        members = [(member.config, member.sets, member.seed) for member in expand_study(study)]
        name, kind, seed_list = study.study, "study", list(study.seeds)
    else:
        keys = list(grid_values)
        combos = [
            tuple(f"{key}={value}" for key, value in zip(keys, values, strict=True))
            for values in itertools.product(*(grid_values[key] for key in keys))
        ]
        members = [
            (ref, combo, seed) for ref in config_refs for combo in combos for seed in (seed_list or [None])
        ]
        names = [Path(ref).stem for ref in config_refs]
        name = names[0] if len(names) == 1 else "configs"
        kind = "grid" if grid_values else "configs"
    runs = [_planned(index, member, request) for index, member in enumerate(members, start=1)]
    return SweepPlan(name=name, kind=kind, runs=runs, seeds=seed_list, grid=grid_values, study=study)


def _planned(index: int, member: tuple[str, Sequence[str], int | None], request: RunRequest) -> PlannedRun:
    """One member, resolved as its ``dlab run`` will resolve it.

    Raises:
        ConfigError: the member's config, key or value, named with the member.
    """
    ref, overrides, seed = member
    label = " ".join([ref, *overrides] + ([f"seed={seed}"] if seed is not None else []))
    try:
        config = resolve(request.for_member(ref, seed, overrides))
    except ConfigError as error:
        raise ConfigError(f"Sweep run {index} ({label}): {error}") from None
    return PlannedRun(index, ref, config.name, tuple(overrides), seed)
