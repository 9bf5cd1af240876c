"""Small dataset trees in their real on-disk layout, shared by the data and experiment tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_tree(
    root: Path,
    classes=("cat", "dog"),
    per_class: int = 6,
    size: int = 48,
    splits=("train", "validation", "test"),
) -> Path:
    """root/<split>/<class>/ with PNG and JPEG images (alternating); class i is drawn bright/dark
    so a model can tell them apart."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for split in splits:
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                base = 40 + 160 * index / max(1, len(classes) - 1)
                pixels = np.clip(base + rng.normal(0, 20, (size, size + 8, 3)), 0, 255)
                image = Image.fromarray(pixels.astype(np.uint8))
                image.save(folder / (f"{i}.png" if i % 2 else f"{i}.jpg"))
    return root


def write_acl_imdb(root, per_class=6, splits=("train", "test"), polarities=("pos", "neg")):
    words = {"pos": "great wonderful superb loved", "neg": "awful boring terrible hated"}
    for split in splits:
        for polarity in polarities:
            folder = root / split / polarity
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                (folder / f"{i}_7.txt").write_text(f"This film was {words[polarity]}.<br />Take {i}.")
    return root
