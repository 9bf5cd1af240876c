"""The package layering: imports only go down the layers, and the CLI reaches the rest through the API.

Every ``import`` counts, also the ones inside functions (they exist only to keep
the CLI light, never to hide a cycle); imports under ``if TYPE_CHECKING:`` are
annotations only and are not counted.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dlab"
EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
TEMPLATES = SRC / "templates" / "project"

BASE = {
    "dlab",
    "dlab.errors",
    "dlab.fileio",
    "dlab.lazy",
    "dlab.saferead",
    "dlab.plots",
    "dlab.usercode",
    "dlab.templates",
}
"""Shared foundations every layer may use: errors, atomic file I/O, lazy package facades, bounded
reads of untrusted files (regular files only, JSON nesting bounded), figures, importing the user's
own code by reference, the files ``dlab init`` copies. They import no layer."""

LAYERS = [
    "dlab.config",
    # the machine a run meets (backend, device, TensorFlow's environment, console, doctor): it reads
    # no dataset and trains nothing, so everything that loads or trains may ask it
    "dlab.runtime",
    "dlab.data",
    "dlab.models",
    "dlab.run",
    # TensorBoard/MLflow writers: they read run directories and settings (run, config) and the
    # training loop adds their Keras callback, so they sit between the two
    "dlab.tracking",
    "dlab.training",
    "dlab.framework",
    # child processes and Ray: started by sweeps and by distributed tune
    "dlab.scaleout",
    # the run pipeline (one typed request; resolve, check, start, load, build, train): what api.run,
    # api.tune, sweep planning and members, and tuner workers all call, so it sits below tune and
    # sweep and above the framework, run and tracking packages whose parts it puts together
    "dlab.pipeline",
    "dlab.tune",
    "dlab.experiments",
    # using a saved run: evaluation reloads data through the run's experiment, generation rebuilds
    # the character model of dlab.experiments.charlm, so it sits above the experiment modules
    "dlab.use",
    "dlab.sweep",
    "dlab.api",
    "dlab.cli",
]
"""Bottom to top: a package may import the packages below it, never one above."""

RESULTS_MAY_IMPORT = BASE | {"dlab.results", "dlab.run.header", "dlab.config"}
"""The results package reads run directories from disk: it imports no layer that trains, only the
typed metrics.json header that the run writes and the config leaf (its bounded YAML reader for a
run's config.yaml)."""

CLI_MAY_IMPORT = BASE | {"dlab.cli", "dlab.api"}


def package_of(module: str) -> str:
    parts = module.split(".")
    if module in BASE or module == "dlab.run.header":
        return module
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported dlab module) for every runtime import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("dlab")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlab"):
            if node.module == "dlab":  # from dlab import api -> dlab.api
                found += [
                    (node.lineno, f"dlab.{alias.name}") for alias in node.names if alias.name != "__version__"
                ]
            else:
                found.append((node.lineno, node.module))
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if TEMPLATES in path.parents:  # the user's files dlab init copies: not modules of dlab
            continue
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    for path in sorted(EXPERIMENTS.glob("*.py")):
        stem = path.stem
        found.append(("dlab.experiments" + ("" if stem == "__init__" else f".{stem}"), path))
    return found


def allowed(importer: str, imported: str) -> bool:
    source, target = package_of(importer), package_of(imported)
    if source == "dlab.config":  # the leaf: nothing of dlab but its errors (and the lazy facade)
        return target in {"dlab.config", "dlab.errors", "dlab.lazy"}
    if source == "dlab.__main__":  # the process entry: the CLI, and the sweep child's parent watchdog
        return target in {"dlab.cli", "dlab.scaleout"}
    if target == source or target in BASE:
        return True
    if target == "dlab.run.header":  # the run package's module that results may read too
        return source == "dlab.results" or allowed(source + ".x", "dlab.run.x")
    if source in BASE or source == "dlab.run.header":
        return False
    if source == "dlab.results":
        return target in RESULTS_MAY_IMPORT
    if source == "dlab.cli":
        return target in CLI_MAY_IMPORT
    if target == "dlab.results":  # only the API (and the sweep summary) shows saved results,
        # and using a model starts from a saved run: dlab.use reads it with results' one run reader
        return source in {"dlab.api", "dlab.sweep", "dlab.use"}
    if source not in LAYERS or target not in LAYERS:
        return False
    return LAYERS.index(target) < LAYERS.index(source)


def violations() -> list[str]:
    found = []
    for name, path in modules():
        for line, imported in imports_of(path, name):
            if not allowed(name, imported):
                found.append(f"{path.relative_to(SRC.parents[1])}:{line}: {name} imports {imported}")
    return found


def test_imports_only_go_down_the_layers():
    assert violations() == []


def test_every_package_is_placed_in_a_layer():
    packages = {package_of(name) for name, _ in modules()}
    unplaced = packages - set(LAYERS) - BASE - {"dlab.results", "dlab.__main__", "dlab.run.header"}
    assert unplaced == set()


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("dlab.config.schema", "dlab.framework.registry"),
        ("dlab.data.datasets.mnist", "dlab.training.fit"),
        ("dlab.training.fit", "dlab.framework.base"),
        ("dlab.results.compare", "dlab.run.directory"),
        ("dlab.cli.run", "dlab.framework.factory"),
        ("dlab.run.context", "dlab.training.callbacks"),
        ("dlab.config.files", "dlab.fileio"),
        ("dlab.sweep.plan", "dlab.cli.app"),
    ],
)
def test_an_import_up_a_layer_is_refused(importer, imported):
    assert not allowed(importer, imported)


def test_importing_the_config_package_loads_no_other_layer():
    code = (
        "import importlib, pkgutil, sys, dlab.config; "
        "names = [m.name for m in pkgutil.iter_modules(dlab.config.__path__)]; "
        "[importlib.import_module(f'dlab.config.{name}') for name in names]; "
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('dlab.')}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['config', 'errors', 'lazy']"


def test_every_package_says_what_it_owns():
    for init in SRC.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring, f"{init} has no docstring"


def test_no_module_imports_itself_through_others():
    """No import circle, not even inside a package (imports inside functions count)."""
    graph: dict[str, set[str]] = {}
    names = {name for name, _ in modules()}
    for name, path in modules():
        targets = set()
        for _, imported in imports_of(path, name):
            # `from dlab.data import x` may name a module or a name in dlab/data/__init__.py
            targets.add(imported if imported in names else imported.rsplit(".", 1)[0])
        graph[name] = {target for target in targets if target in names and target != name}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            raise AssertionError(" -> ".join(cycle))


PRIVATE_IMPORTS_ALLOWED: set[tuple[str, str]] = set()
"""(file, name) pairs that still import another module's private name: each a known debt."""


def private_imports() -> list[tuple[str, int, str, str]]:
    """(file, line, module, name) for every ``from dlab.x import _name`` whose module is not the
    importer itself (relative imports count; third-party modules' private names are not dlab's)."""
    found = []
    for name, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if node.level:  # from .x import _y: relative to the importer's package
                package = name.split(".")[: -node.level] if path.name != "__init__.py" else name.split(".")
                module = ".".join([*package, *([module] if module else [])])
            if not module.startswith("dlab") or module == name:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((str(path.relative_to(SRC.parents[1])), node.lineno, module, alias.name))
    return found


def test_no_module_imports_another_modules_private_name():
    """A leading underscore means "this module's own": a name another module needs is public."""
    offending = [
        f"{file}:{line}: from {module} import {name}"
        for file, line, module, name in private_imports()
        if (file, name) not in PRIVATE_IMPORTS_ALLOWED
    ]
    assert offending == []
