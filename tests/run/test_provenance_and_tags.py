"""Runs you can manage: provenance in metrics.json, tags and notes, `dlab runs` filters, `dlab rm`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlab.run.lock import RunLock
from dlab.run.provenance import collect, data_hashes, git_state

GIT = shutil.which("git")


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def only_run(root: Path) -> Path:
    (run_dir,) = sorted(root.glob("*/*/metrics.json"))
    return run_dir.parent


def run_perceptron(cli, out: str = "o", *args: str) -> Path:
    result = cli("run", "perceptron-and", "--out", out, "-q", *args)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1].split("run directory: ")[-1])


# --------------------------------------------------------------------------- provenance


def test_a_run_records_its_command_overrides_config_files_and_tags(cli, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("extends: perceptron-and\ntrain:\n  epochs: 4\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nseed: 3\n")
    result = cli(
        "run", str(child), "--out", "o", "-q", "--epochs", "2", "--set", "train.optimizer.learning_rate=0.5",
        "--tag", "purpose=baseline", "--tag", "data=v1", "--note", "first try",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = metrics_of(only_run(tmp_path / "o"))
    assert metrics["tags"] == {"purpose": "baseline", "data": "v1"}
    assert metrics["note"] == "first try"
    provenance = metrics["provenance"]
    assert provenance["overrides"] == ["train.optimizer.learning_rate=0.5"]
    assert provenance["flags"] == {"epochs": 2}
    assert provenance["set_by"] == {"train.epochs": "--epochs", "train.optimizer.learning_rate": "--set"}
    assert [Path(p).name for p in provenance["config_files"]] == [
        "perceptron-and.yaml",
        "base.yaml",
        "child.yaml",
    ]
    assert provenance["command"] == sys.argv  # in-process: this process's command line
    request = provenance["request"]  # the run as `dlab run` arguments, whoever asked for it
    assert request[:3] == ["dlab", "run", str(child)] and "--result-file" not in request
    assert request[request.index("--tag") + 1] == "purpose=baseline" and "--epochs" in request


def test_a_bad_tag_is_refused_before_any_run_directory_exists(cli, tmp_path):
    result = cli("run", "perceptron-and", "--out", "o", "--tag", "no equals sign")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output
    assert not (tmp_path / "o" / "perceptron-and").exists()


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_git_state_names_the_commit_and_whether_the_tree_is_dirty(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=30)

    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "one")
    (repo / "config.yaml").write_text("seed: 1\n")
    git("add", "config.yaml")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "two")
    clean = git_state(repo)
    assert clean is not None and len(clean["commit"]) == 40 and clean["dirty"] is False
    (repo / "config.yaml").write_text("seed: 2\n")
    assert git_state(repo)["dirty"] is True
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert git_state(outside) is None or git_state(outside)["root"] != str(repo)


def test_data_hashes_change_with_the_content_and_cover_folders(tmp_path):
    table = tmp_path / "data.csv"
    table.write_text("x,y\n1,2\n")
    folder = tmp_path / "images" / "cat"
    folder.mkdir(parents=True)
    (folder / "1.png").write_bytes(b"\x89PNG one")
    first = data_hashes([str(table), str(tmp_path / "images"), None, str(tmp_path / "missing.csv")])
    assert set(first) == {str(table.resolve()), str((tmp_path / "images").resolve())}
    assert first[str((tmp_path / "images").resolve())]["files"] == 1
    table.write_text("x,y\n1,3\n")
    (folder / "1.png").write_bytes(b"\x89PNG two")
    second = data_hashes([str(table), str(tmp_path / "images")])
    for path in first:
        assert first[path]["sha256"] != second[path]["sha256"]


def test_a_fifo_among_the_data_files_is_not_read(tmp_path):
    fifo = tmp_path / "pipe.csv"
    import os

    os.mkfifo(fifo)
    record = collect(config_path=None, sets=(), flags={}, data_paths=[str(fifo)], argv=["dlab"])
    assert record["data_files"] == {}  # not a regular file: never opened, so no hang


def test_a_runs_own_data_file_is_hashed(cli, tmp_path):
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(60))
    (tmp_path / "t.csv").write_text("a,b,label\n" + rows + "\n")
    result = cli(
        "run", "logreg-scratch", "--out", "o", "-q", "--set", "data.source=file",
        "--set", f"data.path={tmp_path / 't.csv'}", "--set", "data.target=label",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    hashes = metrics_of(only_run(tmp_path / "o"))["provenance"]["data_files"]
    assert [Path(p).name for p in hashes] == ["t.csv"]
    assert hashes[str((tmp_path / "t.csv").resolve())]["bytes"] == (tmp_path / "t.csv").stat().st_size


# --------------------------------------------------------------------------- tags and filters


def test_dlab_tag_sets_removes_and_notes_and_runs_filters_by_tag(cli, tmp_path):
    first = run_perceptron(cli, "o", "--tag", "purpose=baseline")
    second = run_perceptron(cli, "o", "--seed", "5")
    result = cli("tag", str(second), "purpose=trial", "data=v2", "--note", "the cited one")
    assert result.exit_code == 0, result.output
    assert "data=v2 purpose=trial" in result.output
    result = cli("tag", str(second), "--remove", "data")
    assert (
        metrics_of(second)["tags"] == {"purpose": "trial"} and metrics_of(second)["note"] == "the cited one"
    )

    listed = cli("runs", "--out", "o", "--tag", "purpose=baseline", "--format", "json")
    (row,) = json.loads(listed.output)
    assert row["run_dir"] == str(first.resolve()) or Path(row["run_dir"]).name == first.name
    assert row["tags"] == {"purpose": "baseline"}
    assert len(json.loads(cli("runs", "--out", "o", "--tag", "purpose", "--format", "json").output)) == 2
    assert json.loads(cli("runs", "--out", "o", "--config", "mlp-*", "--format", "json").output) == []
    assert len(json.loads(cli("runs", "--out", "o", "--since", "1h", "--format", "json").output)) == 2
    assert json.loads(cli("runs", "--out", "o", "--until", "2000-01-01", "--format", "json").output) == []
    bad = cli("runs", "--out", "o", "--since", "yesterday")
    assert bad.exit_code == 2 and "an age" in bad.output

    table = cli("runs", "--out", "o").output
    header = table.splitlines()[0].split()
    assert header[:3] == ["config", "label", "tags"] and "purpose=trial" in table
    assert cli("report", "o", "-o", "r.html").exit_code == 0
    page = (tmp_path / "r.html").read_text()
    assert "<code>purpose=baseline</code>" in page and "note: the cited one" in page


def test_tagging_a_live_run_is_refused(cli, tmp_path):
    run_dir = run_perceptron(cli)
    with RunLock.acquire(run_dir):
        result = cli("tag", str(run_dir), "a=b")
    assert result.exit_code == 2 and "still running" in result.output
    assert "tags" not in metrics_of(run_dir)


# --------------------------------------------------------------------------- dlab rm


def test_rm_deletes_a_run_and_refuses_what_dlab_did_not_make(cli, tmp_path):
    keep = run_perceptron(cli, "o", "--seed", "1")
    gone = run_perceptron(cli, "o", "--seed", "2")
    stranger = tmp_path / "mine"
    stranger.mkdir()
    (stranger / "metrics.json").write_text('{"accuracy": 1}')
    (stranger / "notes.txt").write_text("important")

    refused = cli("rm", str(gone), str(stranger), "--yes")
    assert refused.exit_code == 2 and "not a dlab run directory" in refused.output
    assert gone.is_dir() and (stranger / "notes.txt").is_file()  # all or nothing

    no_terminal = cli("rm", str(gone))  # CliRunner's stdin is not a terminal
    assert no_terminal.exit_code == 2 and "--yes" in no_terminal.output and gone.is_dir()

    done = cli("rm", str(gone), "--yes")
    assert done.exit_code == 0, done.output
    assert not gone.exists() and keep.is_dir()
    assert not [p for p in gone.parent.iterdir() if p.name.startswith(".")]  # nothing half-deleted


def test_rm_refuses_a_live_run(cli, tmp_path):
    run_dir = run_perceptron(cli)
    with RunLock.acquire(run_dir):
        result = cli("rm", str(run_dir), "--yes")
    assert result.exit_code == 2 and "still running" in result.output
    assert run_dir.is_dir()


@pytest.mark.subprocess
def test_a_sweeps_tags_reach_its_members_and_rm_removes_the_sweep_but_not_a_users_file(tmp_path):
    out = tmp_path / "o"
    sweep = subprocess.run(
        [sys.executable, "-m", "dlab", "sweep", "perceptron-and", "--grid", "seed=1,2", "--out", str(out),
         "--tag", "study=seeds", "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    members = sorted(out.glob("perceptron-and/*/metrics.json"))
    assert len(members) == 2
    assert all(json.loads(m.read_text())["tags"] == {"study": "seeds"} for m in members)
    (sweep_dir,) = (out / "sweeps").iterdir()
    (sweep_dir / "my-notes.txt").write_text("keep me")

    removed = subprocess.run(
        [sys.executable, "-m", "dlab", "rm", str(sweep_dir), "--yes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not list(out.glob("perceptron-and/*/metrics.json"))
    assert sorted(p.name for p in sweep_dir.iterdir()) == ["my-notes.txt"]
    assert "kept" in removed.stderr
