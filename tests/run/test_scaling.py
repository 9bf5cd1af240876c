"""One run on more hardware: train.strategy, train.precision and train.jit_compile.

The mirrored test runs in a subprocess: two logical CPUs must be configured before
TensorFlow starts, which the test process (already running TensorFlow) cannot do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from dlab import api
from dlab.errors import UsageError


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--strategy", "multi_worker"], "20585"),
        (["--strategy", "tpu"], "allowed: default, mirrored"),
        (["--precision", "fp8"], "allowed: float32, mixed_float16, mixed_bfloat16"),
        (["--jit", "maybe"], "allowed: auto, true, false"),
        (["--precision", "mixed_float16", "--device", "cpu"], "mixed_bfloat16"),
    ],
)
def test_bad_scaling_flags_exit_2_before_anything_runs(cli, tmp_path, flags, expected):
    result = cli("run", "cnn-cifar10", "--smoke", "--out", str(tmp_path / "out"), *flags)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not any((tmp_path / "out").rglob("metrics.json"))


def test_multi_worker_says_why_and_what_to_do_instead():
    with pytest.raises(UsageError) as caught:
        api.show_config("cnn-cifar10", sets=["train.strategy=multi_worker"])
    message = str(caught.value)
    assert "MultiWorkerMirroredStrategy" in message and "--executor ray" in message
    assert "train.strategy" in message


def test_numpy_experiments_refuse_a_strategy(tmp_path):
    with pytest.raises(UsageError, match="NumPy"):
        api.run("perceptron-and", out=tmp_path, precision="mixed_bfloat16")


def test_defaults_keep_the_config_hash_of_older_runs():
    plain = api.show_config("cnn-cifar10")
    assert "strategy: default" in plain and "precision: float32" in plain
    from dlab.framework.factory import resolve_config

    base = resolve_config("cnn-cifar10", flags={}, sets=[], smoke=False)
    bf16 = resolve_config("cnn-cifar10", flags={}, sets=["train.precision=mixed_bfloat16"], smoke=False)
    data = base.to_dict()
    for key in ("strategy", "precision", "jit_compile"):
        data["train"].pop(key)
    import hashlib

    for key in ("name", "description", "reference"):
        data.pop(key)
    data["train"].pop("max_wall_time")
    for key in ("backend", "steps_per_execution", "tensorboard"):  # how it runs, not what it learns
        data["train"].pop(key, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert base.config_hash() == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert bf16.config_hash() != base.config_hash()


def test_bfloat16_and_jit_are_recorded_and_the_output_stays_float32(tmp_path):
    import keras

    tiny = ["data.train_samples=128", "data.test_samples=32"]  # bfloat16 is emulated on most CPUs: slow
    result = api.run(
        "cnn-cifar10", smoke=True, out=tmp_path, precision="mixed_bfloat16", jit="false", sets=tiny
    )
    scaling = result.metrics["scaling"]
    assert scaling["precision"] == "mixed_bfloat16" and scaling["jit_compile"] is False
    assert scaling["strategy"] == "default" and scaling["replicas"] == 1
    assert result.metrics["jit_compile_used"] is False
    assert keras.config.dtype_policy().name == "float32"  # the run restored the global policy
    model = keras.models.load_model(result.run_dir / "model.keras")
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"
    assert [layer.dtype_policy.name for layer in model.layers].count("mixed_bfloat16") >= 3
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    assert saved["scaling"]["precision"] == "mixed_bfloat16"


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from dlab import api
    out = sys.argv[1]
    common = dict(smoke=True, out=out, device="cpu", save_model=False, epochs=2, batch_size=64,
                  sets=["data.train_samples=512", "data.test_samples=128", "train.shuffle=false"])
    default = api.run("cnn-cifar10", strategy="default", **common).metrics
    mirrored = api.run("cnn-cifar10", strategy="mirrored", **common).metrics
    print("RESULT" + json.dumps({"default": default, "mirrored": mirrored}))
    """
)


@pytest.mark.heavy
def test_mirrored_on_two_logical_cpus_matches_the_default_strategy(tmp_path):
    """Unshuffled: the default strategy shuffles arrays in dlab's tf.data pipeline, a mirrored
    run in Keras's own batching (dlab.training.batches), so the same math is compared on one order."""
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    runs = json.loads(line[len("RESULT") :])
    default, mirrored = runs["default"], runs["mirrored"]
    assert mirrored["scaling"]["strategy"] == "mirrored" and mirrored["scaling"]["replicas"] == 2
    assert default["scaling"]["replicas"] == 1
    assert mirrored["status"] == default["status"] == "completed"
    for split in ("train", "val"):
        got, want = mirrored["final"][split]["loss"], default["final"][split]["loss"]
        assert got == pytest.approx(want, rel=1e-3, abs=1e-4), split
    assert mirrored["test"]["loss"] == pytest.approx(default["test"]["loss"], rel=1e-3, abs=1e-4)


def _one_config_per_keras_family() -> list[str]:
    from dlab.framework import registry

    chosen: dict[str, str] = {}
    for row in api.list_experiments():
        from dlab.config import find_config, load_yaml_chain

        experiment = registry.get(str(load_yaml_chain(find_config(row.name), {}).get("experiment")))
        if experiment.uses_keras and row.family not in chosen:
            chosen[row.family] = row.name
    return sorted(chosen.values())


