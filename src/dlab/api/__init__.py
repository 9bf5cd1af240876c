"""The Python API the CLI wraps: one function per command, every CLI flag a keyword argument.

Anything the CLI does can be scripted or tested without a shell::

    from dlab import api
    result = api.run("cnn-cifar10", epochs=2, smoke=True)
    print(result.metrics["test"]["accuracy"])

A run goes: resolve and validate the config -> check the output folder ->
choose the device -> load and check the data -> build the model -> only then
create the run directory and train. Bad input therefore stops before anything
is created or trained. One module per command group: :mod:`.runs`,
:mod:`.search`, :mod:`.results`, :mod:`.data`.
"""

from dlab.api.data import data_import, data_info
from dlab.api.results import check, check_format, compare, diff, list_runs, render_runs, report
from dlab.api.runs import (
    DEFAULT_OUTPUTS,
    ExperimentRow,
    RunResult,
    list_experiments,
    run,
    show_config,
    tune,
)
from dlab.api.search import sweep

__all__ = [
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
