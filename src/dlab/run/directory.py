"""The run directory: one folder per run, never overwritten, every file written atomically.

Layout::

    outputs/<config-name>/<YYYYmmdd-HHMMSS>-<short-id>/
      config.yaml    the resolved config (``dlab run`` accepts it back)
      history.csv    per-epoch metrics, also history.json
      metrics.json   the run summary (status, timings, test metrics, versions ...)
      model.keras    the trained model, unless --no-save
      summary.txt    model.summary()
      plots/*.png    learning curves and task figures
      run.log        what the console showed
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from dlab.errors import RunFailed, UsageError
from dlab.fileio import atomic_path, atomic_write_json, atomic_write_text

METRICS_SCHEMA_VERSION = 1

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # one path component, never '..'


def check_writable(root: Path) -> Path:
    """Create ``root`` if needed and prove that files can be written in it.

    Raises:
        UsageError: the folder cannot be created or written (read-only, no permission,
            disk full), with what to do about it.
    """
    probe = root / f".dlab-write-test-{secrets.token_hex(4)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        try:
            probe.write_bytes(b"ok")
        finally:  # a full disk creates the file and then refuses its bytes: remove it anyway
            probe.unlink(missing_ok=True)
    except OSError as error:
        raise unwritable(root, error) from None
    return root


def unwritable(root: Path, error: OSError) -> UsageError:
    """The refusal of an outputs root that cannot take a run's files."""
    return UsageError(
        f"Cannot write run outputs under '{root}': {error.strerror or error}. "
        "Choose a writable folder with --out DIR (or free disk space)."
    )


def new_timestamped_folder(parent: Path, prefix: str = "") -> Path:
    """Create ``parent/<prefix><YYYYmmdd-HHMMSS>-<id>`` and return it; never an existing folder.

    The random id and the exclusive ``mkdir`` keep folders apart also when several
    processes start in the same second (runs, sweeps).
    """
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        path = parent / f"{prefix}{stamp}-{secrets.token_hex(3)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


class RunDirGone(RunFailed):
    """The run directory was deleted while the run was writing to it."""


