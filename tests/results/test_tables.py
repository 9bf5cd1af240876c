"""The one console-table renderer (rich): wrapped to the terminal, one line per row without one."""

from __future__ import annotations

import os

import pytest
from fake_runs import make_run

from dlab.results import tables
from dlab.results.tables import column_widths, terminal_width, text_table

LONG = "RuntimeError: the loss became NaN at epoch 2 because the learning rate was far too high for this"


@pytest.fixture
def no_terminal(monkeypatch):
    """stdout is a pipe or a file: no $COLUMNS, no terminal size."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(tables.shutil, "get_terminal_size", lambda fallback: os.terminal_size(fallback))


def test_without_a_terminal_a_row_stays_one_line(no_terminal):
    assert terminal_width() is None and terminal_width(100) == 100
    text = text_table(["run", "error", "wall_s"], [["a/1", LONG, "12.5"], ["b/22", "-", "3"]])
    lines = text.splitlines()
    assert len(lines) == 3 and LONG in lines[1]
    assert lines[0].split() == ["run", "error", "wall_s"]
    assert lines[1].endswith("12.5") and lines[2].endswith("   3")  # numbers right-aligned


def test_a_narrow_terminal_wraps_cells_inside_their_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    text = text_table(["run", "error", "wall_s"], [["a/1", LONG, "12.5"]])
    lines = text.splitlines()
    assert len(lines) > 2 and all(len(line) <= 50 for line in lines)
    assert " ".join(text.split()[4:]).replace(" 12.5", "") == LONG  # every word, in order
    assert text.endswith("\n") and not any(line != line.rstrip() for line in lines)


def test_cells_are_text_not_markup_and_indent_and_alignment_hold():
    text = text_table(["a", "b"], [["[bold]x[/bold]", "[0.91, 1.04]"]], width=60)
    assert "[bold]x[/bold]" in text and "[0.91, 1.04]" in text
    first = text_table(["a", "b"], [["x", "y"]], width=60, show_header=False, min_widths=(6,), indent=2)
    assert first == "  x       y\n"


def test_dlab_runs_wraps_words_not_names_and_always_fits_the_terminal(cli, tmp_path, monkeypatch):
    root = tmp_path / "outputs"
    make_run(root, run_id="20261122-100000-aaaaaa", accuracy=0.71)
    make_run(root, run_id="20261122-110000-bbbbbb", status="failed")
    monkeypatch.setenv("COLUMNS", "120")  # room for every word: only cells with spaces wrap
    result = cli("runs", "--out", str(root))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    start, end = lines[0].index("error"), lines[0].index("folder")
    error = " ".join(line[start:end].strip() for line in lines[1:] if line[start:end].strip())
    assert error == "RuntimeError: loss became NaN <at epoch 2>"  # wrapped inside its column
    assert "20261122-110000-bbbbbb" in result.output and "cnn-cifar10" in result.output
    monkeypatch.setenv("COLUMNS", "80")  # too narrow for the longest words: they fold, lines still fit
    narrow = cli("runs", "--out", str(root)).output.splitlines()
    assert all(len(line) <= 80 for line in narrow), max(narrow, key=len)


def test_column_widths_shrink_the_widest_columns_of_words_first():
    columns = [["name", "cnn-cifar10"], ["error", "a b c d e f g h i j k l m n o p q r s t"]]
    assert column_widths(columns, 100) == [11, 39]
    assert column_widths(columns, 20) == [11, 9]  # the name keeps its width; the words wrap
    assert column_widths(columns, 8) == [4, 4]  # no room for "cnn-cifar10": both are folded
