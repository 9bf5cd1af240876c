"""dlab generate and dlab neighbours on smoke runs of the character RNN and CBOW."""

from __future__ import annotations

import pytest

from dlab import api

pytestmark = pytest.mark.heavy


@pytest.fixture(scope="module")
def charrnn(tmp_path_factory):
    return api.run("charrnn-timemachine", smoke=True, out=tmp_path_factory.mktemp("out")).run_dir


def test_greedy_generation_continues_the_prompt_as_the_run_did(charrnn):
    import json

    sample = json.loads((charrnn / "metrics.json").read_text())["sample"]
    result = api.generate(charrnn, sample["prefix"], length=sample["characters"])
    assert result.text == sample["text"]


def test_sampling_is_deterministic_for_a_seed(charrnn, cli):
    first = cli(
        "generate", str(charrnn), "--prompt", "time traveller", "--length", "60", "-t", "1.0", "--seed", "7"
    )
    again = cli(
        "generate", str(charrnn), "--prompt", "time traveller", "--length", "60", "-t", "1.0", "--seed", "7"
    )
    other = api.generate(charrnn, "time traveller", length=60, temperature=1.0, seed=8)
    assert first.exit_code == 0, first.output
    assert first.output == again.output and first.output.startswith("time traveller")
    assert len(first.output.strip()) == len("time traveller") + 60
    assert other.text != first.output.strip()


def test_generate_refuses_bad_input(charrnn, cli):
    assert cli("generate", str(charrnn), "--length", "0").exit_code == 2
    assert cli("generate", str(charrnn), "--temperature", "-1").exit_code == 2
    assert cli("generate", str(charrnn), "--seed", "3").exit_code == 2  # a seed without sampling
    result = cli("predict", str(charrnn), "hello")
    assert result.exit_code == 2 and "dlab generate" in result.output
    result = cli("export", str(charrnn), "--format", "litert")
    assert result.exit_code == 2 and "stateful recurrent layer(s) simple_rnn" in result.output


def test_neighbours_match_the_runs_own_report(tmp_path, cli):
    run = api.run("cbow-text", smoke=True, out=tmp_path).run_dir
    line = (run / "neighbours.txt").read_text().splitlines()[-1]  # "word: a (0.912), b (0.877) ..."
    word = line.split(":", 1)[0]
    result = cli("neighbours", str(run), word, "--count", "5")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == line
    missing = cli("neighbours", str(run), "zzzznotaword")
    assert missing.exit_code == 1 and "not in the vocabulary: zzzznotaword" in missing.output
