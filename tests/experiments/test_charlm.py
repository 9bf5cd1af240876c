"""Character language models: vocabulary, d2l's sampling, perplexity, generation, the CLI runs."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from dlab.config import DataConfig
from dlab.data import load_dataset
from dlab.data.datasets import timemachine
from dlab.data.datasets.timemachine import URL, synthetic_text
from dlab.data.modalities.characters import (
    CHARACTERS,
    batches_per_epoch,
    char_batches,
    decode,
    encode,
    epoch_batches,
    preprocess,
    random_batches,
    sequential_batches,
)

# --------------------------------------------------------------------------- d2l, transcribed


def d2l_sequential(corpus, batch_size, num_steps, offset):
    """d2l's seq_data_iter_sequential with the random offset given (d2l.ai 8.3.4.2)."""
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    xs = np.array(corpus[offset : offset + num_tokens])
    ys = np.array(corpus[offset + 1 : offset + 1 + num_tokens])
    xs, ys = xs.reshape(batch_size, -1), ys.reshape(batch_size, -1)
    num_batches = xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield xs[:, i : i + num_steps], ys[:, i : i + num_steps]


def d2l_random(corpus, batch_size, num_steps, offset, shuffle):
    """d2l's seq_data_iter_random with the offset and the shuffle given (d2l.ai 8.3.4.1)."""
    corpus = corpus[offset:]
    num_subseqs = (len(corpus) - 1) // num_steps
    initial_indices = np.array(list(range(0, num_subseqs * num_steps, num_steps)))
    shuffle(initial_indices)

    def data(pos):
        return corpus[pos : pos + num_steps]

    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        per_batch = initial_indices[i : i + batch_size]
        yield np.array([data(j) for j in per_batch]), np.array([data(j + 1) for j in per_batch])


@pytest.mark.parametrize("length, batch_size, num_steps", [(35, 2, 5), (1000, 4, 7), (997, 3, 35)])
@pytest.mark.parametrize("offset", [0, 1, 4])
def test_sequential_sampling_matches_d2l(length, batch_size, num_steps, offset):
    corpus = np.arange(length)
    x, y = sequential_batches(corpus, batch_size, num_steps, offset)
    reference = list(d2l_sequential(list(corpus), batch_size, num_steps, offset))
    assert len(x) == len(reference)
    for (ref_x, ref_y), got_x, got_y in zip(reference, x, y, strict=True):
        np.testing.assert_array_equal(got_x, ref_x)
        np.testing.assert_array_equal(got_y, ref_y)
    np.testing.assert_array_equal(y, x + 1)  # the next token
    if len(x):
        # each row continues the same row of the batch before: one contiguous stream per row
        streams = x.transpose(1, 0, 2).reshape(batch_size, -1)
        np.testing.assert_array_equal(np.diff(streams, axis=1), 1)
        assert streams[0, 0] == offset
        # row r starts where d2l's reshape puts it: the streams tile the corpus from the offset
        row_length = (len(corpus) - offset - 1) // batch_size
        np.testing.assert_array_equal(streams[:, 0], offset + np.arange(batch_size) * row_length)


