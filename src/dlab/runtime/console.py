"""How much a run prints: Keras's ``verbose`` levels, chosen for the console at hand.

Keras's own meaning: 0 silent, 1 a progress bar redrawn in place, 2 one line per
epoch. A progress bar is made of ``\\r``, ``\\b`` and colour codes: right on a
terminal, a flood of redraws in a CI log or a file, so the default follows where
stdout goes (1 on a terminal, 2 otherwise). ``--quiet`` keeps the console to the
final summary; run.log still gets the whole transcript.

The NumPy experiments print their own epochs (:func:`epoch_printer`). Theirs are many and
fast (``xor-mlp``: 2,000 epochs in a second), so where stdout is not a terminal they print
:data:`EPOCH_LINES` evenly spaced epochs and the last one, and say so; every epoch is in
history.csv.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO

from dlab.errors import UsageError

VERBOSE_LEVELS = (0, 1, 2)

EPOCH_LINES = 20
"""Epoch lines a NumPy run prints into a log or a pipe (plus the last epoch)."""


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


def shown_epochs(epochs: int, lines: int = EPOCH_LINES) -> set[int]:
    """The epochs (1-based) a run of ``epochs`` prints in a log: all of them up to ``lines`` + 1,
    else the first, ``lines`` evenly spaced ones and the last."""
    if epochs <= lines + 1:
        return set(range(1, epochs + 1))
    return {1, epochs} | {round(epochs * i / lines) for i in range(1, lines + 1)}


def epoch_printer(
    verbose: int, epochs: int, stream: IO[str] | None = None
) -> Callable[[int, dict[str, float]], None] | None:
    """What a NumPy training loop calls after each epoch: print it as Keras's ``verbose=2`` would.

    Every epoch on a terminal; in a log or a pipe only :func:`shown_epochs`, with a note before
    the first line that says where the others are. None at ``verbose`` 0.
    """
    if not verbose:
        return None
    stream = sys.stdout if stream is None else stream
    shown = None if default_verbose(stream) == 1 else shown_epochs(epochs)

    def printer(epoch: int, values: dict[str, float]) -> None:
        if shown is not None and epoch not in shown:
            return
        if shown is not None and len(shown) < epochs and epoch == min(shown):
            print(f"({len(shown)} of {epochs} epochs shown; history.csv has every one)", file=stream)
        print(epoch_line(epoch, epochs, values), file=stream, flush=True)

    return printer
