"""Which MLflow tracking store a run logs to, and proof that it answers before anything trains.

The URI comes from ``--mlflow-uri``, else ``MLFLOW_TRACKING_URI``, else a local SQLite
file ``mlflow.db`` beside the outputs root (``outputs/`` -> ``./mlflow.db``), with its
artifacts in ``mlartifacts/`` next to it, the layout ``mlflow server`` uses. mlflow is
an optional extra: without it ``--mlflow`` is refused with the install command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dlab.errors import UsageError

INSTALL_HINT = 'pip install -e ".[mlflow]" (or pip install mlflow)'


def require_mlflow() -> Any:
    """The mlflow module, or a UsageError that says how to install it."""
    try:
        import mlflow
    except ImportError:
        raise UsageError(
            f"--mlflow needs the mlflow package, which is not installed: {INSTALL_HINT}. Nothing was trained."
        ) from None
    return mlflow


def resolve_uri(uri: str | None, out: str | os.PathLike[str]) -> str:
    """``--mlflow-uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<beside out>/mlflow.db``."""
    if uri:
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return "sqlite:///" + str(Path(out).expanduser().resolve().parent / "mlflow.db")


def local_folder(uri: str) -> Path | None:
    """The folder of a local store (sqlite file or plain path), where artifacts go too; else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        database = uri.split("sqlite:///", 1)[-1] if uri.startswith("sqlite:///") else ""
        return Path(database).parent if database and database != ":memory:" else None
    if parsed.scheme in ("", "file"):
        return Path(parsed.path or uri)
    return None


@contextmanager
def _fail_fast() -> Iterator[None]:
    """No retries and a short timeout while probing a server (MLflow retries for minutes)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "10"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def connect(uri: str) -> Any:
    """An ``MlflowClient`` on ``uri`` that has answered one request.

    Raises:
        UsageError: mlflow missing, a local folder that cannot be written, or a store that
            does not answer (with the URI, the error, and what to do).
    """
    require_mlflow()
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its database-migration chatter

    folder = local_folder(uri)
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"--mlflow: cannot create the MLflow store folder '{folder}' ({error.strerror or error}); "
                "choose another with --mlflow-uri."
            ) from None
    try:
        with _fail_fast():
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)
    except Exception as error:  # noqa: BLE001 - mlflow raises many kinds; all mean "cannot use it"
        message = " ".join(str(error).split())[:400]
        raise UsageError(
            f"--mlflow: the MLflow tracking store '{uri}' does not answer ({type(error).__name__}: "
            f"{message}). Start the server (`mlflow server --host 127.0.0.1 --port 5000`), give "
            "another --mlflow-uri (or MLFLOW_TRACKING_URI), or leave both out for a local "
            "sqlite:///mlflow.db beside the outputs folder. Nothing was trained."
        ) from None
    return client


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The id of MLflow experiment ``name``, created when missing (artifacts beside a local store)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    folder = local_folder(uri)
    location = (folder / "mlartifacts" / name).resolve().as_uri() if folder is not None else None
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:  # noqa: BLE001 - another process created it meanwhile
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)
