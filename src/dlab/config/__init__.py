"""Configs: the typed schema, YAML files and ``extends``, ``--set`` overrides, and error explanations.

A leaf package: it imports nothing else of dlab but :mod:`dlab.errors`. Where a
config meets the experiment registry (resolving a name into a validated
config with the experiment's own ``model`` schema) is
:mod:`dlab.framework.factory`.

The names are imported on first use (PEP 562), so that reading a config file
(``dlab.config.files``) does not import pydantic for the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.lazy import lazy_exports

if TYPE_CHECKING:
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
    "CheckpointConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "EmptyModelConfig",
    "OptimizerConfig",
    "ReferenceValue",
    "RunConfig",
    "SMOKE_DEFAULTS",
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

_HOMES: dict[str, str] = {
    "validate_section": "dlab.config.explain",
    "config_names": "dlab.config.files",
    "deep_merge": "dlab.config.files",
    "find_config": "dlab.config.files",
    "load_yaml_chain": "dlab.config.files",
    "packaged_configs_dir": "dlab.config.files",
    "read_yaml": "dlab.config.files",
    "flatten_dotted": "dlab.config.overrides",
    "flatten_keys": "dlab.config.overrides",
    "parse_set": "dlab.config.overrides",
    "set_dotted": "dlab.config.overrides",
    "ReferenceValue": "dlab.config.references",
    "SMOKE_DEFAULTS": "dlab.config.schema",
    "CheckpointConfig": "dlab.config.schema",
    "DataConfig": "dlab.config.schema",
    "EarlyStoppingConfig": "dlab.config.schema",
    "OptimizerConfig": "dlab.config.schema",
    "RunConfig": "dlab.config.schema",
    "ScheduleConfig": "dlab.config.schema",
    "TrainConfig": "dlab.config.schema",
    "parse_duration": "dlab.config.schema",
    "EmptyModelConfig": "dlab.config.strict",
    "StrictModel": "dlab.config.strict",
}
"""Each public name and the module that defines it."""

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
