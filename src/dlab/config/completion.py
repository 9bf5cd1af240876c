"""Shell completion of config and study names: what ``dlab run <TAB>`` and ``dlab sweep <TAB>`` offer.

Reads only file names (no YAML is parsed), so a TAB answers at once.
"""

from __future__ import annotations

from pathlib import Path

from dlab.config.files import config_names, packaged_configs_dir


def _yaml_files(incomplete: str) -> list[str]:
    """YAML files (and folders to descend into) matching a typed path."""
    if "/" not in incomplete and not incomplete.startswith((".", "~")):
        return []
    typed = Path(incomplete).expanduser()
    folder, prefix = (typed, "") if incomplete.endswith("/") else (typed.parent, typed.name)
    if not folder.is_dir():
        return []
    shown = incomplete[: len(incomplete) - len(prefix)]
    found = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.startswith(prefix) or entry.name.startswith("."):
            continue
        if entry.is_dir():
            found.append(f"{shown}{entry.name}/")
        elif entry.suffix in (".yaml", ".yml"):
            found.append(f"{shown}{entry.name}")
    return found


def complete_configs(incomplete: str) -> list[str]:
    """Packaged config names starting with ``incomplete``, or YAML files when it is a path."""
    return [name for name in config_names() if name.startswith(incomplete)] + _yaml_files(incomplete)


def complete_studies(incomplete: str) -> list[str]:
    """Packaged study names (configs/studies) starting with ``incomplete``."""
    folder = packaged_configs_dir() / "studies"
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem.startswith(incomplete))
