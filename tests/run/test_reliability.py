"""Reliability and safety: interrupts, resume, failures, atomic files, concurrency, bad input.

The interrupt and resume tests start ``python -m dlab run`` as a real process and
send it real signals; everything uses tiny built-in or synthetic data.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dlab.errors import UsageError
from dlab.fileio import atomic_write_text
from dlab.run.directory import RunDir

REPO = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "CUDA_VISIBLE_DEVICES": "",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "MPLBACKEND": "Agg",
    "DLAB_BACKUP_INTERVAL": "0",
}  # a resume backup after every epoch (default: every 5 s)


# --------------------------------------------------------------------------- helpers


def start_run(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlab", "run", *args],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_epochs(root: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> Path:
    """Wait until some run under ``root`` has written ``count`` epochs; return its folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for history in root.glob("*/*/history.csv"):
            if len(history.read_text().splitlines()) - 1 >= count:
                return history.parent
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("no epoch was written in time")


def wait_for_training(root: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    """Wait until a run under ``root`` is training (NumPy runs write history only at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for metrics in root.glob("*/*/metrics.json"):  # written just before training starts
            time.sleep(1.5)  # some epochs
            return metrics.parent
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the run did not start in time")


def read_metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def history_epochs(run: Path) -> list[int]:
    return json.loads((run / "history.json").read_text())["epoch"]


KERAS_LONG = ["playground-mlp", "--device", "cpu", "--epochs", "3000", "--set", "train.steps_per_execution=1"]
"""A Keras run far longer than any test waits: it only ends by a signal."""

NUMPY_LONG = ["logreg-scratch", "--epochs", "1000000", "--set", "train.batch_size=1"]
"""A NumPy run (no TensorFlow) that only ends by a signal or the wall-time limit."""


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A Keras run stopped by SIGINT after its first epoch (shared by several tests)."""
    folder = tmp_path_factory.mktemp("sigint")
    process = start_run(*KERAS_LONG, "--out", "out", cwd=folder)
    run = wait_for_epochs(folder / "out", 1, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return run, subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


# --------------------------------------------------------------------------- interrupts


def test_sigint_stops_at_a_batch_boundary_and_keeps_the_finished_epochs(interrupted_run):
    run, done = interrupted_run
    assert done.returncode == 130, done.stderr
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    assert metrics["error"]["message"].startswith("interrupted by SIGINT at ")
    epochs = history_epochs(run)
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 1
    assert metrics["epochs_run"] == len(epochs) and metrics["finished_at"]
    assert (run / "plots" / "loss.png").stat().st_size > 0
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == len(epochs)
    assert "--resume" in done.stderr and "interrupted" in done.stderr
    assert "SIGINT received" in (run / "run.log").read_text()


@pytest.mark.subprocess
def test_sigterm_stops_a_numpy_run_with_exit_code_143(tmp_path):
    process = start_run(*NUMPY_LONG, "--out", "out", cwd=tmp_path)
    run = wait_for_training(tmp_path / "out", process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    assert re.match(r"interrupted by SIGTERM at epoch \d+ batch \d+", metrics["error"]["message"])
    epochs = history_epochs(run)
    assert len(epochs) >= 2 and epochs == list(range(1, len(epochs) + 1))
    assert metrics["epochs_run"] == len(epochs)
    assert (run / "plots" / "loss.png").is_file()


# --------------------------------------------------------------------------- resume


def _backup_epoch(run):
    try:
        return json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.subprocess
def test_a_run_killed_mid_epoch_resumes_without_duplicated_or_missing_epochs(cli, tmp_path):
    args = [
        "playground-mlp",
        "--device",
        "cpu",
        "--epochs",
        "6",
        "--set",
        "train.batch_size=2",
        "--set",
        "train.steps_per_execution=1",
        "--out",
        "out",
    ]
    process = start_run(*args, cwd=tmp_path)
    run = wait_for_epochs(tmp_path / "out", 2, process)
    # the backup is written after the history: on a loaded machine it may lag an epoch behind
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _backup_epoch(run) < 2:
        time.sleep(0.05)
    time.sleep(0.1)  # into the next epoch
    process.kill()  # SIGKILL: no handler runs, metrics.json still says "running"
    process.communicate()
    assert read_metrics(run)["status"] == "running"
    listed = cli("runs", "--out", "out")
    assert "running? (its process is gone: killed" in listed.output  # told from a live run
    backed_up = json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]
    assert backed_up >= 2

    resumed = cli("run", str(run / "config.yaml"), "--device", "cpu", "--resume", str(run))
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming after epoch {backed_up} of 6" in resumed.output
    metrics = read_metrics(run)
    assert metrics["status"] == "completed"
    assert history_epochs(run) == list(range(1, 7))
    assert metrics["epochs_run"] == 6
    assert metrics["resumed"][0]["from_epoch"] == backed_up
    assert f"Epoch {backed_up + 1}/6" in resumed.output and f"Epoch {backed_up}/6" not in resumed.output
    rows = (run / "history.csv").read_text().splitlines()
    assert [int(row.split(",")[0]) for row in rows[1:]] == list(range(1, 7))
    assert not (run / "backup").exists(), "a completed run keeps no backup"
    assert (run / "model.keras").is_file()
    assert list(tmp_path.joinpath("out", "playground-mlp").iterdir()) == [run]


def test_resume_refuses_a_changed_config_and_lists_the_keys(cli, interrupted_run):
    run, _ = interrupted_run
    result = cli(
        "run",
        *KERAS_LONG,
        "--set",
        "train.optimizer.learning_rate=0.1",
        "--set",
        "train.batch_size=20",
        "--resume",
        str(run),
    )
    assert result.exit_code == 2
    assert "not the run's config" in result.output
    assert "train.optimizer.learning_rate: 0.03 in the run, 0.1 now" in result.output
    assert "train.batch_size: 10 in the run, 20 now" in result.output
    assert "--fresh" in result.output
    assert read_metrics(run)["status"] == "interrupted", "a refused resume must not touch the run"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fresh"], "give only one of them"),
        (["--set", "train.kfold=3"], "k-fold runs"),
    ],
)
def test_resume_refusals(cli, interrupted_run, args, message):
    run, _ = interrupted_run
    result = cli("run", *KERAS_LONG, "--resume", str(run), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_resume_refuses_numpy_runs_completed_runs_and_other_folders(cli, tmp_path):
    assert cli("run", "perceptron-and", "--epochs", "3").exit_code == 0
    (run,) = (tmp_path / "outputs" / "perceptron-and").iterdir()
    result = cli("run", "perceptron-and", "--epochs", "3", "--resume", str(run))
    assert result.exit_code == 2 and "NumPy runs keep no backup" in result.output
    assert "perceptron-and cannot be resumed" in result.output
    result = cli("run", "playground-mlp", "--resume", str(tmp_path))
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_resume_refuses_a_completed_run(cli, interrupted_run, tmp_path):
    run, _ = interrupted_run
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("config.yaml", "metrics.json"):
        (copy / name).write_text((run / name).read_text())
    metrics = read_metrics(copy)
    metrics["status"] = "completed"
    (copy / "metrics.json").write_text(json.dumps(metrics))
    result = cli("run", *KERAS_LONG, "--resume", str(copy))
    assert result.exit_code == 2
    assert "that run is completed" in result.output


# --------------------------------------------------------------------------- failures


def test_a_non_finite_loss_fails_the_run_and_keeps_its_outputs(cli, tmp_path):
    result = cli(
        "run",
        "kfold-boston",
        "--smoke",
        "--device",
        "cpu",
        "--epochs",
        "3",
        "--set",
        "train.kfold=null",
        "--set",
        "train.optimizer={name: sgd, learning_rate: 1e6}",
    )
    assert result.exit_code == 1
    assert re.search(r"non-finite loss at epoch 1 batch \d+", result.output)
    (run,) = (tmp_path / "outputs" / "kfold-boston").iterdir()
    metrics = read_metrics(run)
    assert metrics["status"] == "failed"
    assert metrics["error"]["type"] == "NonFiniteLoss"
    assert re.match(r"non-finite loss at epoch 1 batch \d+ \(loss = (nan|inf)\)", metrics["error"]["message"])
    for name in ("config.yaml", "history.csv", "history.json", "summary.txt", "run.log"):
        assert (run / name).is_file(), name
    assert "NonFiniteLoss" in (run / "run.log").read_text()
    assert metrics["epochs_run"] == 0 and not (run / "model.keras").exists()


def test_an_exception_inside_an_experiment_fails_the_run_with_its_traceback(cli, tmp_path, monkeypatch):
    import dlab.models.numpy_models

    def broken_descent(model, x, y, epochs, learning_rate, history, **kwargs):
        history.update(loss=[0.7, 0.6], accuracy=[0.5, 0.75])  # two finished epochs
        raise RuntimeError("boom in epoch 3")

    monkeypatch.setattr(dlab.models.numpy_models, "gradient_descent", broken_descent)
    result = cli("run", "perceptron-and")
    assert result.exit_code == 1
    assert "error: the run failed: RuntimeError: boom in epoch 3" in result.output
    (run,) = (tmp_path / "outputs" / "perceptron-and").iterdir()
    metrics = read_metrics(run)
    assert metrics["status"] == "failed"
    assert metrics["error"] == {"type": "RuntimeError", "message": "boom in epoch 3"}
    assert metrics["config_hash"] and metrics["finished_at"] and metrics["epochs_run"] == 2
    log = (run / "run.log").read_text()
    assert "Traceback (most recent call last)" in log and "RuntimeError: boom in epoch 3" in log
    assert history_epochs(run) == [1, 2]
    assert (run / "plots" / "loss.png").is_file()


def test_a_full_disk_while_training_is_reported_and_destroys_nothing(cli, tmp_path, monkeypatch):
    def full(self, history):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunDir, "write_history", full)
    result = cli("run", "perceptron-and")
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    (run,) = (tmp_path / "outputs" / "perceptron-and").iterdir()
    assert read_metrics(run)["status"] == "failed"
    assert "experiment: perceptron" in (run / "config.yaml").read_text()


