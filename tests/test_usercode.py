"""Importing the user's code by reference: files beside a config, dotted modules, clear errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from dlab.errors import ConfigError
from dlab.usercode import resolve_object, split_reference


@pytest.fixture
def clean_modules():
    """Each test writes modules of its own names; forget them afterwards."""
    before = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
    sys.path[:] = path


def test_a_reference_is_module_colon_name():
    assert split_reference("models.py:build", what="model.build") == ("models.py", "build")
    assert split_reference("pkg.nets:make", what="x") == ("pkg.nets", "make")
    with pytest.raises(ConfigError, match="model.build: 'models.py' is not a reference.*MODULE:NAME"):
        split_reference("models.py", what="model.build")


def test_a_file_beside_the_config_is_found_before_the_working_folder(tmp_path, monkeypatch, clean_modules):
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "ucnets_a.py").write_text("def build():\n    return 'beside the config'\n")
    monkeypatch.chdir(tmp_path)
    build = resolve_object("ucnets_a.py:build", what="model.build", base_dirs=[config_dir])
    assert build() == "beside the config"
    again = resolve_object("ucnets_a.py:build", what="model.build", base_dirs=[config_dir])
    assert again is build  # one module, imported once


def test_a_missing_name_lists_what_the_module_defines(tmp_path, clean_modules):
    (tmp_path / "ucnets_b.py").write_text("def build_cnn():\n    pass\n")
    with pytest.raises(ConfigError, match=r"has no 'build_cn'.*Did you mean 'build_cnn'"):
        resolve_object("ucnets_b.py:build_cn", what="model.build", base_dirs=[tmp_path])


def test_a_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(ConfigError, match="model.build: no file 'nowhere.py'; looked for"):
        resolve_object("nowhere.py:build", what="model.build", base_dirs=[tmp_path])


def test_an_error_in_the_users_module_shows_the_users_traceback(tmp_path, clean_modules):
    (tmp_path / "ucnets_c.py").write_text(
        textwrap.dedent(
            """
            def helper():
                return 1 / 0

            VALUE = helper()
            """
        )
    )
    with pytest.raises(ConfigError) as error:
        resolve_object("ucnets_c.py:VALUE", what="model.build", base_dirs=[tmp_path])
    message = str(error.value)
    assert "importing" in message and "ucnets_c.py" in message
    assert "return 1 / 0" in message and "ZeroDivisionError" in message
    assert "importlib" not in message and "usercode.py" not in message


def test_a_dotted_module_that_is_not_installed_is_named(clean_modules):
    with pytest.raises(ConfigError, match="no module named 'not_a_module_xyz.sub'"):
        resolve_object("not_a_module_xyz.sub:thing", what="train.loss")
