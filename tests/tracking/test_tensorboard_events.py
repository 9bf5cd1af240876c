"""TensorBoard for every run, without TensorFlow in dlab's own processes, and a server that
dies with ``dlab tensorboard``.

Everything is real: event files are read back with TensorBoard's own reader and its
HParams plugin, the sweep and ``dlab tensorboard`` are real processes, the server answers
HTTP on loopback and is checked after a real SIGKILL of its parent. Process checks read
/proc (Linux); every wait has a deadline and teardown kills what the test started.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from fake_runs import make_run

from dlab.tracking.events import event_files, scalar, write_events
from dlab.tracking.history_events import STAMP, convert_runs
from dlab.tracking.tensorboard import free_port

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

HISTORY = {
    "loss": [1.5, 1.1, 0.9],
    "val_loss": [1.4, 1.0, 0.95],
    "accuracy": [0.4, 0.6, 0.7],
    "val_accuracy": [0.45, 0.6, 0.69],
}


def curves(folder: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Per scalar tag, (steps, values) as TensorBoard's EventAccumulator reads the folder."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return {
        tag: (
            [event.step for event in events.Tensors(tag)],
            [float(tensor_util.make_ndarray(event.tensor_proto)) for event in events.Tensors(tag)],
        )
        for tag in events.Tags()["tensors"]
        if events.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"  # not Keras's model config
    }


def expected(history: dict[str, list[float]], split: str = "train") -> dict:
    """The curves Keras would write for ``split``: epoch 1 is step 0, ``val_x`` is ``epoch_x``."""
    prefix = "val_" if split == "validation" else ""
    return {
        f"epoch_{name.removeprefix(prefix)}": (list(range(len(values))), pytest.approx(values))
        for name, values in history.items()
        if name.startswith("val_") == (split == "validation")
    }


def session_groups(logdir: Path):
    """What the HParams dashboard lists: its plugin's session groups, computed by TensorBoard."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    tb_context = base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer, data_provider=provider)
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=100,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS],
    )
    handler = list_session_groups.Handler(
        context.RequestContext(), backend_context.Context(tb_context), "", request
    )
    return handler.run().session_groups


# --------------------------------------------------------------------------- history -> events


def test_a_run_without_event_files_gets_keras_curves_from_its_history(tmp_path):
    run = make_run(tmp_path / "outputs", history=HISTORY)
    done = convert_runs(tmp_path / "outputs")
    assert done.written == [run] and not done.failed
    folder = run / "tensorboard" / "history"
    assert curves(folder / "train") == expected(HISTORY)
    assert curves(folder / "validation") == expected(HISTORY, "validation")


def test_the_conversion_is_written_once_and_again_only_when_the_history_changes(tmp_path):
    run = make_run(tmp_path, history=HISTORY)
    convert_runs(run)
    first = event_files(run / "tensorboard")
    again = convert_runs(run)
    assert again.current == [run] and not again.written
    assert event_files(run / "tensorboard") == first  # nothing rewritten
    longer = {name: [*values, values[-1] / 2] for name, values in HISTORY.items()}  # a resumed run
    (run / "history.json").write_text(json.dumps({"epoch": [1, 2, 3, 4], **longer}))
    assert convert_runs(run).written == [run]
    assert len(event_files(run / "tensorboard")) == 2  # train and validation, old files gone
    assert curves(run / "tensorboard" / "history" / "train") == expected(longer)
    assert json.loads((run / "tensorboard" / "history" / STAMP).read_text())["source"] == "history.json"


def test_history_csv_alone_is_read_and_values_that_are_not_finite_are_left_out(tmp_path):
    run = make_run(tmp_path, history={"loss": [1.0, 0.5]})
    (run / "history.json").unlink()
    (run / "history.csv").write_text("epoch,loss,note\n1,1.0,a\n2,nan,b\n3,0.25,c\n")
    assert convert_runs(run).written == [run]
    assert curves(run / "tensorboard" / "history" / "train") == {"epoch_loss": ([0, 2], [1.0, 0.25])}


def test_a_run_with_event_files_of_its_own_is_left_alone(tmp_path):
    run = make_run(tmp_path, history=HISTORY)
    write_events(run / "tensorboard" / "train", [(0, scalar("epoch_loss", 1.5))])  # as --tensorboard did
    done = convert_runs(run)
    assert not done.written and not done.current and not done.failed
    assert not (run / "tensorboard" / "history").exists()


@pytest.mark.heavy
def test_converted_curves_are_the_ones_keras_writes(tmp_path):
    from dlab import api

    result = api.run(
        "mlp-mnist",
        smoke=True,
        epochs=2,
        out=tmp_path / "out",
        device="cpu",
        tensorboard=True,
        save_model=False,
    )
    copy = tmp_path / "without"
    shutil.copytree(result.run_dir, copy, ignore=shutil.ignore_patterns("tensorboard"))
    assert convert_runs(copy).written == [copy]
    for split in ("train", "validation"):
        keras = curves(result.run_dir / "tensorboard" / split)
        ours = curves(copy / "tensorboard" / "history" / split)
        assert "epoch_loss" in ours
        for tag, (steps, values) in ours.items():
            assert steps == keras[tag][0], tag
            assert values == pytest.approx(keras[tag][1], rel=1e-6), tag


# --------------------------------------------------------------------------- HParams without TF