def test_an_atomic_write_that_fails_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    atomic_write_text(target, '{"status": "running"}\n')

    def no_space(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, '{"status": "completed"}\n')
    assert target.read_text() == '{"status": "running"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_an_unwritable_output_root_stops_before_training(cli, tmp_path):
    (tmp_path / "a-file").write_text("")
    result = cli("run", "perceptron-and", "--out", "a-file/outputs")
    assert result.exit_code == 2
    assert "Cannot write run outputs under 'a-file/outputs'" in result.output


# --------------------------------------------------------------------------- wall time


@pytest.mark.parametrize("args", [NUMPY_LONG, ["playground-mlp", "--device", "cpu", "--epochs", "3000"]])
def test_max_wall_time_ends_the_run_after_the_epoch_that_crosses_it(cli, tmp_path, args):
    result = cli("run", *args, "--max-wall-time", "1s")
    assert result.exit_code == 0, result.output
    assert "stopped early: time_limit" in result.output
    (run,) = (tmp_path / "outputs" / args[0]).iterdir()
    metrics = read_metrics(run)
    assert metrics["status"] == "completed" and metrics["stopped_early"] == "time_limit"
    assert 1 <= metrics["epochs_run"] < int(args[args.index("--epochs") + 1])
    assert metrics["test"] and metrics["config"] == args[0]


