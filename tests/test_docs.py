"""The documentation pages generated from the code (CLI, config keys, catalogue) are current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "tools" / "docs_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_reference_pages_match_the_code():
    stale = load_generator().stale_pages()
    assert stale == [], f"stale: {stale}; regenerate with `python tools/docs_pages.py`"


def test_a_changed_page_is_caught(tmp_path, monkeypatch):
    generator = load_generator()
    for name, make in generator.PAGES.items():
        (tmp_path / name).write_text(make(), encoding="utf-8")
    monkeypatch.setattr(generator, "REFERENCE", tmp_path)
    assert generator.stale_pages() == []
    page = tmp_path / "config.md"
    page.write_text(page.read_text().replace("Seeds Python", "Seeds nothing"), encoding="utf-8")
    assert generator.stale_pages() == ["config.md"]
