"""The ``dlab list`` catalogue cache: reused while nothing changed, rebuilt when anything did."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlab.framework import catalogue


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "dlab"


@pytest.fixture
def configs(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "a.yaml").write_text("experiment: x\n")
    return folder


ROWS = [{"name": "a", "family": "f", "dataset": "d", "description": "one"}]


def fail_to_build():
    raise AssertionError("the cache was fresh: nothing should be rebuilt")


def test_rows_are_built_once_then_read_from_the_cache(cache_home, configs):
    assert catalogue.cached_rows(configs, lambda: ROWS) == ROWS
    stored = json.loads((cache_home / "catalogue.json").read_text())
    assert stored["rows"] == ROWS and len(stored["fingerprint"]) == 64
    assert catalogue.cached_rows(configs, fail_to_build) == ROWS


def test_a_changed_or_new_config_rebuilds_the_rows(cache_home, configs):
    catalogue.cached_rows(configs, lambda: ROWS)
    (configs / "a.yaml").write_text("experiment: xy\n")  # another size
    changed = [{**ROWS[0], "description": "two"}]
    assert catalogue.cached_rows(configs, lambda: changed) == changed
    (configs / "b.yaml").write_text("experiment: x\n")
    assert catalogue.cached_rows(configs, lambda: ROWS) == ROWS


def test_a_touched_config_with_the_same_size_rebuilds_the_rows(cache_home, configs):
    catalogue.cached_rows(configs, lambda: ROWS)
    stat = (configs / "a.yaml").stat()
    os.utime(configs / "a.yaml", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert catalogue.cached_rows(configs, lambda: []) == []


@pytest.mark.parametrize("content", ["{not json", '{"fingerprint": 1, "rows": "x"}', "[]"])
def test_a_damaged_cache_is_rebuilt_not_an_error(cache_home, configs, content):
    cache_home.mkdir(parents=True)
    (cache_home / "catalogue.json").write_text(content)
    assert catalogue.cached_rows(configs, lambda: ROWS) == ROWS
    assert json.loads((cache_home / "catalogue.json").read_text())["rows"] == ROWS


def test_an_unwritable_cache_folder_still_lists(tmp_path, monkeypatch, configs):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert catalogue.cached_rows(configs, lambda: ROWS) == ROWS


def test_dlab_list_with_a_fresh_cache_imports_neither_the_schema_nor_experiments(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = (
        "import sys; from dlab.cli import main; sys.argv = ['dlab', 'list', '--format', 'names']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('dlab.config.schema', 'dlab.experiments')))\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    first, second = (
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        for _ in range(2)
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout and "cnn-cifar10\n" in second.stdout
    assert "'dlab.experiments'" in first.stderr, "the first listing builds the catalogue"
    assert "HEAVY []" in second.stderr


def test_a_drawn_table_is_kept_with_the_rows_until_they_change(cache_home, configs):
    drawn = []

    def draw(text):
        drawn.append(text)
        return text

    first = catalogue.open_catalogue(configs, lambda: ROWS)
    assert first.table("80|", lambda: draw("table at 80")) == "table at 80"
    again = catalogue.open_catalogue(configs, fail_to_build)
    assert again.table("80|", lambda: draw("drawn twice")) == "table at 80" and drawn == ["table at 80"]
    for width in range(catalogue.TABLES_KEPT + 2):
        again.table(f"{width}|", lambda width=width: f"table at {width}")
    assert len(again.tables) == catalogue.TABLES_KEPT and "80|" not in again.tables  # the oldest go
    (configs / "a.yaml").write_text("experiment: changed\n")
    assert catalogue.open_catalogue(configs, lambda: ROWS).tables == {}  # new rows, no old tables


def test_dlab_list_draws_its_table_once_per_width_and_then_needs_no_rich(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "90"}
    code = (
        "import sys; from dlab.cli import main; sys.argv = ['dlab', 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('RICH', 'rich' in sys.modules, file=sys.stderr)"
    )
    first, second = (
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        for _ in range(2)
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout and "  cnn-cifar10 " in second.stdout
    assert max(len(line) for line in second.stdout.splitlines()) <= 90
    assert "RICH True" in first.stderr and "RICH False" in second.stderr
