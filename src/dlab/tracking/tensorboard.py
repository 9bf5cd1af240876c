"""TensorBoard: Keras's own callback for a run's event files, HParams summaries, and the server.

A run writes ``RUN/tensorboard/train`` and ``RUN/tensorboard/validation`` with
``keras.callbacks.TensorBoard`` (per-epoch scalars, the graph, histograms only when
asked), so what TensorBoard shows is exactly what Keras users know. Sweeps and
searches add the HParams plugin's summaries: one experiment summary (which
hyperparameters and metrics) at the top of a log folder and one session per member,
written straight as protocol buffers with TensorBoard's own helpers, without starting
TensorFlow in the sweep's process (:mod:`dlab.tracking.events`). The server shows runs
trained without ``--tensorboard`` too, from their history
(:mod:`dlab.tracking.history_events`), and dies with ``dlab tensorboard`` even on
``kill -9`` (:mod:`dlab.tracking.lifeline`).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.config.schema import TensorBoardConfig
from dlab.errors import UsageError
from dlab.tracking import history_events
from dlab.tracking.events import LOG_FOLDER, event_files, scalar, write_events
from dlab.tracking.lifeline import popen_tied


def run_log_dir(run_path: Path) -> Path:
    return Path(run_path) / LOG_FOLDER


def tensorboard_callback(run_path: Path, settings: Any) -> Any:
    """``keras.callbacks.TensorBoard`` writing into ``run_path/tensorboard`` once per epoch.

    Args:
        settings: the config's ``train.tensorboard`` (``histogram_freq``, ``write_graph``).

    A resumed run gets the same folders: Keras numbers epochs from the restored
    ``initial_epoch``, so the new event file continues each curve at the right step.
    """
    import keras

    return keras.callbacks.TensorBoard(
        log_dir=str(run_log_dir(run_path)),
        histogram_freq=settings.histogram_freq,
        write_graph=settings.write_graph,
        write_images=False,
        update_freq="epoch",
        profile_batch=0,
    )


def enable(config: Any) -> Any:
    """The config with ``train.tensorboard`` switched on (kept as it is when already set)."""
    if config.train.tensorboard is not None:
        return config
    train = config.train.model_copy(update={"tensorboard": TensorBoardConfig()})
    return config.model_copy(update={"train": train})


# --------------------------------------------------------------------------- HParams


def _hparam_value(value: Any) -> bool | float | str:
    """A value the HParams plugin stores: a bool, a number or a string (lists become text)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value) if isinstance(value, float) else int(value)
    return str(value)


@dataclass
class Session:
    """One member of a comparison: its log folder name, hyperparameters and final metrics."""

    name: str
    hparams: dict[str, Any]
    metrics: dict[str, float]
    start_time: float | None = None


def write_hparams(
    log_dir: Path,
    sessions: Iterable[Session],
    metric_names: Iterable[str],
    histories: Mapping[str, Mapping[str, list[float]]] | None = None,
) -> Path:
    """Write an HParams experiment into ``log_dir``: the config at the top, a folder per session.

    Each session folder holds its hyperparameters and one scalar per metric (step 0),
    which the HParams dashboard tabulates; ``histories`` (per session: history columns)
    adds the per-epoch curves as ``epoch_<metric>`` in ``train`` / ``validation``,
    the way Keras names them.

    Returns:
        ``log_dir``.
    """
    from tensorboard.plugins.hparams import summary_v2 as hp

    sessions = list(sessions)
    metric_names = list(dict.fromkeys(metric_names))
    values_by_key: dict[str, list[Any]] = {}
    for session in sessions:
        for key, value in session.hparams.items():
            values_by_key.setdefault(key, []).append(_hparam_value(value))
    domains = []
    for key, values in sorted(values_by_key.items()):
        distinct = sorted(set(values), key=str)
        kinds = {type(v) for v in distinct}
        discrete = len(kinds) == 1 and (kinds <= {str, bool} or len(distinct) <= 50)
        domains.append(hp.HParam(key, hp.Discrete(distinct) if discrete else None))
    metrics = [hp.Metric(name, display_name=name) for name in metric_names]
    log_dir = Path(log_dir)
    write_experiment_summary(log_dir, domains, metrics)
    for session in sessions:
        hparams = {key: _hparam_value(value) for key, value in session.hparams.items()}
        summaries = [(0, hp.hparams_pb(hparams, trial_id=session.name, start_time_secs=session.start_time))]
        summaries += [
            (0, scalar(name, value))
            for name, value in session.metrics.items()
            if name in metric_names and history_events.finite(value) is not None
        ]
        write_events(log_dir / session.name, summaries)
        columns = (histories or {}).get(session.name) or {}
        points = {column: list(enumerate(values)) for column, values in columns.items()}
        for split, curve in history_events.keras_curves(points).items():
            write_events(log_dir / session.name / split, curve)
    return log_dir


