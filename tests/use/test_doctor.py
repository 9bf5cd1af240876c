"""dlab doctor: the environment table; an optional extra that is not installed is reported, exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

HIDE = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {hidden!r}:
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Hide())
sys.argv = ['dlab', 'doctor']
from dlab.cli import main
main()
"""


@pytest.mark.slow
def test_doctor_without_the_export_extra_reports_it_missing_and_exits_0():
    # the export extra's modules cannot be imported in this interpreter, as in a venv without them
    code = HIDE.format(hidden={"onnxruntime", "tf2onnx"})
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("extra [export]"))
    assert "missing" in line and "onnxruntime" in line and "tf2onnx" in line and "dlab[export]" in line
    for item in ("python", "tensorflow", "keras backend", "tensorflow built with CUDA", "dataset cache"):
        assert any(row.startswith(item) for row in result.stdout.splitlines()), item


def test_doctor_exits_1_when_a_requirement_is_broken(cli, monkeypatch):
    import dlab.runtime.doctor as doctor

    declared = doctor.required()
    assert {"tensorflow", "keras", "filelock", "grpcio"} <= set(declared)  # read from dlab's metadata
    monkeypatch.setattr(doctor, "required", lambda: [*declared, "no-such-dlab-requirement"])
    monkeypatch.setattr(doctor, "tensorflow_checks", lambda: [])
    result = cli("doctor")
    assert result.exit_code == 1
    assert "no-such-dlab-requirement" in result.output and "broken" in result.output
    grpcio = next(line for line in result.output.splitlines() if line.startswith("grpcio "))
    assert grpcio.split()[1] == "ok"  # a distribution whose module has another name (grpc)
