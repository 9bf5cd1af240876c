"""Fixtures of the model-command tests: run copies to damage, and folders that are read-only for
real (also for root). The trained runs they damage copies of are tests/conftest.py's ``runs``.

Not a conftest.py: a second module named ``conftest`` would shadow tests/conftest.py for the
``from conftest import write_cifar_npz`` of every test module collected after it. Test
modules bind the fixtures by name (``run_copy = use_fixtures.run_copy``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SMALL = ["data.train_samples=256", "data.test_samples=64"]
"""The overrides every test file trains cnn-cifar10 with, so they share one run."""


@pytest.fixture
def run_copy(tmp_path) -> Callable[[Path], Path]:
    """A copy of a trained run to damage (its inference.json, its files) without touching the original."""

    def copy(run_dir: Path) -> Path:
        target = tmp_path / f"copy-{run_dir.name}"
        shutil.copytree(run_dir, target)
        return target

    return copy


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for real while the block runs.

    A normal user gets ``chmod 555``. Root ignores permissions, so there the folder becomes a
    read-only bind mount of itself (a real EROFS, like a read-only disk); where root cannot
    mount, the test is skipped with that reason.
    """
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True, text=True, timeout=30
    )
    if mounted.returncode != 0:
        pytest.skip(f"running as root, which ignores permissions, and cannot mount: {mounted.stderr.strip()}")
    try:
        if os.access(folder, os.W_OK):  # an old mount that ignored ro on a bind
            pytest.skip("running as root and this mount does not make a bind mount read-only")
        yield
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)
