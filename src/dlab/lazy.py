"""Package facades that import their parts on first use (PEP 562 module ``__getattr__``).

``dlab.api`` and ``dlab.config`` re-export names from many modules so that users
write ``api.run`` or ``config.RunConfig``. Importing all of those modules up front
would make every command pay for pydantic schemas, the run machinery and the result
readers; ``dlab list`` and shell completion need none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose public names live in ``homes``.

    Args:
        package: the package's name, for the error message.
        homes: each public name -> the module that defines it.
        namespace: the package's ``globals()``; a name, once imported, is stored there so that
            later look-ups do not come back through ``__getattr__``.
    """

    def __getattr__(name: str) -> Any:
        try:
            home = homes[name]
        except KeyError:
            raise AttributeError(f"module '{package}' has no attribute '{name}'") from None
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(homes)

    return __getattr__, __dir__
