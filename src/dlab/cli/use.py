"""``dlab predict``, ``generate``, ``neighbours``, ``evaluate`` and ``export``: use what a run trained.

Each parses its flags and makes one call into :mod:`dlab.api`; bad input (a run
without a model, a failed run, a missing CSV column, an unknown format, a
missing converter) exits 2 before anything is predicted; ``predict`` exits 1
when it skipped an input it could not read, ``export`` when the artifact does
not reproduce the Keras model.
"""

from __future__ import annotations

import typer

from dlab import api
from dlab.cli.app import SET_HELP, app, call_api, debug_option, device_option

RUN_HELP = "A run directory (outputs/<config>/<time>-<id>) with model.keras."
SKIPPED_SHOWN = 20
"""Skipped inputs listed one per line; a CSV of 10,000 bad rows gets a count instead."""


@app.command("predict")
def predict_command(
    run: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="Image files or folders, text (or a text file: one document per line), CSV files "
        "with the run's feature columns, or .npz arrays (key x).",
    ),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Write the table as CSV to this new file (segmentation: the mask folder). dlab never "
        "overwrites a file.",
    ),
    top: int = typer.Option(3, "--top", metavar="K", help="Classes listed per input, most likely first."),
    device: str = device_option(),
    debug: bool = debug_option(),
) -> None:
    """Predict with a saved run's model on raw inputs: a table, and CSV with --output.

    Examples:

      dlab predict outputs/cnn-cifar10/<run> my-cat.jpg photos/ --top 3

      dlab predict outputs/mlp-imdb/<run> "a wonderful, moving film" reviews.txt -o predictions.csv

      dlab predict outputs/kfold-boston/<run> houses.csv
    """
    result = call_api(
        api.predict, run, inputs, output=output, top=top, device=device, debug=debug, show_traceback=debug
    )
    if result.rows:
        typer.echo(result.table(), nl=False)
    for skipped in result.skipped[:SKIPPED_SHOWN]:
        typer.secho(f"skipped {skipped.name}: {skipped.reason}", fg=typer.colors.YELLOW, err=True)
    if result.skipped:
        more = len(result.skipped) - SKIPPED_SHOWN
        typer.secho(
            f"skipped {len(result.skipped):,} of {len(result.skipped) + len(result.rows):,} inputs"
            + (f" ({more:,} more not listed)" if more > 0 else ""),
            fg=typer.colors.YELLOW,
            err=True,
        )
    if result.output is not None:
        typer.echo(f"written: {result.output}")
    raise typer.Exit(result.exit_code)


@app.command("generate")
def generate_command(
    run: str = typer.Argument(..., metavar="RUN", help="A character language model's run directory."),
    prompt: str = typer.Option("time traveller", "--prompt", "-p", help="Text the model continues."),
    length: int = typer.Option(200, "--length", "-n", help="Characters to generate."),
    temperature: float | None = typer.Option(
        None, "--temperature", "-t", help="Sample from softmax(logits / T) instead of the greedy choice."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the sampling (with --temperature)."),
    device: str = device_option(),
    debug: bool = debug_option(),
) -> None:
    """Continue a prompt with a character language model (greedy unless --temperature)."""
    result = call_api(
        api.generate,
        run,
        prompt,
        length=length,
        temperature=temperature,
        seed=seed,
        device=device,
        debug=debug,
        show_traceback=debug,
    )
    typer.echo(result.text)


@app.command("neighbours")
def neighbours_command(
    run: str = typer.Argument(..., metavar="RUN", help="A CBOW run directory (it holds vectors.txt)."),
    words: list[str] = typer.Argument(..., metavar="WORD..."),
    count: int = typer.Option(5, "--count", "-k", help="Nearest words listed per word."),
    debug: bool = debug_option(),
) -> None:
    """The nearest words by cosine similarity in a CBOW run's word vectors."""
    result = call_api(api.neighbours, run, words, count=count, show_traceback=debug)
    for word, near in result.neighbours.items():
        typer.echo(f"{word}: " + ", ".join(f"{other} ({similarity:.3f})" for other, similarity in near))
    if result.unknown:
        typer.secho(f"not in the vocabulary: {', '.join(result.unknown)}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)


@app.command("evaluate")
def evaluate_command(
    run: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    sets: list[str] = typer.Option(
        [], "--set", metavar="data.KEY=VALUE", help="Where the other copy of the data is. " + SET_HELP
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Batch size (default: the run's)."),
    device: str = device_option(),
    debug: bool = debug_option(),
) -> None:
    """Evaluate a saved run's model on another copy of its dataset; writes evaluations/<time>.json.

    Example: dlab evaluate outputs/cnn-cifar10/<run> --set data.source=file --set data.path=cifar10.npz
    """
    result = call_api(
        api.evaluate, run, sets=sets, batch_size=batch_size, device=device, debug=debug, show_traceback=debug
    )
    typer.echo(result.table(), nl=False)
    typer.echo(f"data: {result.data.get('source')} {result.data.get('location') or ''}".rstrip())
    typer.echo(f"written: {result.path}")


@app.command("export")
def export_command(
    run: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    fmt: str = typer.Option(
        ..., "--format", "-f", metavar="saved_model|litert|onnx", help="Artifact format."
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="PATH", help="A new path to write it to (default RUN/export/...)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an export dlab made at PATH (recognised by its dlab-export.json); never anything else.",
    ),
    device: str = device_option("Device for the check (default cpu: what an exported model runs on)."),
    debug: bool = debug_option(),
) -> None:
    """Export a run's model (Keras model.export), reload it in its own runtime and compare it with Keras
    on the run's test data: exit 1 when the largest difference exceeds 1e-4. An existing PATH is
    refused (exit 2) unless --force and dlab made the export there."""
    result = call_api(
        api.export, run, fmt, output=output, force=force, device=device, debug=debug, show_traceback=debug
    )
    typer.echo(
        f"{result.format}: {result.path} ({result.size_bytes / 1e6:.2f} MB, {result.seconds} s); "
        f"max |difference| vs Keras on {result.samples} test samples: {result.max_abs_diff:.3g} "
        f"(tolerance {result.tolerance:g})"
    )
