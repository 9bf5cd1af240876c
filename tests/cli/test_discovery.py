"""Finding one's way: `dlab list PATTERN` in course order, `--help` in groups, completion of every
argument that names something, `show --explain`, the bracketed-list hint, and a missing data file
refused before anything heavy starts."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import pytest
import typer
import yaml

from dlab.api.listing import FAMILY_ORDER
from dlab.cli import app
from dlab.cli.app import PANELS
from dlab.cli.completion import FREE_TEXT, completer_for

# --------------------------------------------------------------------------- dlab list


def names(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.output.split()


@pytest.mark.parametrize(
    ("pattern", "expected", "absent"),
    [
        ("cifar", {"cnn-cifar10", "cnn-cifar10-sgd"}, "mlp-mnist"),  # a name
        ("jena", {"baseline-jena", "lstm-jena"}, "mlp-imdb"),  # a dataset
        ("time series", {"dense-jena", "conv1d-jena"}, "cnn-mnist"),  # a family
        ("MLP-IMDB-*", {"mlp-imdb-base", "mlp-imdb-l2"}, "lstm-imdb"),  # a shell pattern, any case
    ],
)
def test_list_keeps_the_configs_whose_name_dataset_or_family_match(cli, pattern, expected, absent):
    shown = names(cli("list", pattern, "--format", "names"))
    assert expected <= set(shown) and absent not in shown


def test_list_says_what_was_meant_when_nothing_matches(cli):
    result = cli("list", "cifr")
    assert result.exit_code == 2
    assert "Did you mean" in result.output and "'cifar10'" in result.output


def test_families_come_in_course_order(cli):
    result = cli("list")
    assert result.exit_code == 0, result.output
    headings = [line.rsplit(" (", 1)[0] for line in result.output.splitlines() if line and line[0] != " "]
    assert headings == [family for family in FAMILY_ORDER if family in headings]
    assert headings[0] == "from scratch (NumPy)" and headings[-1] == "hyperparameter search"
    rows = json.loads(cli("list", "--format", "json").output)
    assert {row["family"] for row in rows} <= set(FAMILY_ORDER)  # every packaged family is placed


# --------------------------------------------------------------------------- dlab --help


def commands() -> list[tuple[str, object]]:
    """Every command as the app hands it out (path, command), sub-groups' commands included."""
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append((name, command))
        found += [(f"{name} {sub}", c) for sub, c in (getattr(command, "commands", None) or {}).items()]
    return found


def test_help_lists_every_command_in_its_group_in_order(cli):
    grouped = [name for _, members in PANELS for name in members]
    top = [name for name, _ in commands() if " " not in name]
    assert set(top) <= set(grouped), set(top) - set(grouped)  # a new command needs a group
    output = cli("--help").output
    titles = [title for title, _ in PANELS]
    assert [output.index(f" {title} ") for title in titles] == sorted(output.index(f" {t} ") for t in titles)
    assert "─ Commands ─" not in output
    run_and_look = output[output.index(" Run and look ") : output.index(" Results ")]
    assert all(f" {name} " in run_and_look for name in ("list", "show", "run", "sweep", "tune"))


# --------------------------------------------------------------------------- completion


def test_every_argument_that_names_a_config_a_run_or_a_file_completes():
    missing = []
    for path, command in commands():
        for param in getattr(command, "params", []):
            keys = {"--set", "--grid", "--space"} & set(param.opts)  # they take config keys
            named = param.param_type_name == "argument" or keys
            if named and (path, param.name) not in FREE_TEXT and param._custom_shell_complete is None:
                missing.append(f"{path} {param.name} ({param.metavar})")
    assert missing == []
    diff = dict(commands())["diff"]
    assert completer_for("diff", diff.params[0]) is not None  # a config or a run


