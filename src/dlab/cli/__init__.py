"""The ``dlab`` command line: each command parses its flags and makes one call into :mod:`dlab.api`.

One module per command group (:mod:`.run`, :mod:`.results`, :mod:`.search`, :mod:`.data`,
:mod:`.ecosystem`); the
app, its shared options and the error handling live in :mod:`.app`. Exit codes:
0 success; 1 a run failed while training or a gate failed; 2 bad input, reported
before anything is trained; 130/143 interrupted.
"""

from dlab.cli import data, ecosystem, results, run, search  # noqa: F401 - registers the commands on the app
from dlab.cli.app import app, main

__all__ = ["app", "main"]
