"""`dlab --help`, `list` and `show` must not import TensorFlow, Keras or even NumPy (they answer
in well under half a second)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "matplotlib", "pandas", "sklearn", "numpy")

PROBE = """
import sys
from dlab.cli import app
try:
    app({args!r})
except SystemExit:
    pass
heavy = [name for name in {heavy!r} if name in sys.modules]
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("args", [["--help"], ["list"], ["show", "cnn-cifar10"], ["run", "--help"]])
def test_light_commands_do_not_import_heavy_modules(args):
    code = PROBE.format(args=args, heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    marker = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert marker == ["HEAVY="], f"{args} imported {marker}"


@pytest.mark.subprocess
def test_numpy_experiments_never_import_tensorflow(tmp_path):
    code = PROBE.format(args=["run", "perceptron-and", "--out", str(tmp_path)], heavy=("tensorflow", "keras"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY=" in result.stdout.splitlines()[-1]
    assert result.stdout.splitlines()[-1] == "HEAVY=", result.stdout
    assert list(tmp_path.glob("perceptron-and/*/metrics.json"))
