"""Characters for language models: the 28-token vocabulary, d2l's sampling and the batches.

Dive into Deep Learning (d2l.ai, chapter 8) trains character RNNs on "The Time
Machine" with a 28-token vocabulary (26 lowercase letters, space, unknown) and
two ways of cutting the corpus into ``num_steps``-long subsequences:

- **sequential**: the corpus (from a random offset) is split into
  ``batch_size`` parallel streams; batch *b*'s row *r* continues where batch
  *b-1*'s row *r* stopped, so a model may carry its hidden state from batch to
  batch (dlab then builds a stateful model and resets it every epoch).
- **random**: subsequences start at random multiples of ``num_steps`` (from a
  random offset) and batches are random sets of them: neighbouring batches
  are unrelated, so the state starts at zero each batch.

Both return ``Y`` = ``X`` shifted by one token (the next character to predict).
The functions here are written with NumPy indexing, not Python loops over the
corpus; :func:`char_batches` serves them as a ``tf.data.Dataset`` that redraws
the offset every epoch, as d2l's iterators do, and :func:`character_splits` cuts
every split of a character dataset so, as the :class:`dlab.data.BatchedDataset` a
language model trains on. This module imports TensorFlow only inside
:func:`char_batches`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

import numpy as np

from dlab.data import BatchedDataset

if TYPE_CHECKING:
    import tensorflow as tf

    from dlab.data import ArrayDataset

Sampling = Literal["sequential", "random"]

UNKNOWN = "<unk>"
CHARACTERS: tuple[str, ...] = (UNKNOWN, " ", *"abcdefghijklmnopqrstuvwxyz")
"""The 28 tokens, index = token id. d2l orders them by frequency in its corpus; dlab fixes the
order, so a trained model means the same thing whatever text it was trained on."""

_NOT_LETTERS = re.compile(r"[^A-Za-z]+")
_LOOKUP = np.zeros(256, dtype=np.int32)  # byte -> token id; every byte that is not a token: <unk>
_LOOKUP[ord(" ")] = 1
_LOOKUP[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)] = np.arange(2, 28)


def preprocess(text: str) -> str:
    """d2l's preprocessing: every run of non-letters becomes one space, then lowercase.

    d2l does this line by line and glues the lines together without a separator
    ("machine" + "by" -> "machineby"); dlab treats the line break as the
    non-letter it is, so words at line ends stay apart.
    """
    return _NOT_LETTERS.sub(" ", text).strip().lower()


def encode(text: str) -> np.ndarray:
    """Token ids (int32) of already preprocessed text; anything not in the vocabulary is <unk> (0)."""
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return _LOOKUP[raw]


def decode(ids) -> str:
    """Token ids back to text (<unk> shows as '?')."""
    return "".join("?" if i == 0 else CHARACTERS[int(i)] for i in ids)


# --------------------------------------------------------------------------- sampling


def sequential_batches(
    corpus: np.ndarray, batch_size: int, num_steps: int, offset: int
) -> tuple[np.ndarray, np.ndarray]:
    """d2l's ``seq_data_iter_sequential`` for one epoch, as arrays.

    Args:
        corpus: token ids (1-D).
        offset: where the epoch starts (d2l draws it from [0, num_steps)).

    Returns:
        X, Y of shape (num_batches, batch_size, num_steps); Y is X shifted by one token, and
        row r of batch b+1 continues row r of batch b.
    """
    corpus = np.asarray(corpus)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    xs = corpus[offset : offset + num_tokens].reshape(batch_size, -1)
    ys = corpus[offset + 1 : offset + 1 + num_tokens].reshape(batch_size, -1)
    num_batches = xs.shape[1] // num_steps
    width = num_batches * num_steps

    def cut(streams: np.ndarray) -> np.ndarray:
        return streams[:, :width].reshape(batch_size, num_batches, num_steps).transpose(1, 0, 2)

    return cut(xs), cut(ys)


def random_batches(
    corpus: np.ndarray, batch_size: int, num_steps: int, offset: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """d2l's ``seq_data_iter_random`` for one epoch, as arrays.

    Subsequences start at ``offset + k * num_steps``; their order is shuffled and
    the first ``num_batches * batch_size`` of them make the batches.

    Returns:
        X, Y of shape (num_batches, batch_size, num_steps); Y is X shifted by one token.
    """
    corpus = np.asarray(corpus)[offset:]
    num_subsequences = (len(corpus) - 1) // num_steps
    starts = np.arange(0, num_subsequences * num_steps, num_steps)
    rng.shuffle(starts)
    num_batches = num_subsequences // batch_size
    starts = starts[: num_batches * batch_size].reshape(num_batches, batch_size, 1)
    positions = starts + np.arange(num_steps)
    return corpus[positions], corpus[positions + 1]


def epoch_batches(
    corpus: np.ndarray,
    sampling: Sampling,
    batch_size: int,
    num_steps: int,
    offset: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of (X, Y) batches with the chosen sampling."""
    if sampling == "sequential":
        return sequential_batches(corpus, batch_size, num_steps, offset)
    return random_batches(corpus, batch_size, num_steps, offset, rng)


