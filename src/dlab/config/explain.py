"""Validation errors explained: each bad key becomes one line naming the key, where it came from,
what is allowed and the closest match."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ValidationError

from dlab.config.yamlload import clip
from dlab.errors import ConfigError, did_you_mean

# --------------------------------------------------------------------------- validation


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation may hold: ``X``, ``X | None``, a union (tagged or not,
    inside ``Annotated``) or the items of ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple):
        return [model for arg in typing.get_args(annotation) for model in models_in(arg)]
    return []


def _tag_of(model: type[BaseModel]) -> Any:
    """The value of a model's ``name: Literal[...]`` field: its tag in a union tagged by name."""
    field = model.model_fields.get("name")
    if field is not None and typing.get_origin(field.annotation) is Literal:
        values = typing.get_args(field.annotation)
        return values[0] if len(values) == 1 else None
    return None


_TYPE_TAGS = {"int", "float", "str", "bool"}
_SCHEMA_TAGS = ("constrained-", "lax-or-strict", "json-or-python")
"""How pydantic names a member of a union in an error location (``PositiveInt`` is ``constrained-int``)."""


def _walk(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[tuple[str, ...], list[type[BaseModel]]]:
    """The config keys in a pydantic error location, and the models that hold the last key.

    Pydantic's location also holds list indexes, the member names of a union (``str``,
    ``LossSpec``) and the tag of a union tagged by ``name`` (``cosine_decay``): they are no keys
    of the config, but a tag says which model the keys after it belong to.
    """
    keys: list[str] = []
    models, parents = [root], [root]
    for part in loc:
        if not isinstance(part, str):  # a list index
            continue
        owner = next((model for model in models if part in model.model_fields), None)
        if owner is not None:
            keys.append(part)
            parents, models = models, models_in(owner.model_fields[part].annotation)
            continue
        tagged = [model for model in models if _tag_of(model) == part]
        if tagged:
            models = tagged
            continue
        if "[" in part or part in _TYPE_TAGS or part.startswith(_SCHEMA_TAGS):
            continue
        if any(model.__name__ == part for model in models):
            continue
        keys.append(part)
        parents, models = models, []
    return tuple(keys), parents


def _origin_of(key: str, origins: dict[str, str]) -> str:
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:end]))
        if found:
            return found
    return "defaults"


def _explain(
    loc: tuple[Any, ...],
    errors: list[dict[str, Any]],
    root: type[BaseModel],
    prefix: tuple[str, ...],
    origins: dict[str, str],
) -> str:
    key_loc, parents = _walk(root, loc)
    full = ".".join((*prefix, *key_loc))
    origin = _origin_of(full, origins)
    first = errors[0]
    if first["type"] == "extra_forbidden":
        allowed = sorted({name for parent in parents for name in parent.model_fields})
        section = f"'{'.'.join((*prefix, *key_loc[:-1])) or 'the top level'}'"
        tag = _tag_of(parents[0]) if len(parents) == 1 else None
        if tag is not None:
            section += f" ({tag})"  # which member of a union tagged by name: its keys are listed
        hint = did_you_mean(key_loc[-1], allowed)
        return (
            f"Unknown key '{full}' (from {origin}). Allowed keys under {section}: "
            f"{', '.join(allowed) or '(none)'}.{hint}"
        )
    if first["type"] == "missing":
        return f"Missing required key '{full}' (from {origin}). Add it to the config."
    messages = []
    for error in errors:
        message = error["msg"].removeprefix("Value error, ")
        if message not in messages:
            messages.append(message)
    text = " or ".join(clip(message, 2000) for message in messages)
    return (
        f"Invalid value for '{full}' (from {origin}): {clip(repr(first.get('input')))}. "
        f"{text}{'' if text.endswith(('.', '?', '!')) else '.'}{_bracket_hint(full, origin, errors)}"
    )


LIST_ERRORS = {"list_type", "tuple_type", "set_type"}
"""Pydantic's error types for a value that should have been a list."""


def _bracket_hint(key: str, origin: str, errors: list[dict[str, Any]]) -> str:
    """For ``16,32`` where a list belongs: the same list written in brackets, as YAML reads a list
    (``--set model.filters=[16,32]``; in a file ``filters: [16, 32]``)."""
    given = errors[0].get("input")
    if not isinstance(given, str) or "," not in given or not LIST_ERRORS & {e["type"] for e in errors}:
        return ""
    items = [item.strip() for item in given.strip("()").split(",")]
    if origin == "--set":
        return f" A list is written in brackets: --set {key}=[{','.join(items)}]"
    return f" A list is written in brackets: {key.rsplit('.', 1)[-1]}: [{', '.join(items)}]"


def validate_section(
    schema: type[BaseModel], data: Any, prefix: tuple[str, ...], origins: dict[str, str]
) -> BaseModel:
    """Validate ``data`` against ``schema``; every problem becomes one ConfigError line."""
    try:
        return schema.model_validate(data if data is not None else {})
    except ValidationError as error:
        by_key: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for item in error.errors():
            by_key.setdefault(_walk(schema, item["loc"])[0], []).append(item)
        lines = [_explain(items[0]["loc"], items, schema, prefix, origins) for items in by_key.values()]
        raise ConfigError("\n".join(lines)) from None
