"""Text datasets and models: encodings, the four sources, safe loading, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trees import write_acl_imdb

from dlab.config import DataConfig
from dlab.data import load_dataset
from dlab.data.modalities.text import multi_hot, pad, read_npz_safely
from dlab.errors import DataError


def test_multi_hot_equals_the_lab_report_loop():
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(0, 60, size=n)) for n in (0, 1, 5, 40, 17)]
    reference = np.zeros((len(sequences), 50))
    for i, sequence in enumerate(sequences):  # the lab report's loop, word by word
        for j in sequence:
            if j < 50:
                reference[i, j] = 1.0
    encoded = multi_hot(sequences, 50)
    assert encoded.dtype == np.uint8
    np.testing.assert_array_equal(encoded, reference)


def test_pad_keeps_the_last_words_at_the_end():
    padded = pad([[1, 2, 3, 4, 5], [7, 8]], maxlen=3)
    np.testing.assert_array_equal(padded, [[3, 4, 5], [0, 7, 8]])


def write_sequences_npz(path, max_index=40, n=30):
    rng = np.random.default_rng(1)
    docs = np.empty(n, dtype=object)
    docs[:] = [[1, *rng.integers(3, max_index, size=rng.integers(5, 20)).tolist()] for _ in range(n)]
    labels = rng.integers(0, 2, size=n)
    np.savez(path, x_train=docs, y_train=labels, x_test=docs[:10], y_test=labels[:10])
    return path


def test_file_source_reads_ragged_sequences_without_unsafe_pickle(tmp_path):
    path = write_sequences_npz(tmp_path / "imdb.npz")
    data = load_dataset(DataConfig(dataset="imdb", source="file", path=str(path), num_words=50), seed=0)
    assert len(data.x_train) == 30 and data.x_train[0][0] == 1
    assert data.extra["num_words"] == 50


class Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_crafted_npz_cannot_run_code(tmp_path, capsys):
    path = tmp_path / "evil.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = Exploit()
    np.savez(path, x_train=payload, y_train=np.zeros(1), x_test=payload, y_test=np.zeros(1))
    with pytest.raises(DataError, match="refusing to load builtins.print"):
        read_npz_safely(path)
    assert "must never run" not in capsys.readouterr().out
    with np.load(path, allow_pickle=True) as archive:  # plain NumPy with pickle runs the payload
        archive["x_train"]
    assert "must never run" in capsys.readouterr().out


def test_indices_beyond_num_words_say_what_to_set(tmp_path):
    path = write_sequences_npz(tmp_path / "imdb.npz", max_index=120)
    with pytest.raises(DataError, match=r"Set --set data.num_words=\d+"):
        load_dataset(DataConfig(dataset="imdb", source="file", path=str(path), num_words=50), seed=0)


def test_num_words_larger_than_the_vocabulary():
    with pytest.raises(DataError, match="larger than the reuters vocabulary"):
        load_dataset(DataConfig(dataset="reuters", source="synthetic", num_words=10**6), seed=0)


def test_dir_source_reads_an_acl_imdb_tree_with_vectorizer_fitted_on_train(tmp_path):
    root = write_acl_imdb(tmp_path / "aclImdb")
    data = load_dataset(DataConfig(dataset="imdb", source="dir", path=str(root), num_words=30), seed=0)
    assert len(data.x_train) == 12 and sorted(set(data.y_train.tolist())) == [0, 1]
    assert data.vocabulary[0] == "" and "great" in data.vocabulary
    assert "br" not in data.vocabulary  # line breaks are not words
    positive = data.x_train[int(np.argmax(data.y_train == 1))]
    assert "great" in [data.vocabulary[i] for i in positive]


@pytest.mark.parametrize(
    "layout, expected",
    [
        ({"polarities": ("pos",)}, "has no train/neg/ folder"),
        ({"splits": ("train",)}, "has no test/neg/ folder"),
    ],
)
def test_dir_source_layout_errors(tmp_path, layout, expected):
    root = write_acl_imdb(tmp_path / "aclImdb", **layout)
    with pytest.raises(DataError, match=expected):
        load_dataset(DataConfig(dataset="imdb", source="dir", path=str(root)), seed=0)


def test_dir_source_names_an_empty_review(tmp_path):
    root = write_acl_imdb(tmp_path / "aclImdb")
    (root / "test" / "neg" / "9_1.txt").write_text("  ")
    with pytest.raises(DataError, match="9_1.txt is empty"):
        load_dataset(DataConfig(dataset="imdb", source="dir", path=str(root)), seed=0)


def test_imdb_offline_message(monkeypatch):
    import keras

    def offline(num_words=None):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.imdb, "load_data", offline)
    with pytest.raises(DataError) as caught:
        load_dataset(DataConfig(dataset="imdb", source="keras"), seed=0)
    assert "imdb.npz" in str(caught.value) and "data.source=dir" in str(caught.value)


@pytest.mark.parametrize("name", ["mlp-imdb", "mlp-reuters", "lstm-imdb"])
def test_text_smoke_runs_beat_chance_and_write_predictions(cli, tmp_path, name):
    result = cli("run", name, "--smoke", "--no-save")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / name).iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    majority = 0.5 if "imdb" in name else 0.36  # Reuters: the largest topic holds ~35%
    assert metrics["test"]["accuracy"] > majority + 0.05
    predictions = (run / "predictions.txt").read_text()
    assert predictions.count("predicted") == 8 and "#" in predictions
    assert (run / "plots" / "confusion_matrix.png").is_file()
    assert metrics["execution"]["sparse_inputs"] is (name != "lstm-imdb")  # multi-hot: sparse batches


def test_sparse_and_dense_multi_hot_batches_train_the_same_model(cli, tmp_path):
    """Unshuffled, model.sparse_inputs changes how the batches travel, not what is learned."""
    finals = {}
    for sparse in ("true", "false"):
        out = f"out-{sparse}"
        sets = ["--set", f"model.sparse_inputs={sparse}", "--set", "train.shuffle=false"]
        result = cli("run", "mlp-reuters", "--smoke", "--no-save", "--epochs", "2", *sets, "--out", out)
        assert result.exit_code == 0, result.output
        (run,) = (tmp_path / out / "mlp-reuters").iterdir()
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["execution"]["sparse_inputs"] is (sparse == "true")
        final = metrics["final"]
        finals[sparse] = [final["train"]["loss"], final["val"]["loss"], metrics["test"]["loss"]]
    np.testing.assert_allclose(finals["true"], finals["false"], rtol=1e-4)


@pytest.mark.backend
def test_on_jax_the_multi_hot_batches_stay_dense(tmp_path):
    """JAX would compile its train step again for every batch's number of ones (see sparse_rows)."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "dlab", "run", "mlp-imdb", "--smoke", "--backend", "jax", "--no-save"]
    done = subprocess.run([*argv, "--out", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (metrics,) = (tmp_path / "out").glob("*/*/metrics.json")
    execution = json.loads(metrics.read_text())["execution"]
    assert execution["backend"] == "jax" and execution["sparse_inputs"] is False


def test_the_lstm_run_through_the_dir_source(cli, tmp_path):
    root = write_acl_imdb(tmp_path / "aclImdb", per_class=20)
    result = cli(
        "run",
        "lstm-imdb",
        "--epochs",
        "1",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={root}",
        "--set",
        "data.maxlen=12",
        "--set",
        "data.num_words=40",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "lstm-imdb").iterdir()
    assert "this film was" in (run / "predictions.txt").read_text()


def test_lstm_without_maxlen(cli):
    result = cli("run", "lstm-imdb", "--smoke", "--set", "data.maxlen=null")
    assert result.exit_code == 2 and "set data.maxlen" in result.output