@pytest.mark.subprocess
def test_a_sweep_writes_its_hparams_without_starting_tensorflow(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    code = (
        "import json, sys; from dlab import api; "
        "r = api.sweep(['perceptron-and'], grid=['train.epochs=2,3'], out=sys.argv[1], tensorboard=True); "
        "runs = {f\"{row['index']:03d}-{row['config']}\": row['run_dir'] for row in r.rows}; "
        "print(json.dumps({'code': r.exit_code, 'dir': str(r.sweep_dir), 'runs': runs, "
        "'tensorflow': 'tensorflow' in sys.modules}))"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True, timeout=180
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0 and report["tensorflow"] is False, (report, elapsed)
    assert "oneDNN" not in done.stderr and "cpu_feature_guard" not in done.stderr  # TF's start-up lines

    logdir = Path(report["dir"]) / "tensorboard"
    from tensorboard.backend.event_processing import event_accumulator

    top = event_accumulator.EventAccumulator(str(logdir))
    top.Reload()
    content = top.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert [info.name for info in experiment.hparam_infos] == ["train.epochs"]
    assert {info.name.tag for info in experiment.metric_infos} == {"test_loss", "test_accuracy"}
    groups = {group.name: group for group in session_groups(logdir)}
    assert sorted(groups) == sorted(report["runs"])
    for name, run_dir in report["runs"].items():
        test = json.loads((Path(run_dir) / "metrics.json").read_text())["test"]
        metrics = {value.name.tag: value.value for value in groups[name].metric_values}
        assert metrics == pytest.approx({f"test_{key}": value for key, value in test.items()})
        epochs = groups[name].hparams["train.epochs"].number_value
        history = json.loads((Path(run_dir) / "history.json").read_text())
        assert len(history["loss"]) == epochs
        assert curves(logdir / name / "train") == expected({k: history[k] for k in ("loss", "accuracy")})


# --------------------------------------------------------------------------- dies with its parent


def children_of(pid: int) -> set[int]:
    """Every descendant of ``pid`` now (from /proc/*/stat's parent field)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def kill_left_over(pids: set[int]) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


CHILD = "import time; {prelude}print('ready', flush=True); time.sleep(60)"
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {child!r}], {popen})
print(child.pid, flush=True)
time.sleep(60)
"""
TIES = {
    "nothing": ("", "stdin=subprocess.DEVNULL"),
    "the stdin pipe": (
        "from dlab.tracking.lifeline import exit_when_stdin_closes; exit_when_stdin_closes(); ",
        "stdin=subprocess.PIPE",
    ),
    "the parent-death signal": (
        "",
        "stdin=subprocess.DEVNULL, preexec_fn=__import__('dlab.tracking.lifeline').tracking.lifeline"
        ".parent_death_signal()",
    ),
}


@pytest.mark.subprocess
@linux_only
@pytest.mark.parametrize("tie", list(TIES))
def test_each_tie_alone_stops_a_child_whose_parent_is_killed(tie):
    prelude, popen = TIES[tie]
    code = PARENT.format(child=CHILD.format(prelude=prelude), popen=popen)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        lines = []
        for _ in range(2):  # the child's pid (from the parent), then "ready" (from the child)
            ready, _, _ = select.select([parent.stdout], [], [], 30)
            assert ready, f"no start-up line from the parent or child, got {lines}"
            lines.append(parent.stdout.readline().strip())
        child = int(lines[0])
        assert lines[1] == "ready"
        time.sleep(0.5)
        assert alive(child)  # the tie itself does not stop a child whose parent lives
        parent.kill()  # SIGKILL: no handler runs in the parent
        parent.wait(timeout=10)
        if tie == "nothing":  # what dlab tensorboard's server did: it outlives its parent
            time.sleep(2)
            assert alive(child)
        else:
            wait_for(lambda: not alive(child), 10, f"the child to stop through {tie}")
    finally:
        kill_left_over({child} if child else set())
        if parent.poll() is None:
            parent.kill()
        parent.wait(timeout=10)
        parent.stdout.close()


@pytest.mark.engine
@linux_only
def test_kill_9_of_dlab_tensorboard_takes_its_server_along_after_serving_every_run(tmp_path):
    run = make_run(tmp_path / "outputs", history=HISTORY)  # trained without --tensorboard
    port = free_port()
    log = open(tmp_path / "dlab.log", "w")  # noqa: SIM115 - closed in finally
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "dlab", "tensorboard", str(tmp_path / "outputs"), "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server: set[int] = set()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or listening(port), 120, "TensorBoard to answer")
        assert process.poll() is None, (tmp_path / "dlab.log").read_text()
        name = f"{run.parent.name}/{run.name}/tensorboard/history/train"
        wait_for(lambda: name in (get_json(f"{base}/data/runs") or []), 30, f"TensorBoard to list {name}")
        query = urllib.parse.urlencode({"run": name, "tag": "epoch_loss"})
        points = get_json(f"{base}/data/plugin/scalars/scalars?{query}")
        assert [step for _, step, _ in points] == [0, 1, 2]
        assert [value for _, _, value in points] == pytest.approx(HISTORY["loss"])

        server = children_of(process.pid)
        assert server, "dlab tensorboard has no server child"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        wait_for(lambda: not listening(port), 10, f"port {port} to close")
        wait_for(lambda: not any(alive(pid) for pid in server), 10, "the server's processes to stop")
    finally:
        kill_left_over(server | children_of(process.pid))
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()
    assert "shown from their history" in (tmp_path / "dlab.log").read_text()
