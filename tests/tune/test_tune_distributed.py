"""Distributed keras-tuner: a real chief and two real workers on 127.0.0.1, as subprocesses."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlab import api
from dlab.errors import UsageError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dlab(*args: str, out: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = open(out, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "dlab", *args], stdout=log, stderr=subprocess.STDOUT, env=env
    )


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


SEARCH = ("tune-mnist-mlp", "--smoke", "--max-trials", "4", "--device", "cpu", "--no-save")


def distributed_search(tmp_path: Path, search: tuple[str, ...], shared: Path) -> Path:
    """A chief and two workers on 127.0.0.1 sharing ``shared``; returns the chief's run directory."""
    port = free_port()
    out = tmp_path / "out"
    flags = (*search, "--shared-dir", str(shared))
    chief = dlab(
        "tune",
        *flags,
        "--out",
        str(out),
        "--chief",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        out=tmp_path / "chief.log",
    )
    processes = [chief]
    try:
        deadline = time.monotonic() + 240  # the chief loads and checks the search before serving it
        while "serving the search" not in (tmp_path / "chief.log").read_text() and chief.poll() is None:
            assert time.monotonic() < deadline, (tmp_path / "chief.log").read_text()[-2000:]
            time.sleep(0.5)
        processes += [
            dlab(
                "tune",
                *flags,
                "--worker",
                str(n),
                "--chief-address",
                f"127.0.0.1:{port}",
                "--connect-timeout",
                "120",
                out=tmp_path / f"worker{n}.log",
            )
            for n in (1, 2)
        ]
        deadline = time.monotonic() + 420
        while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
            time.sleep(1)
        logs = {
            p: (tmp_path / name).read_text(errors="replace")
            for p, name in zip(processes, ["chief.log", "worker1.log", "worker2.log"], strict=True)
        }
        for process in processes:
            assert process.returncode == 0, logs[process][-3000:]
    finally:
        stop(processes)
    return next(out.glob(f"{search[0]}/*/"))


@pytest.mark.engine
def test_a_chief_and_two_workers_run_four_distinct_trials(tmp_path):
    """Workers and chief share a folder (--shared-dir), so the chief evaluates the best
    trial's own checkpoint instead of retraining it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    run_dir = distributed_search(tmp_path, SEARCH, shared)
    ran = []
    for name in ("worker1.log", "worker2.log"):
        ran += [
            line.split("trial ")[1].split()[0]
            for line in (tmp_path / name).read_text().splitlines()
            if line.startswith("dlab: worker") and " trial " in line and "COMPLETED" in line
        ]
    assert sorted(ran) == ["1", "2", "3", "4"]  # every trial ran once, on one of the workers
    chief_log = (tmp_path / "chief.log").read_text()
    reported = [
        line.split("trial ")[1].split()[0] for line in chief_log.splitlines() if "dlab: chief: trial" in line
    ]
    assert sorted(reported) == ["1", "2", "3", "4"]  # the chief reported each trial as it ended
    assert all(
        chief_log.index(f"dlab: chief: trial {n} ") < chief_log.index("best trial: #") for n in reported
    )
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert len(rows) == 4 and len({row["trial_id"] for row in rows}) == 4
    assert all(row["status"] == "COMPLETED" for row in rows)
    assert (run_dir / "best-config.yaml").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    best_trial = metrics["tuner"]["best"]["trial"]
    assert metrics["best_model"]["source"] == "checkpoint" and metrics["best_model"]["trial"] == best_trial
    assert "retrain" not in metrics  # the best trial's own epochs are the run's history
    history = list(csv.DictReader((run_dir / "history.csv").open()))
    trial = next(row for row in rows if int(row["trial"]) == best_trial)
    assert max(float(row["val_accuracy"]) for row in history) == pytest.approx(float(trial["score"]))
    assert (run_dir / "tuner/search" / f"trial_{best_trial - 1}/checkpoint.weights.h5").exists()
    assert list(shared.iterdir()) == []  # the search's folder went with the search
    best = api.run(str(run_dir / "best-config.yaml"), smoke=True, out=tmp_path / "best", save_model=False)
    assert best.status == "completed"


@pytest.mark.engine
def test_hyperband_across_two_workers_continues_trials_that_the_other_worker_began(tmp_path):
    """Hyperband's later rounds load the checkpoint of an earlier round's trial, which
    either worker may have run: in the shared folder every worker finds it (without one,
    such trials fail with a missing build_config.json)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    search = ("tune-mnist-mlp", "--smoke", "--device", "cpu", "--no-save", "--epochs", "9")
    search += ("--set", "model.algorithm=hyperband", "--set", "model.hyperband_factor=3")
    run_dir = distributed_search(tmp_path, search, shared)
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert [row for row in rows if row["status"] != "COMPLETED"] == []
    trials = [json.loads(path.read_text()) for path in (run_dir / "tuner/search").glob("trial_*/trial.json")]
    continued = [t for t in trials if "tuner/trial_id" in t["hyperparameters"]["values"]]
    assert len(trials) == len(rows) and continued  # later rounds ran, and all of them completed
    ran = {}
    for worker in ("worker1", "worker2"):
        for line in (tmp_path / f"{worker}.log").read_text().splitlines():
            if line.startswith(f"dlab: worker {worker}: trial "):
                ran[int(line.split("trial ")[1].split()[0])] = worker
    assert set(ran.values()) == {"worker1", "worker2"} and len(ran) == len(rows)


