"""``dlab report``: one self-contained HTML file that summarizes runs, for people who would rather look.

Self-contained means it can be mailed, attached to a CI job or opened from a
USB stick: every plot is embedded as a base64 ``data:`` URI, the style sheet is
inline, and there are no scripts, fonts or links to anything outside the file.
Every piece of text that came from a run (labels, config values, error messages)
is HTML-escaped, so a config description cannot inject markup.

The file holds, in reading order: the key metrics of every run (a narrow table
that fits the page: long parameter columns go to a details table below it), the
statistics of grid points run with several seeds, a study's compared metric as a
bar chart with its threshold line, the learning curves of all runs (seed means
with bands), and per run its config essentials, all its metrics and its plots.
Each run has one colour, the same in every chart and beside its name; the
legends sit below the plots, one short entry per run (the figures keep their
width however many runs there are); smoke runs (synthetic data) are marked wherever
they appear, because their numbers say nothing about the real data.
"""

from __future__ import annotations

import base64
import io
import json
import stat
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab import __version__
from dlab.errors import UsageError
from dlab.fileio import atomic_write_text
from dlab.plots import curve_metrics
from dlab.results.compare import available_metrics, select_metrics
from dlab.results.curves import runs_figure
from dlab.results.index import SavedRun, expand_paths
from dlab.results.labels import label_runs, parameter_columns
from dlab.results.report_parts import (
    details_table,
    escape,
    key_columns,
    key_table,
    number_cell,
    report_colors,
    seeds_table,
    smoke_banner,
    status_span,
    study_block,
    study_chart,
    swatch,
)
from dlab.saferead import OutsideFolder, resolve_inside

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #666; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
table.key { width: 100%; table-layout: fixed; }
table.key td, table.key th { overflow-wrap: anywhere; }
table.key col.label { width: 34%; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; margin-right: 0.4em;
          vertical-align: -0.1em; border: 1px solid rgba(0,0,0,0.3); }
