"""dlab predict / export / evaluate on smoke runs: raw inputs give what model.predict gives on the
run's own preprocessed test arrays, exports reproduce the Keras model, bad input is refused clearly."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from use_fixtures import SMALL

from dlab import api
from dlab.framework import registry
from dlab.use.predict import probabilities
from dlab.use.runs import keras_model, open_run, run_config

pytestmark = pytest.mark.heavy


def model_and_test_split(run_dir: Path):
    """The run's model and its test split as the run encoded it (the same synthetic twin)."""
    run = open_run(run_dir)
    config = run_config(run)
    data = registry.get(config.experiment)().load_data(config)
    return run, keras_model(run), data


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_predict_png_files_match_model_predict_on_the_test_arrays(runs, cli, tmp_path):
    from PIL import Image

    run, model, data = model_and_test_split(runs("cnn-cifar10", *SMALL))
    x = data.x_test[:8]
    files = []
    for i, image in enumerate(x):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        files.append(str(tmp_path / f"{i}.png"))
    expected = probabilities(model.predict(x, verbose=0), "logits")
    result = cli("predict", str(run.path), *files, "--top", "3", "-o", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "p.csv")
    assert [r["class"] for r in rows] == [run.class_names[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose([float(r["probability"]) for r in rows], expected.max(axis=1), atol=1e-5)
    assert len(rows[0]["top"].split("; ")) == 3


def test_predict_jpeg_and_folders_resize_like_the_image_pipeline(runs, cli, tmp_path):
    import tensorflow as tf
    from PIL import Image

    run, model, _ = model_and_test_split(runs("cnn-cifar10", *SMALL))
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / "a.jpg", quality=95)
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(folder / "b.png")  # gray -> RGB
    pixels = []
    for name in ("a.jpg", "b.png"):
        image = tf.io.decode_image((folder / name).read_bytes(), channels=3, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), (32, 32), method="bilinear")
        pixels.append(np.asarray(tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)))
    expected = probabilities(model.predict(np.stack(pixels), verbose=0), "logits")
    result = api.predict(run.path, [str(folder)], top=2)
    assert [r["input"] for r in result.rows] == [str(folder / "a.jpg"), str(folder / "b.png")]
    np.testing.assert_allclose([r["probability"] for r in result.rows], expected.max(axis=1), atol=1e-5)