def test_max_wall_time_is_a_config_key_that_does_not_change_the_hash(cli):
    from dlab.framework.factory import resolve_config

    plain = resolve_config("playground-mlp")
    limited = resolve_config("playground-mlp", sets=["train.max_wall_time=2h"])
    assert limited.train.max_wall_time == 7200.0
    assert limited.config_hash() == plain.config_hash()
    result = cli("run", "playground-mlp", "--max-wall-time", "soon")
    assert result.exit_code == 2
    assert "train.max_wall_time" in result.output and "30m" in result.output


# --------------------------------------------------------------------------- atomic files


WRITER = textwrap.dedent("""
    import sys
    from dlab.fileio import atomic_write_json, atomic_write_text
    target, kind = sys.argv[1], sys.argv[2]
    i = 0
    while True:
        i += 1
        rows = [{"epoch": e, "loss": 1.0 / e, "writer": i} for e in range(1, 3000)]
        if kind == "json":
            atomic_write_json(target, {"complete": True, "rows": rows})
        else:
            atomic_write_text(target, "epoch,loss\\n" + "".join(f"{r['epoch']},{r['loss']}\\n"
                                                             for r in rows) + "end\\n")
""")


@pytest.mark.subprocess
@pytest.mark.parametrize("kind", ["json", "csv"])
def test_a_writer_killed_at_random_never_leaves_a_half_written_file(tmp_path, kind):
    target = tmp_path / f"history.{kind}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = np.random.default_rng(0)
    reads = 0

    def check() -> int:  # validates the file; returns its version (mtime)
        if not target.exists():
            return 0
        text = target.read_text()
        if kind == "json":
            assert json.loads(text)["complete"] is True
        else:
            assert text.startswith("epoch,loss\n") and text.endswith("end\n")
        return target.stat().st_mtime_ns

    for _ in range(10):
        before = check()
        writer = subprocess.Popen([sys.executable, str(script), str(target), kind], env=ENV)
        deadline = time.monotonic() + 60
        while check() == before and time.monotonic() < deadline:  # until it has replaced the file
            reads += 1
        assert check() != before, "the writer never wrote"
        stop = time.monotonic() + rng.uniform(0, 0.3)
        while time.monotonic() < stop:  # read while it writes, then kill it at a random moment
            check()
            reads += 1
        writer.kill()
        writer.wait()
        check()
    assert reads > 10


