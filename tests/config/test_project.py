"""A user's project: found from dlab.toml or [tool.dlab], its configs runnable by name, clashes refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlab.config.files import config_names, find_config
from dlab.config.project import find_project
from dlab.config.sources import config_catalogue
from dlab.errors import ConfigError


@pytest.fixture
def project_discovery(monkeypatch):
    """Tests elsewhere turn project discovery off (DLAB_PROJECT=""); these look for projects."""
    monkeypatch.delenv("DLAB_PROJECT", raising=False)


def _config(folder: Path, name: str, text: str = "experiment: perceptron\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_dlab_toml_makes_a_project_found_from_a_subfolder(tmp_path, project_discovery):
    (tmp_path / "dlab.toml").write_text('modules = ["models.py"]\nconfigs = "my-configs"\n')
    (tmp_path / "deep" / "er").mkdir(parents=True)
    project = find_project(tmp_path / "deep" / "er")
    assert project is not None
    assert project.root == tmp_path.resolve()
    assert project.modules == ((tmp_path / "models.py").resolve(),)
    assert project.configs == (tmp_path / "my-configs").resolve()
    assert project.outputs == (tmp_path / "outputs").resolve()


def test_a_pyproject_counts_only_with_a_tool_dlab_table(tmp_path, project_discovery):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_project(tmp_path) is None or find_project(tmp_path).root != tmp_path.resolve()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.dlab]\nconfigs = "c"\n')
    assert find_project(tmp_path).configs == (tmp_path / "c").resolve()


def test_an_unknown_project_key_is_refused_with_the_allowed_ones(tmp_path, project_discovery):
    (tmp_path / "dlab.toml").write_text('modles = ["models.py"]\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) modles.*Allowed: modules, configs, outputs"):
        find_project(tmp_path)


def test_a_broken_project_file_names_the_file(tmp_path, project_discovery):
    (tmp_path / "dlab.toml").write_text("modules = [\n")
    with pytest.raises(ConfigError, match="dlab.toml: not a readable TOML file"):
        find_project(tmp_path)


def test_project_configs_run_by_name_beside_the_packaged_ones(tmp_path, monkeypatch, project_discovery):
    (tmp_path / "dlab.toml").write_text("")
    path = _config(tmp_path / "configs", "my-lab")
    monkeypatch.chdir(tmp_path)
    assert find_config("my-lab") == path
    assert "my-lab" in config_names() and "cnn-cifar10" in config_names()
    entry = config_catalogue()["my-lab"]
    assert entry.origin == f"project {tmp_path.resolve()}"
    assert config_catalogue()["cnn-cifar10"].origin == "dlab"


def test_a_name_claimed_by_the_project_and_dlab_is_an_error_naming_both(
    tmp_path, monkeypatch, project_discovery
):
    (tmp_path / "dlab.toml").write_text("")
    _config(tmp_path / "configs", "cnn-cifar10")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as error:
        find_config("cnn-cifar10")
    message = str(error.value)
    assert "claimed twice" in message
    assert f"project {tmp_path.resolve()}" in message and "by dlab" in message


def test_dlab_project_empty_turns_discovery_off(tmp_path, monkeypatch):
    (tmp_path / "dlab.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLAB_PROJECT", "")
    assert find_project() is None
