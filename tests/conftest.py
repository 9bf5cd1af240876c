"""Shared fixtures: a CLI runner, tiny dataset files in the real on-disk formats, quiet TF."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")
# The suite prints as into a pipe: a test that wants a terminal's width sets $COLUMNS itself.
# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment, which would
# wrap every console table there and nowhere else.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)

import signal  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from dlab.cli import app  # noqa: E402

# A suite started in the background by a non-interactive shell (`nohup bash .ci/run &`) inherits
# SIGINT as ignored, and so would every process the tests start: the tests that press Ctrl-C on a
# sweep, a Ray driver or `dlab tensorboard` would then wait for runs that cannot hear it. Restore
# what a terminal gives, here and (through exec) in every child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


SLOW_BECAUSE = ("subprocess", "engine", "backend", "every_config", "browser", "heavy")
"""The markers that say why a test is slow; each puts it in the ``slow`` lane, which the default
run (pyproject's addopts: ``-m 'not slow'``) leaves out and ``-m ""`` includes."""


ONE_AT_A_TIME = ("engine", "browser")
"""Tests that start servers, clusters or a browser: under ``pytest -n 2`` they all run on one
worker, one after another (two Ray clusters or two keras-tuner chiefs at once on a 2-core machine
would test the machine, not dlab)."""


def xdist_group(item: pytest.Item) -> str:
    """The pytest-xdist group a test runs in (``--dist loadgroup``): each group runs on one worker,
    so a fixture is made once for its group. The engines' group also takes the tests of the run
    they log (``tracked_run``), the trained runs' tests share theirs (``runs``), and every other
    test runs with its module (its module-scoped fixtures)."""
    if "tracked_run" in item.fixturenames or any(item.get_closest_marker(m) for m in ONE_AT_A_TIME):
        return "engines"
    if "runs" in item.fixturenames:
        return "trained-runs"
    return item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection and xdist read the markers
def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("slow") and not any(item.get_closest_marker(m) for m in SLOW_BECAUSE):
            raise pytest.UsageError(
                f"{item.nodeid}: mark why it is slow ({', '.join(SLOW_BECAUSE)}), not just `slow`"
            )
        if any(item.get_closest_marker(reason) for reason in SLOW_BECAUSE):
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke ``dlab ARGS...`` in-process from a fresh working folder; returns the Result."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


@pytest.fixture
def complete(tmp_path):
    """``complete("dlab run cnn-ci")`` -> the words bash would offer, from a real `dlab` process
    (Typer's completion entry point) run in ``tmp_path``."""
    import subprocess
    import sys

    def ask(words: str) -> list[str]:
        env = {**os.environ, "_DLAB_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from dlab.cli import main; sys.argv[0] = 'dlab'; main()"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    return ask


# One conftest.py for the whole suite: test modules import helpers from it (`from conftest import
# write_cifar_npz`), and a second conftest.py elsewhere would take the module name `conftest`.


@pytest.fixture(scope="session")
def mlflow_store_template(tmp_path_factory) -> Path:
    """A new SQLite MLflow store with its tracking and registry tables, made once: MLflow's schema
    migrations take seconds, a copy of the migrated file (:func:`store`) takes milliseconds."""
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    folder = tmp_path_factory.mktemp("mlflow-template")
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    client.search_experiments(max_results=1)
    client.search_registered_models(max_results=1)
    return folder / "mlflow.db"


def copy_store(template: Path, folder: Path) -> str:
    """A copy of the template MLflow store in ``folder`` (created); its URI."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "mlflow.db")
    return f"sqlite:///{folder}/mlflow.db"


TRACKED_MODEL = "dlab-mnist"
"""The registered model name of :func:`tracked_run`."""


@pytest.fixture(scope="session")
def tracked_run(mlflow_store_template, tmp_path_factory):
    """(RunResult, store URI) of one mlp-mnist smoke run (2 epochs) logged live with --tensorboard,
    --mlflow and --register TRACKED_MODEL into a store of its own: what the TensorBoard, MLflow and
    MLflow-model tests read, trained once for the session."""
    from dlab import api

    folder = tmp_path_factory.mktemp("tracked")
    uri = copy_store(mlflow_store_template, folder / "store")
    result = api.run(
        "mlp-mnist",
        smoke=True,
        epochs=2,
        device="cpu",
        out=folder / "outputs",
        quiet=True,
        tensorboard=True,
        mlflow=True,
        mlflow_uri=uri,
        register=TRACKED_MODEL,
    )
    return result, uri


_TRAINED: dict[tuple[str, ...], Path] = {}
"""(config, *sets) -> run directory of :func:`runs`, for the whole session."""


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Smoke runs trained once for the session: ``runs(name, *sets)`` -> run directory. Tests that
    read a trained run (predict, export, serve, generate) share it instead of training their own."""
    from dlab import api

    def get(name: str, *sets: str) -> Path:
        key = (name, *sets)
        if key not in _TRAINED:
            out = tmp_path_factory.getbasetemp() / "trained-runs"
            _TRAINED[key] = api.run(name, smoke=True, out=out, sets=list(sets)).run_dir
        return _TRAINED[key]

    return get


@pytest.fixture
def store(mlflow_store_template, tmp_path) -> str:
    """A fresh MLflow store for one test (artifacts go to ``mlartifacts/`` beside it); its URI."""
    return copy_store(mlflow_store_template, tmp_path / "store")


def write_cifar_npz(path: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    """An .npz in the keras.datasets.cifar10 layout (uint8 images, (N, 1) labels)."""
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        y_train=rng.integers(0, 10, (n_train, 1), dtype=np.uint8),
        x_test=rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        y_test=rng.integers(0, 10, (n_test, 1), dtype=np.uint8),
    )
    return path


def write_image_tree(
    root: Path, classes=("cat", "dog", "frog"), per_class: int = 4, size: int = 40, splits=("train", "test")
) -> Path:
    """A class-folder tree root/<split>/<class>/<i>.png with size x size RGB images."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in splits:
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = np.full((size, size, 3), 40 * index, dtype=np.uint8)
                pixels += rng.integers(0, 30, pixels.shape, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


@pytest.fixture
def cifar_npz(tmp_path) -> Path:
    return write_cifar_npz(tmp_path / "cifar10.npz")


@pytest.fixture
def image_tree(tmp_path) -> Path:
    return write_image_tree(tmp_path / "tree")
