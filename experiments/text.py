"""Text classification: multi-hot MLPs on IMDB and Reuters, and an LSTM on IMDB.

``text_mlp``: each document becomes a multi-hot vector over the ``num_words``
most frequent words, then Dense layers (optional L1/L2 penalties and dropout)
and a sigmoid (binary) or softmax (topics) output. ``text_lstm``: documents are
padded/truncated at the front to ``maxlen`` words, then Embedding -> LSTM ->
sigmoid. Both write ``predictions.txt``: a few test documents decoded back to
words with the model's prediction, so a person can read what the model saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from dlab.config import StrictModel
from dlab.errors import ConfigError
from dlab.fileio import atomic_write_text
from dlab.framework.inference import text_spec
from dlab.framework.recipes import ClassifierExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset

# A few thousand short synthetic documents and small batches: one epoch already beats chance.
TEXT_SMOKE = {
    "data.train_samples": 2048,
    "data.test_samples": 512,
    "data.num_words": 2000,
    "train.batch_size": 64,
}


class TextMlpConfig(StrictModel):
    """Dense layers over multi-hot word vectors."""

    hidden: list[int] = Field(default_factory=lambda: [16, 16], description="Units per hidden layer.")
    activation: str = Field("relu", description="Activation of the hidden layers.")
    l1: float = Field(0.0, ge=0, description="L1 penalty on every hidden kernel.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on every hidden kernel.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout rate after each hidden layer.")
    sparse_inputs: bool = Field(
        True,
        description="Feed the multi-hot rows as sparse batches on TensorFlow: the same model, "
        "the same sums without the zero terms, faster. false (and other backends): dense batches.",
    )


class TextLstmConfig(StrictModel):
    """Embedding -> LSTM -> sigmoid."""

    embedding_dim: int = Field(15, ge=1, description="Size of each word vector.")
    lstm_units: int = Field(10, ge=1, description="Units of the LSTM layer.")


class TextClassifier(ClassifierExperiment):
    """Shared by the text experiments: decoded test documents with predictions."""

    family = "text classification"
    examples: int = 8
    smoke_overrides = TEXT_SMOKE

    def show_predictions(self, ctx, data, true, predicted, scores, names) -> None:
        from dlab.data.modalities.text import decode  # lazy: imports numpy

        documents = data.test_documents
        lines = []
        for index in range(min(self.examples, len(true))):
            score = scores[index]
            confidence = float(score.max()) if score.shape[-1] > 1 else float(score[0])
            verdict = "right" if predicted[index] == true[index] else "WRONG"
            text = decode(documents[index], data.vocabulary) if documents is not None else ""
            lines.append(
                f"[{verdict}] predicted {names[predicted[index]]} (output {confidence:.3f}), "
                f"true {names[true[index]]}\n{text[:1500]}\n"
            )
        atomic_write_text(ctx.run_dir.path / "predictions.txt", "\n".join(lines))

    def encode(self, config: RunConfig, data: ArrayDataset, sequences):
        raise NotImplementedError

    def inference_spec(self, config: RunConfig, data: ArrayDataset) -> dict:
        """How a raw document becomes this model's input: word ids, then multi-hot or padded."""
        encoding = "sequence" if isinstance(self, TextLstm) else "multi_hot"
        return text_spec(config, data, encoding, config.data.maxlen, data.class_names)

    def load_data(self, config: RunConfig) -> ArrayDataset:
        data = super().load_data(config)
        return data.map_inputs(
            lambda sequences: self.encode(config, data, sequences),
            test_documents=data.x_test[: self.examples],
        )


@register("text_mlp")
class TextMlp(TextClassifier):
    """Dense layers over multi-hot vectors of the most frequent words."""

    ModelConfig = TextMlpConfig
    compute_family = "multi_hot"

    def encode(self, config, data, sequences):
        from dlab.data.modalities.text import multi_hot  # lazy: imports numpy

        return multi_hot(sequences, data.extra["num_words"])

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras

        from dlab.data.modalities.sparse_rows import sparse_input_supported  # lazy: imports numpy
        from dlab.models.blocks import apply_layers, classifier_head, dense_stack  # lazy: imports keras

        settings: TextMlpConfig = config.model
        # a sparse input trains on sparse batches (dlab.training.fit_inputs); dense arrays still work
        sparse = settings.sparse_inputs and sparse_input_supported()
        inputs = keras.Input(shape=data.x_train.shape[1:], sparse=sparse, name="words")
        x = apply_layers(
            inputs,
            dense_stack(
                settings.hidden,
                settings.activation,
                settings.l1,
                settings.l2,
                settings.dropout,
                sparse_input=sparse,
            ),
        )
        if data.num_classes == 2:
            outputs = keras.layers.Dense(
                1, activation=None if config.train.from_logits else "sigmoid", name="predictions"
            )(x)
        else:
            outputs = classifier_head(x, data.num_classes, config.train.from_logits)
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))


@register("text_lstm")
class TextLstm(TextClassifier):
    """Embedding -> LSTM -> sigmoid over documents padded at the front."""

    ModelConfig = TextLstmConfig
    compute_family = "recurrent"

    def encode(self, config, data, sequences):
        from dlab.data.modalities.text import pad  # lazy: imports numpy

        if not config.data.maxlen:
            raise ConfigError(
                f"{config.name} reads fixed-length sequences: set data.maxlen (e.g. --set data.maxlen=300)."
            )
        return pad(sequences, config.data.maxlen)

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        settings: TextLstmConfig = config.model
        inputs = keras.Input(shape=(config.data.maxlen,), dtype="int32", name="words")
        x = layers.Embedding(data.extra["num_words"], settings.embedding_dim, name="embedding")(inputs)
        x = layers.LSTM(settings.lstm_units, name="lstm")(x)
        outputs = layers.Dense(
            1, activation=None if config.train.from_logits else "sigmoid", name="predictions"
        )(x)
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))
