""" "The Time Machine" (H. G. Wells) as d2l.ai packages it: a plain-text corpus.

Two readers share the text: :func:`load_text` returns it as a string with where it
came from (word models such as CBOW tokenize it themselves), and :func:`load_data`
(the registered ``timemachine`` dataset) returns it as an :class:`ArrayDataset` of the
28-token character ids of :mod:`dlab.data.modalities.characters` for language models,
which cut it into batches of subsequences
(:func:`~dlab.data.modalities.characters.character_splits`).

Sources:
- ``keras``: ``keras.utils.get_file`` downloads d2l's timemachine.txt once and
  caches it under ``~/.keras/datasets``.
- ``file``: any UTF-8 text file by path (``--set data.path=book.txt``).
- ``synthetic``: sentences from a small grammar about the book's characters,
  generated from the seed: the same alphabet, real words and enough regularity
  that a model's perplexity falls within an epoch.

For language models the corpus is split in order: the last ``data.test_split``
of the characters is the test split (held out, never trained on), and
``x`` / ``y`` hold each position's token and the next one (``y[i] = x[i+1]``),
so ``data.train_samples`` keeps the first N characters and a validation
fraction takes the last part of the training text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from dlab.data import ArrayDataset, require_path, require_source
from dlab.data.formats.cache import download
from dlab.data.modalities.characters import CHARACTERS, encode, preprocess
from dlab.data.registry import dataset
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

URL = "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt"
FILE_NAME = "timemachine.txt"
SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"  # d2l.DATA_HUB["time_machine"]
SYNTHETIC_CHARS = 180_000  # about the real book's 170,580 characters after preprocessing


class Corpus(NamedTuple):
    """A raw text and where it came from (URL, path, or None for synthetic)."""

    text: str
    location: str | None


def load_text(config: DataConfig, seed: int, min_chars: int = SYNTHETIC_CHARS) -> Corpus:
    """The raw corpus text and where it came from (URL, path, or None for synthetic).

    Args:
        min_chars: the synthetic text is at least this long.

    Raises:
        DataError: missing path, an empty file, a file that is not UTF-8 text, a failed download.
    """
    require_source(config, ("keras", "file", "synthetic"), "its sources are keras, file, synthetic")
    if config.source == "synthetic":
        return Corpus(synthetic_text(min_chars, seed), None)
    if config.source == "keras":
        path, location = _download(), URL
    else:
        path = require_path(config, "a UTF-8 text file", kind="file")
        location = str(path)
    return Corpus(read_text_file(path), location)


def read_text_file(path: Path) -> str:
    """A whole UTF-8 text file.

    Raises:
        DataError: the file is empty (or only whitespace) or not UTF-8 text.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not UTF-8 text (byte {error.start} is 0x{raw[error.start]:02x}). Give a "
            "plain-text file saved as UTF-8 (convert it with `iconv -f latin1 -t utf-8`)."
        ) from None
    if not text.strip():
        raise DataError(f"{path} is empty; give a text file with the corpus in it.")
    return text


@dataset("timemachine")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """The corpus as character ids, split in order into train and test (see the module doc).

    Raises:
        DataError: as :func:`load_text`, or text without any letters.
    """
    split = config.test_split
    wanted = max((config.train_samples or 0) / (1 - split), (config.test_samples or 0) / split)
    # synthetic: the asked sizes (10% more: preprocessing drops the punctuation), or the book's
    size = int(wanted * 1.1) + 2 if wanted else SYNTHETIC_CHARS
    text, location = load_text(config, seed, min_chars=size)
    corpus = encode(preprocess(text))
    if len(corpus) < 4:
        raise DataError(
            f"{location or 'the text'} has {len(corpus)} characters after keeping only "
            "letters and spaces; a language model needs text with words in it."
        )
    n_test = max(2, int(round(len(corpus) * split)))
    train, test = corpus[:-n_test], corpus[-n_test:]
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location=location,
        x_train=train[:-1],
        y_train=train[1:],
        x_test=test[:-1],
        y_test=test[1:],
        extra={"corpus_chars": int(len(corpus)), "vocabulary_size": len(CHARACTERS)},
        vocabulary=list(CHARACTERS),
        order="the text's order, kept on purpose: a language model reads it in sequence",
        ordered=True,
    )


def _download() -> Path:
    import keras

    path = Path(
        download(
            "timemachine",
            [(URL, FILE_NAME)],
            "run with --set data.source=file --set data.path=/path/to/"
            "timemachine.txt (any UTF-8 text file works)",
            lambda: keras.utils.get_file(FILE_NAME, URL),
        )
    )
    check_sha1(path, SHA1)
    return path


def check_sha1(path: Path, expected: str) -> None:
    """Compare a download with its published SHA-1 (d2l publishes SHA-1, which get_file
    cannot check: it knows MD5 and SHA-256).

    Raises:
        DataError: the file differs (a truncated or replaced download).
    """
    actual = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path} has SHA-1 {actual}, but d2l publishes {expected} for "
            f"{FILE_NAME}: the download is damaged or not the book. Delete the file "
            "and run again to download it anew, or read your own copy with "
            "--set data.source=file --set data.path=FILE."
        )


# --------------------------------------------------------------------------- synthetic

_SUBJECTS = (
    "the time traveller",
    "the psychologist",
    "the medical man",
    "the provincial mayor",
    "the very young man",
    "filby",
    "weena",
    "the editor",
)
_VERBS = ("saw", "said", "found", "watched", "touched", "remembered", "feared", "followed")
_OBJECTS = (
    "the machine",
    "the lever",
    "the morlocks",
    "the sphinx",
    "the garden",
    "the fire",
    "the future",
    "the dim light",
)
_TAILS = (
    "",
    " in the night",
    " at the laboratory",
    " with great care",
    " before the dawn",
    " in the fourth dimension",
)


def synthetic_text(min_chars: int, seed: int) -> str:
    """Sentences "subject verb object [tail]." from a small grammar, at least ``min_chars`` long.

    Deterministic from ``seed``; paragraphs of 3-7 sentences separated by blank lines,
    with capitals and punctuation so that preprocessing has something to do.
    """
    rng = np.random.default_rng(seed)
    shortest = min(len(s) for s in _SUBJECTS) + min(len(v) for v in _VERBS) + 14
    count = max(1, min_chars // shortest + 1)
    picks = [rng.integers(0, len(words), count) for words in (_SUBJECTS, _VERBS, _OBJECTS, _TAILS)]
    sentences = [
        f"{_SUBJECTS[s].capitalize()} {_VERBS[v]} {_OBJECTS[o]}{_TAILS[t]}."
        for s, v, o, t in zip(*picks, strict=True)
    ]
    breaks = set(np.cumsum(rng.integers(3, 8, count)).tolist())
    parts, size = [], 0
    for index, sentence in enumerate(sentences):
        parts.append(sentence + ("\n\n" if index + 1 in breaks else " "))
        size += len(sentence) + 1
        if size >= min_chars:
            break
    return "".join(parts).strip() + "\n"
