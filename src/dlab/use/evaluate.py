"""``dlab evaluate``: a saved run's model on another copy of its dataset.

The data comes from the same sources as ``dlab run`` (``--set data.path=...``,
``data.source=...``), loaded by the run's own experiment, so it is encoded exactly as
the run's data was; only keys under ``data.`` may change (anything else would be a
different model). The result goes to ``evaluations/<time>.json`` in the run
directory, beside the run's own test metrics it is shown with; a run folder that cannot
be written is refused (exit 2) before any data is loaded, not after the evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.fileio import atomic_write_json
from dlab.framework import registry
from dlab.results.tables import text_table
from dlab.run.directory import new_timestamped_folder, now_iso
from dlab.use.outputs import writable_folder
from dlab.use.runs import keras_model, open_run, require_task, run_config
from dlab.use.runtime import start_keras


@dataclass
class Evaluation:
    """The metrics on the new data next to the run's own test metrics."""

    run_dir: Path
    path: Path
    data: dict[str, Any]
    metrics: dict[str, float]
    run_test: dict[str, Any]

    def table(self, width: int | None = None) -> str:
        """Each metric now and in the run's own test, as a console table."""
        rows = [[key, f"{value:.4f}", _number(self.run_test.get(key))] for key, value in self.metrics.items()]
        return text_table(["metric", "now", "run's test"], rows, width=width)


def _number(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"


def evaluate(
    run_path: str | Path,
    *,
    sets: list[str] | tuple[str, ...] = (),
    batch_size: int | None = None,
    device: str = "auto",
    debug: bool = False,
) -> Evaluation:
    """Evaluate a run's model on the test split of the data that ``sets`` describe.

    Raises:
        UsageError: not a usable run, a ``--set`` outside ``data.``, data that cannot be loaded.
    """
    # both import TensorFlow: only after start_keras() has chosen the device
    from dlab.training.compile import compile_model  # lazy: imports keras
    from dlab.training.fit import fit_inputs

    wrong = [item for item in sets if not item.split("=", 1)[0].strip().startswith("data.")]
    if wrong:
        raise UsageError(
            f"dlab evaluate changes only the data (--set data.KEY=VALUE); {', '.join(wrong)} would "
            "describe another model. Train that with `dlab run`."
        )
    run = open_run(run_path, command="dlab evaluate")
    require_task(
        run,
        ("classification", "regression", "segmentation", "forecast"),
        "dlab evaluate",
        "Language models and word vectors are evaluated by their own runs (perplexity, neighbours).",
    )
    folder = writable_folder(
        run.path / "evaluations",
        "dlab evaluate",
        f"It writes its result into the run folder: copy the run somewhere writable (cp -r {run.path} "
        "DIR) and evaluate the copy.",
    )
    config = run_config(run, list(sets))
    start_keras(device, debug)
    experiment = registry.get(config.experiment)()
    data = experiment.load_data(config)
    model = keras_model(run)
    train = config.train.model_copy(update={"batch_size": batch_size or config.train.batch_size})
    compile_model(model, train, 1, data.num_classes)  # the run's own metrics, by the run's names
    _, test_arguments = fit_inputs(data, train)
    started = time.perf_counter()
    metrics = model.evaluate(**test_arguments, return_dict=True, verbose=0)
    metrics = {key: float(value) for key, value in metrics.items()}
    described = data.describe() if hasattr(data, "describe") else {}
    record = {
        "evaluated_at": now_iso(),
        "seconds": round(time.perf_counter() - started, 3),
        "sets": list(sets),
        "data": described,
        "test": metrics,
        "run_test": run.metrics.get("test") or {},
    }
    try:
        stamp = new_timestamped_folder(folder)  # a unique name; the folder itself only reserves it
        target = stamp.with_suffix(".json")
        stamp.rmdir()
        atomic_write_json(target, record)
    except OSError as error:
        raise UsageError(
            f"dlab evaluate: cannot write the result into {folder} ({error.strerror or error}); the "
            f"metrics were {metrics}."
        ) from None
    return Evaluation(run.path, target, described, metrics, record["run_test"])
