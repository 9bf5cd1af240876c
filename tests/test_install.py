"""What a user installs: dlab's wheel in a virtual environment of its own, the project
``dlab init`` writes, a plugin distribution, and ``dlab init``'s refusals.

Everything runs through the installed ``dlab`` console script in subprocesses, from a
temporary folder outside the repository, so nothing of the working tree (its ``src/`` on a
path, its ``configs/``, an editable install) can stand in for what the wheel ships.

The environment is built once for the module (see :func:`installed`):

1. the wheel is built from a copy of the working tree (``pip wheel --no-deps``, with build
   isolation: pyproject.toml's own build requirements). A copy, because an in-tree build
   writes ``build/`` and ``*.egg-info`` into the shared tree and packs whatever an earlier
   build left in ``build/lib``;
2. a fresh venv (``python -m venv``, no system site-packages) gets the wheel and its
   dependencies: first offline (``--no-index``, the configured find-links and the wheel's
   folder), which finishes in seconds where a wheelhouse holds every dependency; else from the
   configured indexes, pinned by constraints.txt (about 60-90 s for TensorFlow and the rest on
   the 2-core machine this was written on, 2026-12-06, with pip's cache warm);
3. only where that install fails (no network) or takes over ``FRESH_INSTALL_TIMEOUT``: an
   *overlay* venv, whose site-packages hold the wheel's dlab alone (``pip install --no-deps``)
   and a ``.pth`` line naming this test run's site-packages for the dependencies. That line is
   a plain path, so the ``.pth`` files in there (the editable install of the working tree)
   are not run: ``import dlab`` is the wheel's. What the overlay cannot check is the wheel's
   dependency metadata. ``DLAB_INSTALL_ENV=overlay`` picks it directly (seconds instead of a
   minute, for iterating on these tests); ``DLAB_INSTALL_ENV=fresh`` refuses the fallback.

Each subprocess has a timeout. Runtime on the 2-core machine (2026-12-06): 2:45 to 3:20 with
the fresh install (about 65 s of it the install, 7-11 s the wheel), about 2:45 with the overlay.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints.txt"

FRESH_INSTALL_TIMEOUT = 360
"""Seconds the fresh install may take before the overlay environment is used instead."""
COMMAND_TIMEOUT = 240
"""Seconds any one ``dlab`` command may take (a training run here takes 10-40 s)."""

NOT_COPIED = {".git", ".venv", "venv", "build", "dist", "outputs", "tests", "docs", "benchmarks"}
"""Top-level entries of the working tree the wheel is not built from."""


# --------------------------------------------------------------------------- the wheel


def _source_copy(destination: Path) -> Path:
    """The working tree without VCS data, environments, build leftovers and run outputs."""

    def ignored(folder: str, names: list[str]) -> set[str]:
        skip = {name for name in names if name == "__pycache__" or name.endswith(".egg-info")}
        skip |= {name for name in names if name.startswith(".") and name.endswith("_cache")}
        if Path(folder) == REPO:
            skip |= NOT_COPIED & set(names)
        return skip

    shutil.copytree(REPO, destination, ignore=ignored)
    return destination


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """dlab's wheel, built from a copy of the working tree."""
    root = tmp_path_factory.mktemp("wheel")
    source = _source_copy(root / "source")
    started = time.perf_counter()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(root / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = built.stdout + built.stderr
    wheels = sorted((root / "dist").glob("dlab-*.whl"))
    if built.returncode != 0 or not wheels:
        # only a build that cannot start (its build requirements cannot be installed here) is a
        # skip; a build that starts and fails is a packaging bug, which is what this file is for
        if "Installing build dependencies: finished with status 'done'" not in output:
            pytest.skip(
                f"cannot build a wheel of {REPO}: pip could not install its build requirements "
                f"(pyproject.toml's [build-system]):\n{output[-2000:]}"
            )
        pytest.fail(f"building the wheel failed (exit {built.returncode}):\n{output[-4000:]}")
    print(f"\ninstall-test: wheel built in {time.perf_counter() - started:.1f} s: {wheels[0].name}")
    return wheels[0]


def test_wheel_holds_the_project_template_and_the_packaged_configs(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    template = "dlab/templates/project/"
    for expected in (
        "configs/houses-band.yaml",
        "configs/houses-price.yaml",
        "models.py",
        "gitignore",
        "dlab.toml",
        "README.md",
    ):
        assert template + expected in names, f"{template + expected} is not in {wheel.name}"
    # every file of the template folder ships (init copies the folder as it finds it)
    source_template = REPO / "src" / "dlab" / "templates" / "project"
    shipped_template = {
        name[len(template) :] for name in names if name.startswith(template) and "__pycache__" not in name
    }
    in_tree = {
        path.relative_to(source_template).as_posix()
        for path in source_template.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped_template == in_tree
    # every packaged config and study, and the experiment modules they name
    configs = {name for name in names if re.fullmatch(r"dlab/configs/[^/]+\.yaml", name)}
    assert configs == {f"dlab/configs/{path.name}" for path in (REPO / "configs").glob("*.yaml")}
    assert "dlab/configs/cnn-mnist.yaml" in configs and "dlab/configs/perceptron-and.yaml" in configs
    studies = {name for name in names if name.startswith("dlab/configs/studies/")}
    assert studies == {
        f"dlab/configs/studies/{path.name}" for path in (REPO / "configs" / "studies").glob("*.yaml")
    }
    experiments = {name for name in names if re.fullmatch(r"dlab/experiments/[^/]+\.py", name)}
    assert experiments == {f"dlab/experiments/{path.name}" for path in (REPO / "experiments").glob("*.py")}
    assert "dlab/runtime/speed_table.json" in names
    assert not [name for name in names if "__pycache__" in name or name.startswith(("tests/", "outputs/"))]


# --------------------------------------------------------------------------- the environment


@dataclass
class Installed:
    """A virtual environment with dlab's wheel installed, and how to run its ``dlab``."""

    root: Path
    mode: str
    """fresh (the wheel and its dependencies installed into a new venv) or overlay (see the module doc)."""
    home: Path
    """A folder for the caches the commands write (dlab's catalogue, Keras's config)."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def environ(self) -> dict[str, str]:
        """The environment a user's shell would have with this venv activated: nothing of the
        test run's (its venv on PATH, PYTHONPATH, dlab's own settings) leaks in."""
        outer_bin = str(Path(sys.prefix) / "bin")
        path = [
            entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry and entry != outer_bin
        ]
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DLAB_", "PYTHON", "KERAS_", "TF_", "VIRTUAL_ENV", "XDG_CACHE_HOME"))
        }
        environ.update(
            PATH=os.pathsep.join([str(self.bin), *path]),
            VIRTUAL_ENV=str(self.root),
            XDG_CACHE_HOME=str(self.home / "cache"),
            KERAS_HOME=str(self.home / "keras"),
            MPLBACKEND="Agg",
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONUNBUFFERED="1",
        )
        return environ

    def run(self, *args: str, cwd: Path, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        started = time.perf_counter()
        result = subprocess.run(
            list(args), cwd=cwd, env=self.environ, capture_output=True, text=True, timeout=timeout
        )
        seconds = time.perf_counter() - started
        label = " ".join(Path(args[0]).name if i == 0 else arg for i, arg in enumerate(args))
        self.timings[label] = seconds
        print(f"install-test: {seconds:6.1f} s  exit {result.returncode}  {label}")
        return result

    def dlab(self, *args: str, cwd: Path, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        return self.run(str(self.bin / "dlab"), *args, cwd=cwd, timeout=timeout)

    def python(self, *args: str, cwd: Path, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        return self.run(str(self.bin / "python"), *args, cwd=cwd, timeout=timeout)

    def pip_install(
        self, *args: str, cwd: Path, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess:
        return self.python(
            "-m", "pip", "install", "--disable-pip-version-check", *args, cwd=cwd, timeout=timeout
        )


def ok(result: subprocess.CompletedProcess) -> str:
    """The command's stdout, once its exit code is 0 (else its output is the failure message)."""
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    )
    return result.stdout


def run_dir_of(result: subprocess.CompletedProcess, cwd: Path) -> Path:
    """The run directory a ``dlab run`` / ``dlab tune`` printed last (relative to ``cwd``)."""
    found = re.findall(r"^run directory: (.+)$", result.stdout, flags=re.MULTILINE)
    assert found, f"no run directory in:\n{result.stdout[-3000:]}"
    return (cwd / found[-1].strip()).resolve()


def _new_venv(root: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, timeout=180)


def _fresh(env: Installed, wheel: Path) -> bool:
    """Install the wheel and its dependencies into the new venv; False if that cannot be done here:
    first offline (the wheel's folder and the configured find-links), then from the indexes."""
    pinned = (str(wheel), "-c", str(CONSTRAINTS))
    for where in (("--no-index", "--find-links", str(wheel.parent)), ()):
        try:
            result = env.pip_install(
                "--no-compile", *where, *pinned, cwd=env.home, timeout=FRESH_INSTALL_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            print(f"install-test: the install took over {FRESH_INSTALL_TIMEOUT} s")
            continue
        if result.returncode == 0:
            return True
        print(f"install-test: pip install {' '.join(where)} failed:\n{result.stderr[-1500:]}")
    return False


def _overlay(env: Installed, wheel: Path) -> None:
    """The wheel's dlab alone in the venv; the dependencies from this test run's site-packages."""
    site = env.python("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=env.home)
    (Path(ok(site).strip()) / "_dlab_install_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    ok(env.pip_install("--no-deps", "--no-compile", str(wheel), cwd=env.home))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Installed:
    """dlab's wheel in a venv of its own (fresh if possible, else the overlay: see the module doc)."""
    wanted = os.environ.get("DLAB_INSTALL_ENV", "fresh")
    assert wanted in ("fresh", "overlay"), f"DLAB_INSTALL_ENV={wanted}: give fresh or overlay"
    base = tmp_path_factory.mktemp("installed")
    assert REPO not in base.parents, f"the temporary folder {base} is inside the repository"
    env = Installed(base / "venv", wanted, base / "home")
    env.home.mkdir()
    started = time.perf_counter()
    _new_venv(env.root)
    if wanted == "fresh" and not _fresh(env, wheel):
        if os.environ.get("DLAB_INSTALL_ENV") == "fresh":
            pytest.fail("DLAB_INSTALL_ENV=fresh, and the fresh install failed (its output is above)")
        shutil.rmtree(env.root)
        _new_venv(env.root)
        env.mode = "overlay"
    if env.mode == "overlay":
        _overlay(env, wheel)
    env.timings["environment"] = time.perf_counter() - started
    print(f"install-test: {env.mode} environment ready in {env.timings['environment']:.1f} s: {env.root}")
    return env


@pytest.fixture(scope="module")
def outside(installed, tmp_path_factory) -> Path:
    """A working folder outside the repository and outside any project."""
    folder = tmp_path_factory.mktemp("outside")
    assert REPO not in folder.parents
    return folder


@pytest.fixture(scope="module")
def project(installed, outside) -> Path:
    """``dlab init proj`` in ``outside``, by the installed dlab."""
    out = ok(installed.dlab("init", "proj", cwd=outside))
    assert "project ready" in out
    return outside / "proj"


def test_the_installed_dlab_is_the_wheel(installed, wheel, outside):
    where = ok(installed.python("-c", "import dlab; print(dlab.__file__)", cwd=outside)).strip()
    assert Path(where).is_relative_to(installed.root), f"{installed.mode} env imports dlab from {where}"
    version = ok(installed.dlab("--version", cwd=outside))
    assert version.split() == ["dlab", wheel.name.split("-")[1]]
    if installed.mode == "fresh":  # the wheel's dependency metadata brought everything it imports
        check = ok(installed.python("-m", "pip", "check", cwd=outside))
        assert "No broken requirements" in check


def test_list_shows_the_packaged_configs(installed, outside):
    listed = ok(installed.dlab("list", cwd=outside))
    assert "perceptron-and" in listed and "cnn-cifar10" in listed and "houses-band" not in listed
    rows = json.loads(ok(installed.dlab("list", "--format", "json", cwd=outside)))
    packaged = {path.stem for path in (REPO / "configs").glob("*.yaml")}
    assert {row["name"] for row in rows} == packaged
    assert {row["origin"] for row in rows} == {"dlab"}
    assert "?" not in {row["family"] for row in rows}, [row["name"] for row in rows if row["family"] == "?"]


# --------------------------------------------------------------------------- a project of one's own


def test_init_writes_the_project(project):
    files = sorted(path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "configs/dlab-config.schema.json",
        "configs/houses-band.yaml",
        "configs/houses-price.yaml",
        "data/houses.csv",
        "dlab.toml",
        "models.py",
    ]
    with (project / "data" / "houses.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 500 and {"band", "price"} <= set(rows[0])


def test_project_configs_smoke_run_into_the_project_outputs(installed, project):
    listed = ok(installed.dlab("list", cwd=project))
    assert "houses-band (project)" in listed and "houses-price (project)" in listed
    result = installed.dlab("run", "houses-band", "--smoke", cwd=project)
    ok(result)
    run = run_dir_of(result, project)
    assert run.parent == (project / "outputs" / "houses-band").resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["smoke"] is True
    assert (run / "model.keras").is_file() and (run / "config.yaml").is_file()


def test_the_example_trains_a_classifier_and_a_regression(installed, project):
    band = installed.dlab("run", "houses-band", "--epochs", "3", cwd=project)
    ok(band)
    metrics = json.loads((run_dir_of(band, project) / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 3
    assert metrics["data"]["num_classes"] == 3
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0

    price = installed.dlab("run", "houses-price", "--epochs", "3", cwd=project)
    ok(price)
    run = run_dir_of(price, project)
    assert run.parent == (project / "outputs" / "houses-price").resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 3
    assert set(metrics["test"]) == {"loss", "mae"}  # a regression: no accuracy
    assert metrics["test"]["mae"] > 0


def test_a_grid_sweep_of_the_project_config(installed, project):
    result = installed.dlab("sweep", "houses-band", "--grid", "model.units=8,16", "--smoke", cwd=project)
    ok(result)
    (summary,) = (project / "outputs" / "sweeps").glob("houses-band-*/summary.csv")
    with summary.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["overrides"], row["status"]) for row in rows] == [
        ("model.units=8", "completed"),
        ("model.units=16", "completed"),
    ]
    for row in rows:
        assert Path(row["run_dir"]).parent == (project / "outputs" / "houses-band").resolve()


@dataclass
class Search:
    """A finished ``dlab tune --space`` search: its run directory, metrics.json and trials.csv."""

    run: Path
    metrics: dict
    trials: dict[int, dict[str, str]]

    @property
    def best_row(self) -> dict[str, str]:
        return self.trials[self.metrics["tuner"]["best"]["trial"]]


@pytest.fixture(scope="module")
def search(installed, project) -> Search:
    """``dlab tune houses-band --space model.units=choice:8,16 --max-trials 2 --epochs 2``."""
    tuned = installed.dlab(
        "tune", "houses-band", "--space", "model.units=choice:8,16", "--max-trials", "2", "--epochs", "2",
        cwd=project,
    )  # fmt: skip
    ok(tuned)
    run = run_dir_of(tuned, project)
    assert run.parent == (project / "outputs" / "tune-houses-band").resolve()
    with (run / "trials.csv").open(newline="") as handle:
        trials = {int(row["trial"]): row for row in csv.DictReader(handle)}
    return Search(run, json.loads((run / "metrics.json").read_text()), trials)


def test_best_config_of_a_search_reruns_to_the_best_trials_numbers(installed, project, search):
    metrics, trials, best_row = search.metrics, search.trials, search.best_row
    assert sorted(int(row["model.units"]) for row in trials.values()) == [8, 16]
    assert {row["status"] for row in trials.values()} == {"COMPLETED"}
    best = metrics["tuner"]["best"]
    assert metrics["tuner"]["objective"] == "val_loss" and metrics["tuner"]["direction"] == "min"
    assert best["score"] == min(float(row["score"]) for row in trials.values())
    assert float(best_row["score"]) == best["score"]
    best_config = yaml.safe_load((search.run / "best-config.yaml").read_text())
    assert (
        best_config["model"]["units"]
        == best["hyperparameters"]["model.units"]
        == int(best_row["model.units"])
    )
    assert "retrain" not in metrics  # a --space search sets no retrain_epochs: no retraining

    # What "the same numbers" honestly means. Without retrain settings the search does not train
    # the best config again: metrics.json's `test` is the best trial's own model, restored from
    # keras-tuner's checkpoint of its best epoch (`best_epoch` in trials.csv, by val_loss) and
    # evaluated on the test split (dlab.tune.search.evaluate_best, retrained=False); the trial's
    # `score` in trials.csv is its val_loss at that epoch. Every trial starts from the config's
    # seed (ReportingTuner.run_trial) and takes the same seeded split, as `dlab run` does, so
    # best-config.yaml trained for `best_epoch` epochs is that checkpoint, bit for bit on one
    # machine: its test metrics are metrics.json's and its last val_loss is the trial's score.
    # (Trained for more epochs than the best one it would be a later model, not the trial's
    # best; with 2 epochs and this data the best epoch is the last one.)
    assert best_config["seed"] == yaml.safe_load((search.run / "config.yaml").read_text())["seed"]
    epochs = best_row["best_epoch"]
    rerun = installed.dlab("run", str(search.run / "best-config.yaml"), "--epochs", epochs, cwd=project)
    ok(rerun)
    again = json.loads((run_dir_of(rerun, project) / "metrics.json").read_text())
    assert again["status"] == "completed" and again["epochs_run"] == int(epochs)
    assert again["params"]["total"] == metrics["params"]["total"]
    assert again["test"] == pytest.approx(metrics["test"], rel=1e-5), "test metrics of the best trial"
    assert again["final"]["val"]["loss"] == pytest.approx(float(best_row["score"]), rel=1e-5)


@pytest.mark.xfail(
    strict=True,
    reason="dlab.tune.trials.trial_history returns only the epochs keras-tuner recorded, and keras-tuner "
    "1.4 records one observation per trial (its best epoch), so evaluate_best writes a one-row "
    "history.csv labelled epoch 1, epochs_run 1 and best_epoch 1 for a model trained 2 epochs",
)
def test_a_search_records_the_epochs_its_best_model_trained(search):
    best_epoch = int(search.best_row["best_epoch"])
    with (search.run / "history.csv").open(newline="") as handle:
        history = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in history][-1] == best_epoch
    assert search.metrics["epochs_run"] == best_epoch
    assert search.metrics["best_epoch"]["val_loss"]["epoch"] == best_epoch


# --------------------------------------------------------------------------- a plugin distribution

PLUGIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "course-labs"
version = "{version}"
description = "Labs of a course, as a dlab plugin."
requires-python = ">=3.10"

[project.entry-points."dlab.experiments"]
course-labs = "course_labs.experiments"

[project.entry-points."dlab.configs"]
course-labs = "course_labs.configs"

[tool.setuptools]
packages = ["course_labs", "course_labs.configs"]

[tool.setuptools.package-data]
"course_labs.configs" = ["*.yaml"]
"""

PLUGIN_EXPERIMENTS = '''\
"""The course's experiments: registered with dlab when dlab imports this module."""

from dlab.config import StrictModel
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register


class CourseMlpConfig(StrictModel):
    """The model section: one hidden layer."""

    units: int = 16


@register("course_mlp")
class CourseMlp(KerasExperiment):
    """Flatten, rescale, one hidden Dense layer, one logit per class."""

    family = "course labs"
    ModelConfig = CourseMlpConfig

    def build_model(self, config, data):
        import keras

        inputs = keras.Input(shape=data.x_train.shape[1:])
        x = keras.layers.Rescaling(1.0 / 255)(keras.layers.Flatten()(inputs))
        x = keras.layers.Dense(config.model.units, activation="relu")(x)
        return keras.Model(inputs, keras.layers.Dense(data.num_classes)(x))
'''

PLUGIN_CONFIG = """\
experiment: course_mlp
description: The course's first network. One hidden layer on MNIST.
seed: 7
data:
  dataset: mnist
  validation: test
model:
  units: 24
train:
  epochs: 2
  batch_size: 64
  optimizer: {name: adam, learning_rate: 0.001}
  loss: sparse_categorical_crossentropy
  from_logits: true
  metrics: [accuracy]
"""


def write_plugin(root: Path, version: str, clash: bool = False) -> Path:
    """The source of the ``course-labs`` distribution (with ``clash``, it also ships a config
    named like one of dlab's own)."""
    shutil.rmtree(root, ignore_errors=True)
    package = root / "course_labs"
    (package / "configs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PLUGIN_PYPROJECT.format(version=version))
    (package / "__init__.py").write_text('"""A course\'s labs for dlab."""\n')
    (package / "experiments.py").write_text(PLUGIN_EXPERIMENTS)
    (package / "configs" / "__init__.py").write_text("")
    (package / "configs" / "course-mlp.yaml").write_text(PLUGIN_CONFIG)
    if clash:
        (package / "configs" / "cnn-mnist.yaml").write_text(PLUGIN_CONFIG)
    return root


def install_plugin(installed: Installed, source: Path) -> None:
    ok(
        installed.pip_install(
            "--no-deps", "--no-build-isolation", "--no-compile", str(source), cwd=source.parent
        )
    )


@pytest.fixture(scope="module")
def plugin(installed, tmp_path_factory) -> Path:
    """``course-labs`` 1.0 installed (not editable) into the environment."""
    source = write_plugin(tmp_path_factory.mktemp("plugin") / "course-labs", "1.0")
    install_plugin(installed, source)
    return source


def test_a_plugins_config_is_listed_shown_and_runs(installed, plugin, outside):
    listed = ok(installed.dlab("list", cwd=outside))
    assert "course labs (1)" in listed and "course-mlp (plugin course-labs)" in listed
    rows = {
        row["name"]: row for row in json.loads(ok(installed.dlab("list", "--format", "json", cwd=outside)))
    }
    assert rows["course-mlp"]["origin"] == "plugin course-labs"
    assert rows["course-mlp"]["family"] == "course labs" and rows["course-mlp"]["dataset"] == "mnist"
    assert rows["cnn-mnist"]["origin"] == "dlab"

    shown = installed.dlab("show", "course-mlp", cwd=outside)
    resolved = yaml.safe_load(ok(shown))
    assert resolved["experiment"] == "course_mlp" and resolved["model"] == {"units": 24}
    # on stderr: where the config and its experiment come from (the installed package's folder)
    origin = shown.stderr.strip().splitlines()[-1]
    assert (
        origin.startswith("# course-mlp: ") and "site-packages/course_labs/configs/course-mlp.yaml" in origin
    )
    assert origin.endswith("from plugin course-labs; experiment course_mlp from plugin course-labs")

    result = installed.dlab("run", "course-mlp", "--smoke", cwd=outside)
    ok(result)
    run = run_dir_of(result, outside)
    assert run.parent == (outside / "outputs" / "course-mlp").resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["experiment"] == "course_mlp"
    assert metrics["params"]["total"] == 784 * 24 + 24 + 24 * 10 + 10


def test_a_plugin_config_named_like_dlabs_own_is_refused_naming_both(installed, plugin, outside):
    """The clashing name is unusable, saying who claims it; every other config keeps working."""
    clashing = write_plugin(plugin.parent / "course-labs-clash", "1.1", clash=True)
    install_plugin(installed, clashing)
    try:
        listed = installed.dlab("list", cwd=outside)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert "cnn-mnist" in listed.stdout and "unusable" in " ".join(listed.stdout.split())
        assert ok(installed.dlab("show", "mlp-mnist", cwd=outside))
        for command in (("show", "cnn-mnist"), ("run", "cnn-mnist", "--smoke")):
            result = installed.dlab(*command, cwd=outside)
            assert result.returncode == 2, (
                f"dlab {' '.join(command)}: exit {result.returncode}\n{result.stdout}"
            )
            message = " ".join((result.stdout + result.stderr).split())
            assert "The config name 'cnn-mnist' is claimed twice" in message, message
            assert "by plugin course-labs" in message and "by dlab" in message, message
            assert "Traceback" not in message
        assert not (outside / "outputs" / "cnn-mnist").exists()
    finally:
        install_plugin(installed, plugin)
    assert "course-mlp" in ok(installed.dlab("list", "--format", "names", cwd=outside)).split()


# --------------------------------------------------------------------------- dlab init's refusals


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()
    }


@pytest.mark.parametrize(
    "existing", ["models.py", ".gitignore", "configs/houses-band.yaml", "data/houses.csv"]
)
def test_init_refuses_a_folder_that_holds_one_of_its_files(installed, outside, existing):
    folder = outside / f"mine-{existing.replace('/', '-').lstrip('.')}"
    (folder / existing).parent.mkdir(parents=True)
    (folder / existing).write_bytes(b"my own work\n\x00\xff")
    (folder / "notes.txt").write_text("not one of init's files\n")
    before = snapshot(folder)
    result = installed.dlab("init", folder.name, cwd=outside)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())
    assert "already holds" in message and existing in message and "nothing was written" in message
    assert snapshot(folder) == before


def test_init_refuses_a_file(installed, outside):
    (outside / "afile").write_bytes(b"a file, not a folder\n")
    result = installed.dlab("init", "afile", cwd=outside)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is a file" in result.stdout + result.stderr
    assert (outside / "afile").read_bytes() == b"a file, not a folder\n"