# --------------------------------------------------------------------------- concurrency


@pytest.mark.subprocess
def test_runs_started_at_the_same_moment_get_distinct_folders_and_all_complete(tmp_path):
    processes = [start_run("perceptron-and", "--out", "out", cwd=tmp_path) for _ in range(3)]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    runs = list((tmp_path / "out" / "perceptron-and").iterdir())
    assert len(runs) == 3
    assert all(read_metrics(run)["status"] == "completed" for run in runs)
    assert len({read_metrics(run)["final_cost"] for run in runs}) == 1  # same config, same result


def _hold_lock(args):
    from dlab.data.formats.cache import dataset_lock

    keras_home, log = args
    os.environ["KERAS_HOME"] = keras_home
    with dataset_lock("mnist"):
        with open(log, "a") as handle:
            handle.write("start\n")
        time.sleep(0.2)
        with open(log, "a") as handle:
            handle.write("end\n")


def test_the_dataset_cache_lock_lets_one_process_in_at_a_time(tmp_path):
    log = tmp_path / "log.txt"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.map(_hold_lock, [(str(tmp_path / "keras"), str(log))] * 3)
    assert log.read_text().split() == ["start", "end"] * 3
    assert (tmp_path / "keras" / "datasets" / "mnist.lock").is_file()


def test_keras_downloads_run_under_the_lock_and_pass_the_known_hash(tmp_path, monkeypatch):
    import fcntl

    import keras.src.datasets.mnist as keras_mnist

    from dlab.config import DataConfig
    from dlab.data import load_dataset
    from dlab.errors import DataError

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    seen = {}

    def fake_get_file(fname=None, origin=None, file_hash=None, **kwargs):
        lock = tmp_path / "datasets" / "mnist.lock"
        with open(lock, "a") as handle:  # another open file: flock must refuse while dlab holds it
            with pytest.raises(BlockingIOError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen["file_hash"] = file_hash
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras_mnist, "get_file", fake_get_file)
    with pytest.raises(DataError, match="Could not download the mnist dataset"):
        load_dataset(DataConfig(dataset="mnist", source="keras"), seed=0)
    assert seen["file_hash"] and len(seen["file_hash"]) == 64  # sha256, checked by get_file


# --------------------------------------------------------------------------- safety


def test_python_tags_in_yaml_are_refused(cli, tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(
        f"experiment: perceptron\nseed: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    result = cli("run", "evil.yaml")
    assert result.exit_code == 2
    assert "safe loader" in result.output and "python/object" in result.output
    assert not marker.exists() and not (tmp_path / "outputs").exists()


def test_python_tags_in_set_values_are_refused(cli, tmp_path):
    result = cli("run", "perceptron-and", "--set", "seed=!!python/object/apply:os.getpid []")
    assert result.exit_code == 2
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "..", "/abs"])
def test_config_names_cannot_leave_the_outputs_root(cli, tmp_path, name):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text(f"extends: perceptron-and\nname: '{name}'\n")
    for args in (["sub/c.yaml"], ["perceptron-and", "--set", f"name={name}"]):
        result = cli("run", *args, "--out", "sub/outputs")
        assert result.exit_code == 2, result.output
        assert "name" in result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.yaml", "sub"]


