"""Exceptions that the CLI turns into a clear message and an exit code.

A ``UsageError`` is the user's to fix (a bad key, a missing file, an offline
download): the CLI prints its message without a traceback and exits with
code 2, before anything is trained. Anything else is a bug or a failure during
training and exits with code 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DlabError(Exception):
    """Base class for every error dlab raises on purpose."""

    exit_code = 1


class UsageError(DlabError, ValueError):
    """Bad input: the message says what was wrong, what is allowed and what to do."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file, flag or ``--set`` override that cannot be used."""


class DataError(UsageError):
    """A dataset that cannot be loaded: missing path, wrong layout, failed download."""


class RunFailed(DlabError):
    """A run stopped after its run directory was created (metrics.json says "failed")."""


class NonFiniteLoss(RunFailed):
    """The training loss became NaN or infinite: training stops, the run is "failed"."""


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run at a batch boundary (metrics.json says "interrupted").

    A KeyboardInterrupt, so no ``except Exception`` in an experiment can swallow it;
    the exit code is 128 + the signal number, as a shell reports it (130 / 143).
    """

    def __init__(self, message: str, signal_number: int = 2) -> None:
        super().__init__(message)
        self.signal_number = signal_number
        self.exit_code = 128 + signal_number


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choices, or an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)
    if not matches:
        return ""
    quoted = " or ".join(f"'{match}'" for match in matches)
    return f" Did you mean {quoted}?"
