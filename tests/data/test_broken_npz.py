"""`dlab run` on an .npz that is empty or cut off: exit 2 naming the file, before anything is created.

Each .npz reader (the image datasets' ``data.source=file``, your own ``data.dataset=npz``, Boston
housing's file) used to let one of NumPy's own errors through: an empty file was an ``EOFError``
("the run could not start: EOFError: No data left in file", exit 1), a cut-off one a
``BadZipFile``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

READERS = {
    "mnist file": ("mlp-mnist", "data.source=file"),
    "own npz": ("mlp-mnist", "data.dataset=npz", "data.source=file"),
    "boston file": ("kfold-boston", "data.source=file"),
}


def broken(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.npz"
    if kind == "empty":
        path.write_bytes(b"")
        return path
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.random((50, 4)), y=rng.random(50))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("kind, phrase", [("empty", "the file is empty"), ("cut", "not a complete .npz")])
@pytest.mark.parametrize("reader", READERS)
def test_a_broken_npz_stops_the_run_with_exit_2(cli, tmp_path, reader, kind, phrase):
    config, *sets = READERS[reader]
    path = broken(tmp_path, kind)
    arguments = [item for value in [*sets, f"data.path={path}"] for item in ("--set", value)]
    result = cli("run", config, "--epochs", "1", *arguments)
    assert result.exit_code == 2, result.output
    assert f"Cannot read {path} as an .npz file" in result.output and phrase in result.output
    assert "Traceback" not in result.output and "could not start" not in result.output
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("metrics.json"))
