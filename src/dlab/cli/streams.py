"""Console streams that a closed reader cannot break.

``dlab run ... | head -c 300`` closes the pipe after 300 bytes; the next write to
stdout raises BrokenPipeError, which used to escape from a ``print`` in the middle of
training and leave the run "running" with nothing recorded. The console is a view of
the run, never a reason for it to fail: :func:`protect_console` wraps stdout and stderr
so that once the reader is gone their file descriptor points at ``/dev/null`` and every
later write, including Python's own flush at exit, quietly succeeds. The run goes on,
writes run.log and metrics.json, and exits with its own exit code.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO, Any


class PipeSafeStream(io.TextIOBase):
    """A text stream that forwards to ``stream`` until its reader goes away, then discards."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                self._stream.write(text)
            except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                self._reader_gone()

    def _reader_gone(self) -> None:
        """Point the descriptor at /dev/null, so that buffered bytes and Python's flush at
        exit go nowhere instead of raising again."""
        self.reader_gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    def __getattr__(self, name: str) -> Any:  # buffer, line_buffering, ...
        return getattr(self._stream, name)


def protect_console() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once) in :class:`PipeSafeStream`."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, PipeSafeStream):
            setattr(sys, name, PipeSafeStream(stream))
