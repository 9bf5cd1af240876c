"""Class-folder trees: pipeline throughput with and without cache/prefetch, and vgg16-features
(precomputed once) vs the frozen base run every epoch.

1. ``pipeline``: a generated tree of ``--images`` JPEGs (default 2,000, two classes,
   ``--source-size`` pixels square) in train/. Images per second decoded and resized
   to 180x180 and batched (32), over ``--epochs`` passes, for:

   - ``plain``: ``keras.utils.image_dataset_from_directory(..., batch_size=32)`` as a
     plain Keras script uses it (no cache; Keras adds prefetch);
   - ``plain+cache``: the same with ``.cache().prefetch(AUTOTUNE)`` (Deep Learning
     with Python's recipe);
   - ``dlab cache=none`` / ``dlab cache=memory``: dlab's streams
     (``load_folder_dataset`` then ``StreamDataset.batches("train", 32, shuffle=True)``).

   The first pass of a cached stream decodes; later passes read the cache: both are
   reported (median of the later passes).

2. ``features``: ``dlab run vgg16-features`` vs ``dlab run vgg16-aug`` without
   augmentation (the frozen base inside the model, run on every batch of every
   epoch), both on synthetic 180x180 images (``--train-samples`` / ``--val-samples``),
   random weights (the cost does not depend on their values; nothing is
   downloaded), no checkpoint, ``--feature-epochs`` epochs. Reported: the one-off
   feature extraction, the head's seconds per epoch, the frozen model's seconds per
   epoch, and their ratio per epoch with the extraction amortized over 20 epochs
   (vgg16-features' setting) and over the epochs run.

    .venv/bin/python benchmarks/bench_folder_pipeline.py [--images 2000] [--epochs 3] \
        [--train-samples 128] [--val-samples 64] [--feature-epochs 3] [--only pipeline|features]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_jpeg_tree(root: Path, images: int, size: int) -> Path:
    """root/train/{cat,dog}/N.jpg (and a tiny test/), random smooth-ish pixels."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", images), ("test", 4)):
        for name in ("cat", "dog"):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count // 2):
                coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                image = Image.fromarray(coarse).resize((size, size), Image.BILINEAR)
                image.save(folder / f"{name}.{i}.jpg", quality=90)
    return root


def passes(dataset, epochs: int) -> list[float]:
    """Images per second of each full pass over a batched dataset."""
    rates = []
    for _ in range(epochs):
        started, count = time.perf_counter(), 0
        for x, _ in dataset:
            count += int(x.shape[0])
        rates.append(count / (time.perf_counter() - started))
    return rates


def bench_pipeline(args) -> None:
    import keras
    import tensorflow as tf

    from dlab.config import DataConfig
    from dlab.data.modalities.folders import load_folder_dataset

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        root = write_jpeg_tree(Path(folder) / "tree", args.images, args.source_size)
        print(
            f"wrote {args.images} JPEGs ({args.source_size}x{args.source_size}) in "
            f"{time.perf_counter() - started:.1f} s"
        )

        def plain(cached: bool):
            dataset = keras.utils.image_dataset_from_directory(
                root / "train", image_size=(180, 180), batch_size=32, seed=0, verbose=False
            )
            return dataset.cache().prefetch(tf.data.AUTOTUNE) if cached else dataset

        def dlab(cache: str):
            config = DataConfig(
                dataset="image_folders", source="dir", path=str(root), validation="test", cache=cache
            )
            return load_folder_dataset(config, seed=0, image_size=180).batches("train", 32, shuffle=True)

        variants = {
            "plain": plain(False),
            "plain+cache": plain(True),
            "dlab cache=none": dlab("none"),
            "dlab cache=memory": dlab("memory"),
        }
        results = {}
        for name, dataset in variants.items():
            rates = passes(dataset, args.epochs)
            results[name] = rates
            later = statistics.median(rates[1:]) if len(rates) > 1 else rates[0]
            print(
                f"{name:18s} first pass {rates[0]:8.0f} img/s   later passes (median) "
                f"{later:8.0f} img/s   all: {', '.join(f'{r:.0f}' for r in rates)}"
            )
        base = statistics.median(results["plain"])
        for name in ("plain+cache", "dlab cache=none", "dlab cache=memory"):
            later = statistics.median(results[name][1:]) if args.epochs > 1 else results[name][0]
            print(f"ratio {name} / plain (later passes): {later / base:.2f}")


def bench_features(args) -> None:
    import json

    from dlab import api

    common = [
        "data.source=synthetic",
        f"data.train_samples={args.train_samples}",
        f"data.test_samples={args.val_samples}",
        "model.weights=null",
        "model.image_size=180",
        "train.checkpoint=null",
    ]
    with tempfile.TemporaryDirectory() as out:
        features = api.run(
            "vgg16-features",
            epochs=args.feature_epochs,
            out=out,
            device=args.device,
            sets=common,
            save_model=False,
        )
        frozen = api.run(
            "vgg16-aug",
            epochs=args.feature_epochs,
            out=out,
            device=args.device,
            sets=[*common, "model.augmentation=null"],
            save_model=False,
        )
    extract = features.metrics["backbone"]["feature_seconds"]
    head_epoch = features.metrics["timing"]["time_per_epoch_s"]
    frozen_epoch = frozen.metrics["timing"]["time_per_epoch_s"]
    print(
        json.dumps(
            {
                "device": features.metrics["device"],
                "train": args.train_samples,
                "val_and_test": args.val_samples,
            }
        )
    )
    print(
        f"vgg16-features: extraction once (train + val + test) {extract:.2f} s, head {head_epoch:.4f} s/epoch"
    )
    print(f"vgg16-aug without augmentation (frozen base every epoch): {frozen_epoch:.2f} s/epoch")
    for epochs in (args.feature_epochs, 20):
        amortized = extract / epochs + head_epoch
        print(
            f"per epoch over {epochs} epochs: features {amortized:.3f} s vs frozen "
            f"{frozen_epoch:.3f} s -> {frozen_epoch / amortized:.1f}x"
        )
    print(f"per epoch after the extraction: {frozen_epoch / head_epoch:.0f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--source-size", type=int, default=180)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-samples", type=int, default=128)
    parser.add_argument("--val-samples", type=int, default=64)
    parser.add_argument("--feature-epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=("pipeline", "features"))
    args = parser.parse_args()
    if args.only != "features":
        bench_pipeline(args)
    if args.only != "pipeline":
        bench_features(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
