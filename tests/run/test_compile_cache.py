"""The persistent compilation cache: a JAX run fills it, the next run of the same model reads it,
a changed model adds its own entries, and DLAB_COMPILE_CACHE=off turns it off."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlab.runtime import compile_cache

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="the JAX backend is not installed"
)  # not importorskip: collecting the suite must not import JAX


def run_jax(tmp_path: Path, cache: str, *sets: str) -> dict:
    env = {**os.environ, "DLAB_COMPILE_CACHE": cache}
    argv = [sys.executable, "-m", "dlab", "run", "mlp-mnist", "--smoke", "--backend", "jax", "-q"]
    argv += ["--out", str(tmp_path / "o"), "--no-save"]
    for setting in sets:
        argv += ["--set", setting]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1].split("run directory: ")[-1])
    return json.loads(
        ((tmp_path / run_dir) if not run_dir.is_absolute() else run_dir).joinpath("metrics.json").read_text()
    )


def steps(folder: Path) -> set[str]:
    """The cached train and test steps: the programs worth caching (a tiny op that compiles in
    about JAX's threshold, 0.1 s, is kept or not by chance)."""
    return {path.name for path in folder.glob("jit_*_step-*-cache")}


@pytest.mark.backend
def test_a_jax_run_fills_the_cache_and_a_changed_model_adds_to_it(tmp_path):
    cache = tmp_path / "cache"
    first = run_jax(tmp_path, str(cache))
    assert first["execution"]["compile_cache"] == str(cache / "jax")
    after_first = steps(cache / "jax")
    assert {name.split("-")[0] for name in after_first} == {"jit_train_step", "jit_test_step"}
    run_jax(tmp_path, str(cache))
    assert steps(cache / "jax") == after_first  # the same model: read from the cache, not compiled anew
    run_jax(tmp_path, str(cache), "model.hidden=[48]")
    assert len(steps(cache / "jax")) == 2 * len(after_first)  # another model: programs of its own


def test_the_cache_can_be_turned_off_or_moved(tmp_path, monkeypatch):
    monkeypatch.setenv("DLAB_COMPILE_CACHE", "off")
    assert compile_cache.cache_dir() is None and compile_cache.enable("jax") is None
    monkeypatch.setenv("DLAB_COMPILE_CACHE", str(tmp_path / "elsewhere"))
    assert compile_cache.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("DLAB_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == tmp_path / "xdg" / "dlab" / "compile"


def test_tensorflow_gets_the_cache_through_its_xla_flags_unless_the_user_set_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DLAB_COMPILE_CACHE", str(tmp_path))
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    folder = compile_cache.enable("tensorflow")
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 {compile_cache.TF_FLAG}={folder}"
    monkeypatch.setenv("TF_XLA_FLAGS", f"{compile_cache.TF_FLAG}=/mine")
    assert compile_cache.enable("tensorflow") is None and os.environ["TF_XLA_FLAGS"].endswith("=/mine")
    assert compile_cache.enable("torch") is None
