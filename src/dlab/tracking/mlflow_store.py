"""Which MLflow tracking store a run logs to, and proof that it answers before anything trains.

The URI comes from ``--mlflow-uri``, else ``MLFLOW_TRACKING_URI``, else a local SQLite
file ``mlflow.db`` beside the outputs root (``outputs/`` -> ``./mlflow.db``), with its
artifacts in ``mlartifacts/`` next to it, the layout ``mlflow server`` uses. mlflow is
an optional extra: without it ``--mlflow`` is refused with the install command.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dlab.errors import UsageError
from dlab.tracking.mlflow_locks import store_lock

INSTALL_HINT = 'pip install -e ".[mlflow]" (or pip install mlflow)'
ARTIFACT_FOLDER = "mlartifacts"
"""Where a local store keeps its artifacts, as ``mlflow server`` lays it out."""


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


def brief(error: BaseException) -> str:
    """An MLflow or SQLAlchemy error in one short line: its type and message, without the SQL
    statement and the link that SQLAlchemy appends (a "database is locked" was 40 lines)."""
    text = " ".join(str(error).split())
    for cut in (" [SQL:", " (Background on this error", " [parameters:"):
        text = text.split(cut, 1)[0]
    return f"{type(error).__name__}: {text[:300]}"


_LOCKED = ("database is locked", "database table is locked")
_READ_ONLY = ("readonly database", "read-only file system", "permission denied", "unable to open database")


def store_error(uri: str, error: BaseException, consequence: str, doing: str | None = None) -> UsageError:
    """What a failing store means for the user, and what to do about it.

    Args:
        consequence: what did (not) happen, e.g. "Nothing was trained."
        doing: what failed once the store had answered (e.g. "logging RUN"); None while
            connecting, where any other failure means the store does not answer.
    """
    message = brief(error)
    lowered = message.lower()
    if any(mark in lowered for mark in _LOCKED):
        return UsageError(
            f"the MLflow store '{uri}' is locked: another process is writing to it and did not "
            f"finish within SQLite's wait ({message}). Let that process finish (a run logging to "
            f"MLflow, an mlflow-sync, an `mlflow ui` writing to it), then try again. {consequence}"
        )
    if any(mark in lowered for mark in _READ_ONLY):
        return UsageError(
            f"the MLflow store '{uri}' cannot be written ({message}). Make it writable, or log to "
            f"another store with --mlflow-uri (or MLFLOW_TRACKING_URI). {consequence}"
        )
    if doing is not None:
        return UsageError(f"the MLflow store '{uri}' failed while {doing} ({message}). {consequence}")
    return UsageError(
        f"the MLflow tracking store '{uri}' does not answer ({message}). Start the server "
        "(`mlflow server --host 127.0.0.1 --port 5000`), give another --mlflow-uri (or "
        "MLFLOW_TRACKING_URI), or leave both out for a local sqlite:///mlflow.db beside the "
        f"outputs folder. {consequence}"
    )


def connect(uri: str, consequence: str = "Nothing was trained.") -> Any:
    """An ``MlflowClient`` on ``uri`` that has answered a read and taken a write.

    A read alone passed for a read-only store, which then failed only after training
    (a 90-line traceback, nothing logged). So the check writes: a tag on the first
    experiment (``dlab.write_check``, the time), and a probe file in a local store's
    artifact folder. Opening happens under the store's lock (:mod:`dlab.tracking.mlflow_locks`):
    the first process creates a new SQLite store's tables while the others wait.

    Args:
        consequence: said after a failure, e.g. "Nothing was trained.", "Nothing was logged."

    Raises:
        UsageError: mlflow missing, a local folder that cannot be written, a store that does
            not answer, is locked or is read-only (with the URI, the error, and what to do).
    """
    require_mlflow()
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its database-migration chatter
    # nor its own 40-line traceback of a database error, which dlab reports in one line (store_error)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)

    folder = local_folder(uri)
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"cannot create the MLflow store folder '{folder}' ({error.strerror or error}); "
                f"choose another with --mlflow-uri. {consequence}"
            ) from None
    with store_lock(uri, "opening the store"):
        try:
            with _fail_fast():
                client = MlflowClient(tracking_uri=uri)
                found = client.search_experiments(max_results=1)  # a new SQLite store: its tables
                client.search_registered_models(max_results=1)  # the model registry's too
                _write_check(client, found)
        except Exception as error:  # noqa: BLE001 - mlflow raises many kinds; all mean "cannot use it"
            raise store_error(uri, error, consequence) from None
    if folder is not None:
        _check_artifact_folder(uri, folder / ARTIFACT_FOLDER, consequence)
    return client


def _write_check(client: Any, experiments: list[Any]) -> None:
    """Write one tag: proof that the store takes writes (its value says when dlab last checked)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if experiments:
        client.set_experiment_tag(experiments[0].experiment_id, "dlab.write_check", stamp)
    else:  # a server without even its Default experiment
        client.create_experiment("Default")


def _check_artifact_folder(uri: str, folder: Path, consequence: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dlab-write-check-"):
            pass
    except OSError as error:
        raise UsageError(
            f"the MLflow store '{uri}' cannot keep artifacts: its folder {folder} cannot be "
            f"written ({error.strerror or error}). Make it writable, or give another --mlflow-uri. "
            f"{consequence}"
        ) from None


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The id of MLflow experiment ``name``, created when missing (artifacts beside a local store)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    folder = local_folder(uri)
    location = (folder / ARTIFACT_FOLDER / name).resolve().as_uri() if folder is not None else None
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:  # noqa: BLE001 - another process created it meanwhile
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)
