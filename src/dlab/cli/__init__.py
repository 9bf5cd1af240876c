"""The ``dlab`` command line: each command parses its flags and makes one call into :mod:`dlab.api`.

One module per command group (:mod:`.run`, :mod:`.results`, :mod:`.search`, :mod:`.data`,
:mod:`.ecosystem`); the
app, its shared options and the error handling live in :mod:`.app`. Exit codes:
0 success; 1 a run failed while training or a gate failed; 2 bad input, reported
before anything is trained; 130/143 interrupted.
"""

# each module registers its commands on the app (use: predict, generate, neighbours, evaluate, export)
from dlab.cli import data, doctor, ecosystem, manage, project, results, run, search, use  # noqa: F401
from dlab.cli.app import app, main

__all__ = ["app", "main"]