def test_run_folders_refuse_unsafe_names_even_from_python(tmp_path):
    for name in ("../x", "..", "a/b", ""):
        with pytest.raises(UsageError, match="cannot name a run folder"):
            RunDir.create(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_object_arrays_are_read_only_by_the_restricted_unpickler_and_logged(tmp_path, caplog):
    from dlab.data.modalities.text import read_npz_safely

    path = tmp_path / "imdb.npz"
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2, 3], [4, 5]]
    np.savez(path, x_train=ragged, y_train=np.array([0, 1]))
    with caplog.at_level("WARNING", logger="dlab.data"):
        arrays = read_npz_safely(path)
    assert [list(doc) for doc in arrays["x_train"]] == [[1, 2, 3], [4, 5]]
    assert "restricted unpickler" in caplog.text and "x_train" in caplog.text
    assert "y_train" not in caplog.text.split("arrays", 1)[1].split("(")[0]


def test_the_source_never_evaluates_text_or_loads_unsafely():
    pattern = re.compile(
        r"\beval\(|\bexec\(|yaml\.load\((?!.*Loader=_SAFE_LOADER)|"
        r"yaml\.unsafe_load|allow_pickle=True|safe_mode=False|layers\.Lambda|"
        r"\bpickle\.loads?\(|\bpickle\.Unpickler\(|"
        r"\bload_model\((?![^)]*safe_mode=True)(?!self)"
    )
    offenders = []
    for folder in ("src/dlab", "experiments"):
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("name", ["vgg11-fashion", "alexnet-fashion"])
def test_models_too_big_for_the_smoke_save_rebuild_in_safe_mode(name):
    """The smoke test loads every saved model in safe mode except these (hundreds of MB):
    their architecture goes through the same deserialization, weights left out."""
    import keras

    from dlab.framework import registry
    from dlab.framework.factory import resolve_config

    config = resolve_config(name, smoke=True)
    experiment = registry.get(config.experiment)()
    model = experiment.prepare(config, experiment.load_data(config))
    rebuilt = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model), safe_mode=True
    )
    assert rebuilt.count_params() == model.count_params()
    assert [type(layer).__name__ for layer in rebuilt.layers] == [
        type(layer).__name__ for layer in model.layers
    ]


@pytest.mark.parametrize("interval, backed_up", [(0.0, 2), (3600.0, None)])
def test_the_backup_is_written_at_most_every_interval_and_never_half(tmp_path, interval, backed_up):
    import keras

    from dlab.run.resume import read_backup_metadata
    from dlab.training import RunBackup

    class StopInEpochThree(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("crash")

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    backup = RunBackup(tmp_path / "backup", min_interval_s=interval)
    with pytest.raises(RuntimeError):
        model.fit(np.ones((8, 3)), np.ones(8), epochs=5, verbose=0, callbacks=[backup, StopInEpochThree()])
    metadata = read_backup_metadata(tmp_path / "backup")
    if backed_up is None:
        assert metadata is None
        return
    assert metadata["epoch"] == backed_up
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [
        f"epoch-{backed_up}.weights.h5",
        "training_metadata.json",
    ]  # no temporary files
    restored = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    restored.compile("adam", "mse")
    fitted = restored.fit(
        np.ones((8, 3)),
        np.ones(8),
        epochs=5,
        verbose=0,
        callbacks=[RunBackup(tmp_path / "backup", min_interval_s=0)],
    )
    assert len(fitted.history["loss"]) == 5 - backed_up
    assert int(restored.optimizer.iterations) == 5  # 1 step per epoch: 2 restored + 3 new


def test_the_first_signal_asks_to_stop_and_a_second_one_stops_at_once():
    from dlab.errors import RunInterrupted
    from dlab.run.guard import RunGuard

    before = signal.getsignal(signal.SIGTERM)
    with RunGuard() as guard:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs in the main thread: it only sets the flag
        assert guard.signal_received == signal.SIGTERM
        with pytest.raises(RunInterrupted) as second:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert second.value.exit_code == 143 and "second SIGTERM" in str(second.value)
        with pytest.raises(RunInterrupted, match="interrupted by SIGTERM at epoch 2 batch 5"):
            guard.check_batch(0.5, 2, 5)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize(
    "text, seconds",
    [(90, 90.0), ("90", 90.0), ("90s", 90.0), ("1.5m", 90.0), ("2h", 7200.0), ("1d", 86400.0)],
)
def test_wall_time_durations(text, seconds):
    from dlab.config import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5", "0", "nan", True, "5x"])
def test_bad_wall_time_durations(text):
    from dlab.config import parse_duration

    with pytest.raises(ValueError):
        parse_duration(text)
