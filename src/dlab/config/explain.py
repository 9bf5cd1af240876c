"""Validation errors explained: each bad key becomes one line naming the key, where it came from,
what is allowed and the closest match."""

from __future__ import annotations

import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from dlab.config.yamlload import clip
from dlab.errors import ConfigError, did_you_mean

# --------------------------------------------------------------------------- validation


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as ``X | None``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _section_model(arg)
            if found is not None:
                return found
    return None


def _model_at(root: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in path:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model = _section_model(model.model_fields[part].annotation)
    return model


def _origin_of(key: str, origins: dict[str, str]) -> str:
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:end]))
        if found:
            return found
    return "defaults"


def _real_keys(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Drop what pydantic adds to an error location: list indexes and union member tags."""
    return tuple(
        p for p in loc if isinstance(p, str) and "[" not in p and p not in {"int", "float", "str", "bool"}
    )


def _explain(
    key_loc: tuple[str, ...],
    errors: list[dict[str, Any]],
    root: type[BaseModel],
    prefix: tuple[str, ...],
    origins: dict[str, str],
) -> str:
    full = ".".join((*prefix, *key_loc))
    origin = _origin_of(full, origins)
    first = errors[0]
    if first["type"] == "extra_forbidden":
        parent = _model_at(root, key_loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        section = ".".join((*prefix, *key_loc[:-1])) or "the top level"
        hint = did_you_mean(key_loc[-1], allowed)
        return (
            f"Unknown key '{full}' (from {origin}). Allowed keys under '{section}': "
            f"{', '.join(allowed) or '(none)'}.{hint}"
        )
    if first["type"] == "missing":
        return f"Missing required key '{full}' (from {origin}). Add it to the config."
    messages = []
    for error in errors:
        message = error["msg"].removeprefix("Value error, ")
        if message not in messages:
            messages.append(message)
    return (
        f"Invalid value for '{full}' (from {origin}): {clip(repr(first.get('input')))}. "
        f"{' or '.join(clip(message, 2000) for message in messages)}."
    )


def validate_section(
    schema: type[BaseModel], data: Any, prefix: tuple[str, ...], origins: dict[str, str]
) -> BaseModel:
    """Validate ``data`` against ``schema``; every problem becomes one ConfigError line."""
    try:
        return schema.model_validate(data if data is not None else {})
    except ValidationError as error:
        by_key: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for item in error.errors():
            by_key.setdefault(_real_keys(item["loc"]), []).append(item)
        lines = [_explain(key, items, schema, prefix, origins) for key, items in by_key.items()]
        raise ConfigError("\n".join(lines)) from None