@pytest.mark.parametrize("length, batch_size, num_steps", [(100, 2, 5), (1000, 4, 7), (3000, 8, 35)])
@pytest.mark.parametrize("offset", [0, 3])
def test_random_sampling_matches_d2l(length, batch_size, num_steps, offset):
    corpus = np.arange(length)
    x, y = random_batches(corpus, batch_size, num_steps, offset, np.random.default_rng(7))
    reference = list(d2l_random(corpus, batch_size, num_steps, offset, np.random.default_rng(7).shuffle))
    assert len(x) == len(reference) > 0
    for (ref_x, ref_y), got_x, got_y in zip(reference, x, y, strict=True):
        np.testing.assert_array_equal(got_x, ref_x)
        np.testing.assert_array_equal(got_y, ref_y)
    np.testing.assert_array_equal(y, x + 1)
    starts = x[:, :, 0].ravel()
    # distinct, non-overlapping subsequences on the offset's grid, all of them while whole batches last
    assert len(set(starts.tolist())) == starts.size
    assert np.all((starts - offset) % num_steps == 0)
    assert starts.size == ((length - offset - 1) // num_steps // batch_size) * batch_size


def epoch_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """One pass over a char_batches dataset (what Keras reads in one epoch), stacked."""
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    return np.stack(xs), np.stack(ys)


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_every_pass_is_a_whole_epoch_with_a_new_draw(sampling):
    corpus = (np.arange(5000) % 28).astype(np.int32)
    count = batches_per_epoch(5000, 4, 35)
    batches = char_batches(corpus, sampling, 4, 35, seed=0)
    assert len(batches) == count  # Keras reads the length without iterating
    reference = np.random.default_rng(0)  # the draws char_batches makes, in the same order
    firsts = set()
    for _ in range(6):
        x, y = epoch_arrays(batches)
        assert x.shape == y.shape == (count, 4, 35) and x.dtype == np.int32
        offset = int(reference.integers(0, 35))
        want_x, want_y = epoch_batches(corpus, sampling, 4, 35, offset, reference)
        np.testing.assert_array_equal(x, want_x[:count])
        np.testing.assert_array_equal(y, want_y[:count])
        firsts.add(int(x[0, 0, 0]))
    assert len(firsts) > 1  # each pass redraws


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_validation_batches_are_the_same_every_pass(sampling):
    corpus = (np.arange(5000) % 28).astype(np.int32)
    fixed = char_batches(corpus, sampling, 4, 35, seed=0, redraw=False)
    first, again = epoch_arrays(fixed), epoch_arrays(fixed)
    np.testing.assert_array_equal(first[0], again[0])
    want_x, _ = epoch_batches(corpus, sampling, 4, 35, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(first[0], want_x[: len(fixed)])


def test_keras_trains_every_epoch_on_the_next_draw():
    """Through model.fit: each epoch reads one whole new draw, in order (not a replay of the first)."""
    import keras

    corpus = (np.arange(3000) % 28).astype(np.int32)
    count = batches_per_epoch(3000, 4, 35)
    rows: list[np.ndarray] = []

    class Recorder(keras.layers.Layer):
        def call(self, inputs):
            if not isinstance(inputs, keras.KerasTensor):  # eager batches (run_eagerly below)
                rows.append(keras.ops.convert_to_numpy(inputs).copy())
            return keras.ops.cast(inputs, "float32")

        def compute_output_spec(self, inputs):
            return keras.KerasTensor(inputs.shape, "float32")

    inputs = keras.Input(batch_shape=(4, 35), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(1)(Recorder()(inputs)))
    model.compile(loss="mse", optimizer="sgd", run_eagerly=True)
    batches = char_batches(corpus, "sequential", 4, 35, seed=3)
    model.fit(
        batches.map(lambda x, y: (x, keras.ops.cast(y[:, :1], "float32"))), epochs=3, verbose=0, shuffle=False
    )

    reference = np.random.default_rng(3)
    draws = []
    for _ in range(5):
        x, _ = epoch_batches(corpus, "sequential", 4, 35, int(reference.integers(0, 35)), reference)
        draws.append(x[:count])
    epochs = np.stack(rows[-3 * count :]).reshape(3, count, 4, 35)
    first = next(i for i, draw in enumerate(draws) if np.array_equal(draw, epochs[0]))
    for epoch in range(3):  # consecutive draws (Keras may look at one batch of a draw first)
        np.testing.assert_array_equal(epochs[epoch], draws[first + epoch])
    assert not np.array_equal(epochs[0], epochs[1])


def test_vocabulary_and_preprocessing_follow_d2l():
    assert len(CHARACTERS) == 28 and CHARACTERS[0] == "<unk>" and CHARACTERS[1] == " "
    text = preprocess("The Time-Machine,\nby H. G. Wells [1898]\n\n")
    assert text == "the time machine by h g wells"
    ids = encode(text)
    assert ids.dtype == np.int32 and ids.max() < 28 and decode(ids) == text
    assert decode(encode("a\u00e9b")) == "a??b"  # a character outside the vocabulary is <unk>


# --------------------------------------------------------------------------- perplexity


def test_perplexity_is_exp_of_the_mean_token_cross_entropy():
    from dlab.training.losses import Perplexity

    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(2, 3, 28)).astype("float32"), rng.normal(size=(1, 3, 28)).astype("float32")]
    labels = [rng.integers(0, 28, size=(2, 3)), rng.integers(0, 28, size=(1, 3))]
    metric = Perplexity()
    entropies = []
    for z, t in zip(logits, labels, strict=True):
        metric.update_state(t, z)
        log_softmax = z - np.log(np.exp(z).sum(-1, keepdims=True))
        entropies.extend(-np.take_along_axis(log_softmax, t[..., None], -1).ravel())
    # the mean over all 9 tokens, not the mean of the two batch means
    assert float(metric.result()) == pytest.approx(math.exp(np.mean(entropies)), rel=1e-5)
    metric.reset_state()
    metric.update_state(labels[0], np.log(np.full((2, 3, 28), 1 / 28, "float32")))
    assert float(metric.result()) == pytest.approx(28.0, rel=1e-5)  # uniform guess: vocabulary size


