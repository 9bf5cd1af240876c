"""Shell completion of config and study names and of paths: what ``dlab run <TAB>``, ``dlab sweep
<TAB>`` and an argument that takes a file offer.

Reads only file names (no YAML is parsed), so a TAB answers at once.
"""

from __future__ import annotations

from pathlib import Path

from dlab.config.files import config_names, packaged_configs_dir


def complete_paths(
    incomplete: str, suffixes: tuple[str, ...] = (), *, folders_only: bool = False, typed_path: bool = False
) -> list[str]:
    """Files and folders (to descend into) whose path starts with ``incomplete``: what an argument
    that takes a file or a folder offers.

    Args:
        suffixes: only files with these endings (folders are always offered).
        folders_only: no files at all (an argument that takes a folder).
        typed_path: offer nothing until the word looks like a path (has ``/`` or starts with
            ``.`` or ``~``), for arguments that also take a name.
    """
    if typed_path and "/" not in incomplete and not incomplete.startswith((".", "~")):
        return []
    typed = Path(incomplete).expanduser()
    folder, prefix = (typed, "") if incomplete.endswith("/") or not incomplete else (typed.parent, typed.name)
    if not folder.is_dir():
        return []
    shown = incomplete[: len(incomplete) - len(prefix)]
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
            continue
        if entry.is_dir():
            found.append(f"{shown}{entry.name}/")
        elif not folders_only and (not suffixes or entry.name.endswith(suffixes)):
            found.append(f"{shown}{entry.name}")
    return found


def complete_configs(incomplete: str) -> list[str]:
    """Packaged config names starting with ``incomplete``, or YAML files when it is a path."""
    return [name for name in config_names() if name.startswith(incomplete)] + complete_paths(
        incomplete, (".yaml", ".yml"), typed_path=True
    )


def complete_studies(incomplete: str) -> list[str]:
    """Packaged study names (configs/studies) starting with ``incomplete``."""
    folder = packaged_configs_dir() / "studies"
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem.startswith(incomplete))
