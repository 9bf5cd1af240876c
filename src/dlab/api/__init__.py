"""The Python API the CLI wraps: one function per command, every CLI flag a keyword argument.

Anything the CLI does can be scripted or tested without a shell::

    from dlab import api
    result = api.run("cnn-cifar10", epochs=2, smoke=True)
    print(result.metrics["test"]["accuracy"])

A run goes: resolve and validate the config -> check the output folder ->
choose the device -> load and check the data -> build the model -> only then
create the run directory and train. Bad input therefore stops before anything
is created or trained. One module per command group: :mod:`.runs`,
:mod:`.search`, :mod:`.results`, :mod:`.data`, :mod:`.tracking` (:mod:`.use` (and
shell completion, re-exported from the packages that know the names).
"""

from dlab.api.data import data_import, data_info, data_layout, is_dataset_path, render_data_info
from dlab.api.results import check, check_format, compare, diff, list_runs, render_runs, report
from dlab.api.runs import (
    DEFAULT_OUTPUTS,
    ExperimentRow,
    RunResult,
    experiments_listing,
    list_experiments,
    run,
    show_config,
)
from dlab.api.search import sweep
from dlab.api.tracking import mlflow_sync, tensorboard_serve
from dlab.api.tune import tune
from dlab.api.use import doctor, evaluate, export, generate, neighbours, predict
from dlab.config.completion import complete_configs, complete_studies
from dlab.results.completion import complete_run_dirs

__all__ = [
    "data_layout",
    "doctor",
    "evaluate",
    "export",
    "generate",
    "is_dataset_path",
    "neighbours",
    "predict",
    "render_data_info",
    "complete_configs",
    "complete_run_dirs",
    "complete_studies",
    "experiments_listing",
    "mlflow_sync",
    "tensorboard_serve",
    "DEFAULT_OUTPUTS",
    "ExperimentRow",
    "RunResult",
    "check",
    "check_format",
    "compare",
    "data_import",
    "data_info",
    "diff",
    "list_experiments",
    "list_runs",
    "render_runs",
    "report",
    "run",
    "show_config",
    "sweep",
    "tune",
]
