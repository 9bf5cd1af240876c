"""What the per-epoch resume backup costs: one RunBackup save vs one training epoch.

    python benchmarks/bench_backup.py [config ...]     (default: playground-mlp cnn-cifar10 mlp-mnist)

For each config (smoke data, real model) it times one epoch of ``model.fit`` on
the smoke training set and one crash-safe backup (weights + optimizer state
written atomically, metadata renamed into place), and prints the medians and
the backup's share of a real-data epoch estimated from the samples per epoch.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def measure(name: str, repeats: int = 7) -> None:
    from dlab.framework import registry
    from dlab.framework.factory import resolve_config
    from dlab.training import RunBackup, compile_model, targets

    config = resolve_config(name, smoke=True)
    experiment = registry.get(config.experiment)()
    data = experiment.load_data(config)
    model = experiment.prepare(config, data)
    compile_model(model, config.train)
    y = targets(data.y_train, config.train, data.num_classes)
    epoch_seconds = []
    for _ in range(3):
        started = time.perf_counter()
        model.fit(data.x_train, y, epochs=1, batch_size=config.train.batch_size, verbose=0)
        epoch_seconds.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        backup = RunBackup(Path(folder) / "backup")
        backup.set_model(model)
        save_seconds = []
        for epoch in range(1, repeats + 1):
            backup._current_epoch = epoch
            started = time.perf_counter()
            backup._save_model()
            save_seconds.append(time.perf_counter() - started)
        size = sum(p.stat().st_size for p in (Path(folder) / "backup").iterdir())
    epoch_s = statistics.median(epoch_seconds[1:])
    save_s = statistics.median(save_seconds)
    per_sample = epoch_s / len(data.x_train)
    full = _full_train_size(name)
    print(
        f"{name:16s} params {model.count_params():>9,d}  backup {size / 1e6:6.2f} MB  "
        f"save {save_s * 1000:7.1f} ms  smoke epoch ({len(data.x_train)} samples) "
        f"{epoch_s * 1000:7.1f} ms  share of a real epoch ({full} samples): "
        f"{save_s / (per_sample * full + save_s):.2%}"
    )


def _full_train_size(name: str) -> int:
    from dlab.framework.factory import resolve_config

    dataset = resolve_config(name).data.dataset
    return {"cifar10": 50_000, "mnist": 60_000, "fashion_mnist": 60_000, "imdb": 25_000, "circle": 250}.get(
        dataset, 10_000
    )


if __name__ == "__main__":
    for config_name in sys.argv[1:] or ["playground-mlp", "cnn-cifar10", "mlp-mnist"]:
        measure(config_name)
