"""The console view of a running sweep: a line per finished run, a live status line."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any

from dlab.fileio import read_json_object


class ConsoleProgress:
    """The console view of a sweep: one line per finished run, and on a terminal a status
    line (done / running / failed / pending, elapsed time) rewritten in place."""

    def __init__(self, stream: IO[str] | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet  # --quiet: the final summary only
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = 0
        self.done = 0
        self.metric: str | None = None
        self._last_status = ""
        self._last_tick = 0.0

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if self.quiet and event not in ("start", "end"):
            return
        if self.quiet and event == "start":  # the end needs the compared metric
            self.metric = info["plan"].study.compare.metric if info["plan"].study else None
            return
        getattr(self, f"_on_{event}")(info)

    def _write(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live and self._last_status:
            self.stream.write("\r" + " " * len(self._last_status) + "\r")
            self._last_status = ""

    def _on_start(self, info: dict[str, Any]) -> None:
        plan = info["plan"]
        self.total = len(plan.runs)
        self.metric = plan.study.compare.metric if plan.study else None
        if "ray" in info:  # the cluster decides how many run at once
            self._write(f"sweep {plan.name}: {self.total} runs {ray_placement(info['ray'])}")
        else:
            gpus = ", ".join(info["gpus"]) or "none"
            self._write(
                f"sweep {plan.name}: {self.total} runs, {info['jobs']} at a time, "
                f"{info['threads']} CPU thread(s) each, GPUs: {gpus}"
            )
        self._write(f"sweep directory: {info['sweep_dir']}")

    def _on_launch(self, info: dict[str, Any]) -> None:
        self._status(info["counts"], None)

    def _on_finish(self, info: dict[str, Any]) -> None:
        row = info["row"]
        self.done += 1
        width = len(str(self.total))
        candidates = dict.fromkeys((self.metric, "test_accuracy", "test_loss", "val_loss"))
        shown = [name for name in candidates if name and name in row["metrics"]][:2]
        metrics = "  ".join(f"{name} {row['metrics'][name]:.4g}" for name in shown)
        line = (
            f"[{self.done:>{width}}/{self.total}] {row['status']:<11} {info['label']}  "
            f"{row['wall_time_s']:.1f} s" + (f"  {metrics}" if metrics else "")
        )
        if row["status"] != "completed":
            line += f"\n    {row['error']}\n    log: {row['log']}"
        self._write(line)
        self._status(info["counts"], None)

    def _on_tick(self, info: dict[str, Any]) -> None:
        if time.perf_counter() - self._last_tick >= 1.0:
            self._status(info["counts"], info["elapsed"])

    def _status(self, counts: dict[str, int], elapsed: float | None) -> None:
        if not self.live:
            return
        self._last_tick = time.perf_counter()
        failed = sum(n for status, n in counts.items() if status not in ("completed", "running", "pending"))
        text = (
            f"  {counts.get('completed', 0) + failed}/{self.total} done, "
            f"{counts.get('running', 0)} running, {failed} failed, "
            f"{counts.get('pending', 0)} pending" + (f"  ({elapsed:.0f} s)" if elapsed is not None else "")
        )
        self._clear()
        self.stream.write(text)
        self.stream.flush()
        self._last_status = text

    def _on_end(self, info: dict[str, Any]) -> None:
        result = info["result"]
        counts = ", ".join(f"{n} {status}" for status, n in result.counts.items())
        self._write(f"sweep finished in {info['elapsed']:.1f} s: {counts} (of {len(result.rows)})")
        plan = info["plan"]
        if plan.seeds and len(plan.seeds) > 1:
            self._write(seed_table(result.sweep_dir, self.metric))
        for figure in result.figures:
            self._write(f"figure: {figure}")
        self._write(f"summary: {result.sweep_dir / 'summary.csv'}")


def ray_placement(ray: dict[str, Any]) -> str:
    """Where a Ray sweep runs and what each member asks for: ``on Ray at ADDRESS (cluster: ...),
    C CPU(s) / G GPU(s) per run``."""
    address = ray.get("address")
    where = {None: "on a local Ray (this machine)", "auto": "on the Ray cluster this machine is in"}.get(
        address, f"on Ray at {address}"
    )
    cluster = ray.get("cluster") or {}
    total = f"{cluster.get('CPU', 0):g} CPU(s), {cluster.get('GPU', 0):g} GPU(s)"
    return (
        f"{where} (cluster: {total}), {ray['cpus_per_run']:g} CPU(s) / {ray['gpus_per_run']:g} GPU(s) "
        "per run; the cluster decides how many run at once"
    )


def seed_table(sweep_dir: Path, metric: str | None) -> str:
    """Mean +- 95% interval per member, for the compare metric (or test metrics), as text."""
    summary = read_json_object(sweep_dir / "summary.json") or {}
    lines = ["across seeds (mean, 95% interval):"]
    for entry in summary.get("seed_statistics", []):
        names = (
            [metric]
            if metric and metric in entry["metrics"]
            else [name for name in entry["metrics"] if name.startswith("test_")][:2]
        )
        cells = []
        for name in names:
            stats = entry["metrics"][name]
            interval = (
                "" if stats["ci95_low"] is None else f" [{stats['ci95_low']:.4g}, {stats['ci95_high']:.4g}]"
            )
            cells.append(f"{name} {stats['mean']:.4g}{interval}")
        label = " ".join([entry["config"], *entry["overrides"]])
        lines.append(
            f"  {label} ({entry['completed']}/{entry['runs']} seeds): "
            + ("; ".join(cells) or "no completed run")
        )
    from dlab.api.results import fit_lines  # here: loading the results API is for a sweep's end only

    return fit_lines("\n".join(lines))  # a member's line wraps under itself on a narrow terminal