# --------------------------------------------------------------------------- generation


def test_generation_with_carried_state_equals_rereading_the_whole_text():
    import keras
    from dlab.experiments.charlm import CharLanguageModelConfig, char_model

    from dlab.models.sequences import generate

    settings = CharLanguageModelConfig(cell="gru", units=8)
    keras.utils.set_random_seed(3)
    step = char_model(settings, 28, 1, None, stateful=True, name="step")
    whole = char_model(settings, 28, None, None, stateful=False, name="whole")
    whole.set_weights(step.get_weights())
    text = generate(step, "Time Traveller", 12)
    assert text.startswith("time traveller") and len(text) == len("time traveller") + 12
    ids = list(encode("time traveller"))
    for _ in range(12):  # the slow way: read everything again for every character
        ids.append(int(np.asarray(whole(np.array([ids])))[0, -1].argmax()))
    assert text == decode(ids)
    assert generate(step, "time traveller", 12) == text  # the state is reset every call


# --------------------------------------------------------------------------- data sources


def test_synthetic_text_is_deterministic_from_the_seed():
    assert synthetic_text(2000, 1) == synthetic_text(2000, 1) != synthetic_text(2000, 2)
    assert len(synthetic_text(2000, 1)) >= 2000


def test_corpus_split_keeps_order_and_next_token_targets(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("Abc def!\n" * 50, encoding="utf-8")
    data = load_dataset(
        DataConfig(dataset="timemachine", source="file", path=str(path), test_split=0.1, validation="test"),
        seed=0,
    )
    corpus = encode(preprocess(path.read_text()))
    np.testing.assert_array_equal(data.x_train[1:], data.y_train[:-1])
    np.testing.assert_array_equal(
        np.concatenate([data.x_train[:1], data.y_train, data.x_test[:1], data.y_test]), corpus
    )
    assert data.location == str(path) and data.extra["corpus_chars"] == len(corpus)


def test_keras_source_downloads_the_d2l_text_with_get_file(tmp_path, monkeypatch):
    import keras

    book = tmp_path / "timemachine.txt"
    book.write_text("The Time Machine, by H. G. Wells [1898]\n\n" + "I\n" * 200, encoding="utf-8")
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin))
        return str(book)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    # the generated book stands in for d2l's file, so it is the one whose SHA-1 is expected
    monkeypatch.setattr(timemachine, "SHA1", hashlib.sha1(book.read_bytes()).hexdigest())
    data = load_dataset(DataConfig(dataset="timemachine", source="keras", test_split=0.1), seed=0)
    assert calls == [("timemachine.txt", URL)]
    assert data.source == "keras" and data.location == URL
    assert decode(data.x_train[:16]) == "the time machine"


def test_a_download_that_is_not_d2ls_file_is_refused(cli, tmp_path, monkeypatch):
    import keras

    damaged = tmp_path / "timemachine.txt"
    damaged.write_text("<html>captive portal</html>", encoding="utf-8")
    monkeypatch.setattr(keras.utils, "get_file", lambda *args, **kwargs: str(damaged))
    result = cli("run", "charrnn-timemachine")
    assert result.exit_code == 2, result.output
    assert "SHA-1" in result.output and timemachine.SHA1 in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


