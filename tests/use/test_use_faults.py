"""The model commands (predict, evaluate, export) on damaged runs, broken inputs and paths they must
not write: each case ends with a clear message and exit 2 (or a named, counted skip), never a
traceback, a hang, a file of the user's deleted or overwritten, or a silent wrong answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import use_fixtures
from use_fixtures import SMALL, read_only

from dlab import api
from dlab.use.mask_names import mask_names

run_copy = use_fixtures.run_copy

SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- do not read me"


def image_run(runs) -> Path:
    return runs("cnn-cifar10", *SMALL)


def refused(result, *phrases: str) -> None:
    """Exit 2 with every phrase in the message, and no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output
    for phrase in phrases:
        assert phrase in result.output, (phrase, result.output)


def set_spec(run_dir: Path, section: str, **values) -> None:
    path = run_dir / "inference.json"
    spec = json.loads(path.read_text())
    spec[section].update(values)
    path.write_text(json.dumps(spec))


# --------------------------------------------------------------------------- export (issue 31, case 1)


@pytest.mark.heavy
def test_export_never_deletes_a_path_dlab_did_not_make(runs, cli, tmp_path):
    run_dir = image_run(runs)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file.txt").write_text("important")
    plain = cli("export", str(run_dir), "--format", "saved_model", "--output", str(victim))
    refused(plain, f"{victim} exists already", "add --force to replace it if it is an export dlab made")
    forced = cli("export", str(run_dir), "--format", "saved_model", "--output", str(victim), "--force")
    refused(forced, "has no readable dlab-export.json", "never deletes what it did not write")
    assert (victim / "file.txt").read_text() == "important"

    (tmp_path / "model.onnx").write_text("the user's own model")
    refused(cli("export", str(run_dir), "-f", "onnx", "-o", "model.onnx"), "exists already", "--force")
    refused(cli("export", str(run_dir), "-f", "onnx", "-o", "model.onnx", "--force"), "no readable")
    assert (tmp_path / "model.onnx").read_text() == "the user's own model"

    before = sorted(p.name for p in run_dir.iterdir())
    refused(cli("export", str(run_dir), "-f", "onnx", "-o", str(run_dir), "--force"), "is the run folder")
    refused(cli("export", str(run_dir), "-f", "onnx", "-o", str(run_dir.parent), "--force"), "holds the run")
    refused(cli("export", str(run_dir), "-f", "onnx", "-o", ".", "--force"), "the working folder")
    assert sorted(p.name for p in run_dir.iterdir()) == before and (run_dir / "model.keras").is_file()

    (tmp_path / "a-file").write_text("x")
    under_a_file = cli("export", str(run_dir), "-f", "onnx", "-o", "a-file/model.onnx")
    refused(under_a_file, "a-file is a file, not a folder")


@pytest.mark.heavy
def test_force_replaces_only_an_unchanged_export_dlab_made(runs, cli, tmp_path):
    run_dir = runs("kfold-boston")
    target = tmp_path / "exported"
    first = api.export(run_dir, "saved_model", output=target)
    assert first.passed and (target / "dlab-export.json").is_file()
    refused(cli("export", str(run_dir), "-f", "saved_model", "-o", str(target)), "exists already")
    again = api.export(run_dir, "saved_model", output=target, force=True)
    assert again.passed and (target / "saved_model.pb").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dlab-export-")]  # no scratch left

    (target / "notes.txt").write_text("mine")
    result = cli("export", str(run_dir), "-f", "saved_model", "-o", str(target), "--force")
    refused(result, "holds files dlab did not write there (notes.txt)")
    assert (target / "notes.txt").read_text() == "mine"


@pytest.mark.heavy
def test_a_read_only_run_refuses_a_default_export_and_an_evaluation(runs, run_copy, cli, tmp_path):
    run_dir = run_copy(image_run(runs))
    before = sorted(run_dir.rglob("*"))
    with read_only(run_dir):
        export = cli("export", str(run_dir), "--format", "saved_model")
        evaluation = cli("evaluate", str(run_dir))
    assert sorted(run_dir.rglob("*")) == before
    refused(export, f"cannot write into {run_dir / 'export'}", "--output PATH")
    refused(evaluation, f"cannot write into {run_dir / 'evaluations'}", "copy the run")


# --------------------------------------------------------------------------- masks (case 10)


