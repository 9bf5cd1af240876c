"""No TensorFlow, XLA or absl start-up lines on any command's console or in any run.log.

Each command runs as a user runs it: `dlab` in its own process, stdout and stderr read together,
with the environment a user's shell has (no TF_CPP_MIN_LOG_LEVEL: dlab must quiet TensorFlow
itself). `--debug` still shows the lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

START_UP_LINES = re.compile(
    "|".join(
        [
            r"oneDNN custom operations",
            r"cudart_stub",
            r"cpu_feature_guard",
            r"Could not find cuda drivers",
            r"failed call to cuInit",
            r"absl::InitializeLog",
            r"triggered tf\.function retracing",
            r"This TensorFlow binary is optimized",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"TF-TRT Warning",
            r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+\.cc:\d+\]",  # any absl/glog C++ line
        ]
    ),
    re.MULTILINE,
)
"""What TensorFlow, XLA and absl write when they start (defined once, for every command here)."""


def dlab(*args: str, cwd: Path, timeout: int = 400) -> str:
    """Run `dlab ARGS` as a user would; its console (stdout and stderr together), exit 0 checked."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "dlab", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout
    return done.stdout


def run_dir_of(console: str, cwd: Path) -> Path:
    last = console.strip().splitlines()[-1]
    assert last.startswith("run directory: "), console
    return cwd / last.removeprefix("run directory: ")


def logs_under(folder: Path) -> str:
    return "".join(path.read_text() for path in sorted(folder.rglob("*.log")))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small Keras run (mlp-mnist, --smoke): its folder, console and run.log."""
    cwd = tmp_path_factory.mktemp("quiet")
    console = dlab("run", "mlp-mnist", "--smoke", "--epochs", "1", cwd=cwd)
    run = run_dir_of(console, cwd)
    return cwd, run, console


def digit_png(folder: Path) -> Path:
    from PIL import Image

    path = folder / "digit.png"
    Image.new("L", (28, 28), 128).save(path)
    return path


def run(trained) -> tuple[str, str]:
    cwd, run_dir, console = trained
    log = (run_dir / "run.log").read_text()
    assert log.strip().splitlines()[-3:] == console.strip().splitlines()[-3:]  # the summary, both
    return console, log


def evaluate(trained) -> tuple[str, str]:
    cwd, run_dir, _ = trained
    return dlab("evaluate", str(run_dir), cwd=cwd), ""


def predict(trained) -> tuple[str, str]:
    cwd, run_dir, _ = trained
    return dlab("predict", str(run_dir), str(digit_png(cwd)), cwd=cwd), ""


def jax_run(trained) -> tuple[str, str]:
    pytest.importorskip("jax")
    cwd = trained[0]
    console = dlab("run", "mlp-mnist", "--smoke", "--backend", "jax", "--out", "jax", cwd=cwd)
    return console, (run_dir_of(console, cwd) / "run.log").read_text()


def tune(trained) -> tuple[str, str]:
    cwd = trained[0]
    console = dlab("tune", "tune-mnist-mlp", "--smoke", "--max-trials", "2", "--out", "tune", cwd=cwd)
    return console, logs_under(cwd / "tune")


def sweep(trained) -> tuple[str, str]:
    cwd = trained[0]
    console = dlab("sweep", "mlp-mnist", "--smoke", "--tensorboard", "--out", "sweep", cwd=cwd)
    return console, logs_under(cwd / "sweep")  # the members' run.log and the sweep's logs/


@pytest.mark.subprocess
@pytest.mark.parametrize("command", [run, evaluate, predict, jax_run, tune, sweep], ids=lambda c: c.__name__)
def test_no_start_up_lines_on_the_console_or_in_run_log(trained, command):
    console, log = command(trained)
    assert START_UP_LINES.findall(console) == [], console
    assert START_UP_LINES.findall(log) == [], log


@pytest.mark.subprocess
def test_debug_shows_them(trained):
    cwd, run_dir, _ = trained
    assert START_UP_LINES.search(dlab("evaluate", str(run_dir), "--debug", cwd=cwd))
