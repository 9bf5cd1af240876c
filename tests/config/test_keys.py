"""The keys of a config read from its schema: `--set` completion one section at a time, and the
values a choice allows."""

from __future__ import annotations

import pytest

from dlab.config import RunConfig
from dlab.config.keys import complete_keys, key_at
from dlab.framework import registry

CONVNET = {"model": registry.get("convnet").ModelConfig}


@pytest.mark.parametrize(
    ("typed", "offered"),
    [
        ("", {"seed", "data.", "train.", "model."}),  # sections end with a dot
        ("train.optimizer.", {"train.optimizer.learning_rate", "train.optimizer.schedule."}),
        ("model.", {"model.filters", "model.kernel_size"}),  # the experiment's own section
        ("train.optimizer.schedule.name=cos", {"train.optimizer.schedule.name=cosine_decay"}),
        ("data.source=s", {"data.source=synthetic"}),
        ("train.shuffle=", {"train.shuffle=true", "train.shuffle=false"}),
    ],
)
def test_set_keys_complete_from_the_schema(typed, offered):
    assert offered <= set(complete_keys(RunConfig, typed, CONVNET))


def test_one_matching_section_opens_so_the_shell_completes_into_it():
    # `tr<TAB>`: train. is all that matches, so its keys are offered (a shell then fills "train.")
    found = complete_keys(RunConfig, "tr", CONVNET)
    assert "train.epochs" in found and all(key.startswith("train.") for key in found)


def test_a_list_or_a_plain_value_is_no_section():
    assert complete_keys(RunConfig, "train.lo") == ["train.loss"]  # a name or {name: ...}
    assert key_at(RunConfig, "train.callbacks").sections == ()  # a list of specs
    assert complete_keys(RunConfig, "nothing.here") == []
