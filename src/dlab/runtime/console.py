"""How much a run prints: Keras's ``verbose`` levels, chosen for the console at hand.

Keras's own meaning: 0 silent, 1 a progress bar redrawn in place, 2 one line per
epoch. A progress bar is made of ``\\r``, ``\\b`` and colour codes: right on a
terminal, a flood of redraws in a CI log or a file, so the default follows where
stdout goes (1 on a terminal, 2 otherwise). ``--quiet`` keeps the console to the
final summary; run.log still gets the whole transcript.
"""

from __future__ import annotations

import sys
from typing import IO

from dlab.errors import UsageError

VERBOSE_LEVELS = (0, 1, 2)


def default_verbose(stream: IO[str] | None = None) -> int:
    """1 (the progress bar) when ``stream`` (stdout) is a terminal, else 2 (a line per epoch)."""
    stream = sys.stdout if stream is None else stream
    try:
        return 1 if stream.isatty() else 2
    except (AttributeError, ValueError):  # a closed or unusual stream
        return 2


def resolve_verbose(verbose: int | None, quiet: bool = False, stream: IO[str] | None = None) -> int:
    """The Keras ``verbose`` a run uses: the flag, else the default for where its output goes.

    Under ``--quiet`` the console gets nothing but the summary and run.log gets the run's
    output, so the default there is 2: the log stays a readable transcript.

    Raises:
        UsageError: a level Keras does not have.
    """
    if verbose is not None and verbose not in VERBOSE_LEVELS:
        raise UsageError(
            f"--verbose {verbose}: Keras knows 0 (silent), 1 (progress bar) and 2 (one line per "
            "epoch). Leave it out to get 1 on a terminal and 2 in a log or a pipe."
        )
    if verbose is not None:
        return verbose
    return 2 if quiet else default_verbose(stream)


def epoch_line(epoch: int, epochs: int, values: dict[str, float]) -> str:
    """One epoch as Keras's ``verbose=2`` prints it, for loops that are not Keras's own.

    The NumPy experiments call their loss the cost (as the workshop does).
    """
    parts = [f"{'cost' if key == 'loss' else key}: {value:.6f}" for key, value in values.items()]
    return " - ".join([f"Epoch {epoch}/{epochs}", *parts])