def batches_per_epoch(length: int, batch_size: int, num_steps: int) -> int:
    """Batches every epoch has whatever its offset (both samplings; the offset < num_steps)."""
    worst = length - (num_steps - 1)  # the largest offset leaves the fewest tokens
    return min(((worst - 1) // batch_size) // num_steps, ((worst - 1) // num_steps) // batch_size)


def min_corpus_length(batch_size: int, num_steps: int) -> int:
    """The fewest tokens that still give one full batch at every offset."""
    return batch_size * num_steps + num_steps


def char_batches(
    corpus: np.ndarray, sampling: Sampling, batch_size: int, num_steps: int, seed: int, redraw: bool = True
) -> tf.data.Dataset:
    """One epoch of (X, Y) batches as a ``tf.data.Dataset``; every pass over it draws a new epoch.

    Keras starts a new pass over a finite dataset every epoch, and each pass draws
    the next offset (and order, for random sampling) from a NumPy generator seeded
    with ``seed``, as d2l's iterators do: one Python call per epoch, and the batches
    are then sliced natively. (A ``keras.utils.PyDataset`` serving the same arrays
    batch by batch cost a GRU epoch about a third more CPU time: its generator
    pipeline, not the indexing.) Every epoch has :func:`batches_per_epoch` batches
    (Keras needs a fixed length; an offset that leaves one more batch drops it, at
    most ``batch_size * num_steps`` tokens of the epoch), all of exactly
    ``batch_size`` rows, as a stateful layer needs.

    ``redraw=False`` keeps offset 0 and one fixed order: validation and test data,
    evaluated the same way every time.
    """
    import tensorflow as tf

    corpus = np.asarray(corpus, dtype=np.int32)
    count = batches_per_epoch(len(corpus), batch_size, num_steps)
    rng = np.random.default_rng(seed)
    if not redraw:
        x, y = epoch_batches(corpus, sampling, batch_size, num_steps, 0, rng)
        return tf.data.Dataset.from_tensor_slices((x[:count], y[:count]))

    def draw(_pass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offset = int(rng.integers(0, num_steps))
        x, y = epoch_batches(corpus, sampling, batch_size, num_steps, offset, rng)
        return x[:count], y[:count]

    shape = (count, batch_size, num_steps)

    def slices(x: tf.Tensor, y: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((tf.ensure_shape(x, shape), tf.ensure_shape(y, shape)))

    epoch = tf.data.Dataset.range(1).map(
        lambda index: tf.numpy_function(draw, [index], (tf.int32, tf.int32), stateful=True)
    )
    return epoch.flat_map(slices).apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)


def token_stream(x, y) -> np.ndarray:
    """The token stream a split came from: its first token, then every next token (int32)."""
    return np.concatenate([np.asarray(x[:1]), np.asarray(y)]).astype(np.int32)


def character_splits(
    data: ArrayDataset, sampling: Sampling, batch_size: int, num_steps: int, seed: int
) -> BatchedDataset:
    """Every split of a character dataset (:func:`dlab.data.datasets.timemachine.load_data`)
    as batches of ``num_steps``-long subsequences (:func:`char_batches`).

    The training split draws a new offset (and, for random sampling, order) every epoch from
    ``seed``; validation and test keep offset 0 and one order (seeds ``seed + 1``, ``+ 2``).
    Samples per split are subsequences per epoch.
    """
    splits = {
        split: char_batches(
            token_stream(*data.split(split)),
            sampling,
            batch_size,
            num_steps,
            seed=seed + index,
            redraw=split == "train",
        )
        for index, split in enumerate(("train", "val", "test"))
    }
    return BatchedDataset(
        rows=data,
        **splits,
        input_shape=(num_steps,),
        train_samples=len(splits["train"]) * batch_size,
        val_samples=len(splits["val"]) * batch_size,
        test_samples=len(splits["test"]) * batch_size,
    )
