"""``dlab generate`` (character language models) and ``dlab neighbours`` (CBOW word vectors).

Generation rebuilds the run's recurrent model for one sequence of any length with a
batch of one and a stateful layer, copies the trained weights into it, reads the
prompt once and then feeds back one character per step (d2l's ``predict_ch8``).
Greedy by default (the most likely character, as the run's samples.txt); with
``temperature`` the next character is drawn from softmax(logits / temperature)
by a NumPy generator seeded with ``seed``, so the same seed gives the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlab.data.modalities.characters import decode, encode, preprocess
from dlab.errors import UsageError
from dlab.experiments.charlm import char_model
from dlab.models.embeddings import nearest_neighbours
from dlab.models.sequences import reset_states
from dlab.results.index import SavedRun
from dlab.use.runs import keras_model, open_run, read_run_text, require_task, run_config
from dlab.use.runtime import start_keras


@dataclass
class Generated:
    """The prompt as the model read it, and what it wrote after it."""

    run_dir: Path
    prompt: str
    generated: str
    temperature: float | None
    seed: int | None

    @property
    def text(self) -> str:
        return self.prompt + self.generated


def generate(
    run_path: str | Path,
    prompt: str,
    *,
    length: int = 200,
    temperature: float | None = None,
    seed: int | None = None,
    device: str = "auto",
    debug: bool = False,
) -> Generated:
    """Continue ``prompt`` with ``length`` characters from a character language model's run.

    Raises:
        UsageError: not a language-model run, a bad length or temperature, a prompt of no letters.
    """
    if length < 1:
        raise UsageError(f"--length {length}: give how many characters to generate, at least 1.")
    if temperature is not None and temperature <= 0:
        raise UsageError(f"--temperature {temperature}: it must be above 0 (leave it out for greedy).")
    if seed is not None and temperature is None:
        raise UsageError("--seed only matters when sampling: add --temperature T (e.g. 0.8).")
    run = open_run(run_path, command="dlab generate")
    require_task(
        run, ("language_model",), "dlab generate", "Use `dlab predict` for classifiers and regressors."
    )
    text = preprocess(prompt)
    if not text.strip():
        raise UsageError(f"--prompt {prompt!r} has no letters; the model reads a-z and spaces.")
    start_keras(device, debug)
    step = _step_model(run)
    rng = np.random.default_rng(seed)
    reset_states(step)
    logits = np.asarray(step(encode(text)[None, :], training=False))[0, -1]
    tokens: list[int] = []
    for _ in range(length):
        if temperature is None:
            token = int(logits.argmax())
        else:
            scaled = logits.astype(np.float64) / temperature
            weights = np.exp(scaled - scaled.max())
            token = int(rng.choice(len(weights), p=weights / weights.sum()))
        tokens.append(token)
        logits = np.asarray(step(np.array([[token]], dtype=np.int32), training=False))[0, -1]
    return Generated(run.path, text, decode(tokens), temperature, seed)


def _step_model(run: SavedRun):
    """The run's model rebuilt with batch 1, any length and a stateful layer, holding its weights."""
    trained = keras_model(run)
    vocabulary = run.spec["characters"]["vocabulary"]
    step = char_model(run_config(run).model, len(vocabulary), 1, None, stateful=True, name="generator")
    step.set_weights(trained.get_weights())
    return step


@dataclass
class Neighbours:
    """Per known word, its nearest words with cosine similarity; the words not in the vocabulary."""

    run_dir: Path
    neighbours: dict[str, list[tuple[str, float]]]
    unknown: list[str]


def read_vectors(text: str) -> tuple[list[str], np.ndarray]:
    """A word2vec text file's contents: a header line (count, dimensions), then ``word v1 v2 ...``."""
    lines = text.splitlines()[1:]
    words = [line.split(" ", 1)[0] for line in lines]
    vectors = np.asarray([line.split(" ")[1:] for line in lines], dtype=np.float32)
    return words, vectors


def neighbours(run_path: str | Path, words: list[str], *, count: int = 5) -> Neighbours:
    """The ``count`` nearest words by cosine similarity in a CBOW run's vectors.txt.

    Raises:
        UsageError: not an embedding run, no words, ``count`` < 1.
    """
    if not words:
        raise UsageError("dlab neighbours needs at least one WORD.")
    if count < 1:
        raise UsageError(f"--count {count}: give how many neighbours to list, at least 1.")
    run = open_run(run_path, need_model=False, command="dlab neighbours")
    require_task(run, ("embedding",), "dlab neighbours", "Use `dlab predict` or `dlab generate` instead.")
    text = read_run_text(run, run.spec["words"].get("vectors"), "inference.json's words.vectors")
    vocabulary, vectors = read_vectors(text)
    index = {word: i for i, word in enumerate(vocabulary)}
    probes = [word.lower() for word in words]
    known = [word for word in probes if word in index and word != "[UNK]"]
    unknown = [word for word in probes if word not in known]
    exclude = tuple(i for i, word in enumerate(vocabulary) if word == "[UNK]")
    found = nearest_neighbours(vectors, [index[w] for w in known], count, exclude=exclude) if known else []
    result = {
        # unrounded: rounding to 4 places and then printing 3 gave 0.627 where the run's own
        # neighbours.txt (one rounding) says 0.628
        word: [(vocabulary[j], float(similarity)) for j, similarity in near]
        for word, near in zip(known, found, strict=True)
    }
    return Neighbours(run.path, result, unknown)
