"""Shell completion of every argument and option value that names a config, a run, a file or a key.

Typer takes a completion per parameter where it is declared; dlab's commands are declared
in several modules, and a TAB must work the same on all of them. So completion is given here,
in one place, by what a parameter takes as its metavar says it (``RUN``, ``NAME|FILE``,
``DIR``, ``KEY=VALUE`` ...), with a few parameters named by command where the metavar is not
enough (``dlab diff A B``: a config or a run). :func:`wire` gives each parameter of a command
its completion as the app hands the command out (:class:`dlab.cli.app`'s group), unless the
command declared one itself. A parameter that takes free text (words, tags) is listed in
:data:`FREE_TEXT`; a test checks that every other argument completes.

``--set`` (and ``--grid``, ``--space``) complete the config's dotted keys from the pydantic
schema, one section at a time (``train.`` -> ``train.optimizer.`` -> ...; ``model.`` keys are
the experiment's of the config named before it on the line), and after ``KEY=`` the values a
choice allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlab import api

Completer = Callable[[Any, Any, str], list[str]]
"""Click's ``shell_complete(ctx, param, incomplete)``: the words to offer."""


def complete_config(incomplete: str) -> list[str]:
    """Shell completion of a config name or YAML file."""
    return api.complete_configs(incomplete)


def complete_sweep_target(incomplete: str) -> list[str]:
    """A study name, a config name or a YAML file."""
    return api.complete_studies(incomplete) + api.complete_configs(incomplete)


def complete_run_dir(incomplete: str) -> list[str]:
    """Folders that are, or lead to, runs and sweeps (``outputs/`` when nothing is typed)."""
    return api.complete_run_dirs(incomplete)


def _words(complete: Callable[[str], list[str]]) -> Completer:
    """A completion of the typed word alone (each word offered once)."""
    return lambda ctx, param, incomplete: list(dict.fromkeys(complete(incomplete)))


def _set_keys(section: str = "") -> Completer:
    def complete(ctx: Any, param: Any, incomplete: str) -> list[str]:
        params = ctx.params if ctx is not None else {}
        # a line that ends in `--set` is parsed no further: the config is still among the args
        given = [arg for arg in getattr(ctx, "args", []) if not arg.startswith("-")]
        config = (
            params.get("config") or params.get("run") or [*(params.get("targets") or []), *given, None][0]
        )
        return api.complete_set_keys(incomplete, config, section=section)

    return complete


CONFIG = _words(complete_config)
RUNS = _words(complete_run_dir)
FILES = _words(api.complete_paths)
FOLDERS = _words(lambda incomplete: api.complete_paths(incomplete, folders_only=True))
CONFIG_OR_RUN = _words(lambda incomplete: complete_config(incomplete) + complete_run_dir(incomplete))
CONFIG_OR_FILE = _words(lambda incomplete: complete_config(incomplete) + api.complete_paths(incomplete))

BY_METAVAR: dict[str, Completer] = {
    "NAME|FILE": CONFIG,
    "NAME|CONFIG|PATH": CONFIG_OR_FILE,
    "PATTERN": CONFIG,
    "STUDY|CONFIG|GLOB": _words(complete_sweep_target),
    "RUN": RUNS,
    "RUN_DIR": RUNS,
    "RUN|SWEEP": RUNS,
    "RUNS|SWEEP": RUNS,
    "RUN|METRICS.json|SWEEP_DIR": RUNS,
    "PATH": FILES,
    "PATHS": RUNS,
    "INPUT": FILES,
    "FILE": FILES,
    "FILE.png": FILES,
    "FILE.csv": FILES,
    "DIR": FOLDERS,
    "KEY=VALUE": _set_keys(),
    "KEY=V1,V2": _set_keys(),
    "KEY=SPEC": _set_keys(),
    "data.KEY=VALUE": _set_keys("data"),
}
"""What a parameter's metavar (without ``...`` and brackets) says it takes, and its completion."""

BY_PARAMETER: dict[tuple[str, str], Completer] = {
    ("diff", "left"): CONFIG_OR_RUN,
    ("diff", "right"): CONFIG_OR_RUN,
    ("tensorboard", "path"): RUNS,
}
"""(command, parameter) whose metavar does not say enough."""

FREE_TEXT = {
    ("neighbours", "words"),
    ("tag", "tags"),
    ("data import", "name"),
}
"""(command, argument) that take free text: words, tags, a dataset name."""


def metavar_of(param: Any) -> str:
    """A parameter's metavar without its repetition and optional marks (``[KEY=VALUE]...``)."""
    return str(param.metavar or "").strip("[]").removesuffix("...").strip("[]")


def completer_for(command: str, param: Any) -> Completer | None:
    """The completion of ``param`` of ``command`` (its path, ``data info``); None: none known."""
    return BY_PARAMETER.get((command, param.name)) or BY_METAVAR.get(metavar_of(param))


def wire(command: str, params: list[Any]) -> None:
    """Give each of a command's parameters its completion, where it declared none itself."""
    for param in params:
        if getattr(param, "_custom_shell_complete", None) is not None:
            continue
        completer = completer_for(command, param)
        if completer is not None:
            param._custom_shell_complete = completer  # click's hook behind shell_complete
