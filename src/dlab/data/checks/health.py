"""The split check every run makes before training: class balance, or target ranges.

A classifier's train, validation and test splits are counted class by class; the
counts go into metrics.json (``data.class_counts``). A split that holds a single
class while the others hold more, a training split of one class that no other split
contradicts (every label the same: accuracy 1.0 and nothing learned), or a split that
lacks a class the others have so often that chance cannot explain it, stops the run
(exit 2) with the counts, unless
``data.allow_degenerate_split: true``. "Chance cannot explain it": if the examples
were dealt to the splits at random, all k examples of the class would miss a split of
n out of N with probability C(N - n, k) / C(N, k); below 1 in 1,000 it is an error.
Rare classes missing by chance (a 10-article Reuters topic that is not among the
first 1,000 articles: probability about 1 in 3) are reported as warnings: refusing
those would refuse the real data. Regression targets get a summary per split
(``data.target_summary``) and a warning when validation or test targets lie outside
the range of the training targets.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data.checks.splits import class_labels
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

MAX_CHANCE = 1e-3
"""A class absent from a split is an error when random splitting would leave it out with a
smaller probability than this."""

SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}


def check_splits(data: Any, config: DataConfig) -> dict[str, Any]:
    """Check the splits of ``data`` and return what metrics.json's ``data`` section adds.

    Args:
        data: what an experiment's ``load_data`` returned: an ArrayDataset, a stream with
            ``split_labels``, a BatchedDataset (its ``rows`` are checked) or anything else
            (nothing to check: an empty dict).
        config: ``data.allow_degenerate_split`` turns a failure into a warning.

    Raises:
        DataError: a degenerate split, naming it and every split's class counts.
    """
    found = split_targets(data)
    if found is None:
        return {}
    kind, splits, names = found
    if kind == "regression":
        summary = {split: _summary(values) for split, values in splits.items()}
        warnings = _range_warnings(summary, splits)
        _log(warnings)
        return {"target_summary": summary, **({"split_warnings": warnings} if warnings else {})}
    keys = _class_keys(splits, names)
    counts = {split: _count(labels, keys) for split, labels in splits.items()}
    distinct = [
        s for s in splits if not (s == "val" and "test" in splits and splits["val"] is splits["test"])
    ]
    single = _single_class_everywhere({s: counts[s] for s in distinct})
    ordered, warnings = _problems({s: counts[s] for s in distinct})
    problems = single + ordered
    if problems and not config.allow_degenerate_split:
        raise DataError(_failure_message(problems, counts, distinct, ordering=bool(ordered)))
    if problems:
        warnings = [f"{p} (allowed by data.allow_degenerate_split)" for p in problems] + warnings
    _log(warnings)
    return {"class_counts": counts, **({"split_warnings": warnings} if warnings else {})}


def split_targets(data: Any) -> tuple[str, dict[str, np.ndarray], list[str]] | None:
    """("classification" | "regression", split -> labels or targets, class names), or None."""
    names = [str(n) for n in (getattr(data, "class_names", None) or [])]
    labels = getattr(data, "split_labels", None)
    if labels is not None:
        return "classification", {s: np.asarray(y) for s, y in labels.items()}, names
    rows = getattr(data, "rows", None)
    if rows is not None:  # windows cut from rows: the rows' targets
        return split_targets(rows)
    if not all(hasattr(data, key) for key in ("y_train", "y_val", "y_test")):
        return None
    raw = {"train": data.y_train, "val": data.y_val, "test": data.y_test}
    if raw["val"] is None:
        del raw["val"]
    if names:
        found = {split: class_labels(y, len(names)) for split, y in raw.items()}
        if any(y is None for y in found.values()):
            return None
        if "val" in found and raw["val"] is raw["test"]:
            found["val"] = found["test"]
        return "classification", found, names
    arrays = {split: np.asarray(y) for split, y in raw.items()}
    flat = {
        split: y.reshape(len(y))
        for split, y in arrays.items()
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
    }
    if len(flat) == len(arrays) and all(np.issubdtype(y.dtype, np.floating) for y in flat.values()):
        return "regression", flat, []
    return None


def _class_keys(splits: dict[str, np.ndarray], names: list[str]) -> dict[Any, str]:
    """Label value -> the name metrics.json counts it under (class names where they fit)."""
    values = np.unique(np.concatenate([np.asarray(y).reshape(-1) for y in splits.values()]))
    integral = values.size == 0 or bool(np.all(np.equal(np.mod(values, 1), 0)))
    if names and integral and (values.size == 0 or (values.min() >= 0 and values.max() < len(names))):
        return {index: name for index, name in enumerate(names)}
    if names and len(values) <= len(names):  # e.g. labels -1 / +1 named "-1", "+1"
        return {value.item(): name for value, name in zip(values, names, strict=False)}
    return {value.item(): _format(value.item()) for value in values}


def _format(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _count(labels: np.ndarray, keys: dict[Any, str]) -> dict[str, int]:
    values, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    found = {keys.get(v.item(), _format(v.item())): int(c) for v, c in zip(values, counts, strict=True)}
    return {name: found.get(name, 0) for name in keys.values()} | found


def _problems(counts: dict[str, dict[str, int]]) -> tuple[list[str], list[str]]:
    """What makes a split useless (problems) and what is only worth saying (warnings)."""
    problems, warnings = [], []
    for split, own in counts.items():
        others = [counts[o] for o in counts if o != split]
        if not others:
            continue
        pooled = {name: sum(o.get(name, 0) for o in others) for name in own}
        pooled_total = sum(pooled.values())
        size = sum(own.values())
        words = SPLIT_WORDS.get(split, split)
        present = [name for name, c in own.items() if c > 0]
        elsewhere = [name for name, c in pooled.items() if c > 0]
        if size == 0:
            problems.append(f"the {words} split is empty")
            continue
        if len(present) == 1 and len(set(elsewhere) | set(present)) > 1:
            problems.append(f"the {words} split holds a single class ({present[0]}: {size})")
            continue
        absent = [name for name in elsewhere if own.get(name, 0) == 0]
        expected = {name: pooled[name] / (pooled_total + size) * size for name in absent}
        chance = {name: _chance_absent(pooled[name], size, pooled_total) for name in absent}
        missing = {n: expected[n] for n in absent if chance[n] < MAX_CHANCE}
        rare = {n: expected[n] for n in absent if chance[n] >= MAX_CHANCE}
        if missing:
            problems.append(
                f"the {words} split has no {_names(missing)} although random "
                f"splitting would put about {_expected(missing)} of its {size} "
                "examples there"
            )
        if rare:
            warnings.append(
                f"the {words} split has no {_names(rare)} (rare: about "
                f"{_expected(rare)} expected of {size}, so chance can explain it)"
            )
    return problems, warnings


def _single_class_everywhere(counts: dict[str, dict[str, int]]) -> list[str]:
    """A training split of one class when no split holds another: the per-split check compares
    splits with each other and sees nothing wrong there, yet such a model learns nothing and
    scores accuracy 1.0 on a test split of that class."""
    train = counts.get("train") or {}
    present = {name for name, count in train.items() if count > 0}
    anywhere = {name for own in counts.values() for name, count in own.items() if count > 0}
    if len(present) != 1 or anywhere != present:
        return []
    (only,) = present
    return [
        f"the training split holds a single class ({only}: {train[only]}) and no split holds "
        "another, so the classifier learns nothing and its test accuracy means nothing"
    ]


def _chance_absent(k: int, size: int, others: int) -> float:
    """P(none of k examples of a class lands in a split of ``size``, the rest holding ``others``)."""
    total = size + others
    steps = np.arange(min(k, others + 1))
    return float(np.exp(np.sum(np.log(np.maximum(others - steps, 0) / (total - steps) + 1e-300))))


def _names(expected: dict[str, float]) -> str:
    shown = list(expected)[:8]
    more = f" and {len(expected) - 8} more" if len(expected) > 8 else ""
    return ", ".join(shown) + more


def _expected(expected: dict[str, float]) -> str:
    low, high = min(expected.values()), max(expected.values())
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def _failure_message(
    problems: list[str], counts: dict[str, dict[str, int]], distinct: list[str], *, ordering: bool = True
) -> str:
    shown = "; ".join(
        f"{SPLIT_WORDS.get(s, s)}: " + ", ".join(f"{n} {c}" for n, c in counts[s].items()) for s in distinct
    )
    advice = (
        "This usually means the examples are ordered by class in the files and a split took a "
        "contiguous part of them. Use a fraction for data.validation (a random subset, stratified "
        "by class), check how the files are ordered and split, "
        if ordering
        else "Check the labels (y_train / the label column / the class folders), "
    )
    return (
        f"The data splits cannot measure a classifier: {'; '.join(problems)}. Class counts "
        f"per split: {shown}. {advice}or set data.allow_degenerate_split=true to train anyway."
    )


def _summary(values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"count": 0}
    return {
        "count": int(values.size),
        "mean": round(float(values.mean()), 6),
        "std": round(float(values.std()), 6),
        "min": round(float(values.min()), 6),
        "max": round(float(values.max()), 6),
    }


def _range_warnings(summary: dict[str, dict[str, float]], splits: dict[str, np.ndarray]) -> list[str]:
    train = summary.get("train", {})
    if not train.get("count"):
        return []
    warnings = []
    for split in ("val", "test"):
        own = summary.get(split)
        if not own or not own.get("count") or (split == "val" and splits.get("val") is splits.get("test")):
            continue
        if own["min"] > train["max"] or own["max"] < train["min"]:
            side = "above" if own["min"] > train["max"] else "below"
            warnings.append(
                f"the {SPLIT_WORDS[split]} targets ({own['min']:g} to {own['max']:g}) lie entirely "
                f"{side} the training targets ({train['min']:g} to {train['max']:g}): the model is "
                "judged on values it never saw. Check how the rows are ordered and split."
            )
    return warnings


def _log(warnings: list[str]) -> None:
    for warning in warnings:
        logging.getLogger("dlab.data").warning("split check: %s", warning)
