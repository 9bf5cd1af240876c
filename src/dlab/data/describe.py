"""``dlab data info``: what a config's dataset holds, read exactly as a run would read it, without training.

Every seed report first looked at its data by hand (shapes, dtypes, the class
balance, a few images); this does it for any dataset and source, offline on the
``--smoke`` twins and on real files alike: source and location, split sizes,
shapes and dtypes, value ranges, the class balance per split, missing values for
tables, sequence-length percentiles for text, and a figure
(:mod:`dlab.data.info_figure`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data import DATASETS, load_dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig

STREAM_LIMIT = 5000
"""Images read per split of a streamed tree to count its classes (the count says when it stopped)."""


def load_for_info(config: DataConfig, seed: int) -> Any:
    """The dataset as ``load_dataset`` gives it, or a class-folder tree as a stream."""
    if config.dataset not in DATASETS:
        from dlab.data.modalities.folders import FOLDER_DATASETS, load_folder_dataset

        if config.dataset in FOLDER_DATASETS:
            return load_folder_dataset(config, seed)
    return load_dataset(config, seed)


def _values(x: np.ndarray) -> dict[str, Any]:
    """Shape, dtype and range of an array of numbers (NaNs counted, not averaged)."""
    entry: dict[str, Any] = {"shape": list(x.shape), "dtype": str(x.dtype)}
    if x.size and np.issubdtype(x.dtype, np.number):
        finite = x[np.isfinite(x)] if np.issubdtype(x.dtype, np.floating) else x
        if finite.size:
            entry.update(
                min=float(finite.min()), max=float(finite.max()), mean=round(float(finite.mean()), 4)
            )
        if np.issubdtype(x.dtype, np.floating):
            entry["missing"] = int(x.size - finite.size)
    return entry


def _lengths(x: np.ndarray) -> dict[str, Any]:
    """A split of word-index lists: its length percentiles, the way a text run sees it."""
    lengths = np.fromiter((len(doc) for doc in x), dtype=np.int64, count=len(x))
    points = (5, 25, 50, 75, 95) if len(lengths) else ()
    return {
        "shape": [len(x)],
        "dtype": "word-index lists",
        "length_percentiles": {f"p{p}": int(np.percentile(lengths, p)) for p in points},
        "max_length": int(lengths.max()) if len(lengths) else 0,
        "largest_index": int(max((max(doc) for doc in x if len(doc)), default=0)),
    }


def _balance(y: np.ndarray, names: list[str] | None) -> dict[str, int] | None:
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:  # one-hot
        y = y.argmax(axis=-1)
    y = y.reshape(-1)
    if y.size and set(np.unique(y).tolist()) <= {-1, 1}:  # the Playground's labels -1 / +1
        y = (y > 0).astype(np.int64)
    if not names or not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        return None
    counts = np.bincount(y.astype(np.int64), minlength=len(names)) if len(y) else []
    return {names[i] if i < len(names) else str(i): int(c) for i, c in enumerate(counts)}


def _split(x: Any, y: Any, names: list[str] | None) -> dict[str, Any]:
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    entry: dict[str, Any] = {"samples": int(len(x))}
    entry["x"] = _lengths(x) if x.dtype == object else _values(x)
    y = np.asarray(y)
    entry["y"] = _values(y)
    balance = _balance(y, names) if y.ndim <= 2 and y.size and len(y) == len(x) else None
    if balance is not None:
        entry["class_balance"] = balance
    return entry


def _stream_split(stream: Any, names: list[str]) -> dict[str, Any]:
    labels, shape, dtype, low, high = [], None, None, 255, 0
    for count, (x, y) in enumerate(stream.as_numpy_iterator()):
        if count >= STREAM_LIMIT:
            break
        shape, dtype = list(x.shape), str(x.dtype)
        low, high = min(low, int(x.min())), max(high, int(x.max()))
        if np.ndim(y) == 0:
            labels.append(int(y))
    entry: dict[str, Any] = {"x": {"shape": shape, "dtype": dtype, "min": low, "max": high}}
    if labels:
        entry["class_balance"] = _balance(np.asarray(labels), names)
        entry["counted"] = len(labels)
    return entry


def describe(config: DataConfig, seed: int) -> tuple[dict[str, Any], Any]:
    """A report of the dataset ``config`` loads (see the module docstring), and the data itself.

    Raises:
        ConfigError, DataError: as ``dlab run`` would raise them for this data section.
    """
    data = load_for_info(config, seed)
    rows = getattr(data, "rows", data)  # a windowed series describes the rows it is cut from
    names = list(getattr(rows, "class_names", None) or []) or None
    report: dict[str, Any] = {
        "dataset": config.dataset,
        "source": config.source,
        "location": getattr(rows, "location", None),
        "validation": getattr(rows, "validation", None),
        "class_names": names,
        "splits": {},
    }
    if hasattr(data, "splits"):  # a class-folder or image+mask tree, streamed
        report["sizes"] = dict(data.sizes)
        for split, stream in data.splits.items():
            report["splits"][split] = {"samples": data.sizes[split], **_stream_split(stream, names or [])}
        return report, data
    splits = {"train": (rows.x_train, rows.y_train), "test": (rows.x_test, rows.y_test)}
    if rows.x_val is not None and rows.x_val is not rows.x_test:
        splits = {"train": splits["train"], "val": (rows.x_val, rows.y_val), "test": splits["test"]}
    for split, (x, y) in splits.items():
        report["splits"][split] = _split(x, y, names)
    extra = {k: v for k, v in (rows.extra or {}).items() if not isinstance(v, list) or len(v) <= 40}
    if extra:
        report["extra"] = extra
    return report, data


def describe_to(config: DataConfig, seed: int, plot: str | None = None) -> dict[str, Any]:
    """:func:`describe`, and with ``plot`` the figure written there (its path added as ``plot``)."""
    report, data = describe(config, seed)
    if plot is not None:
        from pathlib import Path

        from dlab.data.info_figure import info_figure
        from dlab.fileio import atomic_path

        target = Path(plot).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            info_figure(report, data).savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        report["plot"] = str(target)
    return report


def render(report: dict[str, Any]) -> str:
    """The report as text for the console: one block per split."""
    lines = [
        f"dataset:    {report['dataset']} (source {report['source']})",
        f"location:   {report.get('location') or '-'}",
        f"validation: {report.get('validation') or '-'}",
    ]
    if report.get("class_names"):
        names = report["class_names"]
        lines.append(f"classes:    {len(names)}: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
    for split, entry in report["splits"].items():
        lines.append(f"{split}: {entry.get('samples')} samples")
        for part in ("x", "y"):
            if part in entry:
                lines.append(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in entry[part].items()))
        if entry.get("class_balance"):
            total = max(sum(entry["class_balance"].values()), 1)
            shares = [
                f"{name} {count} ({count / total:.0%})" for name, count in entry["class_balance"].items()
            ]
            counted = f" (first {entry['counted']})" if entry.get("counted") else ""
            lines.append(
                f"  classes{counted}: " + ", ".join(shares[:12]) + (" ..." if len(shares) > 12 else "")
            )
    for key, value in (report.get("extra") or {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"
