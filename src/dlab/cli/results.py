"""Saved runs: ``dlab compare``, ``dlab check``, ``dlab runs`` and ``dlab report``.

They read only what runs wrote; none of them starts TensorFlow.
"""

from __future__ import annotations

import typer

from dlab import api
from dlab.cli.app import FORMAT_HELP, RUNS_HELP, app, call_api, checked_format, debug_option

METRIC_HELP = (
    "A metric to show, by its dotted path in metrics.json (test.accuracy, final.val.loss, wall_time_s) "
    "or a glob (test.*). Repeatable. Default: all numeric metrics the completed runs share."
)
FAIL_IF_HELP = (
    'Exit with 1 when EXPR holds for any run, e.g. "test.accuracy < baseline - 0.01" or '
    '"wall_time_s > 1.2 * baseline". Metric names, numbers, baseline, + - * / ( ), one of '
    "< <= > >= == !=. Repeatable."
)


def params_option() -> list[str]:
    """``--params KEY``, the same on compare and report."""
    return typer.Option(
        [],
        "--params",
        "-p",
        metavar="KEY",
        help="A config key to show as a column (model.hidden, train.optimizer.learning_rate); "
        "repeatable or comma-separated. The keys whose values differ are always shown.",
    )


@app.command("compare")
def compare_command(
    paths: list[str] = typer.Argument(..., metavar="RUN|METRICS.json|SWEEP_DIR...", help=RUNS_HELP),
    metrics: list[str] = typer.Option([], "--metric", "-m", metavar="NAME", help=METRIC_HELP),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        "-b",
        metavar="RUN",
        help="Show differences from this run; 'baseline' in --fail-if means its value.",
    ),
    fail_if: list[str] = typer.Option([], "--fail-if", metavar="EXPR", help=FAIL_IF_HELP),
    curve: str | None = typer.Option(
        None,
        "--curve",
        metavar="COLUMN",
        help="Overlay this history column across runs (loss draws "
        "train and validation, val_loss only validation).",
    ),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE.png",
        help="Where --curve writes its PNG (default compare-<COLUMN>.png).",
    ),
    params: list[str] = params_option(),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Compare saved runs: metrics side by side, differences from a baseline, CI gates.

    Exit code 1 when a --fail-if gate fails (the failing comparisons are listed), 2 on bad input.

    Examples:

      dlab compare outputs/cnn-cifar10 --metric test.accuracy --metric wall_time_s

      dlab compare NEW --baseline OLD --fail-if "test.accuracy < baseline - 0.01" --format markdown

      dlab compare outputs/sweeps/lr-20261122-101500-ab12cd --curve val_loss -o val_loss.png
    """
    fmt = checked_format(fmt)
    comparison = call_api(
        api.compare,
        paths,
        metrics=metrics,
        baseline=baseline,
        fail_if=fail_if,
        curve=curve,
        curve_output=output,
        params=params,
        show_traceback=debug,
    )
    typer.echo(comparison.render(fmt), nl=False)
    if comparison.curve is not None:
        typer.echo(f"curve: {comparison.curve}", err=True)
    failed = comparison.failed_gates
    if failed:
        if fmt in ("csv", "json"):  # keep stdout parseable; the table formats list them already
            typer.echo(f"gates: {len(failed)} of {len(comparison.gates)} checks FAILED:", err=True)
            for outcome in failed:
                typer.echo(f"  {outcome.describe()}", err=True)
        raise typer.Exit(1)


@app.command("check")
def check_command(
    paths: list[str] = typer.Argument(..., metavar="RUN...", help=RUNS_HELP),
    tolerance: str = typer.Option(
        "5%",
        "--tolerance",
        "-t",
        metavar="5%|0.01",
        help="How far from the reference counts as reproduced: a "
        "percentage of the reference (5%) or an absolute amount in the "
        "metric's units (0.01).",
    ),
    include_smoke: bool = typer.Option(
        False,
        "--include-smoke",
        help="Judge smoke runs (synthetic data) too, whatever conditions their references state, "
        "instead of reporting them as not comparable.",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Check runs against the reference: block of their config (the published numbers).

    A run whose config differs from the conditions a reference states (epochs, data source,
    sample counts), a smoke run and a run on synthetic data are "not comparable" and not judged.

    Exit code 0 when every reference judged is met, 1 when a result is outside its reference or
    a run did not complete, 3 when nothing failed but a run was not comparable, 2 on bad input.
    """
    fmt = checked_format(fmt)
    result = call_api(
        api.check, paths, tolerance=tolerance, include_smoke=include_smoke, show_traceback=debug
    )
    typer.echo(result.render(fmt), nl=False)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command("runs")
def runs_command(
    experiment: str | None = typer.Option(
        None,
        "--experiment",
        "-e",
        metavar="NAME",
        help="Only runs of this config or experiment (a glob: 'mlp-imdb*').",
    ),
    status: str | None = typer.Option(
        None,
        "--status",
        "-s",
        metavar="running|completed|failed|interrupted",
        help="Only runs with this status.",
    ),
    config: str | None = typer.Option(
        None, "--config", "-c", metavar="NAME", help="Only runs of this config (a glob: 'mlp-*')."
    ),
    tags: list[str] = typer.Option(
        [], "--tag", "-t", metavar="KEY=VALUE|KEY", help="Only runs with this tag (repeatable: all of them)."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="DATE|AGE",
        help="Only runs started since then: 2026-12-01, 2026-12-01T14:30, 7d, 12h.",
    ),
    until: str | None = typer.Option(
        None, "--until", metavar="DATE|AGE", help="Only runs started before then."
    ),
    out: str = typer.Option("outputs", "--out", metavar="DIR", help="The outputs root to list."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """List the runs under the outputs root: config, label (what sets a run apart from the
    other runs of its config), status, wall time, key metrics and folder (--format json|csv:
    every field, whole)."""
    fmt = checked_format(fmt)
    rows = call_api(
        api.list_runs,
        out,
        experiment=experiment,
        status=status,
        config=config,
        tags=tags,
        since=since,
        until=until,
        show_traceback=debug,
    )
    typer.echo(api.render_runs(rows, fmt), nl=False)


@app.command("report")
def report_command(
    paths: list[str] = typer.Argument(..., metavar="RUNS|SWEEP...", help=RUNS_HELP),
    output: str = typer.Option(
        "report.html", "--output", "-o", metavar="FILE.html", help="The HTML file to write."
    ),
    metrics: list[str] = typer.Option(
        [], "--metric", "-m", metavar="NAME", help="Metrics for the summary table (default: all shared)."
    ),
    title: str | None = typer.Option(None, "--title", help="The page title."),
    params: list[str] = params_option(),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Write one self-contained HTML file (plots embedded) that summarizes runs."""
    path = call_api(
        api.report, paths, output, metrics=metrics, title=title, params=params, show_traceback=debug
    )
    typer.echo(f"report: {path}")


@app.command("diff")
def diff_command(
    left: str = typer.Argument(..., metavar="A", help="A config name, a YAML file or a run directory."),
    right: str = typer.Argument(..., metavar="B", help="The same kinds as A."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Compare two configs or runs key by key: only the differences, with where each value came from.

    For two runs, their metrics follow side by side. Exit code 0 whether they differ or not
    (2 on bad input).

    Examples:

      dlab diff xor-mlp xor-mlp-tanh

      dlab diff outputs/playground-mlp/20261122-101500-259c2a outputs/playground-mlp/20261122-101502-8f4e48
    """
    fmt = checked_format(fmt)
    result = call_api(api.diff, left, right, show_traceback=debug)
    typer.echo(result.render(fmt), nl=False)
