"""Configs: the typed schema, YAML files and ``extends``, ``--set`` overrides, and error explanations.

A leaf package: it imports nothing else of dlab but :mod:`dlab.errors`. Where a
config meets the experiment registry (resolving a name into a validated
config with the experiment's own ``model`` schema) is
:mod:`dlab.experiment.factory`.
"""

from dlab.config.explain import validate_section
from dlab.config.files import (
    config_names,
    deep_merge,
    find_config,
    load_yaml_chain,
    packaged_configs_dir,
    read_yaml,
)
from dlab.config.overrides import flatten_dotted, flatten_keys, parse_set, set_dotted
from dlab.config.references import ReferenceValue
from dlab.config.schema import (
    SMOKE_DEFAULTS,
    CheckpointConfig,
    DataConfig,
    EarlyStoppingConfig,
    OptimizerConfig,
    RunConfig,
    ScheduleConfig,
    TrainConfig,
    parse_duration,
)
from dlab.config.strict import EmptyModelConfig, StrictModel

__all__ = [
    "SMOKE_DEFAULTS",
    "CheckpointConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "EmptyModelConfig",
    "OptimizerConfig",
    "ReferenceValue",
    "RunConfig",
    "ScheduleConfig",
    "StrictModel",
    "TrainConfig",
    "config_names",
    "deep_merge",
    "find_config",
    "flatten_dotted",
    "flatten_keys",
    "load_yaml_chain",
    "packaged_configs_dir",
    "parse_duration",
    "parse_set",
    "read_yaml",
    "set_dotted",
    "validate_section",
]
