"""Where each Ray task of a sweep works, told to the driver as soon as the task starts.

A Ray task returns only when it ends, but a sweep that is killed before then must still
say which members were running and where their files are (summary.json's ``node``,
``work_dir``, ``run_dir``). So every task reports to a small actor of the sweep, the
roster, once its run's process starts (node, pid, working folder) and again once the run
has named its run directory; the driver reads the roster while it waits and saves each
member's row as ``running`` with those places. A streaming (generator) task could yield the
same reports, but Ray drops what a cancelled generator yields after the cancel, which is
when a stopped member sends its files back.

The roster keeps every report; the driver asks for those after the ones it already has, so
a reply it did not wait for is asked for again, never lost.
"""

from __future__ import annotations

from typing import Any


class Roster:
    """The reports of one sweep's tasks (a Ray actor: ``ray.remote(Roster)``)."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, dict[str, Any]]] = []

    def report(self, index: int, info: dict[str, Any]) -> None:
        """A task of member ``index`` says where it works (``node``, ``pid``, ``work_dir``, ``run_dir``)."""
        self.reports.append((index, info))

    def since(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        """The reports after the first ``count``."""
        return self.reports[count:]


class RosterReader:
    """The driver's side: new reports, without ever blocking the sweep's loop."""

    def __init__(self, ray: Any) -> None:
        self.ray = ray
        self.actor = ray.remote(num_cpus=0, max_restarts=0)(Roster).remote()
        self.heard = 0
        self._asking: Any = None

    def new_reports(self, wait_s: float = 0.0) -> list[tuple[int, dict[str, Any]]]:
        """The reports that came since the last call (none when the roster has not answered yet)."""
        if self._asking is None:
            self._asking = self.actor.since.remote(self.heard)
        ready, _ = self.ray.wait([self._asking], num_returns=1, timeout=wait_s)
        if not ready:
            return []
        asking, self._asking = self._asking, None
        try:
            reports = self.ray.get(asking)
        except Exception:  # the roster is gone: the rows keep what they had
            return []
        self.heard += len(reports)
        return reports
