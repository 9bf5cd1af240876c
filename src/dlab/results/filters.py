"""Which saved runs a listing keeps: ``dlab runs --config --tag --since --until``.

Every filter reads only metrics.json (the config name, the tags, the start time), so a folder
of thousands of runs filters without opening a history or a model. Times are the run's
``started_at`` (ISO, UTC as the run wrote it); ``--since``/``--until`` take a date
(``2026-12-01``), a date and time (``2026-12-01T14:30``) or an age (``90m``, ``12h``, ``7d``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dlab.errors import UsageError
from dlab.results.index import SavedRun

AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")
AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class RunFilter:
    """What a run must have to be listed (every part given must hold).

    Attributes:
        config: a glob over the config name (``mlp-*``).
        tags: ``{key: value}``; a None value asks only that the tag exists.
        since, until: the run started at or after / before this time (aware, UTC).
    """

    config: str | None = None
    tags: dict[str, str | None] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls,
        config: str | None = None,
        tags: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        now: datetime | None = None,
    ) -> RunFilter:
        """The filter the ``dlab runs`` flags ask for.

        Raises:
            UsageError: a tag without a key, or a time that is neither a date nor an age.
        """
        wanted: dict[str, str | None] = {}
        for tag in tags:
            key, sep, value = tag.partition("=")
            if not key.strip():
                raise UsageError(f"--tag {tag!r}: give KEY=VALUE (or KEY: runs that have that tag).")
            wanted[key.strip()] = value if sep else None
        moment = now or datetime.now(timezone.utc)
        return cls(
            config=config,
            tags=wanted,
            since=None if since is None else parse_time(since, "--since", moment),
            until=None if until is None else parse_time(until, "--until", moment),
        )

    def matches(self, run: SavedRun) -> bool:
        """Whether ``run`` passes every part of the filter (a run without a start time fails a
        time filter: nobody can say when it ran)."""
        if self.config is not None and not fnmatch.fnmatchcase(run.config_name, self.config):
            return False
        tags = run.metrics.get("tags")
        tags = tags if isinstance(tags, dict) else {}
        for key, value in self.tags.items():
            if key not in tags or (value is not None and str(tags[key]) != value):
                return False
        if self.since is None and self.until is None:
            return True
        started = started_at(run)
        if started is None:
            return False
        return (self.since is None or started >= self.since) and (self.until is None or started < self.until)


def started_at(run: SavedRun) -> datetime | None:
    """The run's start as an aware UTC time; None when metrics.json has none that parses."""
    text = run.metrics.get("started_at")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_time(text: str, option: str, now: datetime) -> datetime:
    """A date, an ISO date and time, or an age before ``now`` (``7d``), as an aware UTC time.

    Raises:
        UsageError: none of those.
    """
    age = AGE.fullmatch(text.strip())
    if age:
        return now - timedelta(**{AGE_UNITS[age.group(2)]: float(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: give a date (2026-12-01), a date and time (2026-12-01T14:30) "
            "or an age (90m, 12h, 7d, 2w)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