def test_mask_names_keep_what_tells_images_apart():
    assert mask_names(["a/cat.png", "b/cat.png", "b/cat.jpg", "dog.png"]) == [
        "a-cat-png-mask.png",
        "b-cat-png-mask.png",
        "cat-jpg-mask.png",
        "dog-mask.png",
    ]
    assert mask_names(["x.npz[0]", "x.npz[1]"]) == ["x.npz-0-mask.png", "x.npz-1-mask.png"]
    twice = mask_names(["cat.png", "./cat.png", "CAT.png"])  # one file twice; case-blind file systems
    assert len({name.lower() for name in twice}) == 3
    assert mask_names(["b/cat.png", "a/cat.png"]) == mask_names(["b/cat.png", "a/cat.png"])


@pytest.mark.heavy
def test_segmentation_masks_of_one_stem_do_not_overwrite_each_other(runs, cli, tmp_path):
    from PIL import Image

    run_dir = runs("segmentation-pets")
    rng = np.random.default_rng(0)
    for name in ("a/cat.png", "b/cat.png", "b/cat.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / name)
    result = cli("predict", str(run_dir), "a/cat.png", "b/cat.png", "b/cat.jpg", "-o", "masks")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "masks").iterdir())
    assert written == ["a-cat-png-mask.png", "b-cat-png-mask.png", "cat-jpg-mask.png"]
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "masks").iterdir()}

    again = cli("predict", str(run_dir), "a/cat.png", "b/cat.png", "b/cat.jpg", "-o", "masks")
    refused(again, "3 of the files to write exist already", "cat-jpg-mask.png", "never overwrites")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "cat-mask.png").write_text("the user's file")
    refused(cli("predict", str(run_dir), "b/cat.jpg", "-o", "mine"), "mine/cat-mask.png")  # alone: its stem
    assert (tmp_path / "mine" / "cat-mask.png").read_text() == "the user's file"
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "masks").iterdir()} == stamps


# --------------------------------------------------------------------------- files a run names (case 11)


