"""CBOW word embeddings: vectorized pairs, word2vec files, neighbours, safe loading, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlab.data.datasets.timemachine import synthetic_text
from dlab.errors import DataError
from dlab.models.embeddings import cbow_pairs, nearest_neighbours, pca_2d, read_word2vec, write_word2vec


def reference_pairs(ids, window, skip):
    """The textbook loop: every word with `window` words each side, context left then right."""
    contexts, targets = [], []
    for i in range(window, len(ids) - window):
        if ids[i] in skip:
            continue
        contexts.append(list(ids[i - window : i]) + list(ids[i + 1 : i + window + 1]))
        targets.append(ids[i])
    return np.array(contexts).reshape(-1, 2 * window), np.array(targets)


@pytest.mark.parametrize("window", [1, 2, 3])
def test_pairs_match_the_reference_loop(window):
    ids = np.random.default_rng(window).integers(0, 12, size=60)
    contexts, targets = cbow_pairs(ids, window, skip_targets=(0, 1))
    expected_contexts, expected_targets = reference_pairs(ids.tolist(), window, {0, 1})
    np.testing.assert_array_equal(contexts, expected_contexts)
    np.testing.assert_array_equal(targets, expected_targets)
    assert contexts.dtype == np.int32 and contexts.flags.c_contiguous


def test_pairs_on_a_tiny_sentence():
    contexts, targets = cbow_pairs(np.array([5, 6, 7, 8, 9]), 2)
    np.testing.assert_array_equal(contexts, [[5, 6, 8, 9]])
    np.testing.assert_array_equal(targets, [7])
    with pytest.raises(DataError, match="has 4 words; a window of 2 needs at least 5"):
        cbow_pairs(np.array([5, 6, 7, 8]), 2)


def test_word2vec_round_trip(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    write_word2vec(tmp_path / "v.txt", ["the", "time", "[UNK]", "machine"], vectors)
    lines = (tmp_path / "v.txt").read_text().splitlines()
    assert lines[0] == "4 3" and lines[2].split(" ")[0] == "time"
    words, read = read_word2vec(tmp_path / "v.txt")
    assert words == ["the", "time", "[UNK]", "machine"]
    np.testing.assert_allclose(read, vectors, rtol=1e-5)
    with pytest.raises(ValueError, match="whitespace"):
        write_word2vec(tmp_path / "w.txt", ["two words"], vectors[:1])


def test_nearest_neighbours_by_cosine_leave_out_the_word_and_the_excluded():
    vectors = np.array([[0, 0], [1, 0], [10, 1], [0, 1], [-1, 0], [1, 1]], dtype=float)
    (near,) = nearest_neighbours(vectors, [1], count=3, exclude=[0])
    assert [j for j, _ in near] == [2, 5, 3]  # cosine ignores length: 10,1 is closest to 1,0
    assert near[1][1] == pytest.approx(np.sqrt(0.5))


def test_pca_puts_the_largest_spread_on_the_first_axis():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 3)) * [0.1, 5.0, 1.0]
    projected = pca_2d(points)
    assert projected.shape == (200, 2)
    assert projected[:, 0].var() > 20 * points[:, 0].var()
    assert projected[:, 0].var() > projected[:, 1].var()


def write_book(tmp_path, chars=20_000):
    path = tmp_path / "book.txt"
    path.write_text(synthetic_text(chars, 0), encoding="utf-8")
    return path


def test_a_run_writes_word2vec_neighbours_and_a_model_that_loads_in_safe_mode(cli, tmp_path):
    import keras

    path = write_book(tmp_path)
    result = cli(
        "run",
        "cbow-text",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={path}",
        "--set",
        "model.probe_words=[Time, machine, zyzzyva, said, qwerty]",
        "--set",
        "model.embedding_dim=16",
        "--epochs",
        "2",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "cbow-text").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())

    lines = (run / "vectors.txt").read_text().splitlines()
    count, dimensions = map(int, lines[0].split())
    assert dimensions == 16 and count == len(lines) - 1 == metrics["embeddings"]["words"]
    assert all(len(line.split(" ")) == dimensions + 1 for line in lines[1:])
    words = [line.split(" ")[0] for line in lines[1:]]
    assert words[0] == "[UNK]" and "machine" in words and "" not in words

    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert model.get_layer("context_mean").__class__.__name__ == "GlobalAveragePooling1D"
    vectors = model.get_layer("embedding").get_weights()[0]
    _, written = read_word2vec(run / "vectors.txt")
    np.testing.assert_allclose(written, vectors[1:], rtol=1e-5, atol=1e-6)

    report = (run / "neighbours.txt").read_text().splitlines()
    assert report[0] == "warning: probe words not in the vocabulary: zyzzyva, qwerty"
    assert [line.split(":")[0] for line in report[1:]] == ["time", "machine", "said"]
    assert all(len(line.split("), ")) == 5 for line in report[1:])
    assert "warning: probe words not in the vocabulary: zyzzyva, qwerty" in result.output
    assert metrics["embeddings"]["unknown_probe_words"] == ["zyzzyva", "qwerty"]
    assert len(metrics["embeddings"]["neighbours"]["said"]) == 5
    assert "time" not in [w for w, _ in metrics["embeddings"]["neighbours"]["time"]]
    assert (run / "plots" / "embedding_pca.png").exists()
    assert metrics["data"]["window"] == 2 and metrics["data"]["pairs"] > 1000


def test_window_zero_is_refused_before_anything_runs(cli, tmp_path):
    result = cli("run", "cbow-text", "--smoke", "--set", "model.window=0")
    assert result.exit_code == 2, result.output
    assert "model.window" in result.output and "1" in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


def test_a_window_wider_than_the_text_is_refused(cli, tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the time machine", encoding="utf-8")
    result = cli("run", "cbow-text", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    assert "has 3 words; a window of 2 needs at least 5" in result.output


@pytest.mark.parametrize("content, expected", [(b"", "is empty"), (b"\xff\xfeoops", "is not UTF-8")])
def test_bad_text_files_exit_2(cli, tmp_path, content, expected):
    path = tmp_path / "book.txt"
    path.write_bytes(content)
    result = cli("run", "cbow-text", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
