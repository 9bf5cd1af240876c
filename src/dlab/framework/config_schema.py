"""The config file format as a JSON Schema, so an editor checks a config while it is typed.

``dlab schema`` prints it; packaged configs and ``dlab init`` projects name it in a
``yaml-language-server`` modeline, so VS Code (and any editor speaking the YAML language server)
completes keys, shows each key's description and underlines a typo or a wrong type before
``dlab run`` would refuse it.

It is made from the same pydantic models ``dlab run`` validates with, so the two cannot drift:
the common sections from :class:`dlab.config.RunConfig`, and each experiment's ``model``
section from that experiment's ``ModelConfig``, chosen by the config's ``experiment`` key
(``if``/``then``). A config that ``extends`` another is a partial config, so nothing is
required; the keys it does give are checked.
"""

from __future__ import annotations

import copy
from typing import Any

from dlab.config import RunConfig
from dlab.framework import registry

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "dlab-config.schema.json"
"""The file name the schema is shipped under, beside the packaged configs (and written into a
``dlab init`` project), that the modelines name."""
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a dlab config file."""
    schema = RunConfig.model_json_schema(mode="validation")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    schema.pop("required", None)  # a config that `extends` another may give any part of it
    properties = schema["properties"]
    properties["extends"] = {
        "type": "string",
        "description": "A config this one builds on: a config name (cnn-cifar10) or a YAML path "
        "relative to this file. Its keys are the defaults here; mappings merge, lists replace.",
    }
    names = registry.names()
    properties["experiment"] = {**properties["experiment"], "enum": names}
    branches = []
    for name in names:
        model = registry.get(name).ModelConfig.model_json_schema(mode="validation")
        for key, definition in model.pop("$defs", {}).items():
            definitions.setdefault(key, definition)
        model.pop("required", None)  # an extending config may leave them to its parent
        model["description"] = f"Settings of the {name} experiment."
        branches.append(
            {
                "if": {"properties": {"experiment": {"const": name}}, "required": ["experiment"]},
                "then": {"properties": {"model": model}},
            }
        )
    properties["model"] = {"type": "object", "description": properties["model"].get("description", "")}
    schema.pop("title", None)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_FILE,
        "title": "dlab config",
        **schema,
        "allOf": branches,
        "$defs": _without_titles(definitions),
    }


def _without_titles(definitions: dict[str, Any]) -> dict[str, Any]:
    """The definitions without pydantic's generated ``title`` keys (an editor shows the
    description; "Epochs" above "Training epochs" is noise)."""
    cleaned = copy.deepcopy(definitions)
    for definition in cleaned.values():
        definition.pop("title", None)
        for prop in (definition.get("properties") or {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
    return cleaned
