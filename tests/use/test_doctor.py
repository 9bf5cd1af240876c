"""dlab doctor: requirements and extras read from installed metadata (markers evaluated), advice
that installs what is missing on this machine (never a CUDA build without a GPU), exit 1 when
something dlab needs is missing.

The distributions these tests read are real: this venv's, and small ones whose metadata the tests
install into a folder on the path (a distribution is its ``.dist-info``; importlib.metadata finds
it as it finds any other).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlab.runtime import doctor, requirements
from dlab.runtime.backend import TORCH_CPU_INSTALL

CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def install_metadata(folder: Path, name: str, lines: list[str], version: str = "1.0") -> None:
    """Write a distribution's metadata, as pip leaves it, into ``folder``."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    text = "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *lines])
    (info / "METADATA").write_text(text + "\n")


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A distribution with a base requirement, and extras that are installed, absent, too old, for
    another Python, for PyTorch and for GPUs."""
    install_metadata(
        tmp_path,
        "doctor-probe",
        [
            "Requires-Dist: packaging>=22",
            "Provides-Extra: here",
            'Requires-Dist: pyyaml; extra == "here"',
            "Provides-Extra: absent",
            'Requires-Dist: no-such-distribution-xyz>=1; extra == "absent"',
            'Requires-Dist: packaging; extra == "absent"',
            "Provides-Extra: old",
            'Requires-Dist: packaging>=999; extra == "old"',
            "Provides-Extra: elsewhere",
            'Requires-Dist: no-such-distribution-xyz; python_version < "3" and extra == "elsewhere"',
            "Provides-Extra: torch",
            'Requires-Dist: no-such-torch-xyz; extra == "torch"',
            "Provides-Extra: gpu",
            'Requires-Dist: no-such-cuda-xyz; extra == "gpu"',
        ],
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return "doctor-probe"


def rows(checks) -> dict[str, doctor.Check]:
    return {check.item: check for check in checks}


def test_extras_are_read_from_metadata_with_their_markers(probe):
    found = rows(doctor.extra_checks(probe, gpus=0))
    assert found["extra [here]"].status == "ok" and "pyyaml" in found["extra [here]"].value
    absent = found["extra [absent]"]
    assert absent.status == "missing" and "no-such-distribution-xyz (not installed)" in absent.value
    assert "packaging" not in absent.value  # installed: not listed as missing
    assert "pip install 'doctor-probe[absent]'" in absent.value
    assert found["extra [old]"].status == "missing" and "(needs >=999)" in found["extra [old]"].value
    assert found["extra [elsewhere]"].status == "ok"  # its requirement is for another Python


def test_advice_never_pulls_cuda_wheels_on_a_machine_without_a_gpu(probe):
    cpu = rows(doctor.extra_checks(probe, gpus=0))
    assert CPU_INDEX in cpu["extra [torch]"].value  # PyTorch's CPU wheel first
    assert cpu["extra [gpu]"].status == "none" and "pip install" not in cpu["extra [gpu]"].value
    gpu = rows(doctor.extra_checks(probe, gpus=1))
    assert CPU_INDEX not in gpu["extra [torch]"].value and "doctor-probe[torch]" in gpu["extra [torch]"].value
    assert gpu["extra [gpu]"].status == "missing" and "doctor-probe[gpu]" in gpu["extra [gpu]"].value
    assert TORCH_CPU_INSTALL == f"pip install {CPU_INDEX} torch"


def test_a_missing_or_too_old_requirement_is_broken(tmp_path, monkeypatch):
    install_metadata(
        tmp_path, "doctor-needy", ["Requires-Dist: no-such-dlab-requirement", "Requires-Dist: pip>=999"]
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    found = rows(doctor.requirement_checks("doctor-needy"))
    assert found["no-such-dlab-requirement"].status == "broken"
    assert found["pip"].status == "broken" and "(needs >=999)" in found["pip"].value
    assert doctor.exit_code(list(found.values())) == 1


def test_the_extras_of_dev_in_this_venv_are_all_installed():
    # `pip install -e ".[dev]"` made this venv: every extra whose requirements dev holds is complete
    dev = {r.name for r in requirements.requirements("dlab", "dev")}
    dev |= {item.name for item in requirements.check("dlab", "dev")}  # dlab[export], ray[default]
    found = rows(doctor.extra_checks())
    covered = [
        extra
        for extra in requirements.declared_extras("dlab")
        if extra not in doctor.NOT_REPORTED
        and {r.name for r in requirements.requirements("dlab", extra)} <= dev
    ]
    assert {"jax", "mlflow", "ray", "export"} <= set(covered)
    for extra in covered:
        assert found[f"extra [{extra}]"].status == "ok", found[f"extra [{extra}]"]
    assert all(check.status == "ok" for check in doctor.requirement_checks())


@pytest.mark.subprocess
def test_doctor_prints_the_table_and_exits_1_when_dlab_misses_a_requirement(tmp_path):
    """The real command: dlab's own metadata, shadowed by a copy with one more requirement."""
    metadata = importlib.metadata.distribution("dlab").read_text("METADATA") or ""
    lines = [line for line in metadata.splitlines() if line.startswith(("Requires-Dist:", "Provides-Extra:"))]
    install_metadata(
        tmp_path,
        "dlab",
        [*lines, "Requires-Dist: no-such-dlab-requirement"],
        importlib.metadata.version("dlab"),
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "dlab", "doctor"], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    table = {
        line.split()[0]: line for line in done.stdout.splitlines() if re.match(r"\S+ +(ok|broken)", line)
    }
    assert "not installed" in table["no-such-dlab-requirement"] and "broken" in done.stderr
    for item in ("python", "tensorflow", "keras", "grpcio", "packaging"):
        assert table[item].split()[1] == "ok", done.stdout  # grpcio: its module is grpc; by metadata
    assert "gpu" in done.stdout and "dataset" in done.stdout
    assert "I0000" not in done.stdout + done.stderr  # TensorFlow's start-up lines stay out