@pytest.mark.heavy
@pytest.mark.parametrize("config", _one_config_per_keras_family())
def test_bfloat16_smoke_run_of_every_keras_family(tmp_path, config):
    if config.startswith("tune-"):
        bf16 = ["train.precision=mixed_bfloat16"]
        result = api.tune(config, smoke=True, out=tmp_path, save_model=False, sets=bf16)
    else:
        from dlab.framework import registry
        from dlab.framework.factory import resolve_config

        experiment = registry.get(resolve_config(config, flags={}, sets=[], smoke=True).experiment)
        from dlab.framework.recipes import ImageClassifierExperiment

        big = issubclass(experiment, ImageClassifierExperiment)  # 2048 smoke images
        # bfloat16 is emulated on most CPUs: cut the big smoke sets down; the others need their sizes
        tiny = ["data.train_samples=128", "data.test_samples=64"] if big else []
        result = api.run(
            config, smoke=True, out=tmp_path, save_model=False, precision="mixed_bfloat16", sets=tiny
        )
    assert result.status == "completed"
    assert result.metrics["scaling"]["precision"] == "mixed_bfloat16"


def test_off_tensorflow_the_plan_names_the_backends_device_and_refuses_tf_distribute():
    """JAX and PyTorch runs import TensorFlow for tf.data only: its device list is not theirs,
    and a MirroredStrategy scope around their model would mean nothing."""
    from dlab.errors import ConfigError
    from dlab.framework.factory import resolve_config
    from dlab.run.scaling import plan_scaling
    from dlab.runtime.device import DeviceInfo

    cpu = DeviceInfo("cpu", "cpu", "x86_64", 0)
    train = resolve_config("mlp-mnist", flags={}, sets=["train.precision=mixed_bfloat16"], smoke=True).train
    plan = plan_scaling(train, cpu, "torch")
    assert plan.devices == ["torch:cpu:0"] and plan.precision == "mixed_bfloat16" and plan.replicas == 1
    mirrored = resolve_config("mlp-mnist", flags={}, sets=["train.strategy=mirrored"], smoke=True).train
    with pytest.raises(ConfigError, match="tf.distribute"):
        plan_scaling(mirrored, cpu, "jax")
    float16 = resolve_config("mlp-mnist", flags={}, sets=["train.precision=mixed_float16"], smoke=True).train
    with pytest.raises(ConfigError, match="on the CPU"):
        plan_scaling(float16, cpu, "torch")


RECURRENT_ON_JAX_SCRIPT = textwrap.dedent(
    """
    import os, json
    os.environ["KERAS_BACKEND"] = "jax"
    import keras, numpy as np
    from dlab.run.scaling import keep_output_float32, keep_recurrent_float32

    keras.config.set_dtype_policy("mixed_bfloat16")
    inputs = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(20, 8)(inputs)
    x = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(x)
    x = keras.layers.LSTM(4)(x)
    hidden = keras.layers.Dense(4, name="hidden")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="output")(hidden)
    model = keras.Model(inputs, outputs)
    keep_output_float32(model)
    keep_recurrent_float32(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loss = model.fit(np.arange(60).reshape(10, 6) % 20, np.arange(10) % 2, epochs=1, verbose=0)
    dtypes = {}
    for layer in model._flatten_layers(include_self=False):
        dtypes[layer.name] = layer.compute_dtype
        if hasattr(layer, "cell"):
            dtypes[layer.name + "/cell"] = layer.cell.compute_dtype
    print("RESULT" + json.dumps({"dtypes": dtypes, "loss": loss.history["loss"][-1]}))
    """
)


def test_recurrent_layers_compute_in_float32_on_jax_under_a_mixed_policy():
    """jaxlib's cuDNN LSTM/GRU kernel takes float32 only (a bfloat16 LSTM failed on an H200 with
    'Unknown output type bfloat16'); the rest of the model keeps the mixed policy."""
    pytest.importorskip("jax", reason="the jax extra is not installed")
    done = subprocess.run(
        [sys.executable, "-c", RECURRENT_ON_JAX_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    result = json.loads(line[len("RESULT") :])
    dtypes = result["dtypes"]
    recurrent = {name: dtype for name, dtype in dtypes.items() if "gru" in name or "lstm" in name}
    assert len(recurrent) >= 6 and set(recurrent.values()) == {"float32"}, dtypes  # layers and cells
    assert dtypes["embedding"] == dtypes["hidden"] == "bfloat16", dtypes
    assert dtypes["output"] == "float32", dtypes
    assert 0 < result["loss"] < 10


def test_keep_recurrent_float32_leaves_tensorflow_models_alone():
    import keras

    from dlab.run.scaling import keep_recurrent_float32

    lstm = keras.layers.LSTM(2, dtype="mixed_bfloat16")
    model = keras.Sequential([keras.Input((3, 2)), lstm])
    keep_recurrent_float32(model)
    assert lstm.compute_dtype == "bfloat16"