def write_experiment_summary(log_dir: Path, hparams: list[Any], metrics: list[Any]) -> None:
    """The HParams experiment at the top of ``log_dir``: which hyperparameters and metrics to tabulate."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    write_events(Path(log_dir), [(0, hp.hparams_config_pb(hparams=hparams, metrics=metrics))])


def tuner_callbacks(ctx: Any) -> list[Any]:
    """For a keras-tuner search with ``train.tensorboard``: Keras's TensorBoard callback.

    keras-tuner gives every trial its own folder (``tensorboard/<trial>/execution0``) and
    HParams session; the experiment summary on top (the search space, the objective and
    the validation loss) makes the dashboard list exactly those. Empty when not asked.
    """
    settings = ctx.config.train.tensorboard
    if settings is None:
        return []
    from tensorboard.plugins.hparams import summary_v2 as hp

    objective = ctx.config.model.objective
    metric = "epoch_" + objective.removeprefix("val_")
    group = "validation" if objective.startswith("val_") else "train"
    metrics = [hp.Metric(metric, group=group, display_name=objective)]
    if (metric, group) != ("epoch_loss", "validation"):
        metrics.append(hp.Metric("epoch_loss", group="validation", display_name="val_loss"))
    hparams = [hp.HParam(key) for key in ctx.config.model.search_space]
    write_experiment_summary(run_log_dir(ctx.run_dir.path), hparams, metrics)
    return [tensorboard_callback(ctx.run_dir.path, settings)]


def hparams_metric_names(compared: str | None, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The metrics the dashboard compares: the compared metric first, then every test metric."""
    names = [compared] if compared else []
    for row in rows:
        names += [key for key in (row.get("metrics") or {}) if key.startswith("test_")]
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- the server


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def check_logdir(path: str | os.PathLike[str]) -> Path:
    """The folder to serve, refused when it holds no event files (with what writes them)."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise UsageError(f"dlab tensorboard {path}: no such file or folder.")
    if not event_files(folder):
        raise UsageError(
            f"dlab tensorboard {path}: no TensorBoard event files under it, and no run history "
            "(history.csv/json) to show. Runs write event files with --tensorboard (or "
            "train.tensorboard: true in the config), e.g. `dlab run cnn-cifar10 --smoke "
            "--tensorboard`; sweeps and tune take the same flag."
        )
    return folder if folder.is_dir() else folder.parent


def serve(
    path: str | os.PathLike[str],
    *,
    port: int = 6006,
    host: str = "127.0.0.1",
    announce: Callable[[str], None] = print,
    ready_timeout_s: float = 120.0,
) -> int:
    """Start ``tensorboard --logdir PATH`` and wait until it stops (Ctrl-C stops it).

    Runs under ``path`` trained without ``--tensorboard`` are shown from their history
    first (:func:`show_histories`). The server is tied to this process: it stops with it,
    also when this process is killed with SIGKILL (:mod:`dlab.tracking.lifeline`).

    Args:
        port: the port to serve on (0: a free one).
        announce: called with the URL once the server answers (and with what was converted).

    Returns:
        The server's exit code (0 after Ctrl-C).

    Raises:
        UsageError: no event files, a port already in use, or a server that never answered.
    """
    show_histories(path, announce)
    folder = check_logdir(path)
    port = port or free_port(host)
    _check_port_free(host, port)
    command = [
        sys.executable,
        "-c",
        "import sys; from dlab.tracking.lifeline import exit_when_stdin_closes; exit_when_stdin_closes(); "
        "from tensorboard.main import run_main; sys.argv[0] = 'tensorboard'; run_main()",
        "--logdir",
        str(folder),
        "--host",
        host,
        "--port",
        str(port),
        "--reload_interval",
        "5",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    process = popen_tied(command, env=env)  # it dies with this process, however it ends
    url = f"http://{host}:{port}/"
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM stops the server too
    try:
        _wait_until_serving(process, host, port, ready_timeout_s)
        announce(f"TensorBoard serves {folder} at {url} (Ctrl-C stops it)")
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop(process)


def show_histories(path: str | os.PathLike[str], announce: Callable[[str], None] = print) -> None:
    """Give runs under ``path`` without event files their curves from history.csv/json.

    A run folder that cannot be written (read-only, a history being rewritten) is named
    in a warning and served without curves; it never stops the server.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return
    done = history_events.convert_runs(folder)
    if done.written:
        announce(
            f"dlab: {len(done.written)} run(s) trained without --tensorboard shown from their history "
            f"(RUN/{LOG_FOLDER}/{history_events.HISTORY_FOLDER})"
        )
    for run, why in done.failed:
        announce(f"dlab: warning: {run}: history not converted for TensorBoard ({why})")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UsageError(
                f"--port {port}: {host}:{port} cannot be used ({error.strerror or error}); "
                "choose another port, or --port 0 for a free one."
            ) from None


def _wait_until_serving(process: subprocess.Popen, host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(f"tensorboard stopped at start (exit code {process.returncode}); see above.")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise UsageError(f"tensorboard did not answer on {host}:{port} within {timeout_s:.0f} s.")


def stop(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Terminate a server process, then kill it if it lingers; close its lifeline pipe."""
    try:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        if process.stdin is not None:
            process.stdin.close()