.status-completed { color: #1a7f37; } .status-failed, .status-interrupted { color: #cf222e; }
.status-running { color: #9a6700; }
.smoke { background: #fff4ce; color: #6b4f00; border: 1px solid #e0c060; border-radius: 3px;
         padding: 0 0.3em; font-size: 0.85em; white-space: nowrap; }
.banner { background: #fff4ce; border-left: 4px solid #e0a800; padding: 0.5em 1em; }
.error { background: #fff0f0; border-left: 4px solid #cf222e; padding: 0.5em 1em; white-space: pre-wrap; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figure.run img { max-width: 560px; }
figcaption { text-align: center; color: #555; font-size: 0.85em; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""


def write_report(
    paths: Sequence[str],
    output: str | Path = "report.html",
    *,
    metrics: Sequence[str] = (),
    title: str | None = None,
    params: Sequence[str] = (),
) -> Path:
    """Write the HTML report of the given runs and return its path.

    Args:
        paths: run directories, metrics.json files, sweep directories or folders of runs.
        output: the HTML file to write (atomically).
        metrics: metrics for the summary table (default: every metric the finished runs share).
        title: the page title (default: "dlab report: N runs").
        params: config keys shown in the details table besides those that differ.

    Raises:
        UsageError: bad paths, an output name that is not .html, an unknown metric or --params key.
    """
    target = Path(output).expanduser()
    if target.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o '{output}': the report is one HTML file; use a name ending in .html.")
    runs = expand_paths(paths)
    columns = parameter_columns(runs, params)
    label_runs(runs)
    chosen = _summary_metrics(runs, metrics)
    study = study_block(paths)
    page = render_report(
        runs, chosen, title or f"dlab report: {len(runs)} run{'s' * (len(runs) != 1)}", columns, study
    )
    try:
        atomic_write_text(target, page)
    except OSError as error:  # a read-only folder, a file where a folder should be, a full disk
        raise UsageError(
            f"-o '{output}': cannot write the report there "
            f"({error.strerror or error}). Choose a writable path with "
            "-o FILE.html."
        ) from None
    return target


def _summary_metrics(runs: list[SavedRun], requested: Sequence[str]) -> list[str]:
    try:
        return select_metrics(requested, runs, available_metrics(runs))
    except UsageError:
        if requested:
            raise
        return []  # nothing shared (or nothing finished): the per-run sections still tell it all


def render_report(
    runs: list[SavedRun],
    metrics: list[str],
    title: str,
    params: Sequence[str] = (),
    study: dict[str, Any] | None = None,
) -> str:
    """The whole HTML page as a string."""
    colors = report_colors(runs)
    chart = study_chart(runs, study, colors)  # also finds the study metric's name in metrics.json
    key = key_columns(runs, metrics, study)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Written by dlab {_e(__version__)} on {_e(time.strftime("%Y-%m-%d %H:%M:%S %Z"))} '
        f"from {len(runs)} run director{'ies' if len(runs) != 1 else 'y'}.</p>",
        smoke_banner(runs),
        "<h2>Summary</h2>",
        key_table(runs, key, colors),
        seeds_table(runs, key),
    ]
    if chart:
        parts += ["<h2>Compared metric</h2>", _figure(*chart)]
    overlays = _overlays(runs, colors)
    if overlays:
        parts.append("<h2>Learning curves, all runs</h2><div>")
        parts.extend(_figure(png, caption) for caption, png in overlays)
        parts.append("</div>")
    parts += ["<h2>Details</h2>", details_table(runs, metrics, key, params)]
    for index, run in enumerate(runs):
        parts.append(_run_section(run, index, colors))
    parts.append("</body></html>\n")
    return "\n".join(part for part in parts if part)


def _run_section(run: SavedRun, index: int, colors: dict[str, str]) -> str:
    parts = [
        f'<h2 id="run-{index}">{swatch(run, colors)}{_e(run.label)}</h2>',
        f"<p>{_status_span(run)} &middot; <code>{_e(str(run.path))}</code></p>",
    ]
    if run.tags:
        tags = " ".join(f"<code>{_e(key)}={_e(value)}</code>" for key, value in sorted(run.tags.items()))
        parts.append(f'<p class="tags">tags: {tags}</p>')
    if run.note:
        parts.append(f'<p class="note">note: {_e(run.note)}</p>')
    error = run.metrics.get("error")
    if error:
        text = (
            f"{error.get('type', 'Error')}: {error.get('message', '')}"
            if isinstance(error, dict)
            else str(error)
        )
        parts.append(f'<div class="error">{_e(text)}</div>')
    if run.problems:
        parts.append(f'<div class="error">{_e("; ".join(run.problems))}</div>')
    essentials = config_essentials(run)
    if essentials:
        parts.append(
            "<h3>Config</h3><table>"
            + "".join(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>" for key, value in essentials.items())
            + "</table>"
        )
    if run.values:
        parts.append(
            "<h3>Metrics</h3><table>"
            + "".join(
                f"<tr><th>{_e(name)}</th>{_number_cell(value)}</tr>" for name, value in run.values.items()
            )
            + "</table>"
        )
    plots = run.plots()
    if plots:
        parts.append("<h3>Plots</h3><div>")
        skipped = []
        for plot in plots:
            png, why = read_plot(run.path, plot)
            if png is None:
                skipped.append(f"plots/{plot.name} ({why})")
                print(f"dlab report: skipped {plot}: {why}", file=sys.stderr)
                continue
            parts.append(_figure(png, plot.name, css="run"))
        parts.append("</div>")
        if skipped:
            parts.append(f'<div class="error">{_e("not embedded: " + "; ".join(skipped))}</div>')
    return "\n".join(parts)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PLOT_BYTES = 50 * 2**20


def read_plot(run_dir: Path, plot: Path) -> tuple[bytes | None, str | None]:
    """A plot's PNG bytes, or ``(None, why not)``: only regular files inside the run
    directory that start with the PNG signature are embedded, so a ``plots/*.png`` link to
    ``~/.ssh/id_rsa`` (or a FIFO, or a huge file) never ends up in a report."""
    # taken from the run directory (resolve_inside joins a relative path to it): a run given as
    # a relative path (`dlab report outputs`) must not be joined twice
    inside = plot.relative_to(run_dir) if plot.is_relative_to(run_dir) else plot
    try:
        real = resolve_inside(run_dir, inside)
    except OutsideFolder:
        return None, "a link that leads outside the run directory"
    except (OSError, RuntimeError) as error:
        return None, f"cannot be read: {getattr(error, 'strerror', None) or error}"
    try:
        info = real.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > MAX_PLOT_BYTES:
            return None, f"larger than {MAX_PLOT_BYTES // 2**20} MB"
        data = real.read_bytes()
    except OSError as error:
        return None, f"cannot be read: {error.strerror or error}"
    if not data.startswith(PNG_SIGNATURE):
        return None, "not a PNG image"
    return data, None


def config_essentials(run: SavedRun) -> dict[str, str]:
    """The config values a reader needs to tell runs apart, as display strings."""
    config = run.config
    if not config:
        return {}
    data = config.get("data") or {}
    train = config.get("train") or {}
    optimizer = train.get("optimizer") or {}
    device = run.metrics.get("device") or {}
    rows: dict[str, Any] = {
        "config": config.get("name"),
        "description": " ".join(str(config.get("description") or "").split()),
        "experiment": config.get("experiment"),
        "seed": config.get("seed"),
        "data": f"{data.get('dataset')} from {data.get('source')}"
        + (f" ({data.get('path')})" if data.get("path") else ""),
        "validation": data.get("validation"),
        "epochs": train.get("epochs"),
        "batch size": train.get("batch_size"),
        "optimizer": ", ".join(f"{key} {value}" for key, value in optimizer.items() if value is not None)
        if isinstance(optimizer, dict)
        else optimizer,
        "loss": train.get("loss"),
        "model": json.dumps(config.get("model"), sort_keys=True) if config.get("model") else None,
        "device": f"{device.get('used')} ({device.get('name')})" if device else None,
        "params": (run.metrics.get("params") or {}).get("total"),
    }
    return {key: str(value) for key, value in rows.items() if value not in (None, "", {})}


def _overlays(runs: list[SavedRun], colors: dict[str, str]) -> list[tuple[str, bytes]]:
    """Every run's loss/accuracy curves on one figure each (when there are several runs).

    Grid points with several seeds are drawn as their mean with a band; each run (or
    grid point) in its report colour.
    """
    with_history = [run for run in runs if run.history]
    if len(with_history) < 2:
        return []
    names: dict[str, None] = {}
    for run in with_history:
        names.update(dict.fromkeys(curve_metrics(run.history)))
    figures = []
    for metric in list(names)[:4]:
        drawn = [run for run in with_history if metric in run.history or f"val_{metric}" in run.history]
        if len(drawn) < 2:
            continue
        title = f"{metric.replace('_', ' ')}: {len(drawn)} runs"
        figure = runs_figure(drawn, metric, title, colors=colors)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        figures.append((f"{metric} (train dashed, validation solid)", buffer.getvalue()))
    return figures


def _figure(png: bytes, caption: str, css: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure{f" class={chr(34)}{css}{chr(34)}" if css else ""}><img alt="{_e(caption)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{_e(caption)}</figcaption></figure>'
    )


_e = escape
_number_cell = number_cell
_status_span = status_span
