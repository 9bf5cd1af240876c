"""TensorBoard event files written without TensorFlow.

TensorBoard's ``EventFileWriter`` opens its file through ``tensorboard.compat.tf``,
which imports TensorFlow whenever it is installed: 10 s or more and TF's start-up lines
in a process that trains nothing (a sweep writing its HParams summaries, ``dlab
tensorboard`` converting histories). The file format is only TFRecord framing around
``Event`` protocol buffers, so this module writes it with TensorBoard's own pieces that
need no TensorFlow: ``RecordWriter`` (the framing and its masked CRC32C) on a plain file,
``event_pb2`` for the events and the scalar plugin's ``scalar_pb`` for the values, the
same tensor summaries Keras's TensorBoard callback writes.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOG_FOLDER = "tensorboard"
"""The folder of a run (or a sweep) that holds its event files."""

EVENT_PREFIX = "events.out.tfevents."
"""How every event file's name starts (TensorBoard finds them by it)."""

EVENT_GLOB = EVENT_PREFIX + "*"

_serial = itertools.count()


def event_files(path: Path) -> list[Path]:
    """Every TensorBoard event file under ``path`` (a run, a sweep, an outputs root)."""
    path = Path(path)
    if path.is_file():
        return [path] if path.name.startswith(EVENT_PREFIX) else []
    return sorted(path.rglob(EVENT_GLOB)) if path.is_dir() else []


def scalar(tag: str, value: float) -> Any:
    """A scalar ``Summary`` as Keras writes it (a float tensor for the scalars plugin)."""
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb

    return scalar_pb(tag, float(value))


def write_events(
    folder: Path, summaries: Iterable[tuple[int, Any]], *, wall_time: float | None = None
) -> Path:
    """Write one new event file of ``(step, Summary)`` into ``folder``; returns its path.

    Args:
        wall_time: the time stamped on every event (default: now); a conversion of an
            old history passes when that history was written.

    The name follows ``EventFileWriter``'s (time, host, pid, a serial number), so two
    writers never share a file and TensorBoard reads the files of a folder in order.
    """
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.time() if wall_time is None else wall_time
    name = f"{EVENT_PREFIX}{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_serial)}"
    path = folder / name
    records = RecordWriter(open(path, "xb"))  # noqa: SIM115 - RecordWriter closes it
    try:
        header = event_pb2.Event(
            wall_time=stamp,
            file_version="brain.Event:2",
            source_metadata=event_pb2.SourceMetadata(writer="dlab"),
        )
        records.write(header.SerializeToString())
        for step, summary in summaries:
            event = event_pb2.Event(wall_time=stamp, step=int(step), summary=summary)
            records.write(event.SerializeToString())
    finally:
        records.close()
    return path