@pytest.mark.subprocess
def test_completion_of_set_keys_configs_runs_and_files(tmp_path, complete):
    keys = complete("dlab run cnn-cifar10 --set train.opt")
    assert "train.optimizer.learning_rate" in keys and "train.optimizer.schedule." in keys
    assert complete("dlab run cnn-cifar10 --set model.f") == ["model.filters"]  # the experiment's own
    assert "data.source" in complete("dlab evaluate outputs/x --set ")  # evaluate: data keys only
    assert complete("dlab diff cnn-ci") == ["cnn-cifar10", "cnn-cifar10-sgd"]
    assert "cnn-cifar10" in complete("dlab data info cnn-ci")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.png").write_bytes(b"")
    assert complete("dlab predict outputs/x photos/") == ["photos/cat.png"]
    run = tmp_path / "outputs" / "mlp-mnist" / "20261130-000000-abcdef"
    run.mkdir(parents=True)
    assert complete("dlab evaluate outputs/mlp-mnist/") == [f"outputs/mlp-mnist/{run.name}/"]
    assert complete("dlab diff outputs/mlp") == ["outputs/mlp-mnist/"]


# --------------------------------------------------------------------------- show --explain


def test_show_explain_puts_each_keys_description_above_it(cli):
    shown = cli("show", "cnn-cifar10", "--set", "train.epochs=3")
    explained = cli("show", "cnn-cifar10", "--set", "train.epochs=3", "--explain")
    assert explained.exit_code == 0, explained.output
    text = explained.stdout
    assert yaml.safe_load(text) == yaml.safe_load(shown.stdout)  # still the same config
    lines = text.splitlines()
    assert lines[lines.index("  epochs: 3") - 1] == "  # Training epochs. [from --set]"
    assert "  # Filters of each conv layer, in order." in lines  # the experiment's own section
    for section in ("data", "model"):  # every key of these sections is described
        start = lines.index(f"{section}:")
        block = lines[start + 1 : next(i for i in range(start + 1, len(lines)) if not lines[i][0] == " ")]
        keys = [i for i, line in enumerate(block) if not line.lstrip().startswith("#")]
        assert all(block[i - 1].lstrip().startswith("# ") for i in keys), section


@pytest.mark.parametrize("where", ["--set", "file"])
def test_a_list_written_without_brackets_gets_the_bracketed_form(cli, tmp_path, where):
    if where == "--set":
        result = cli("show", "cnn-cifar10", "--set", "model.filters=16,32")
        hint = "--set model.filters=[16,32]"
    else:
        (tmp_path / "mine.yaml").write_text("extends: cnn-cifar10\nmodel:\n  filters: 16,32\n")
        result = cli("show", str(tmp_path / "mine.yaml"))
        hint = "filters: [16, 32]"
    assert result.exit_code == 2
    assert "Input should be a valid list" in result.output and hint in result.output


# --------------------------------------------------------------------------- a missing data file

PROBE = """
import sys
from dlab.cli import app
try:
    app({args!r})
except SystemExit as done:
    print("EXIT=" + str(done.code))
print("HEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""
HEAVY = ("tensorflow", "keras", "jax", "torch", "numpy", "pandas", "sklearn", "scipy", "matplotlib")


@pytest.mark.subprocess
def test_a_missing_data_file_exits_2_before_anything_heavy_is_imported(tmp_path):
    args = ["run", "cnn-cifar10", "--set", "data.source=file", "--set", "data.path=nope/cifar10.npz"]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert probe.stdout.split()[-2:] == ["EXIT=2", "HEAVY="], probe.stdout + probe.stderr
    assert "data.path 'nope/cifar10.npz' (from --set) does not exist" in probe.stderr
    # the real command line, timed: its CPU time (wall time on a shared 2-core machine varies)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, "-m", "dlab", *args]
    done = subprocess.run(command, capture_output=True, cwd=tmp_path, timeout=120)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert done.returncode == 2
    assert cpu < 1.5, f"{cpu:.2f} s of CPU ({wall:.2f} s wall, load {os.getloadavg()[0]:.1f})"
    assert not (tmp_path / "outputs").exists()
