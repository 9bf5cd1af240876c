"""mkdocs hooks for the documentation site (named in mkdocs.yml's ``hooks:``).

GitHub's Markdown splits a table row at every ``|`` that is not escaped, even inside a code span,
so the pages write ``--device auto\\|cpu\\|gpu`` in table cells. Python-Markdown (mkdocs) never
splits inside a code span and would print the backslashes. This hook drops them there, so the
same page reads right on GitHub and on the site.
"""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _unescape_pipes(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2).replace("\\|", "|") + match.group(1)


def on_page_markdown(markdown: str, **_: object) -> str:
    """Table rows only (lines starting with ``|``), code spans only; fenced blocks are untouched."""
    lines = []
    fenced = False
    for line in markdown.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.lstrip().startswith("|") and "\\|" in line:
            line = _CODE_SPAN.sub(_unescape_pipes, line)
        lines.append(line)
    return "\n".join(lines)
