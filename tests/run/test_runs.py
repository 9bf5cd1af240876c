"""The run directory: unique folders, atomic writes, the console transcript."""

from __future__ import annotations

import io
import json
import multiprocessing
import time

import pytest

from dlab.errors import UsageError
from dlab.fileio import atomic_write_json, atomic_write_text
from dlab.run.directory import RunDir, _Tee, check_writable


def _create_in_child(args):
    root, stamp = args
    time.strftime = lambda *_: stamp  # every process lands in the same second
    return str(RunDir.create(root, "same-config").path)


def test_runs_started_in_the_same_second_get_distinct_folders(tmp_path):
    stamp = "20260101-000000"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        paths = pool.map(_create_in_child, [(tmp_path, stamp)] * 12)
    assert len(set(paths)) == 12
    assert all(f"/same-config/{stamp}-" in p for p in paths)


def test_atomic_write_replaces_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "nan": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2, "nan": None}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_files_get_the_mode_a_plain_write_would(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    atomic_write_json(tmp_path / "metrics.json", {"status": "completed"})
    mode = (tmp_path / "metrics.json").stat().st_mode & 0o777
    assert mode == plain.stat().st_mode & 0o777  # not mkstemp's private 0600


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "config.yaml"
    atomic_write_text(target, "old: 1\n")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"not serializable": object()})
    assert target.read_text() == "old: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_history_is_written_as_csv_and_json(tmp_path):
    run = RunDir(tmp_path)
    run.write_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    assert (tmp_path / "history.csv").read_text().splitlines() == [
        "epoch,loss,val_loss",
        "1,1.0,1.1",
        "2,0.5,0.7",
    ]
    assert json.loads((tmp_path / "history.json").read_text())["epoch"] == [1, 2]


def test_unwritable_output_root_is_a_usage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="Cannot write run outputs under"):
        check_writable(blocker / "outputs")


def test_tee_keeps_the_last_state_of_progress_lines_without_escapes():
    console, log = io.StringIO(), io.StringIO()
    tee = _Tee(console, log)
    tee.write("\x1b[1m1/2\x1b[0m loss: 2.0")
    tee.write("\b\b\b\b\r\x1b[1m2/2\x1b[0m loss: 1.0\n")
    tee.write("done\n")
    assert log.getvalue() == "2/2 loss: 1.0\ndone\n"
    assert "\x1b[1m1/2" in console.getvalue()  # the console is untouched


def test_learning_curves_overlay_many_runs_train_dashed_validation_solid():
    """The figure studies use: one colour per run, train dashed, validation solid."""
    from dlab.plots import learning_curves

    runs = [
        ("tiny", {"binary_crossentropy": [0.7, 0.6], "val_binary_crossentropy": [0.7, 0.65]}),
        ("large", {"binary_crossentropy": [0.6, 0.3], "val_binary_crossentropy": [0.66, 0.8]}),
    ]
    figure = learning_curves(runs, "binary_crossentropy", title="higgs")
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == [
        "tiny train",
        "tiny validation",
        "large train",
        "large validation",
    ]
    assert [line.get_linestyle() for line in lines] == ["--", "-", "--", "-"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()


def test_a_smoke_run_marks_its_figures_from_the_config_in_memory(tmp_path):
    """Whether figures say "smoke" comes from the run's config as the run holds it, not from
    reading config.yaml back (a resumed run passes it; a deleted config.yaml changes nothing)."""
    from dlab.framework.factory import resolve_config

    smoke = RunDir.create(tmp_path, "xor-mlp")
    assert smoke.synthetic is False
    smoke.write_config(resolve_config("cnn-cifar10", smoke=True))
    (smoke.path / "config.yaml").unlink()
    assert smoke.synthetic is True
    real = RunDir.create(tmp_path, "xor-mlp", synthetic=True)
    real.write_config(resolve_config("cnn-cifar10"))
    assert real.synthetic is False
    assert RunDir(smoke.path, synthetic=True).synthetic is True  # a resumed smoke run
