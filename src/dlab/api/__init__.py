"""The Python API the CLI wraps: one function per command, every CLI flag a keyword argument.

Anything the CLI does can be scripted or tested without a shell::

    from dlab import api
    result = api.run("cnn-cifar10", epochs=2, smoke=True)
    print(result.metrics["test"]["accuracy"])

A run goes: resolve and validate the config -> check the output folder ->
choose the device -> load and check the data -> build the model -> only then
create the run directory and train. Bad input therefore stops before anything
is created or trained. One module per command group: :mod:`.runs`, :mod:`.listing`,
:mod:`.search`, :mod:`.tune`, :mod:`.results`, :mod:`.manage`, :mod:`.data`, :mod:`.tracking`, :mod:`.use`
(and shell completion, re-exported from the packages that know the names).

The names are imported on first use (PEP 562): ``dlab list`` or a completion
must not pay for pydantic, the run machinery and the result readers that other
commands need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.lazy import lazy_exports

if TYPE_CHECKING:
    from dlab.api.data import data_import, data_info, data_layout, is_dataset_path, render_data_info
    from dlab.api.discovery import complete_set_keys, explain_config
    from dlab.api.listing import ExperimentRow, experiments_listing, list_experiments
    from dlab.api.manage import plan_removal, remove, tag
    from dlab.api.project import config_schema, init_project, write_config_schema
    from dlab.api.results import check, check_format, compare, diff, list_runs, render_runs, report
    from dlab.api.runs import DEFAULT_OUTPUTS, RunResult, config_origin, run, show_config
    from dlab.api.summary import summarize
    from dlab.api.sweeps import sweep
    from dlab.api.tracking import mlflow_sync, tensorboard_serve
    from dlab.api.tune import tune
    from dlab.api.use import doctor, evaluate, export, generate, neighbours, predict
    from dlab.config.completion import complete_configs, complete_paths, complete_studies
    from dlab.pipeline.request import RunRequest
    from dlab.results.completion import complete_run_dirs
    from dlab.run.stages import render_stages, since_process_start
    from dlab.runtime.tfenv import quiet_native_output
    from dlab.sweep.request import SweepRequest
    from dlab.tune.request import SearchRequest

_HOMES: dict[str, str] = {
    "data_import": "dlab.api.data",
    "data_info": "dlab.api.data",
    "data_layout": "dlab.api.data",
    "is_dataset_path": "dlab.api.data",
    "render_data_info": "dlab.api.data",
    "ExperimentRow": "dlab.api.listing",
    "experiments_listing": "dlab.api.listing",
    "list_experiments": "dlab.api.listing",
    "check": "dlab.api.results",
    "check_format": "dlab.api.results",
    "compare": "dlab.api.results",
    "diff": "dlab.api.results",
    "list_runs": "dlab.api.results",
    "render_runs": "dlab.api.results",
    "report": "dlab.api.results",
    "DEFAULT_OUTPUTS": "dlab.api.runs",
    "RunRequest": "dlab.pipeline.request",
    "RunResult": "dlab.api.runs",
    "SearchRequest": "dlab.tune.request",
    "SweepRequest": "dlab.sweep.request",
    "run": "dlab.api.runs",
    "show_config": "dlab.api.runs",
    "config_origin": "dlab.api.runs",
    "init_project": "dlab.api.project",
    "config_schema": "dlab.api.project",
    "write_config_schema": "dlab.api.project",
    "plan_removal": "dlab.api.manage",
    "remove": "dlab.api.manage",
    "tag": "dlab.api.manage",
    "sweep": "dlab.api.sweeps",
    "mlflow_sync": "dlab.api.tracking",
    "tensorboard_serve": "dlab.api.tracking",
    "tune": "dlab.api.tune",
    "doctor": "dlab.api.use",
    "evaluate": "dlab.api.use",
    "export": "dlab.api.use",
    "generate": "dlab.api.use",
    "neighbours": "dlab.api.use",
    "predict": "dlab.api.use",
    "complete_configs": "dlab.config.completion",
    "complete_studies": "dlab.config.completion",
    "complete_run_dirs": "dlab.results.completion",
    "complete_paths": "dlab.config.completion",
    "complete_set_keys": "dlab.api.discovery",
    "explain_config": "dlab.api.discovery",
    "quiet_native_output": "dlab.runtime.tfenv",
    "summarize": "dlab.api.summary",
    "render_stages": "dlab.run.stages",
    "since_process_start": "dlab.run.stages",
}
"""Each public name and the module that defines it."""

__all__ = [
    "DEFAULT_OUTPUTS",
    "config_origin",
    "config_schema",
    "init_project",
    "write_config_schema",
    "ExperimentRow",
    "RunRequest",
    "RunResult",
    "SearchRequest",
    "SweepRequest",
    "check",
    "check_format",
    "compare",
    "complete_configs",
    "complete_paths",
    "complete_set_keys",
    "explain_config",
    "quiet_native_output",
    "summarize",
    "render_stages",
    "since_process_start",
    "complete_run_dirs",
    "complete_studies",
    "data_import",
    "data_info",
    "data_layout",
    "diff",
    "doctor",
    "evaluate",
    "experiments_listing",
    "export",
    "generate",
    "is_dataset_path",
    "list_experiments",
    "list_runs",
    "mlflow_sync",
    "neighbours",
    "plan_removal",
    "predict",
    "remove",
    "render_data_info",
    "render_runs",
    "report",
    "run",
    "show_config",
    "sweep",
    "tag",
    "tensorboard_serve",
    "tune",
]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
