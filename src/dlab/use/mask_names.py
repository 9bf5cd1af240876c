"""File names for the masks ``dlab predict`` writes for a segmentation run: unique and deterministic.

A name made from the image's stem alone (``cat-mask.png``) gave ``a/cat.png``, ``b/cat.png``
and ``b/cat.jpg`` one file, each mask overwriting the one before while the table named it
three times. Each image now keeps as much of its path as tells it apart from the other
images of the same command: the stem when that is unique (``dog-mask.png``), then its
extension (``cat-jpg-mask.png``), then the folders above it, nearest first
(``a-cat-png-mask.png``), and a number only for what is still the same (one file given
twice). Names are compared ignoring case, as macOS and Windows file systems do. They
depend on the list of inputs alone, so a command names its masks the same way every time.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePath

SUFFIX = "-mask.png"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-.") or "image"


def _pieces(name: str) -> tuple[list[str], str, str]:
    """(folders, stem, extension) of an input's name; ``x.npz[3]`` is all stem."""
    path = PurePath(name)
    folders = [part for part in path.parent.parts if part not in (path.anchor, ".", "..")]
    if _EXTENSION.match(path.suffix) and path.stem:
        return folders, path.stem, path.suffix[1:]
    return folders, path.name, ""


def _key(pieces: tuple[list[str], str, str], level: int) -> str:
    folders, stem, extension = pieces
    base = f"{stem}-{extension}" if extension and level >= 1 else stem
    above = folders[len(folders) - (level - 1) :] if level >= 2 else []
    return _safe("-".join([*above, base]))


def mask_names(names: list[str]) -> list[str]:
    """One mask file name per input name (``<distinguishing part>-mask.png``), all different."""
    pieces = [_pieces(name) for name in names]
    levels = [0] * len(names)
    while True:
        keys = [_key(p, level) for p, level in zip(pieces, levels, strict=True)]
        counts = Counter(key.lower() for key in keys)
        grown = False
        for i, key in enumerate(keys):
            if counts[key.lower()] > 1 and levels[i] < len(pieces[i][0]) + 1:
                levels[i] += 1
                grown = True
        if not grown:
            break
    used = {key.lower() for key in keys if counts[key.lower()] == 1}
    for i, key in enumerate(keys):
        if counts[key.lower()] == 1:
            continue
        candidate, number = key, 1
        while candidate.lower() in used:
            number += 1
            candidate = f"{key}-{number}"
        used.add(candidate.lower())
        keys[i] = candidate
    return [key + SUFFIX for key in keys]
