"""``dlab doctor``: the environment dlab runs in, as one table (the first lab's "study of DL packages").

Each row is a check with a status: ``ok``, ``missing`` (an optional extra that is not
installed: reported, never an error), ``none`` (nothing to report, e.g. no GPU, or the GPU
extra on a machine without one) or ``broken`` (something dlab needs is absent, too old or
fails to import: the command exits 1). What dlab needs and what each extra adds come from
dlab's own installed metadata (:mod:`dlab.runtime.requirements`); TensorFlow is imported once
(quietly) to ask for GPUs, CUDA and the Keras backend.

The advice for a missing extra is what installs it on this machine: never a CUDA build where
there is no NVIDIA GPU (PyPI's Linux ``torch`` is the CUDA build and pulls gigabytes of
nvidia-* wheels, so the torch extra's advice there is PyTorch's CPU index).
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dlab import __version__
from dlab.runtime import requirements
from dlab.runtime.backend import TORCH_CPU_INSTALL
from dlab.runtime.tfenv import keras_cache_dir, prepare_environment

DISTRIBUTION = "dlab"

NOT_REPORTED = ("dev",)
"""Extras for working on dlab itself (pytest, ruff): not part of a user's environment."""

CUDA_EXTRAS = {"gpu": "tensorflow[and-cuda]: TensorFlow's CUDA libraries"}
"""Extras that only make sense with an NVIDIA GPU (not advised, and not missing, without one)."""

CPU_INSTALLS = {"torch": TORCH_CPU_INSTALL}
"""Extras whose plain install pulls a CUDA build: what installs the CPU build instead."""

SHOWN = 4
"""Requirements named in a row before the rest are counted."""


@dataclass
class Check:
    """One row of the table."""

    item: str
    value: str
    status: str

    @property
    def broken(self) -> bool:
        return self.status == "broken"


@functools.lru_cache(maxsize=1)
def nvidia_gpus() -> int:
    """NVIDIA GPUs that ``nvidia-smi -L`` lists (0 without a driver); TensorFlow is not asked."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))


def install_advice(extra: str, gpus: int, source: str | None = None, distribution: str = DISTRIBUTION) -> str:
    """The command that installs ``extra`` into this environment.

    Args:
        gpus: NVIDIA GPUs on this machine: without one, an extra whose plain install is a CUDA
            build gets its CPU build's command first.
        source: the project folder of an editable install (``pip install -e DIR``), whose extras
            come from that folder, not from a package index.
    """
    target = f"pip install -e '{source}[{extra}]'" if source else f"pip install '{distribution}[{extra}]'"
    if extra in CPU_INSTALLS and not gpus:
        return f"{CPU_INSTALLS[extra]} (the CPU build; then {target} finds it installed)"
    return target


def requirement_checks(distribution: str = DISTRIBUTION) -> list[Check]:
    """Python, dlab and every requirement of dlab, each installed at a version dlab allows."""
    ok_python = sys.version_info >= (3, 10)
    checks = [
        Check("python", f"{platform.python_version()} ({sys.executable})", "ok" if ok_python else "broken"),
        Check(distribution, requirements.installed_version(distribution) or __version__, "ok"),
    ]
    source = requirements.editable_source(distribution)
    reinstall = f"pip install -e '{source}'" if source else f"pip install --force-reinstall {distribution}"
    for found in requirements.check(distribution):
        if found.satisfied:
            checks.append(Check(found.name, found.state(), "ok"))
        else:
            checks.append(Check(found.name, f"{found.state()}: {reinstall}", "broken"))
    return checks


def extra_checks(distribution: str = DISTRIBUTION, gpus: int | None = None) -> list[Check]:
    """One row per optional extra of ``distribution``: ``ok`` with the versions, ``missing`` with
    what is absent (or too old) and the command that installs it, ``none`` for the GPU extra on a
    machine without an NVIDIA GPU.

    Args:
        gpus: NVIDIA GPUs on this machine (None: ask ``nvidia-smi``).
    """
    gpus = nvidia_gpus() if gpus is None else gpus
    source = requirements.editable_source(distribution)
    checks = []
    for extra in requirements.declared_extras(distribution):
        if extra in NOT_REPORTED:
            continue
        found = requirements.check(distribution, extra)
        absent = [item for item in found if not item.satisfied]
        item = f"extra [{extra}]"
        if extra in CUDA_EXTRAS and not gpus:
            checks.append(Check(item, f"not needed: no NVIDIA GPU here ({CUDA_EXTRAS[extra]})", "none"))
        elif absent:
            advice = install_advice(extra, gpus, source, distribution)
            checks.append(Check(item, f"{_listed([a.describe() for a in absent])}; {advice}", "missing"))
        else:
            checks.append(Check(item, _installed(found) or "nothing to install on this platform", "ok"))
    return checks


def _installed(found: list[requirements.Found]) -> str:
    """The extra's own requirements with their versions, then how many their extras add."""
    direct = [item.describe() for item in found if not item.via]
    pulled: dict[str, int] = {}
    for item in found:
        if item.via:
            pulled[item.via] = pulled.get(item.via, 0) + 1
    return _listed(direct) + "".join(f" (+{count} from {via})" for via, count in pulled.items())


