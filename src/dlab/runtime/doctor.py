"""``dlab doctor``: the environment dlab runs in, as one table (the first lab's "study of DL packages").

Each row is a check with a status: ``ok``, ``missing`` (an optional extra that is not
installed: reported, never an error), ``none`` (nothing to report, e.g. no GPU) or
``broken`` (something dlab needs is absent or fails to import: the command exits 1).
Package versions come from the installed distributions' metadata; TensorFlow is
imported once (quietly) to ask for GPUs, CUDA and the Keras backend.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from dlab import __version__
from dlab.runtime.tfenv import captured_native_stderr, keras_cache_dir, prepare_environment


def required() -> list[str]:
    """The distributions the installed dlab depends on, read from its own metadata (pyproject's
    ``dependencies``), so that a new dependency is checked without a second list to keep."""
    try:
        lines = importlib.metadata.requires("dlab") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    names = []
    for line in lines:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def extras() -> dict[str, list[str]]:
    """Optional extras of the installed dlab (its metadata, so a new extra shows up by itself) and the
    distributions each one needs; ``pkg[extra]`` requirements expand into what that extra pulls in."""
    try:
        lines = importlib.metadata.requires("dlab") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found: dict[str, list[str]] = {}
    for line in lines:
        requirement = Requirement(line)
        marker = str(requirement.marker or "")
        if "extra ==" not in marker:
            continue
        extra = marker.split("extra ==", 1)[1].strip().strip("\"'")
        if extra == "dev" or requirement.name == "dlab":
            continue
        names = found.setdefault(extra, [])
        names.append(requirement.name)
        for inner in sorted(requirement.extras):  # e.g. tensorflow[and-cuda]: the CUDA wheels
            names += _extra_requirements(requirement.name, inner)
    return found


def _extra_requirements(distribution: str, extra: str) -> list[str]:
    try:
        lines = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    wanted = [Requirement(line) for line in lines]
    return [r.name for r in wanted if r.marker is not None and f'extra == "{extra}"' in str(r.marker)]


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
def _modules_by_distribution() -> dict[str, list[str]]:
    """Each installed distribution (normalized name) -> the top-level modules it installs."""
    found: dict[str, list[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            found.setdefault(_normalized(distribution), []).append(module)
    return found


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _version(distribution: str) -> str | None:
    """The installed version, or None when the distribution or its modules cannot be found.

    A distribution counts when one of the top-level modules its metadata lists can be found
    (a module half-removed by hand is not usable); one that installs no module at all (CUDA
    libraries under nvidia/, py-spy's binary) counts by its metadata alone.
    """
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    modules = _modules_by_distribution().get(_normalized(distribution), [])
    if not modules or distribution.startswith("nvidia-"):
        return version
    for module in modules:
        try:
            if importlib.util.find_spec(module) is not None:
                return version
        except (ImportError, ValueError):  # a module hidden or half-removed: not usable
            continue
    return None


def package_checks() -> list[Check]:
    """Python, dlab, every required distribution, and each optional extra (complete or not)."""
    ok_python = sys.version_info >= (3, 10)
    checks = [
        Check("python", f"{platform.python_version()} ({sys.executable})", "ok" if ok_python else "broken"),
        Check("dlab", __version__, "ok"),
    ]
    for name in required():
        version = _version(name)
        checks.append(
            Check(name, version or "not installed (pip install -e .)", "ok" if version else "broken")
        )
    for extra, names in extras().items():
        versions = {name: _version(name) for name in names}
        missing = [name for name, version in versions.items() if version is None]
        shown = ", ".join(f"{n} {v}" for n, v in versions.items() if v)
        if missing:
            listed = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            value = f"missing {listed} (pip install 'dlab[{extra}]')" + (f"; has {shown}" if shown else "")
            checks.append(Check(f"extra [{extra}]", value, "missing"))
        else:
            checks.append(Check(f"extra [{extra}]", shown, "ok"))
    return checks


def tensorflow_checks() -> list[Check]:
    """Import TensorFlow and Keras, then the backend, CUDA build and every GPU with its details."""
    prepare_environment()
    try:
        with captured_native_stderr([]):
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