def test_a_worker_without_a_chief_address_exits_2(cli):
    result = cli("tune", "tune-mnist-mlp", "--smoke", "--worker", "1")
    assert result.exit_code == 2 and "--chief-address HOST:PORT" in result.output


def test_an_unreachable_chief_is_reported_quickly_and_starts_nothing(cli):
    started = time.monotonic()
    result = cli(
        "tune",
        "tune-mnist-mlp",
        "--smoke",
        "--worker",
        "1",
        "--chief-address",
        f"127.0.0.1:{free_port()}",
        "--connect-timeout",
        "2",
    )
    assert result.exit_code == 2, result.output
    assert "no chief answers" in result.output and time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"worker": "chief-1", "chief_address": "127.0.0.1:8000"}, "does not contain 'chief'"),
        ({"worker": "1", "chief_address": "nohost"}, "expected HOST:PORT"),
        ({"worker": "1", "chief_address": "h:99999"}, "1 to 65535"),
        ({"port": 8000}, "add --chief"),
        ({"shared_dir": "."}, "give it to the --chief and to every --worker"),
        ({"worker": "1", "chief_address": "h:8000", "shared_dir": "/no/such/dir"}, "no such folder"),
        ({"chief": True, "port": 8000, "shared_dir": "/no/such/dir"}, "no such folder"),
        ({"worker_timeout": 30}, "--worker-timeout is the chief's"),
        ({"chief": True, "port": 8000, "worker_timeout": 1}, "give at least 4 seconds"),
        ({"worker": "1", "chief_address": "h:8000", "worker_timeout": 30}, "limit on a silent chief"),
        ({"worker": "1", "chief_address": "h:8000", "connect_timeout": 0}, "above 0"),
    ],
)
def test_bad_distributed_flags(options, expected):
    with pytest.raises(UsageError, match=expected):
        api.tune("tune-mnist-mlp", smoke=True, **options)


def test_a_chief_port_in_use_is_refused():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UsageError, match="cannot listen"):
            api.tune("tune-mnist-mlp", smoke=True, chief=True, port=busy.getsockname()[1], bind="127.0.0.1")


def test_a_chief_answers_on_its_port_while_loading_and_hands_it_to_the_grpc_server():
    """Workers started with the chief load while it loads: its port answers before the
    oracle is served, and a worker waits for the real gRPC server after that."""
    import threading
    from concurrent import futures

    import grpc

    from dlab.tune.distributed import chief_role, tuner_environment, wait_for_chief, wait_for_oracle
    from dlab.tune.serving import release_chief_port

    role = chief_role(free_port(), "127.0.0.1")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    served = threading.Event()

    def serve_later() -> None:
        waited.wait()  # the worker has found the chief still loading
        release_chief_port()
        server.add_insecure_port(f"127.0.0.1:{role.port}")
        server.start()
        served.set()

    waited = threading.Event()
    try:
        with tuner_environment(role):
            wait_for_chief("127.0.0.1", role.port, 10)  # nothing serves yet: the chief's port answers
            threading.Thread(target=serve_later, daemon=True).start()
            wait_for_oracle("127.0.0.1", role.port, 30, waiting=waited.set)
            assert waited.is_set() and served.is_set()
    finally:
        server.stop(None)


def test_a_worker_reports_a_chief_that_stopped_answering_before_serving():
    from dlab.tune.distributed import wait_for_oracle

    with pytest.raises(UsageError, match="stopped answering"):
        wait_for_oracle("127.0.0.1", free_port(), 1)


def test_a_worker_gives_up_on_a_chief_that_answers_but_never_serves():
    """A chief hung while loading keeps answering on its port; the worker still stops waiting."""
    from dlab.tune.distributed import chief_role, tuner_environment, wait_for_oracle

    role = chief_role(free_port(), "127.0.0.1")
    with tuner_environment(role), pytest.raises(UsageError, match="did not serve the search within 2 s"):
        wait_for_oracle("127.0.0.1", role.port, 30, longest=2)


@pytest.mark.engine
def test_tune_on_ray_serves_the_chief_here_and_runs_workers_as_ray_tasks(tmp_path):
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    result = api.tune(
        "tune-mnist-mlp",
        smoke=True,
        max_trials=4,
        device="cpu",
        save_model=False,
        out=tmp_path,
        executor="ray",
        workers=2,
        port=free_port(),
    )
    assert result.status == "completed"
    rows = list(csv.DictReader((result.run_dir / "trials.csv").open()))
    assert len(rows) == 4 and len({row["trial_id"] for row in rows}) == 4
    assert (result.run_dir / "best-config.yaml").exists()
    # a local Ray's workers share this machine's disk: the chief took the best checkpoint
    assert result.metrics["best_model"]["source"] == "checkpoint", result.metrics["best_model"]


@pytest.mark.engine
def test_a_distributed_search_resumes_with_its_trials(tmp_path):
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    common = dict(smoke=True, device="cpu", save_model=False, out=tmp_path, executor="ray", workers=1)
    first = api.tune("tune-mnist-mlp", max_trials=2, port=free_port(), **common)
    resumed = api.tune(resume=str(first.run_dir), max_trials=3, port=free_port(), **common)
    rows = list(csv.DictReader((resumed.run_dir / "trials.csv").open()))
    earlier = list(csv.DictReader((first.run_dir / "trials.csv").open()))
    assert len(rows) == 3 and rows[:2] == earlier  # the first two trials were kept, one more ran