class RunDir:
    """Writes the files of one run. Create one with :meth:`RunDir.create`.

    Every writer first checks that the run directory still exists: a folder deleted
    under a live run fails the run with that reason (:class:`RunDirGone`) instead of
    being silently recreated with half a run in it.
    """

    def __init__(self, path: Path, synthetic: bool = False) -> None:
        """Args:
        synthetic: the run's data is synthetic (``--smoke``): every figure says so. The run's
            config says it (:meth:`write_config` notes it, a resumed run passes it here).
        """
        self.path = Path(path)
        self.plots_dir = self.path / "plots"
        self.synthetic = synthetic

    @classmethod
    def create(cls, root: Path, config_name: str, synthetic: bool = False, config: Any = None) -> RunDir:
        """Make a new, unique run folder ``root/config_name/<time>-<id>``.

        The short random id and ``mkdir(exist_ok=False)`` make two runs started in
        the same second (even in two processes) get two folders.

        Args:
            config: written as config.yaml (see :meth:`write_config`); if the disk refuses it,
                the new folder is removed again, so a refused run leaves no empty folder behind.

        Raises:
            UsageError: an unsafe name, or a config.yaml the disk refuses (full, read-only).
        """
        if not _SAFE_NAME.match(config_name) or config_name in (".", ".."):
            raise UsageError(
                f"Config name '{config_name}' cannot name a run folder: use letters, "
                "digits, '.', '_' and '-' only (no '/', no '..'), so every run stays "
                f"under '{root}'."
            )
        run_dir = cls(new_timestamped_folder(Path(root) / config_name), synthetic)
        if config is not None:
            try:
                run_dir.write_config(config)
            except OSError as error:
                with suppress(OSError):
                    run_dir.path.rmdir()  # empty: the atomic write leaves no partial file
                raise unwritable(Path(root), error) from None
        return run_dir

    # -- writers -------------------------------------------------------------------

    def _check_alive(self) -> None:
        if not self.path.is_dir():
            raise RunDirGone(
                f"the run directory {self.path} was deleted while the run was going "
                "on; nothing more can be recorded there (dlab does not recreate "
                "it). Start the run again."
            )

    def write_config(self, config: Any) -> None:
        """Write config.yaml: the run's resolved config (a :class:`dlab.config.RunConfig`, or its
        YAML text), and note whether its data is synthetic."""
        self._check_alive()
        text = config if isinstance(config, str) else config.to_yaml()
        atomic_write_text(self.path / "config.yaml", text)
        self.synthetic = _is_synthetic(config)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        self._check_alive()
        atomic_write_json(self.path / "metrics.json", metrics)

    def write_summary(self, text: str) -> None:
        self._check_alive()
        atomic_write_text(self.path / "summary.txt", text)

    def write_history(self, history: dict[str, list[float]]) -> None:
        """Write per-epoch metrics as history.csv and history.json (epochs count from 1)."""
        self._check_alive()
        columns = list(history)
        epochs = len(next(iter(history.values()), []))
        rows = [{"epoch": i + 1, **{c: history[c][i] for c in columns}} for i in range(epochs)]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["epoch", *columns], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path / "history.csv", buffer.getvalue())
        atomic_write_json(self.path / "history.json", {"epoch": list(range(1, epochs + 1)), **history})

    def save_figure(self, figure: Any, name: str) -> Path:
        """Save a matplotlib Figure as plots/<name>.png and return the path.

        A run on synthetic data (``--smoke``) gets "smoke (synthetic data)" in every
        figure's title: a confusion matrix titled "accuracy 1.000" must not pass for a result.

        dlab's figures carry a tight layout engine, which lays them out as they are drawn (the
        smoke line included), so they are rendered once (matplotlib's layout pass before it renders
        nothing; running that pass by hand and saving without the engine measured no faster: 0.37
        against 0.35 CPU-s for a 10-class confusion matrix). A figure without one (a user's own) is
        saved with ``bbox_inches="tight"``, which draws it twice to find its extent but never
        clips a label: 0.08-0.11 CPU-s more per curve or confusion matrix on a 2-core VM.
        """
        self._check_alive()
        if self.synthetic:
            from dlab.plots import mark_smoke

            mark_smoke(figure)
        target = self.plots_dir / f"{name}.png"
        laid_out = figure.get_layout_engine() is not None
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format="png", dpi=110, bbox_inches=None if laid_out else "tight")
        return target

    def save_model(self, model: Any) -> Path:
        """Save a Keras model as model.keras (atomically)."""
        self._check_alive()
        target = self.path / "model.keras"
        with atomic_path(target) as tmp:
            model.save(tmp)
        return target

    def append_log(self, text: str) -> None:
        """Append text to run.log (used for the native TensorFlow log and tracebacks)."""
        self._check_alive()
        if text:
            with open(self.path / "run.log", "a", encoding="utf-8") as log:
                log.write(text)

    # -- console capture -----------------------------------------------------------

    @contextmanager
    def capture_console(self, console: bool = True) -> Iterator[None]:
        """Copy what the console shows into run.log while the block runs.

        Args:
            console: False (``--quiet``): stdout goes to run.log only; errors still reach
                the console, since a quiet run must still say why it stopped.
        """
        log = open(self.path / "run.log", "a", encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            with open(os.devnull, "w") as null:
                out, err = sys.stdout, sys.stderr
                sys.stdout, sys.stderr = _Tee(out if console else null, log), _Tee(err, log)
                handler = logging.StreamHandler(_LineLog(log))
                handler.setLevel(logging.WARNING)
                handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
                logging.getLogger().addHandler(handler)
                try:
                    yield
                finally:
                    logging.getLogger().removeHandler(handler)
                    for stream in (sys.stdout, sys.stderr):
                        if isinstance(stream, _Tee):
                            stream.close_line()
                    sys.stdout.flush()
                    sys.stderr.flush()
                    sys.stdout, sys.stderr = out, err
        finally:
            with suppress(OSError):  # a full disk: the last lines are lost, not the run
                log.close()


class _SafeLog:
    """The log file, written so that a signal handler's message or a full disk cannot break the run.

    A stop signal's handler prints while the main thread may be inside a write or a
    flush of the same buffered file; Python then raises "reentrant call". The
    interrupting text is kept and written with the next write instead, and an
    interrupting flush is skipped: the interrupted one finishes after the handler.
    A write that the disk refuses (full, or over a file-size limit) loses those lines of
    run.log: the console still shows them, and a ``print`` must not fail the run.
    """

    def __init__(self, log: IO[str]) -> None:
        self._log = log
        self._pending = ""

    def write(self, text: str) -> None:
        try:
            if self._pending:
                self._log.write(self._pending)
                self._pending = ""
            self._log.write(text)
        except RuntimeError:  # reentrant call from a signal handler: keep it for the next write
            self._pending += text
        except OSError:  # a full disk: run.log loses these lines
            pass

    def flush(self) -> None:
        self.write("")
        try:
            self._log.flush()
        except (RuntimeError, OSError):  # a reentrant call (the outer flush completes); a full disk
            pass


class _LineLog(io.TextIOBase):
    """A text stream that appends to the log file (used by the logging handler)."""

    def __init__(self, log: IO[str]) -> None:
        self._log = _SafeLog(log)

    def write(self, text: str) -> int:
        self._log.write(text)
        return len(text)

    def flush(self) -> None:
        self._log.flush()


class _Tee(io.TextIOBase):
    """Writes to the console unchanged and to the log one finished line at a time.

    Keras redraws its progress bar with ``\\b`` and ``\\r`` on a terminal; in the log
    only the last state of each line is kept, so run.log reads like a transcript
    instead of thousands of redraws.
    """

    def __init__(self, console: IO[str], log: IO[str]) -> None:
        self._console = console
        self._log = _SafeLog(log)
        self._line = ""

    def write(self, text: str) -> int:
        try:
            self._console.write(text)
        except (OSError, ValueError):  # a closed console (`| head`) must not stop the run
            pass
        for char_run in _split_keep(text):
            if char_run == "\n":
                self._log.write(self._line + "\n")
                self._line = ""
            elif char_run == "\r":
                self._line = ""
            else:
                self._line += _ANSI_ESCAPE.sub("", char_run).replace("\b", "")
        return len(text)

    def flush(self) -> None:
        try:
            self._console.flush()
        except (OSError, ValueError):
            pass
        self._log.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._console, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._console.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._console, "encoding", "utf-8") or "utf-8"

    def close_line(self) -> None:
        if self._line:
            self._log.write(self._line + "\n")
            self._line = ""


def _split_keep(text: str) -> Iterator[str]:
    """Split text into runs of ordinary characters and single '\\n' / '\\r'."""
    start = 0
    for i, char in enumerate(text):
        if char in "\r\n":
            if i > start:
                yield text[start:i]
            yield char
            start = i + 1
    if start < len(text):
        yield text[start:]


def _is_synthetic(config: Any) -> bool:
    """Whether a config (a RunConfig, or YAML text in memory) trains on synthetic data."""
    if not isinstance(config, str):
        return config.data.source == "synthetic"
    import yaml

    try:
        data = (yaml.safe_load(config) or {}).get("data")
    except (yaml.YAMLError, AttributeError):
        return False
    return isinstance(data, dict) and data.get("source") == "synthetic"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def relative_to_cwd(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