def _listed(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def package_checks() -> list[Check]:
    """Python, dlab, every required distribution, and each optional extra (complete or not)."""
    return [*requirement_checks(), *extra_checks()]


def tensorflow_checks() -> list[Check]:
    """Import TensorFlow and Keras, then the backend, CUDA build and every GPU with its details."""
    prepare_environment()  # quiet: TensorFlow's start-up lines are not part of the table
    try:
        import keras
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    except Exception as error:  # noqa: BLE001 - reporting a broken install is the point
        return [Check("tensorflow import", f"{type(error).__name__}: {error}", "broken")]
    backend = keras.backend.backend()
    checks = [
        Check("keras backend", backend, "ok" if backend == "tensorflow" else "broken"),
        Check("tensorflow built with CUDA", str(tf.test.is_built_with_cuda()), "ok"),
    ]
    memory = _gpu_memory()
    for index, gpu in enumerate(gpus):
        details = tf.config.experimental.get_device_details(gpu)
        capability = ".".join(map(str, details.get("compute_capability", ()))) or "?"
        text = f"{details.get('device_name', gpu.name)}, compute capability {capability}"
        if index < len(memory):
            text += f", {memory[index]}"
        checks.append(Check(f"gpu {index}", text, "ok"))
    if not gpus:
        checks.append(Check("gpus", "none visible to TensorFlow (training runs on the CPU)", "none"))
    return checks


def _gpu_memory() -> list[str]:
    """Per GPU, total memory as nvidia-smi reports it (nothing when there is no nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [f"{line.strip()} memory" for line in result.stdout.splitlines() if line.strip()]


CACHED = {
    "mnist": "mnist.npz", "fashion_mnist": "fashion-mnist", "cifar10": "cifar-10-batches-py",
    "imdb": "imdb.npz", "reuters": "reuters.npz", "boston_housing": "boston_housing.npz",
    "jena": "jena_climate_2009_2016.csv", "timemachine": "timemachine.txt", "higgs": "HIGGS.csv.gz",
    "oxford_pets": "images",
}  # fmt: skip
"""Dataset -> a file or folder its download leaves in the cache."""


def cache_checks() -> list[Check]:
    """The dataset cache folder, the datasets found in it, and the free disk there."""
    prepare_environment()  # DLAB_DATA_DIR -> KERAS_HOME, as a run sees it
    folder = keras_cache_dir()
    exists = folder.is_dir()
    checks = [Check("dataset cache", f"{folder}" + ("" if exists else " (not created yet)"), "ok")]
    if exists:
        names = {p.name.split(".zip")[0] for p in folder.iterdir()}
        found = [dataset for dataset, entry in CACHED.items() if entry in names or entry + ".zip" in names]
        checks.append(Check("cached datasets", ", ".join(found) or "none yet", "ok"))
    probe = folder if exists else Path(os.path.expanduser("~"))
    free = shutil.disk_usage(probe).free / 2**30
    checks.append(Check("free disk (cache)", f"{free:.1f} GiB", "ok" if free > 1 else "broken"))
    return checks


def doctor() -> list[Check]:
    """Every check, packages first (so a broken TensorFlow is reported next to its version)."""
    return [*package_checks(), *tensorflow_checks(), *cache_checks()]


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.broken for c in checks) else 0
