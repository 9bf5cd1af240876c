"""Every key of a config, with its description, read from the pydantic schema that validates it.

Two commands need the keys without a second list to keep: ``dlab show --explain`` (the
resolved config as YAML, each key under a comment with its description and where its value
came from) and shell completion of ``--set`` (the dotted key paths, one section at a time).
A section without a description of its own is described by its model's docstring.
"""

from __future__ import annotations

import inspect
import textwrap
import typing
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from dlab.config.explain import models_in

COMMENT_WIDTH = 96
"""Where a description's comment lines wrap."""


@dataclass(frozen=True)
class Key:
    """One key of a schema.

    Attributes:
        path: the dotted path, as ``--set`` takes it (``train.optimizer.learning_rate``).
        description: what it means ("" when the schema says nothing).
        sections: the models the key's value may be (empty: a plain value, a leaf).
        choices: the values a ``Literal`` (or bool) allows, for completing a value.
    """

    path: str
    description: str
    sections: tuple[type[BaseModel], ...] = ()
    choices: tuple[str, ...] = ()


def describe(field: FieldInfo | None, sections: tuple[type[BaseModel], ...] = ()) -> str:
    """A field's description; a section's model docstring (its first paragraph) when it has none."""
    if field is not None and field.description:
        return " ".join(field.description.split())
    for model in sections:
        doc = model.__dict__.get("__doc__")  # the model's own, not one it inherits
        if doc:
            return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    return ""


def keys_of(model: type[BaseModel], prefix: str = "") -> list[Key]:
    """The keys directly under ``model`` (one level: a section's own keys are under its path)."""
    found = []
    for name, field in model.model_fields.items():
        sections = _sections(field.annotation)
        found.append(Key(f"{prefix}{name}", describe(field, sections), sections, _choices(field.annotation)))
    return found


def key_at(
    root: type[BaseModel], path: str, sections: dict[str, type[BaseModel]] | None = None
) -> Key | None:
    """The key ``path`` names under ``root`` (None: no such key).

    Args:
        sections: the model of a section the schema leaves open (``model``: the experiment's own).
    """
    parents: tuple[type[BaseModel], ...] = (root,)
    key: Key | None = None
    for part in path.split("."):
        prefix = f"{key.path}." if key is not None else ""
        matches = [k for parent in parents for k in keys_of(parent, prefix) if k.path == prefix + part]
        if not matches:
            return None
        found = (sections or {}).get(matches[0].path)
        pooled = tuple(dict.fromkeys(section for k in matches for section in k.sections))
        merged = (found,) if found is not None else pooled
        choices = tuple(dict.fromkeys(c for k in matches for c in k.choices))
        key = replace(matches[0], sections=merged, choices=choices)
        parents = merged
    return key


def complete_keys(
    root: type[BaseModel], incomplete: str, sections: dict[str, type[BaseModel]] | None = None
) -> list[str]:
    """Dotted key paths under ``root`` that start with ``incomplete``, one level at a time (a
    section ends with ``.``); where one section is all that matches, its keys instead, so a shell
    completes on into it. After ``KEY=``, the values a choice or a bool allows."""
    if "=" in incomplete:
        path, _, typed = incomplete.partition("=")
        key = key_at(root, path, sections)
        return [f"{path}={choice}" for choice in (key.choices if key else ()) if choice.startswith(typed)]
    parent, _, _ = incomplete.rpartition(".")
    owner = key_at(root, parent, sections) if parent else None
    if parent and owner is None:
        return []
    models = owner.sections if owner is not None else (root,)
    prefix = f"{parent}." if parent else ""
    keys = {k.path: k for model in models for k in keys_of(model, prefix) if k.path.startswith(incomplete)}
    if len(keys) == 1:
        (key,) = keys.values()
        resolved = key_at(root, key.path, sections)
        if resolved is not None and resolved.sections:
            return complete_keys(root, f"{key.path}.", sections) or [f"{key.path}."]
    shown = []
    for key in keys.values():
        resolved = key_at(root, key.path, sections)
        shown.append(f"{key.path}." if resolved is not None and resolved.sections else key.path)
    return shown


def _sections(annotation: Any) -> tuple[type[BaseModel], ...]:
    """The models a key's value is, when it can only be one of them (or null): a section whose keys
    ``--set`` can reach. A list of models, or a model or a plain value (``loss``), is a value."""
    if typing.get_origin(annotation) in (list, tuple, dict):
        return ()
    members = [arg for arg in (typing.get_args(annotation) or (annotation,)) if arg is not type(None)]
    if typing.get_origin(annotation) is typing.Annotated:
        members = [typing.get_args(annotation)[0]]
    models = tuple(models_in(annotation))
    return models if models and len(models) >= len(members) else ()


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values a ``Literal[...]`` (possibly in a union) or a bool allows, as YAML writes them."""
    if annotation is bool:
        return ("true", "false")
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return tuple(_flow(value) for value in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _choices(typing.get_args(annotation)[0])
    if typing.get_args(annotation) and origin not in (list, tuple, dict):
        return tuple(choice for arg in typing.get_args(annotation) for choice in _choices(arg))
    return ()


# --------------------------------------------------------------------------- dlab show --explain


def explained_yaml(
    config: BaseModel, values: dict[str, Any], origins: dict[str, str], own: str | None = None
) -> str:
    """``values`` (the config as ``dlab show`` prints it) as YAML with each key under a comment:
    its description and, where its value came from elsewhere than the config's own file (a
    config it extends, ``--set``, a flag, ``--smoke``), that origin. The text is still a config
    ``dlab run FILE`` accepts.

    Args:
        config: the validated config (its models say what each key means).
        values: ``config`` as plain YAML types, in field order.
        origins: where each dotted key came from.
        own: the config's own file (its keys need no origin).
    """
    shown = {key: origin for key, origin in origins.items() if origin != own}
    return "".join(_lines(config, values, shown, ""))


def _lines(owner: Any, values: dict[str, Any], origins: dict[str, str], prefix: str) -> Iterator[str]:
    indent = "  " * prefix.count(".")
    fields = type(owner).model_fields if isinstance(owner, BaseModel) else {}
    for name, value in values.items():
        path = f"{prefix}{name}"
        child = getattr(owner, name, None)
        field = fields.get(name)
        section = isinstance(value, dict) and value and isinstance(child, BaseModel)
        models = (type(child),) if isinstance(child, BaseModel) else ()
        note = describe(field, models or tuple(models_in(field.annotation) if field else ()))
        if path in origins and not section:
            note = f"{note} [from {origins[path]}]".strip()
        for line in textwrap.wrap(note, COMMENT_WIDTH - len(indent) - 2, break_on_hyphens=False):
            yield f"{indent}# {line}\n"
        if section:
            yield f"{indent}{name}:\n"
            yield from _lines(child, value, origins, f"{path}.")
        elif isinstance(value, dict) and value:
            text = yaml.safe_dump({name: value}, sort_keys=False, default_flow_style=None, width=10**6)
            yield "".join(f"{indent}{line}\n" for line in text.splitlines())
        else:
            yield f"{indent}{name}: {_flow(value)}\n"


def _flow(value: Any) -> str:
    """A value as YAML on one line (``null``, ``[32, 64]``, ``'a: b'``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6)
    return text.removesuffix("\n").removesuffix("\n...")
