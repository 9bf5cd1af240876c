"""Reliability, round two: hostile or broken input, refused before anything is trained.

YAML alias bombs and repeated keys, gate expressions built to exhaust the parser,
labels and values that would train garbage, report plots that point outside their run.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import pytest
from test_reliability import ENV

from dlab.config.yamlload import load_yaml
from dlab.errors import ConfigError


def alias_bomb(levels: int = 9, flow: bool = False) -> str:
    """Nested anchors and aliases: each level repeats the one before nine times (9^9 values)."""
    items = ['"lol"'] * 9
    if flow:  # one --set value
        parts = [f"&a0 [{','.join(items)}]"]
        parts += [f"&a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
        return "[" + ", ".join(parts) + "]"
    lines = [f"a0: &a0 [{','.join(items)}]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- YAML


def test_an_alias_bomb_is_refused_at_once_with_a_short_message():
    text = "experiment: perceptron\n" + alias_bomb() + "seed: *a8\n"
    assert len(text) < 500
    started = time.perf_counter()
    with pytest.raises(ConfigError) as refused:
        load_yaml(text, "bomb.yaml")
    assert time.perf_counter() - started < 5
    message = str(refused.value)
    assert message.startswith("bomb.yaml: this YAML expands to more than 100,000 values")
    assert len(message) < 600


@pytest.mark.parametrize("text", ["a: &a [*a]", "[" * 80 + "]" * 80])
def test_self_referencing_and_deeply_nested_yaml_is_refused(text):
    with pytest.raises(ConfigError, match="nests more than 64 levels"):
        load_yaml(text, "x.yaml")


def test_repeated_keys_are_an_error_naming_the_key_and_both_lines(cli, tmp_path):
    (tmp_path / "twice.yaml").write_text(
        "extends: perceptron-and\ntrain:\n  epochs: 3\n  batch_size: null\n  epochs: 5\n"
    )
    result = cli("run", "twice.yaml")
    assert result.exit_code == 2, result.output
    assert "twice.yaml: the key 'epochs' appears twice in one mapping (line 3 and line 5)" in result.output
    assert not (tmp_path / "outputs").exists()


def test_merge_keys_and_equal_keys_in_different_mappings_are_fine():
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\nthird: {x: 1}\n"
    assert load_yaml(text, "ok.yaml") == {
        "base": {"x": 1, "y": 2},
        "other": {"x": 3, "y": 2},
        "third": {"x": 1},
    }


def test_a_huge_invalid_value_is_quoted_only_in_part(cli, tmp_path):
    long_list = "[" + ",".join(["12345"] * 5000) + "]"
    result = cli("run", "perceptron-and", "--set", f"seed={long_list}")
    assert result.exit_code == 2
    assert "Invalid value for 'seed' (from --set): [12345, 12345" in result.output
    assert "characters)" in result.output and len(result.output) < 1500


def _limit_memory() -> None:  # a regression must fail fast, not swap the machine
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))


@pytest.mark.subprocess
@pytest.mark.parametrize("where", ["file", "--set"])
def test_an_alias_bomb_in_a_config_or_a_set_value_exits_2_in_a_second(tmp_path, where):
    if where == "file":
        (tmp_path / "bomb.yaml").write_text("experiment: perceptron\n" + alias_bomb() + "seed: *a8\n")
        args = ["bomb.yaml"]
    else:
        args = ["perceptron-and", "--set", f"seed={alias_bomb(flow=True)}"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dlab", "run", *args],
        cwd=tmp_path,
        env={**ENV, "OPENBLAS_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "expands to more than 100,000 values" in done.stderr
    assert len(done.stderr) < 1000 and "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "outputs").exists()


# --------------------------------------------------------------------------- report


def test_report_embeds_only_png_files_inside_the_run(cli, tmp_path):
    import base64

    from fake_runs import make_run, tiny_png

    run = make_run(tmp_path / "outputs", plots=("loss",))
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (run / "plots" / "key.png").symlink_to(secret)
    (run / "plots" / "fake.png").write_text("not a png at all")
    (run / "plots" / "inside.png").symlink_to(run / "plots" / "loss.png")  # stays inside: fine
    result = cli("report", str(run), "-o", "report.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert base64.b64encode(secret.read_bytes()).decode() not in page
    assert base64.b64encode(b"not a png at all").decode() not in page
    assert page.count(base64.b64encode(tiny_png(0)).decode()) == 2  # loss.png and inside.png
    assert "plots/key.png (a link that leads outside the run directory)" in page
    assert "plots/fake.png (not a PNG image)" in page
    assert "skipped" in result.output and "key.png" in result.output


# --------------------------------------------------------------------------- labels and values


@pytest.mark.parametrize("label, shown", [(float("nan"), "nan"), (3.7, "3.7")])
def test_nan_or_fractional_labels_are_refused_not_cast(cli, tmp_path, label, shown):
    import numpy as np
    from conftest import write_cifar_npz

    path = write_cifar_npz(tmp_path / "cifar10.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["y_train"] = arrays["y_train"].astype(np.float64)
    arrays["y_train"][5, 0] = label
    np.savez(path, **arrays)
    result = cli("run", "cnn-cifar10", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    assert f"{path}: y_train[5, 0] is {shown}; class labels must be whole numbers" in result.output
    assert not list(tmp_path.glob("outputs/*/*")), "no run directory"


def test_an_empty_training_set_is_refused(cli, tmp_path):
    import numpy as np
    from conftest import write_cifar_npz

    path = write_cifar_npz(tmp_path / "cifar10.npz", n_train=0)
    result = cli("run", "cnn-cifar10", "--set", "data.source=file", "--set", f"data.path={path}")
    assert result.exit_code == 2, result.output
    assert f"{path}: the training split is empty (0 samples)" in result.output
    assert np.load(path)["x_train"].shape[0] == 0 and not list(tmp_path.glob("outputs/*/*"))


@pytest.mark.parametrize("cell", ["inf", "1e400", "-inf"])
def test_infinite_csv_cells_are_refused_with_column_and_row(cli, tmp_path, cell):
    rows = ["a,b,label"] + [f"{i},{i % 3},{i % 2}" for i in range(40)]
    rows[8] = f"7,{cell},1"
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    result = cli(
        "run",
        "logreg-scratch",
        "--set",
        "data.source=file",
        "--set",
        "data.path=table.csv",
        "--set",
        "data.target=label",
    )
    assert result.exit_code == 2, result.output
    shown = "-inf" if cell == "-inf" else "inf"
    assert f"table.csv: column 'b', row 8 holds {shown}; every value must be a finite number" in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


@pytest.mark.parametrize(
    "key, value",
    [
        ("train.optimizer.learning_rate", ".inf"),
        ("train.optimizer.clipnorm", ".nan"),
        ("train.optimizer.schedule", "{decay_rate: .inf}"),
        ("data.noise", "1e400"),
    ],
)
def test_infinite_config_numbers_are_refused(cli, tmp_path, key, value):
    result = cli("run", "playground-mlp", "--set", f"{key}={value}")
    assert result.exit_code == 2, result.output
    assert "Invalid value for '" + key.replace("schedule", "schedule.decay_rate") in result.output
    assert "Input should be a finite number" in result.output
    assert not (tmp_path / "outputs").exists()


# --------------------------------------------------------------------------- --fail-if


@pytest.mark.parametrize(
    "expression, message",
    [
        ("(" * 250 + "test.accuracy" + ")" * 250 + " < 0.5", "characters long (at most 500)"),
        ("(" * 200 + "test.accuracy" + ")" * 200 + " < 1", "nested more than 32 levels deep"),
        ("-" * 40 + "test.accuracy < 1", "nested more than 32 levels deep"),
        (" + ".join(["test.accuracy"] * 1000) + " < 1", "characters long (at most 500)"),
        ("+".join(["1"] * 100) + " < test.accuracy", "more than 50 operators"),
        ("test.accuracy < 1e400", "'1e400' is too large: it overflows to infinity"),
    ],
)
def test_fail_if_expressions_are_bounded_with_an_exit_2_message(cli, tmp_path, expression, message):
    from fake_runs import make_run

    run = make_run(tmp_path / "outputs")
    result = cli("compare", str(run), "--fail-if", expression)
    assert result.exit_code == 2, result.output
    assert "Bad --fail-if expression" in result.output and message in result.output
    assert "RecursionError" not in result.output and len(result.output) < 1500


# --------------------------------------------------------------------------- run directories


@pytest.mark.parametrize("command", ["runs", "compare", "report", "check"])
def test_a_deeply_nested_metrics_file_is_unreadable_not_a_traceback(cli, tmp_path, command):
    from fake_runs import make_run

    good = make_run(tmp_path / "outputs", run_id="20261122-100000-aaaaaa")
    bad = make_run(tmp_path / "outputs", run_id="20261122-100000-bbbbbb")
    (bad / "metrics.json").write_text('{"status": "completed", "test": ' + "[" * 3000 + "]" * 3000 + "}")
    args = {
        "runs": ["runs"],
        "compare": ["compare", "outputs"],
        "check": ["check", "outputs"],
        "report": ["report", "outputs", "-o", "r.html"],
    }[command]
    result = cli(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output
    if command in ("runs", "compare"):
        assert "metrics.json cannot be read (metrics.json is nested" in result.output
    shown = result.output + (tmp_path / "r.html").read_text() if command == "report" else result.output
    assert good.name[-6:] in shown  # runs of one config are labelled by their short id


@pytest.mark.subprocess
def test_a_fifo_named_metrics_json_does_not_hang_dlab_runs(tmp_path):
    import os

    from fake_runs import make_run

    make_run(tmp_path / "outputs", run_id="20261122-100000-aaaaaa")
    fifo_run = tmp_path / "outputs" / "cnn-cifar10" / "20261122-100000-bbbbbb"
    fifo_run.mkdir()
    os.mkfifo(fifo_run / "metrics.json")
    done = subprocess.run(
        [sys.executable, "-m", "dlab", "runs"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "metrics.json cannot be read (not a regular file)" in done.stdout
    assert "20261122-100000-aaaaaa" in done.stdout


@pytest.mark.parametrize(
    "args, what",
    [
        (["report", "outputs", "-o", "{bad}/report.html"], "report"),
        (["compare", "outputs", "--curve", "loss", "-o", "{bad}/loss.png"], "curve"),
    ],
)
def test_an_output_file_that_cannot_be_written_exits_2_with_the_path(cli, tmp_path, args, what):
    import os
    import stat

    from fake_runs import make_run

    make_run(tmp_path / "outputs", history={"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    (tmp_path / "a-file").write_text("")  # a file where a folder should be (root ignores chmod)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    for bad in ("a-file", "read-only") if os.geteuid() != 0 else ("a-file",):
        result = cli(*[arg.format(bad=bad) for arg in args])
        assert result.exit_code == 2, result.output
        assert f"-o '{bad}/" in result.output and f"cannot write the {what} there" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_huge_seed_count_is_refused_with_the_reason(cli, tmp_path):
    started = time.perf_counter()
    result = cli("sweep", "perceptron-and", "--seeds", "1000000000")
    assert result.exit_code == 2, result.output
    assert "--seeds: 1,000,000,000 seeds is more than the 1,000 allowed" in result.output
    assert "one more training run of every member" in result.output
    assert time.perf_counter() - started < 10 and not (tmp_path / "outputs").exists()


def test_tune_resume_of_a_search_that_is_still_running_is_refused(cli, tmp_path):
    import os
    import socket

    from dlab.run.lock import RunLock

    search = tmp_path / "outputs" / "tune-mnist-mlp" / "20261122-100000-aaaaaa"
    (search / "tuner").mkdir(parents=True)
    (search / "tuner" / "dlab-search.json").write_text("{}")
    (search / "config.yaml").write_text("experiment: keras_tuner\n")
    with RunLock.acquire(search):  # a live search holds its run's lock
        result = cli("tune", "--resume", str(search))
    assert result.exit_code == 2, result.output
    assert f"still running (pid {os.getpid()} on {socket.gethostname()})" in result.output
    assert not (search / ".dlab-run.lock").exists()
