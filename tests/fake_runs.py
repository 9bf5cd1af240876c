"""Fake run directories in the real on-disk layout, for tests that read saved runs (no training)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import yaml


def tiny_png(red: int = 200) -> bytes:
    """A valid 2x2 RGB PNG (the bytes a matplotlib figure would be, only smaller)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes([red, 10, 10]) * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_run(
    root: Path,
    config: str = "cnn-cifar10",
    run_id: str = "20261122-100000-aaaaaa",
    *,
    accuracy: float | None = 0.71,
    loss: float = 0.9,
    wall_time: float = 100.0,
    status: str = "completed",
    smoke: bool = False,
    source: str = "keras",
    reference: dict[str, Any] | None = None,
    history: dict[str, list[float]] | None = None,
    extra: dict[str, Any] | None = None,
    plots: tuple[str, ...] = ("loss",),
    description: str = "A CNN.",
) -> Path:
    """Write outputs/<config>/<run_id>/ with metrics.json, history, config.yaml and PNG plots."""
    run_dir = root / config / run_id
    (run_dir / "plots").mkdir(parents=True)
    test = {"loss": loss} if accuracy is None else {"loss": loss, "accuracy": accuracy}
    history = (
        history
        if history is not None
        else {
            "loss": [1.5, 1.1, loss],
            "val_loss": [1.4, 1.0, loss + 0.05],
            "accuracy": [0.4, 0.6, 0.7],
            "val_accuracy": [0.45, 0.6, 0.69],
        }
    )
    metrics: dict[str, Any] = {
        "schema_version": 1,
        "status": status,
        "error": None,
        "experiment": config.replace("-", "_"),
        "config": config,
        "config_hash": "abc",
        "seed": 42,
        "smoke": smoke,
        "data": {"dataset": "cifar10", "source": "synthetic" if smoke else source, "train_samples": 100},
        "started_at": f"2026-11-22T{run_id[9:11]}:{run_id[11:13]}:00+0000",
        "device": {"requested": "auto", "used": "cpu", "name": "CPU"},
        "versions": {"dlab": "0.1.0"},
        "run_dir": str(run_dir),
    }
    if status != "running":
        metrics.update(
            {
                "params": {"total": 122570, "trainable": 122570},
                "test": test,
                "timing": {"fit_seconds": wall_time * 0.9, "train_samples_per_s": 1000.0},
                "epochs_run": len(history.get("loss", [])),
                "final": {
                    "train": {k: v[-1] for k, v in history.items() if not k.startswith("val_")},
                    "val": {k[4:]: v[-1] for k, v in history.items() if k.startswith("val_")},
                },
                "finished_at": "2026-11-22T11:00:00+0000",
                "wall_time_s": wall_time,
            }
        )
    if status == "failed":
        metrics["error"] = {"type": "RuntimeError", "message": "loss became NaN <at epoch 2>"}
        metrics.pop("test")
    metrics.update(extra or {})
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    epochs = len(next(iter(history.values()), []))
    (run_dir / "history.json").write_text(json.dumps({"epoch": list(range(1, epochs + 1)), **history}))
    lines = ["epoch," + ",".join(history)]
    lines += [",".join([str(i + 1), *(str(v[i]) for v in history.values())]) for i in range(epochs)]
    (run_dir / "history.csv").write_text("\n".join(lines) + "\n")
    config_data = {
        "name": config,
        "experiment": config.replace("-", "_"),
        "description": description,
        "seed": 42,
        "data": {"dataset": "cifar10", "source": source, "path": None, "validation": "test"},
        "model": {"filters": [32, 64, 64]},
        "train": {
            "epochs": 3,
            "batch_size": 32,
            "optimizer": {"name": "adam", "learning_rate": 0.001},
            "loss": "sparse_categorical_crossentropy",
        },
        "reference": reference
        if reference is not None
        else {"test_accuracy": {"value": 0.714, "source": "lab report"}},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config_data, sort_keys=False))
    for index, name in enumerate(plots):
        (run_dir / "plots" / f"{name}.png").write_bytes(tiny_png(50 * index))
    return run_dir