@pytest.mark.heavy
def test_a_fifo_named_as_the_vocabulary_is_refused_at_once(runs, run_copy, tmp_path):
    run_dir = run_copy(runs("mlp-imdb"))
    os.mkfifo(run_dir / "words.fifo")
    set_spec(run_dir, "text", scheme="keras", vocabulary="words.fifo")
    done = subprocess.run(  # a hang would end in TimeoutExpired: the test fails instead of blocking
        [sys.executable, "-m", "dlab", "predict", str(run_dir), "a wonderful film"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "text.vocabulary names 'words.fifo', which is not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.heavy
@pytest.mark.parametrize("how", ["dotdot", "absolute", "link", "model-link"])
def test_a_run_cannot_make_predict_read_outside_its_folder(runs, run_copy, cli, tmp_path, how):
    run_dir = run_copy(runs("mlp-imdb"))
    secret = tmp_path / "secret" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    if how == "dotdot":
        set_spec(run_dir, "text", scheme="keras", vocabulary="../secret/id_rsa")
    elif how == "absolute":
        set_spec(run_dir, "text", scheme="keras", vocabulary=str(secret))
    elif how == "link":
        (run_dir / "vocabulary.txt").symlink_to(secret)
        set_spec(run_dir, "text", scheme="keras", vocabulary="vocabulary.txt")
    else:  # model.keras as a link to a model outside the run
        outside = tmp_path / "other.keras"
        (run_dir / "model.keras").rename(outside)
        (run_dir / "model.keras").symlink_to(outside)
    result = cli("predict", str(run_dir), "a wonderful film")
    phrase = "it must name a file inside the run folder" if how == "absolute" else "leads outside the run"
    refused(result, phrase)
    assert "do not read me" not in result.output


# --------------------------------------------------------------------------- broken and bad inputs


@pytest.mark.heavy
def test_broken_npz_inputs_exit_2_not_aborted(runs, cli, tmp_path):
    run_dir = image_run(runs)
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "whole.npz", x=np.zeros((3, 32, 32, 3), np.uint8))
    data = (tmp_path / "whole.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    np.savez(tmp_path / "none.npz")
    np.savez(tmp_path / "zero.npz", x=np.zeros((0, 32, 32, 3), np.uint8))
    refused(cli("predict", str(run_dir), "empty.npz"), "empty.npz", "the file is empty")
    refused(cli("predict", str(run_dir), "cut.npz"), "cut.npz", "not a complete .npz archive")
    refused(cli("predict", str(run_dir), "none.npz"), "none.npz: the .npz holds no arrays")
    refused(cli("predict", str(run_dir), "zero.npz"), "zero.npz: array 'x' holds no samples")
    evaluation = cli("evaluate", str(run_dir), "--set", "data.source=file", "--set", "data.path=cut.npz")
    refused(evaluation, "cut.npz", "not a complete .npz archive")


@pytest.mark.heavy
def test_image_values_a_cast_would_change_are_refused(runs, cli, tmp_path):
    run_dir = image_run(runs)
    x = np.full((4, 32, 32, 3), 7.0, np.float32)
    x[1, 2, 3, 0], x[2, 0, 0, 1], x[3, 5, 5, 2] = np.nan, 300.0, -5.0
    np.savez(tmp_path / "bad.npz", x=x)
    result = cli("predict", str(run_dir), "bad.npz")
    refused(result, "holds 3 values that are not pixel values", "x[1, 2, 3, 0] = nan")
    np.savez(tmp_path / "fine.npz", x=np.full((2, 32, 32, 3), 7.0, np.float32))  # whole numbers: taken
    assert cli("predict", str(run_dir), "fine.npz").exit_code == 0


@pytest.mark.heavy
def test_table_rows_that_are_not_finite_are_skipped_alike_from_csv_and_npz(runs, cli, tmp_path):
    run_dir = runs("kfold-boston")
    features = json.loads((run_dir / "inference.json").read_text())["table"]["features"]
    x = np.ones((4, len(features)))
    x[1, 2], x[2, 5] = np.nan, 1e300
    np.savez(tmp_path / "rows.npz", x=x)
    lines = [",".join(features)] + [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in x]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    answers = {}
    for name in ("rows.npz", "rows.csv"):
        result = cli("predict", str(run_dir), name, "-o", f"{name}.out")
        assert result.exit_code == 1, result.output
        assert f"{features[2]} is not a number" in result.output
        assert f"{features[5]} = 1e+300 is beyond float32" in result.output
        assert "skipped 2 of 4 inputs" in result.output
        answers[name] = (tmp_path / f"{name}.out").read_text().splitlines()[1:]
    assert [row.split(",", 1)[1] for row in answers["rows.npz"]] == [
        row.split(",", 1)[1] for row in answers["rows.csv"]
    ]
    assert [row.split(",", 1)[0] for row in answers["rows.csv"]] == ["rows.csv:1", "rows.csv:4"]

    (tmp_path / "header.csv").write_text(",".join(features) + "\n")
    refused(cli("predict", str(run_dir), "header.csv"), "header.csv: no rows in it")


@pytest.mark.heavy
def test_text_inputs_with_no_documents_or_that_are_not_text_exit_2(runs, cli, tmp_path):
    run_dir = runs("mlp-imdb")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(2_000_000))
    (tmp_path / "latin1.txt").write_bytes("un film tr\xe8s beau\n".encode("latin-1"))
    refused(cli("predict", str(run_dir), "empty.txt"), "empty.txt: no documents in it")
    refused(cli("predict", str(run_dir), "random.bin"), "random.bin: not a text file (a NUL byte")
    refused(cli("predict", str(run_dir), "latin1.txt"), "latin1.txt: not UTF-8 text (byte 0xe8 at offset 10")


@pytest.mark.heavy
def test_predict_output_that_cannot_be_written_is_refused_before_predicting(runs, cli, tmp_path):
    run_dir = runs("mlp-imdb")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "kept.csv").write_text("the user's table")
    refused(cli("predict", str(run_dir), "good", "-o", "a-folder"), "a-folder is a folder")
    refused(cli("predict", str(run_dir), "good", "-o", "a-file/p.csv"), "a-file is a file, not a folder")
    refused(cli("predict", str(run_dir), "good", "-o", "kept.csv"), "kept.csv exists already")
    assert (tmp_path / "kept.csv").read_text() == "the user's table"
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = cli("predict", str(run_dir), "good", "-o", "locked/p.csv")
    refused(result, "cannot write into locked")
    assert not (locked / "p.csv").exists()