def test_predict_text_lines_match_model_predict_on_the_encoded_documents(runs, cli, tmp_path):
    from dlab.data import load_dataset
    from dlab.data.modalities.text import decode

    run, model, data = model_and_test_split(runs("mlp-imdb"))
    config = run_config(run)
    raw = load_dataset(config.data, config.seed)  # the word-index documents before multi-hot
    lines = [decode(document, None) for document in raw.x_test[:6]]
    (tmp_path / "reviews.txt").write_text("\n".join(lines) + "\n")
    expected = probabilities(model.predict(data.x_test[:6], verbose=0), run.spec["output"])
    result = cli("predict", str(run.path), str(tmp_path / "reviews.txt"), "-o", "out.csv")
    assert result.exit_code == 0, result.output
    rows = read_csv(Path("out.csv"))
    assert [r["class"] for r in rows] == [run.class_names[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose([float(r["probability"]) for r in rows], expected.max(axis=1), atol=1e-5)


def test_predict_csv_rows_by_column_name_match_the_regressor(runs, cli, tmp_path):
    run, model, data = model_and_test_split(runs("kfold-boston"))
    features = run.spec["table"]["features"]
    assert features[0] == "CRIM" and len(features) == 13
    order = list(reversed(features))  # columns are found by name, not by position
    with open(tmp_path / "houses.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *order])
        for i, row in enumerate(data.x_test[:5]):
            writer.writerow([i, *(row[features.index(name)] for name in order)])
    expected = model.predict(data.x_test[:5], verbose=0)[:, 0]
    result = cli("predict", str(run.path), str(tmp_path / "houses.csv"), "-o", "v.csv")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose([float(r["value"]) for r in read_csv(Path("v.csv"))], expected, rtol=1e-5)

    (tmp_path / "short.csv").write_text("CRIM,ZN\n1,2\n")
    refused = cli("predict", str(run.path), str(tmp_path / "short.csv"))
    assert refused.exit_code == 2
    assert "lacks the feature column(s) INDUS, CHAS" in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize("name", ["cnn-cifar10", "mlp-imdb", "kfold-boston"])
@pytest.mark.parametrize("fmt", ["saved_model", "litert", "onnx"])
def test_export_round_trips_within_1e_4(runs, name, fmt, tmp_path):
    run_dir = runs(name, *SMALL) if name == "cnn-cifar10" else runs(name)
    suffix = {"saved_model": "", "litert": ".tflite", "onnx": ".onnx"}[fmt]
    result = api.export(run_dir, fmt, output=tmp_path / f"model-{fmt}{suffix}")
    assert result.passed and result.max_abs_diff <= 1e-4
    assert result.samples == 32 and result.path.exists()


def test_bad_input_is_refused_with_exit_2(runs, cli, tmp_path, monkeypatch):
    run_dir = runs("cnn-cifar10", *SMALL)
    unknown = cli("export", str(run_dir), "--format", "tflite")
    assert unknown.exit_code == 2 and "Did you mean 'litert'?" in unknown.output
    wrong_name = cli("export", str(run_dir), "--format", "litert", "-o", "model.bin")
    assert wrong_name.exit_code == 2 and ".tflite" in wrong_name.output
    assert cli("predict", str(run_dir), "x.png", "--top", "0").exit_code == 2

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the export extra were not installed
    missing = cli("export", str(run_dir), "--format", "onnx")
    assert missing.exit_code == 2 and "onnxruntime" in missing.output and "dlab[export]" in missing.output

    np.savez(tmp_path / "wrong.npz", x=np.zeros((2, 28, 28, 1), np.uint8))
    wrong = cli("predict", str(run_dir), str(tmp_path / "wrong.npz"))
    assert wrong.exit_code == 2 and "(N, 32, 32, 3)" in wrong.output

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    skipped = cli("predict", str(run_dir), str(tmp_path / "broken.png"))
    assert skipped.exit_code == 1 and "skipped" in skipped.output and "broken.png" in skipped.output


def test_runs_without_a_usable_model_are_refused(runs, cli, tmp_path):
    no_save = api.run("mlp-mnist", smoke=True, out=tmp_path, save_model=False).run_dir
    result = cli("predict", str(no_save), "x.png")
    assert result.exit_code == 2 and "--no-save" in result.output

    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "config.yaml").write_text((no_save / "config.yaml").read_text())
    (failed / "metrics.json").write_text(
        json.dumps({"status": "failed", "error": {"type": "X", "message": "y"}})
    )
    result = cli("export", str(failed), "--format", "saved_model")
    assert result.exit_code == 2 and "is failed" in result.output and "Traceback" not in result.output


def test_evaluate_on_another_copy_writes_an_evaluation(runs, cli, tmp_path):
    from conftest import write_cifar_npz

    run_dir = runs("cnn-cifar10", *SMALL)
    same = api.evaluate(run_dir)  # the run's own (synthetic) test split again: its own numbers
    assert same.metrics["accuracy"] == pytest.approx(same.run_test["accuracy"], abs=1e-6)
    npz = write_cifar_npz(tmp_path / "cifar10.npz")
    result = cli("evaluate", str(run_dir), "--set", "data.source=file", "--set", f"data.path={npz}")
    assert result.exit_code == 0, result.output
    assert "run's test" in result.output
    written = sorted((run_dir / "evaluations").glob("*.json"), key=lambda path: path.stat().st_mtime_ns)
    record = json.loads(written[-1].read_text())  # the newest: names made in one second need not sort
    assert record["data"]["source"] == "file" and record["data"]["test_samples"] == 20
    assert cli("evaluate", str(run_dir), "--set", "train.epochs=3").exit_code == 2


def test_segmentation_writes_a_mask_png_per_image(runs, tmp_path):
    from PIL import Image

    run, _, data = model_and_test_split(runs("segmentation-pets"))
    images = next(iter(data.batches("test", 2)))[0]
    for i, image in enumerate(np.asarray(images)):
        Image.fromarray(image).save(tmp_path / f"pet{i}.png")
    result = api.predict(
        run.path, [str(tmp_path / "pet0.png"), str(tmp_path / "pet1.png")], output=tmp_path / "m"
    )
    masks = sorted((tmp_path / "m").glob("*-mask.png"))
    assert len(masks) == 2 and result.exit_code == 0
    mask = np.asarray(Image.open(masks[0]))
    assert mask.shape == np.asarray(images).shape[1:3] and mask.max() < len(run.class_names)


def test_jena_forecasts_from_a_raw_csv_window(runs, tmp_path):
    run, model, data = model_and_test_split(runs("dense-jena"))
    series = run.spec["series"]
    rows = data.rows.x_test * np.asarray(series["std"]) + np.asarray(series["mean"])  # raw units again
    length, rate = series["sequence_length"], series["sampling_rate"]
    window = rows[: rate * (length - 1) + 1]
    with open(tmp_path / "window.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(series["columns"])
        writer.writerows(window.tolist())
    expected = model.predict(data.rows.x_test[: len(window) : rate][None], verbose=0)[0, 0]
    result = api.predict(run.path, [str(tmp_path / "window.csv")])
    assert result.rows[0]["forecast"] == pytest.approx(float(expected), abs=1e-3)
