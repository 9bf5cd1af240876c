"""Reading YAML that someone wrote: the safe loader, bounded, strict about repeated keys.

Configs, studies and ``--set`` values are YAML, read with the safe loader only (no
tag builds a Python object or runs code). Two more things can hurt:

- **Alias bombs.** ``&a`` names a node and ``*a`` repeats it, so nine lines of nested
  aliases (447 bytes) stand for 9^9 values; the loader shares them, but anything that
  walks or prints the value (validation, an error message) takes minutes and
  gigabytes. The composed document is walked once, counting every node as often as
  aliases repeat it, and refused past :data:`MAX_NODES` values or :data:`MAX_DEPTH`
  levels of nesting, before anything is built from it.
- **Repeated keys.** YAML keeps the last of two equal keys without a word, so a
  second ``epochs:`` silently wins; dlab refuses it, naming the key and both lines.

Messages quote at most :data:`QUOTE_LIMIT` characters of the input (:func:`clip`).
"""

from __future__ import annotations

from typing import Any

import yaml

from dlab.errors import ConfigError

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's is ~7x faster

MAX_NODES = 100_000
"""Values a YAML document may expand to (every packaged config has a few hundred)."""
MAX_DEPTH = 64
"""Levels of nesting a YAML document may have (configs have fewer than ten)."""
QUOTE_LIMIT = 300
"""Characters of the input an error message quotes at most."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text``, cut to ``limit`` characters with a note of how long it was."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


class _BoundedLoader(_SAFE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, refusing a mapping that repeats a key."""

    source = "YAML"

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            line = key_node.start_mark.line + 1
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise ConfigError(
                    f"{self.source}: the key '{clip(key_node.value, 80)}' appears twice in one "
                    f"mapping (line {seen[key]} and line {line}); YAML would keep the last one "
                    "without a word. Remove one of them."
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _check_size(root: Any, source: str) -> None:
    """Refuse a node graph that expands past MAX_NODES values or MAX_DEPTH levels."""
    stack = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(
                f"{source}: this YAML expands to more than {MAX_NODES:,} values. Aliases (*name) "
                "repeat what an anchor (&name) names, and here they repeat each other, which is "
                "how a few hundred bytes stand for billions of values. dlab refuses it; write "
                "the values out (a config holds a few hundred)."
            )
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"{source}: this YAML nests more than {MAX_DEPTH} levels deep; "
                "a config needs fewer than ten. Flatten it."
            )
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the safe loader, within the bounds above.

    Args:
        source: where the text came from, for messages (a file, ``--set KEY``).

    Raises:
        ConfigError: an alias bomb, too deep a nesting, or a repeated key.
        yaml.YAMLError: a syntax error or a tag the safe loader refuses (the callers
            explain those with the file and position).
    """
    loader = _BoundedLoader(text)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()
