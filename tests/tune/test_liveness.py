"""The chief's worker watch on a real keras-tuner oracle: who is lost when, and what becomes of
the lost worker's trial (the processes themselves: tests/tune/test_tune_faults.py)."""

from __future__ import annotations

import threading

import pytest

from dlab.tune.liveness import LEAVING_KEY, WORKER_KEY, WorkerWatch, oracle_lock

# keras-tuner 1.4 calls threading.currentThread(): not ours to fix
pytestmark = pytest.mark.filterwarnings(
    "ignore:currentThread:DeprecationWarning", "ignore:getName:DeprecationWarning"
)


class Clock:
    """Seconds that pass when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def oracle(tmp_path):
    import keras_tuner

    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=3, seed=1
    )
    oracle._set_project_dir(str(tmp_path), "search")
    space = oracle.get_space()
    space.Int("units", 1, 1000)
    oracle.update_space(space)
    return oracle


def heard(watch: WorkerWatch, worker: str, **extra: str) -> None:
    watch.heard([(WORKER_KEY, worker), *extra.items()])


def finish(oracle, trial_id: str, score: float = 1.0) -> None:
    """What a worker's report of a completed trial does on the chief."""
    oracle.update_trial(trial_id, {"score": score})
    trial = oracle.get_trial(trial_id)
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_a_silent_workers_trial_goes_to_the_next_worker_that_asks(oracle):
    clock = Clock()
    watch = WorkerWatch(oracle, timeout=5, clock=clock)
    first, second = oracle.create_trial("worker1"), oracle.create_trial("worker2")
    heard(watch, "worker1")
    heard(watch, "worker2")
    clock.now = 4
    heard(watch, "worker2")
    assert watch.sweep() == []  # 4 s of silence: not yet
    clock.now = 6
    (loss,) = watch.sweep()
    assert (loss.worker, loss.trial, loss.outcome) == ("worker1", int(first.trial_id) + 1, "handed over")
    assert "no sign of life for 6 s" in loss.reason
    assert "worker1" not in oracle.tuner_ids and "worker1" not in oracle.ongoing_trials
    assert first.status == "IDLE"
    assert not watch.owns("worker1", first.trial_id)  # its late report would be ignored
    finish(oracle, second.trial_id)
    again = oracle.create_trial("worker2")
    assert again.trial_id == first.trial_id and again.status == "RUNNING"
    assert watch.owns("worker2", first.trial_id)
    assert watch.record() == [
        {"worker": "worker1", "reason": loss.reason, "trial": loss.trial, "outcome": "handed over"}
    ]


def test_a_trial_lost_with_the_last_worker_fails_with_the_reason(oracle, capsys):
    clock = Clock()
    failed = []
    watch = WorkerWatch(oracle, timeout=5, clock=clock, on_failed=failed.append)
    trial = oracle.create_trial("worker1")
    heard(watch, "worker1", **{LEAVING_KEY: "stopped by SIGTERM"})
    (loss,) = watch.sweep()  # a worker that says it leaves is lost at once
    assert loss.outcome == "failed" and failed == [trial.trial_id]
    assert trial.status == "FAILED"
    assert trial.message.startswith("lost with worker worker1 (it left the search: stopped by SIGTERM)")
    assert "no worker is left" in trial.message
    # the chief says so whichever way the trial ends (the chief's trial report follows it)
    (said,) = [line for line in capsys.readouterr().out.splitlines() if "worker worker1 is lost" in line]
    assert "FAILED, no worker is left" in said
    assert trial.trial_id in oracle.end_order
    assert not watch.abandoned()  # nobody left, but a worker may still come
    clock.now = 5
    assert watch.abandoned()


def test_a_trial_lost_twice_fails_and_a_queued_trial_fails_when_its_taker_is_lost_too(oracle):
    clock = Clock()
    watch = WorkerWatch(oracle, timeout=5, clock=clock)
    first = oracle.create_trial("worker1")
    oracle.create_trial("worker2")
    oracle.create_trial("worker3")
    heard(watch, "worker1", **{LEAVING_KEY: "stopped"})
    assert [loss.outcome for loss in watch.sweep()] == ["handed over"]
    finish(oracle, oracle.ongoing_trials["worker2"].trial_id)
    assert oracle.create_trial("worker2").trial_id == first.trial_id
    heard(watch, "worker2", **{LEAVING_KEY: "stopped"})
    assert [loss.outcome for loss in watch.sweep()] == ["failed"]  # lost once already
    assert first.status == "FAILED" and "it was lost once already" in first.message

    clock.now = 10  # worker 3 falls silent while another trial waits for a worker
    watch = WorkerWatch(oracle, timeout=5, clock=clock)
    oracle.tuner_ids.add("worker4")
    waiting = oracle.trials[oracle.ongoing_trials["worker3"].trial_id]
    heard(watch, "worker3", **{LEAVING_KEY: "stopped"})
    watch.sweep()
    assert waiting.status == "IDLE"
    clock.now = 16  # worker 4 never asked again: the queued trial fails once nobody is left
    losses = watch.sweep()
    assert [loss.worker for loss in losses] == ["worker4"]
    assert waiting.status == "FAILED" and "no worker is left" in waiting.message
    assert waiting.trial_id not in oracle._retry_queue


def test_the_oracle_lock_is_released_when_the_block_raises(oracle):
    with pytest.raises(RuntimeError), oracle_lock(oracle):
        raise RuntimeError("keras-tuner's end_trial after too many failures")
    taken = threading.Event()

    def other_thread() -> None:
        with oracle_lock(oracle):
            taken.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=5)
    assert taken.is_set()
