"""The best checkpoint's hand-over from a worker to the chief (dlab.tune.handover), on real
keras-tuner trials and files in the layout keras-tuner writes."""

from __future__ import annotations

import importlib.util
import json

import pytest

from dlab.framework.factory import resolve_config
from dlab.tune import handover
from dlab.tune.layout import PROJECT_NAME

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras_tuner") is None, reason="the [tune] extra is not installed"
)  # not importorskip: collecting the suite must not import keras-tuner (and Keras with it)


def finished_trial(trial_id: str = "2", units: int = 64, status: str = "COMPLETED"):
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.Int("model.hidden.0", 32, 512, step=32, default=units)
    trial = keras_tuner.engine.trial.Trial(hp, trial_id=trial_id, status=status)
    return trial


def worker_trial_dir(folder, trial, worker="worker1", files=handover.CHECKPOINT_FILES):
    trial_dir = folder / PROJECT_NAME / f"trial_{trial.trial_id}"
    trial_dir.mkdir(parents=True)
    for name in files:
        (trial_dir / name).write_bytes(f"{name} of trial {trial.trial_id}".encode())
    handover.claim(trial_dir, trial, worker)
    return trial_dir


def test_the_chief_takes_a_claimed_checkpoint_of_its_best_trial(tmp_path):
    trial = finished_trial()
    worker_trial_dir(tmp_path / "search", trial)
    chief_dir = tmp_path / "chief" / "trial_2"
    assert handover.take_checkpoint(tmp_path / "search", trial, chief_dir) == "worker1"
    for name in handover.CHECKPOINT_FILES:
        assert (chief_dir / name).read_bytes() == f"{name} of trial 2".encode()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("other_units", "another search's trial with the same id"),
        ("not_completed", "a trial that failed"),
        ("no_claim", "a checkpoint still being written (claimed only once the trial ends)"),
        ("no_weights", "a claim without its weights file"),
    ],
)
def test_the_chief_takes_nothing_that_is_not_its_best_trials_checkpoint(tmp_path, change, why):
    best = finished_trial()
    written = {
        "other_units": finished_trial(units=128),
        "not_completed": finished_trial(status="FAILED"),
    }.get(change, best)
    files = handover.CHECKPOINT_FILES[1:] if change == "no_weights" else handover.CHECKPOINT_FILES
    trial_dir = worker_trial_dir(tmp_path / "search", written, files=files)
    if change == "no_claim":
        (trial_dir / handover.CLAIM_FILE).unlink()
    chief_dir = tmp_path / "chief"
    assert handover.take_checkpoint(tmp_path / "search", best, chief_dir) is None, why
    assert not chief_dir.exists()


def test_a_claim_records_the_trial_and_its_hyperparameters(tmp_path):
    handover.claim(tmp_path, finished_trial(units=96), "gpu-node-3")
    record = json.loads((tmp_path / handover.CLAIM_FILE).read_text())
    assert record == {
        "trial_id": "2",
        "status": "COMPLETED",
        "worker": "gpu-node-3",
        "hyperparameters": {"model.hidden.0": 96},
    }


def test_one_search_has_one_folder_and_another_search_another(tmp_path):
    def folder(port=8000, sets=()):
        return handover.search_folder(
            tmp_path, resolve_config("tune-mnist-mlp", sets=list(sets), smoke=True), port
        )

    assert folder() == folder()  # the chief and every worker given the same config and flags
    assert folder(port=8001) != folder()  # another chief
    assert folder(sets=["train.optimizer.name=sgd"]) != folder()  # other trials
    assert folder(sets=["model.max_trials=7"]) == folder()  # the same search, extended


def test_a_continued_hyperband_trial_comes_with_the_trials_it_continues(tmp_path):
    """Hyperband builds a continued trial from its parent's checkpoint before loading its own."""
    first, second = finished_trial("0"), finished_trial("3")
    best = finished_trial("7")
    second.hyperparameters.values["tuner/trial_id"] = "0"
    best.hyperparameters.values["tuner/trial_id"] = "3"
    trials = {trial.trial_id: trial for trial in (first, second, best)}
    for trial in trials.values():
        worker_trial_dir(tmp_path / "search", trial)
    chief = tmp_path / "chief"

    def trial_dir(trial_id):
        return chief / f"trial_{trial_id}"

    assert handover.take_best(tmp_path / "search", best, trials.__getitem__, trial_dir) == "worker1"
    assert sorted(path.name for path in chief.iterdir()) == ["trial_0", "trial_3", "trial_7"]

    (tmp_path / "search" / PROJECT_NAME / "trial_0" / handover.CLAIM_FILE).unlink()
    assert handover.take_best(tmp_path / "search", best, trials.__getitem__, trial_dir) is None
