"""Word embeddings with continuous bag of words (CBOW) on any plain-text corpus.

The text (The Time Machine by default; any UTF-8 file with ``data.source=file``)
is tokenized by a Keras ``TextVectorization`` layer (lowercase, punctuation
stripped, split on whitespace; the vocabulary is ordered by frequency). Every
word with ``model.window`` words on each side becomes a training pair: the
``2 * window`` context words -> the word. The model averages the context's
embeddings with ``GlobalAveragePooling1D`` (a built-in layer, not a ``Lambda``,
so ``model.keras`` loads with ``keras.models.load_model(..., safe_mode=True)``)
and predicts the word with a softmax over the vocabulary.

Outputs: ``vectors.txt`` (word2vec text format), ``neighbours.txt`` (the nearest
words by cosine for ``model.probe_words``; probe words not in the vocabulary
get a warning line and the others are still reported) and
``plots/embedding_pca.png`` (the most frequent words on two principal components).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from dlab.config import StrictModel
from dlab.data import ArrayDataset, split_validation
from dlab.errors import ConfigError
from dlab.fileio import atomic_write_text
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register
from dlab.plots import embedding_map

if TYPE_CHECKING:
    import keras
    import numpy as np

    from dlab.config import RunConfig
    from dlab.run.context import RunContext
    from dlab.training import FitResult

PAD, OOV = 0, 1  # TextVectorization's padding ("") and out-of-vocabulary ("[UNK]") ids


class CbowConfig(StrictModel):
    """Embedding -> mean over the context -> softmax over the vocabulary."""

    window: int = Field(2, ge=1, description="Context words on each side of the target (>= 1).")
    embedding_dim: int = Field(100, ge=1, description="Size of each word vector.")
    max_tokens: int | None = Field(
        None,
        ge=3,
        description="Keep the most frequent words "
        "(including padding and [UNK]); null: every word of the text.",
    )
    probe_words: list[str] = Field(
        default_factory=lambda: ["time", "traveller", "machine", "said", "man", "night"],
        description="Words whose nearest neighbours go to neighbours.txt.",
    )
    neighbours: int = Field(5, ge=1, description="Nearest words reported per probe word.")
    plot_words: int = Field(60, ge=2, description="Most frequent words drawn on the PCA map.")


@register("cbow")
class Cbow(KerasExperiment):
    """Continuous bag of words: learn word vectors by predicting a word from its neighbours."""

    family = "word embeddings"
    compute_family = "embedding"
    ModelConfig = CbowConfig
    # A few thousand pairs: one epoch in a second or two, and the files are all written.
    smoke_overrides = {"data.train_samples": 4096, "data.test_samples": 512}

    def load_data(self, config: RunConfig) -> ArrayDataset:
        from dlab.data.datasets.timemachine import load_text  # lazy: imports numpy
        from dlab.models.embeddings import cbow_pairs  # lazy: imports numpy

        if config.data.dataset != "timemachine":
            raise ConfigError(
                f"{config.name} reads a plain-text corpus: data.dataset must be "
                f"timemachine (got {config.data.dataset!r}); any other text file is "
                "--set data.source=file --set data.path=FILE.txt."
            )
        if config.data.validation == "none":
            raise ConfigError(
                "data.validation='none' is for NumPy experiments; Keras runs always "
                "validate. Use 'test' or a fraction (e.g. 0.1)."
            )
        data_config = config.data
        wanted = max(
            (data_config.train_samples or 0) / (1 - data_config.test_split),
            (data_config.test_samples or 0) / data_config.test_split,
        )
        # a synthetic text just long enough for the pairs asked for (about 6 characters a word)
        text, location = load_text(
            data_config, config.seed, **({"min_chars": int(wanted * 7) + 100} if wanted else {})
        )
        vocabulary, ids = vectorize(text, config.model.max_tokens)
        contexts, targets = cbow_pairs(ids, config.model.window, skip_targets=(PAD, OOV))
        if len(targets) < 2:
            raise ConfigError(
                f"The text gives {len(targets)} (context, word) pairs with "
                f"model.window={config.model.window}; use a longer text."
            )
        n_test = max(1, int(round(len(targets) * config.data.test_split)))
        data = ArrayDataset(
            name=config.data.dataset,
            source=config.data.source,
            location=location,
            x_train=contexts[:-n_test],
            y_train=targets[:-n_test],
            x_test=contexts[-n_test:],
            y_test=targets[-n_test:],
            extra={
                "words": int(len(ids)),
                "vocabulary_size": len(vocabulary),
                "pairs": int(len(targets)),
                "window": config.model.window,
            },
            vocabulary=vocabulary,
        )
        data = data.first(config.data.train_samples, config.data.test_samples)
        return split_validation(data, config.data.validation)

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        settings: CbowConfig = config.model
        size = len(data.vocabulary)
        inputs = keras.Input(shape=(2 * settings.window,), dtype="int32", name="context")
        x = layers.Embedding(size, settings.embedding_dim, name="embedding")(inputs)
        x = layers.GlobalAveragePooling1D(name="context_mean")(x)
        outputs = layers.Dense(size, activation=None if config.train.from_logits else "softmax", name="word")(
            x
        )
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))

    def inference_spec(self, config: RunConfig, data: ArrayDataset) -> dict:
        """The word vectors are vectors.txt (word2vec text format); `dlab neighbours` reads them."""
        return {"task": "embedding", "input": "words", "words": {"vectors": "vectors.txt"}}

    def figures(self, ctx: RunContext, model: keras.Model, data: ArrayDataset, result: FitResult) -> None:
        import numpy as np

        from dlab.models.embeddings import pca_2d, write_word2vec  # lazy: imports numpy

        settings: CbowConfig = ctx.config.model
        vectors = np.asarray(model.get_layer("embedding").get_weights()[0])
        words = data.vocabulary
        write_word2vec(ctx.run_dir.path / "vectors.txt", words[1:], vectors[1:])  # no padding row
        report = neighbour_report(words, vectors, settings.probe_words, settings.neighbours)
        print(report.text, end="")
        atomic_write_text(ctx.run_dir.path / "neighbours.txt", report.text)
        ctx.record(
            embeddings={
                "words": len(words) - 1,
                "dimensions": int(vectors.shape[1]),
                "neighbours": report.neighbours,
                "unknown_probe_words": report.unknown,
            }
        )
        # TextVectorization orders its vocabulary by frequency: the first words are the most frequent
        frequent = list(range(OOV + 1, min(len(words), OOV + 1 + settings.plot_words)))
        if len(frequent) >= 2:
            ctx.run_dir.save_figure(
                embedding_map(
                    [words[i] for i in frequent],
                    pca_2d(vectors[frequent]),
                    title=f"{ctx.config.name}: {len(frequent)} most frequent words (PCA)",
                ),
                "embedding_pca",
            )


def vectorize(text: str, max_tokens: int | None) -> tuple[list[str], np.ndarray]:
    """TextVectorization's vocabulary (index = id; 0 padding, 1 [UNK]) and the text's word ids."""
    import keras
    import numpy as np

    vectorizer = keras.layers.TextVectorization(max_tokens=max_tokens, output_mode="int")
    vectorizer.adapt([text])
    ids = np.asarray(vectorizer([text]))[0].astype(np.int32)
    return [str(word) for word in vectorizer.get_vocabulary()], ids


class NeighbourReport:
    """neighbours.txt: a warning line for unknown probe words, then one line per known one."""

    def __init__(self, text: str, neighbours: dict[str, list[list]], unknown: list[str]) -> None:
        self.text, self.neighbours, self.unknown = text, neighbours, unknown


def neighbour_report(vocabulary: list[str], vectors, probe_words: list[str], count: int) -> NeighbourReport:
    """The ``count`` nearest words by cosine for each probe word found in the vocabulary."""
    from dlab.models.embeddings import nearest_neighbours  # lazy: imports numpy

    index = {word: i for i, word in enumerate(vocabulary)}
    probes = [word.lower() for word in probe_words]
    unknown = [word for word in probes if word not in index or index[word] in (PAD, OOV)]
    known = [word for word in probes if word not in unknown]
    lines = []
    if unknown:
        lines.append(f"warning: probe words not in the vocabulary: {', '.join(unknown)}")
    found = nearest_neighbours(vectors, [index[w] for w in known], count, exclude=(PAD, OOV)) if known else []
    neighbours = {}
    for word, near in zip(known, found, strict=True):
        neighbours[word] = [[vocabulary[j], round(similarity, 4)] for j, similarity in near]
        lines.append(f"{word}: " + ", ".join(f"{vocabulary[j]} ({similarity:.3f})" for j, similarity in near))
    return NeighbourReport("\n".join(lines) + "\n", neighbours, unknown)
