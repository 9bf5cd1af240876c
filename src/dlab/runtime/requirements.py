"""What an installed distribution declares and whether this environment satisfies it.

``dlab doctor`` checks dlab's requirements and each of its extras from dlab's own installed
metadata (``Requires-Dist`` lines, with their ``extra == "..."`` and environment markers
evaluated by :mod:`packaging`), and finds each requirement among the installed distributions
by :mod:`importlib.metadata` alone. So a new dependency or extra is checked without a second
list to keep, a requirement only for another Python (``py-spy; python_version >= "3.12"``) is
not asked for, and a distribution whose module has another name (grpcio's ``grpc``) or none at
all (py-spy's binary, the CUDA libraries) is found as pip installed it.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion


@dataclass(frozen=True)
class Found:
    """One requirement and what is installed for it.

    Attributes:
        requirement: as declared (name, version bounds, extras).
        version: the installed version (None: not installed).
        via: the ``name[extra]`` that pulls it in (empty: declared by the distribution asked about).
    """

    requirement: Requirement
    version: str | None
    via: str = ""

    @property
    def name(self) -> str:
        return self.requirement.name

    @property
    def satisfied(self) -> bool:
        """Installed, at a version the requirement allows (pre-releases and local builds count)."""
        if self.version is None:
            return False
        try:
            return self.requirement.specifier.contains(self.version, prereleases=True)
        except InvalidVersion:  # a version packaging cannot order: being installed is all we know
            return True

    def state(self) -> str:
        """``version``, ``version (needs >=X)`` or ``not installed``."""
        if self.version is None:
            return "not installed"
        return self.version if self.satisfied else f"{self.version} (needs {self.requirement.specifier})"

    def describe(self) -> str:
        """The name and :meth:`state`: ``onnx 1.23.2``, ``torch (not installed)``."""
        state = self.state()
        return f"{self.name} ({state})" if self.version is None else f"{self.name} {state}"


def installed_version(name: str) -> str | None:
    """The installed version of a distribution (its metadata; nothing is imported)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def declared_extras(distribution: str) -> list[str]:
    """The extras a distribution declares (``Provides-Extra``), in its order."""
    try:
        return list(importlib.metadata.metadata(distribution).get_all("Provides-Extra") or [])
    except importlib.metadata.PackageNotFoundError:
        return []


def requirements(distribution: str, extra: str = "") -> list[Requirement]:
    """What ``distribution`` requires here: its base requirements (``extra=""``), or what the extra
    adds to them. Markers are evaluated for this interpreter and platform."""
    try:
        lines = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    wanted = []
    for line in lines:
        requirement = Requirement(line)
        marker = requirement.marker
        base = marker is None or marker.evaluate({"extra": ""})
        if (not extra and base) or (extra and not base and marker.evaluate({"extra": extra})):
            wanted.append(requirement)
    return wanted


def check(distribution: str, extra: str = "") -> list[Found]:
    """Each requirement of ``distribution`` (or of its extra) with its installed version; a
    requirement with extras of its own (``ray[default]``) brings what those extras add."""
    found: list[Found] = []
    seen: set[tuple[str, str]] = {(canonicalize_name(distribution), extra)}
    pending = [(distribution, extra, "")]
    while pending:
        owner, owner_extra, via = pending.pop(0)
        for requirement in requirements(owner, owner_extra):
            name = canonicalize_name(requirement.name)
            if name != canonicalize_name(distribution):  # dev's dlab[export]: only its extra counts
                found.append(Found(requirement, installed_version(requirement.name), via))
            for inner in sorted(requirement.extras):
                if (name, inner) not in seen:
                    seen.add((name, inner))
                    pending.append((requirement.name, inner, f"{requirement.name}[{inner}]"))
    return found


def editable_source(distribution: str) -> str | None:
    """The project folder of an editable install (``pip install -e DIR``), else None."""
    try:
        text = importlib.metadata.distribution(distribution).read_text("direct_url.json")
        data = json.loads(text or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    url = str(data.get("url", ""))
    if not (data.get("dir_info") or {}).get("editable") or not url.startswith("file://"):
        return None
    return url.removeprefix("file://")