def test_offline_download_gives_the_one_paragraph_help(cli, tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception(f"URL fetch failure on {URL}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    result = cli("run", "charrnn-timemachine")
    assert result.exit_code == 2, result.output
    assert "Could not download the timemachine dataset" in result.output
    assert "data.source=file" in result.output and "--smoke" in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty"),
        (b"  \n\n \t\n", "is empty"),
        ("Caf\u00e9 au lait".encode("latin-1"), "is not UTF-8"),
        (b"1234 5678 !!!\n", "characters after keeping only letters"),
    ],
)
def test_bad_text_files_exit_2_before_training(cli, tmp_path, content, expected):
    path = tmp_path / "book.txt"
    path.write_bytes(content)
    result = cli("run", "charrnn-timemachine", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    assert expected in result.output and str(path) in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


def test_missing_path_and_too_short_text_exit_2(cli, tmp_path):
    result = cli(
        "run",
        "charrnn-timemachine",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={tmp_path / 'nope.txt'}",
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    short = tmp_path / "short.txt"
    short.write_text("time traveller " * 40, encoding="utf-8")
    result = cli("run", "charrnn-timemachine", "--set", "data.source=file", "--set", f"data.path={short}")
    assert result.exit_code == 2, result.output
    assert "train.batch_size=32" in result.output and "model.num_steps=35" in result.output


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_a_run_reports_perplexity_tokens_per_second_and_a_sample(cli, tmp_path, sampling):
    import keras

    path = tmp_path / "book.txt"
    path.write_text(synthetic_text(8000, 0), encoding="utf-8")
    result = cli(
        "run",
        "chargru-timemachine",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={path}",
        "--set",
        "data.test_split=0.2",
        "--set",
        "model.units=16",
        "--set",
        f"model.sampling={sampling}",
        "--set",
        "train.batch_size=8",
        "--epochs",
        "2",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "chargru-timemachine").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    assert len(history["perplexity"]) == len(history["val_perplexity"]) == 2
    # one batch size throughout: the epoch's perplexity is exp of its mean loss
    for loss, perplexity in zip(history["val_loss"], history["val_perplexity"], strict=True):
        assert perplexity == pytest.approx(math.exp(loss), rel=1e-4)
    assert metrics["final"]["val"]["perplexity"] == history["val_perplexity"][-1]
    assert metrics["tokens_per_second"] == pytest.approx(
        metrics["timing"]["train_samples_per_s"] * 35, rel=1e-3
    )
    sample = metrics["sample"]
    assert sample["prefix"] == "time traveller" and len(sample["generated"]) == 50
    assert set(sample["generated"]) <= set(CHARACTERS[1:]) | {"?"}
    assert (run / "samples.txt").read_text() == sample["text"] + "\n"
    assert sample["text"] in result.output
    assert (run / "plots" / "perplexity.png").exists()
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    layer = model.get_layer("gru")
    assert layer.stateful is (sampling == "sequential")
    assert model.count_params() == 28 * 28 + 3 * (16 * (28 + 16) + 2 * 16) + 16 * 28 + 28


@pytest.mark.parametrize(
    "setting, expected",
    [
        (
            "train.from_logits=false",
            "set train.loss=sparse_categorical_crossentropy and train.from_logits=true",
        ),
        ("train.batch_size=null", "set train.batch_size"),
        ("train.kfold=3", "train.kfold is not available"),
        ("train.checkpoint={monitor: val_loss}", "train.checkpoint is not available"),
        ("model.sampling=shuffled", "model.sampling"),
    ],
)
def test_settings_the_model_cannot_use_exit_2(cli, tmp_path, setting, expected):
    result = cli("run", "charrnn-timemachine", "--smoke", "--set", setting)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


def test_early_stopping_restores_the_best_epoch(cli, tmp_path):
    result = cli(
        "run",
        "charrnn-timemachine",
        "--smoke",
        "--no-save",
        "--epochs",
        "3",
        "--set",
        "model.units=8",
        "--set",
        "train.early_stopping={monitor: val_perplexity, patience: 0}",
        "--set",
        "train.optimizer.learning_rate=50",
    )  # diverges: stops after epoch 2
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "charrnn-timemachine").iterdir()
    history = json.loads((run / "history.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == len(history["val_perplexity"])
    assert metrics["test"]["perplexity"] == pytest.approx(min(history["val_perplexity"]), rel=1e-4)
