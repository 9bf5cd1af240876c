"""A persistent compilation cache: a model compiles once per machine, not once per process.

JAX compiles every train, test and predict function with XLA when a process first calls it,
and TensorFlow does the same for ``jit_compile`` models. Without a cache every ``dlab run``, and
every member of a sweep, pays that again for the very same model. Both libraries can keep the
compiled programs on disk, keyed by the program itself (its HLO, the library version, the
device and the flags), so a changed model, shape or dtype simply compiles anew and nothing stale
is ever loaded.

- JAX: ``jax_compilation_cache_dir`` with a size limit, which makes JAX use its LRU cache with a
  file lock (several sweep members starting at once each wait at most 10 s for the lock, then
  compile without the cache).
- TensorFlow: ``--tf_xla_persistent_cache_directory`` in ``TF_XLA_FLAGS``, set before TensorFlow
  is imported; each entry is written to a temporary file and renamed into place.

The cache lives in dlab's cache folder (``$XDG_CACHE_HOME/dlab/compile``); ``DLAB_COMPILE_CACHE``
names another folder, or ``off`` turns it off. Deleting the folder is always safe.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlab.config.sources import cache_folder

ENVIRONMENT = "DLAB_COMPILE_CACHE"
OFF = ("off", "0", "false", "no")
JAX_MAX_BYTES = 2 * 1024**3
"""JAX evicts the least recently used programs past this size (its LRU cache needs a limit)."""
JAX_MIN_COMPILE_S = 0.1
"""Keep programs that took at least this long to compile (JAX's default, 1 s, would keep none of a
small model's functions on a CPU, where each compiles in a fraction of a second)."""
TF_FLAG = "--tf_xla_persistent_cache_directory"


def cache_dir() -> Path | None:
    """The cache folder, or None when ``DLAB_COMPILE_CACHE`` turns it off."""
    chosen = os.environ.get(ENVIRONMENT, "").strip()
    if chosen.lower() in OFF:
        return None
    return Path(chosen).expanduser() if chosen else cache_folder() / "compile"


def enable(backend: str) -> Path | None:
    """Turn the cache on for ``backend`` (before its first compilation; for TensorFlow, before it
    is imported). Returns the folder used, or None (turned off, a backend without one, or a folder
    that cannot be made: the run then compiles as it would without a cache)."""
    root = cache_dir()
    if root is None or backend not in ("jax", "tensorflow"):
        return None
    folder = root / ("jax" if backend == "jax" else "tensorflow-xla")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if backend == "jax":
        import jax

        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_compilation_cache_max_size", JAX_MAX_BYTES)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", JAX_MIN_COMPILE_S)
        return folder
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if TF_FLAG in flags:  # the user chose a folder of their own: theirs wins
        return None
    os.environ["TF_XLA_FLAGS"] = f"{flags} {TF_FLAG}={folder}".strip()
    return folder
