"""Starting TensorFlow for a command that uses a saved model (quietly, on the device asked for)."""

from __future__ import annotations

from dlab.runtime.start import start


def start_keras(device: str = "auto", debug: bool = False) -> None:
    """Start TensorFlow on ``device``; its native start-up lines go to the console only under ``debug``.

    Raises:
        UsageError: an unknown device, or ``gpu`` without one.
    """
    start(True, device, debug)
