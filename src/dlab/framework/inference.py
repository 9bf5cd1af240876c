"""What a saved run needs besides ``model.keras`` to answer raw input: the run's ``inference.json``.

Keras keeps what it can inside the model (``Rescaling``, ``Resizing``, an adapted
``Normalization``), so a saved model already takes raw pixels or raw table rows.
What Keras cannot hold in a safe-mode model is written here instead, as plain JSON
(and a ``vocabulary.txt`` for word vocabularies, one word per line, line number = id):
class names, how documents become word ids, the character vocabulary, the series'
standardization statistics. ``dlab predict``, ``generate`` and ``export`` read it
(:mod:`dlab.use`); a person can read it too.

Every spec has ``task`` (classification, regression, segmentation, forecast,
language_model, embedding) and ``input`` (image, text, table, series, characters,
words); the section named by ``input`` says how raw input is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.fileio import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from dlab.config import RunConfig

INFERENCE_FILE = "inference.json"
VOCABULARY_FILE = "vocabulary.txt"
SCHEMA_VERSION = 1


def write_inference(run_dir: Path, spec: dict[str, Any] | None) -> None:
    """Write ``spec`` as ``run_dir/inference.json`` (a ``vocabulary`` list goes to vocabulary.txt)."""
    if spec is None:
        return
    spec = dict(spec)
    text = spec.get("text")
    if text and text.get("vocabulary") is not None:
        words = [word.replace("\n", " ") for word in text["vocabulary"]]
        atomic_write_text(run_dir / VOCABULARY_FILE, "\n".join(words) + "\n")
        spec["text"] = {**text, "vocabulary": VOCABULARY_FILE}
    atomic_write_json(run_dir / INFERENCE_FILE, {"schema_version": SCHEMA_VERSION, **spec})


FILE_KEYS = (("text", "vocabulary"), ("words", "vectors"))
"""The (section, key) pairs of a spec whose value is a file name in the run directory."""


def named_files(spec: dict[str, Any]) -> dict[str, Any]:
    """The files ``spec`` names, by dotted key (``text.vocabulary`` -> ``vocabulary.txt``).

    A reader of a run must read only files inside it, and an inference.json may have been
    edited since dlab wrote it, so a command checks each of these before it reads one.
    """
    found = {}
    for section, key in FILE_KEYS:
        part = spec.get(section)
        value = part.get(key) if isinstance(part, dict) else None
        if value is not None:
            found[f"{section}.{key}"] = value
    return found


def output_kind(config: RunConfig) -> str:
    """How the model's last layer reads: ``logits`` or ``probabilities`` (classifiers)."""
    return "logits" if config.train.from_logits else "probabilities"


def image_spec(config: RunConfig, image_shape: Any, class_names: list[str] | None, task: str) -> dict:
    """Images are decoded, converted to the run's channels and resized to its data's size."""
    height, width, channels = (int(v) for v in image_shape)
    return {
        "task": task,
        "input": "image",
        "class_names": list(class_names or []),
        "output": output_kind(config),
        "image": {"height": height, "width": width, "channels": channels},
    }


def text_spec(
    config: RunConfig,
    data: Any,
    encoding: str,
    maxlen: int | None,
    class_names: list[str] | None,
    scheme: str | None = None,
) -> dict:
    """Documents become word ids as the run's source made them, then multi-hot or padded.

    ``scheme``: ``keras`` (the Keras word index: 1 starts a document, 2 is an unknown word, a
    word's id is its rank + 3), ``vectorizer`` (a TextVectorization vocabulary: 1 is unknown,
    no start mark) or ``ids`` (no words known, e.g. synthetic data: documents are word ids
    written ``#N``, as predictions.txt shows them); None: as the data's source says (``dir``:
    vectorizer, a vocabulary: keras, none: ids).
    """
    num_words = int(data.extra["num_words"])
    vocabulary = data.vocabulary
    if scheme == "vectorizer" or (scheme is None and config.data.source == "dir"):
        scheme = "vectorizer"
    elif vocabulary is not None:
        scheme = "keras"
        vocabulary = vocabulary[:num_words]
    else:
        scheme = "ids"
    return {
        "task": "classification",
        "input": "text",
        "class_names": list(class_names or []),
        "output": output_kind(config),
        "text": {
            "scheme": scheme,
            "encoding": encoding,
            "num_words": num_words,
            "maxlen": maxlen,
            "vocabulary": list(vocabulary) if vocabulary is not None else None,
        },
    }


def table_spec(config: RunConfig, data: Any, feature_names: list[str] | None = None) -> dict:
    """Rows are the run's feature columns, by name, in order; the model standardizes them itself."""
    count = int(data.x_train.shape[1])
    names = list(feature_names or data.extra.get("feature_names") or [f"x{i}" for i in range(count)])
    regression = data.extra.get("task") == "regression" or not data.class_names
    return {
        "task": "regression" if regression else "classification",
        "input": "table",
        "class_names": [] if regression else list(data.class_names),
        "output": "values" if regression else output_kind(config),
        "table": {"features": names, "target": config.data.target},
    }
