"""run.log survives a signal handler that prints while the main thread writes or flushes it."""

from __future__ import annotations

import io

from dlab.run.directory import _SafeLog


class InterruptedOnce(io.StringIO):
    """A log whose next write or flush raises as a buffered file does when re-entered."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = {"write": False, "flush": False}

    def write(self, text: str) -> int:
        if self.busy["write"]:
            self.busy["write"] = False
            raise RuntimeError("reentrant call inside <_io.BufferedWriter name='run.log'>")
        return super().write(text)

    def flush(self) -> None:
        if self.busy["flush"]:
            self.busy["flush"] = False
            raise RuntimeError("reentrant call inside <_io.BufferedWriter name='run.log'>")
        super().flush()


def test_an_interrupting_write_is_kept_for_the_next_one():
    raw = InterruptedOnce()
    log = _SafeLog(raw)
    raw.busy["write"] = True
    log.write("dlab: SIGINT received\n")  # the handler's message, while a write was under way
    log.write("Epoch 2\n")
    assert raw.getvalue() == "dlab: SIGINT received\nEpoch 2\n"


def test_an_interrupting_flush_does_not_raise():
    raw = InterruptedOnce()
    log = _SafeLog(raw)
    log.write("Epoch 54\n")
    raw.busy["flush"] = True
    log.flush()  # the handler's flush, while the main thread's flush was under way
    log.flush()
    assert raw.getvalue() == "Epoch 54\n"
