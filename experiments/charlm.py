"""Character-level language models (d2l chapter 8): SimpleRNN, GRU or LSTM over 28 characters.

The corpus (``timemachine`` by default, any text file with ``data.source=file``)
becomes the 28 character ids of :mod:`dlab.data.modalities.characters`; each epoch cuts the
training text into ``num_steps``-long subsequences with d2l's sequential or
random sampling (a new offset every epoch). The model reads one-hot
characters (a frozen identity ``Embedding``, as d2l feeds ``one_hot(X)``),
runs one recurrent layer and predicts the next character's logits at every
step. With sequential sampling the layer is stateful: the hidden state flows
from batch to batch through the epoch (gradients stop at batch edges) and is
reset at every epoch and validation pass, as d2l's training loop does.

The run reports perplexity (exp of the mean cross-entropy per character) per
epoch for training and validation, tokens/second, and the model's greedy
continuation of ``model.prefix`` (samples.txt and metrics.json).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.data import load_dataset
from dlab.errors import ConfigError, DataError
from dlab.fileio import atomic_write_text
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.run.context import RunContext

CELLS = {"simple_rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}


class CharLanguageModelConfig(StrictModel):
    """One recurrent layer over one-hot characters, predicting the next character."""

    cell: Literal["simple_rnn", "gru", "lstm"] = Field("simple_rnn", description="Recurrent layer.")
    units: int = Field(256, ge=1, description="Hidden units of the recurrent layer.")
    num_steps: int = Field(35, ge=1, description="Characters per training subsequence.")
    sampling: Literal["sequential", "random"] = Field(
        "sequential",
        description="d2l's subsequence sampling: sequential (the state carries "
        "over from batch to batch: a stateful layer) or random (independent subsequences).",
    )
    prefix: str = Field("time traveller", min_length=1, description="Text the model continues.")
    generate: int = Field(50, ge=0, description="Characters to generate after the prefix.")


def char_model(
    settings: CharLanguageModelConfig,
    vocabulary_size: int,
    batch_size: int | None,
    num_steps: int | None,
    stateful: bool,
    name: str,
) -> keras.Model:
    """one-hot -> recurrent layer (all steps) -> Dense logits over the vocabulary.

    A stateful layer needs a fixed batch size; ``num_steps=None`` takes any length
    (the generator reads the prefix at once, then one character per call).
    """
    import keras
    from keras import layers

    from dlab.models.sequences import stateful_layer_options  # lazy: imports numpy

    inputs = keras.Input(batch_shape=(batch_size, num_steps), dtype="int32", name="characters")
    x = layers.Embedding(
        vocabulary_size, vocabulary_size, embeddings_initializer="identity", trainable=False, name="one_hot"
    )(inputs)
    layer = CELLS[settings.cell]
    options = stateful_layer_options(layer, stateful)
    x = getattr(layers, layer)(
        settings.units, return_sequences=True, stateful=stateful, name=settings.cell, **options
    )(x)
    outputs = layers.Dense(vocabulary_size, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


@register("char_language_model")
class CharLanguageModel(KerasExperiment):
    """d2l's character RNN/GRU/LSTM with SGD and gradient clipping, reported in perplexity."""

    family = "language models"
    compute_family = "recurrent"
    supports_kfold = False
    kfold_unsupported_because = "a language model is trained on one text in order"
    ModelConfig = CharLanguageModelConfig
    # Three batches of 32 x 35 characters and one validation batch: seconds, not minutes.
    smoke_overrides = {"data.train_samples": 3500, "data.test_samples": 1200}

    def load_data(self, config: RunConfig) -> ArrayDataset:
        from dlab.data.modalities.characters import min_corpus_length  # lazy: imports numpy

        if config.data.validation == "none":
            raise ConfigError(
                "data.validation='none' is for NumPy experiments; Keras runs always "
                "validate. Use 'test' or a fraction of the training text (e.g. 0.1)."
            )
        if config.train.batch_size is None:
            raise ConfigError(
                f"{config.name} trains on batches of subsequences: set train.batch_size (d2l: 32)."
            )
        if config.train.checkpoint is not None:
            raise ConfigError(
                f"train.checkpoint is not available for {config.name}; use "
                "train.early_stopping with restore_best_weights: true instead."
            )
        if not config.train.from_logits or config.train.loss != "sparse_categorical_crossentropy":
            raise ConfigError(
                f"{config.name}'s model outputs logits over the characters: set train.loss="
                "sparse_categorical_crossentropy and train.from_logits=true (got "
                f"loss={config.train.loss}, from_logits={config.train.from_logits})."
            )
        data = load_dataset(config.data, config.seed)
        batch, steps = config.train.batch_size, config.model.num_steps
        needed = min_corpus_length(batch, steps)
        for split, x in (("training", data.x_train), ("validation", data.x_val), ("test", data.x_test)):
            if len(x) + 1 < needed:
                raise DataError(
                    f"The {split} text has {len(x) + 1} characters; one batch of "
                    f"train.batch_size={batch} subsequences of model.num_steps={steps} needs at "
                    f"least {needed}. Use a longer text, a smaller batch size or num_steps, or "
                    "change data.test_split / data.validation."
                )
        return data

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        settings: CharLanguageModelConfig = config.model
        stateful = settings.sampling == "sequential"
        return char_model(
            settings,
            len(data.vocabulary),
            config.train.batch_size if stateful else None,
            settings.num_steps,
            stateful,
            name=config.name.replace("-", "_"),
        )

    def resume_unsupported(self, config: RunConfig) -> str | None:
        return (
            "the batches' random offsets are drawn from a generator the backup does not hold, so a "
            "resumed run would not continue the same sampling: start a new run instead"
        )

    def run(self, ctx: RunContext, data: ArrayDataset, model: keras.Model) -> None:
        """Train with the shared recipe on batches of subsequences, then generate a sample."""
        from dlab.data.modalities.characters import character_splits  # lazy: imports numpy
        from dlab.models.sequences import state_resetter  # lazy: imports numpy
        from dlab.training import fit_and_evaluate  # lazy: imports keras

        config, settings = ctx.config, ctx.config.model
        batch, steps = config.train.batch_size, settings.num_steps
        subsequences = character_splits(data, settings.sampling, batch, steps, seed=config.seed)
        # sequential sampling carries the state across batches: start every pass from zero
        resets = [state_resetter()] if settings.sampling == "sequential" else []
        result = fit_and_evaluate(model, subsequences, ctx, callbacks=resets)

        rate = ctx.summary["timing"]["train_samples_per_s"]
        ctx.record(
            tokens_per_second=round(rate * steps, 1) if rate else None,
            tokens_per_epoch=subsequences.train_samples * steps,
        )
        self.sample(ctx, result.model, data)
        self.save_inference(ctx, data)

    def inference_spec(self, config: RunConfig, data: ArrayDataset) -> dict:
        """The character vocabulary (id = position) and how the text was cleaned before it."""
        return {
            "task": "language_model",
            "input": "characters",
            "characters": {
                "vocabulary": list(data.vocabulary),
                "unknown": 0,
                "preprocess": "lowercase; every run of non-letters becomes one space",
            },
        }

    def sample(self, ctx: RunContext, model: keras.Model, data: ArrayDataset) -> dict[str, Any]:
        """Continue ``model.prefix`` greedily; print it, write samples.txt, record it."""
        from dlab.models.sequences import generate  # lazy: imports numpy

        settings: CharLanguageModelConfig = ctx.config.model
        generator = char_model(settings, len(data.vocabulary), 1, None, stateful=True, name="generator")
        generator.set_weights(model.get_weights())
        text = generate(generator, settings.prefix, settings.generate)
        sample = {
            "prefix": text[: len(text) - settings.generate],
            "characters": settings.generate,
            "generated": text[len(text) - settings.generate :],
            "text": text,
        }
        print(f"generated: {text!r}")
        atomic_write_text(ctx.run_dir.path / "samples.txt", text + "\n")
        ctx.record(sample=sample)
        return sample
