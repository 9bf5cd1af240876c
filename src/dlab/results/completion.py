"""Shell completion of run directories: ``dlab compare <TAB>``, ``dlab tensorboard <TAB>``.

Offers folders under what was typed (or under ``outputs/``) that are, or lead to, runs
and sweeps; it lists folders only, never reads a metrics.json, so a TAB answers at once.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ROOT = "outputs"


def complete_run_dirs(incomplete: str, root: str = DEFAULT_ROOT) -> list[str]:
    """Folders starting with ``incomplete`` (a path); an empty word starts at ``outputs/``."""
    typed = incomplete or (f"{root}/" if Path(root).is_dir() else "")
    path = Path(typed).expanduser()
    folder, prefix = (path, "") if typed.endswith("/") or not typed else (path.parent, path.name)
    if not folder.is_dir():
        return []
    shown = typed[: len(typed) - len(prefix)]
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [
        f"{shown}{entry.name}/"
        for entry in entries
        if entry.is_dir()
        and entry.name.startswith(prefix)
        and not entry.name.startswith(".")
        and entry.name not in ("plots", "backup", "logs")
    ]
