"""The config files' JSON Schema (`dlab schema`): editors check configs with it, so it must accept
every packaged config, refuse what `dlab run` refuses, and be the one shipped beside them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from dlab.config.files import config_names, find_config
from dlab.framework.config_schema import MODELINE, SCHEMA_FILE, config_schema

CONFIGS = Path(find_config("xor-mlp")).parent


@pytest.fixture(scope="module")
def validator():
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_the_one_dlab_makes():
    shipped = json.loads((CONFIGS / SCHEMA_FILE).read_text())
    assert shipped == json.loads(json.dumps(config_schema())), (
        f"configs/{SCHEMA_FILE} is stale: regenerate it with `dlab schema -o configs/{SCHEMA_FILE}`"
    )


@pytest.mark.parametrize("name", config_names())
def test_every_packaged_config_validates_and_names_the_schema(validator, name):
    path = find_config(name)
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(yaml.safe_load(path.read_text()))
    ]
    assert errors == []
    assert path.read_text().splitlines()[0] == MODELINE


MISTAKES = [
    ("train", "epochz", 3, "Additional properties are not allowed ('epochz'", "Unknown key 'train.epochz'"),
    (
        "model",
        "filterz",
        [8],
        "Additional properties are not allowed ('filterz'",
        "Unknown key 'model.filterz'",
    ),
    ("train", "epochs", "ten", "'ten' is not of type 'integer'", "train.epochs"),
    ("data", "validation", {"a": 1}, "is not valid under any of the given schemas", "data.validation"),
]


@pytest.mark.parametrize("section, key, value, schema_says, run_says", MISTAKES)
def test_a_mistake_fails_the_schema_and_dlab_run_alike(
    validator, cli, tmp_path, section, key, value, schema_says, run_says
):
    config = yaml.safe_load(find_config("cnn-mnist").read_text())
    config[section][key] = value
    messages = [e.message for e in validator.iter_errors(config)]
    assert any(schema_says in m for m in messages), messages
    path = tmp_path / "mistake.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("run", str(path), "--out", "o")  # refused while resolving: no data is read
    assert result.exit_code == 2 and run_says in result.output, result.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("metrics.json"))


def test_dlab_schema_prints_it_and_init_writes_it_beside_the_projects_configs(cli, tmp_path, validator):
    printed = cli("schema")
    assert printed.exit_code == 0 and json.loads(printed.output) == json.loads(json.dumps(config_schema()))
    assert cli("init", "proj").exit_code == 0
    configs = tmp_path / "proj" / "configs"
    assert json.loads((configs / SCHEMA_FILE).read_text())["title"] == "dlab config"
    for path in sorted(configs.glob("*.yaml")):
        assert path.read_text().splitlines()[0] == MODELINE
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []
