"""Where a dataset's data comes from (``data.source``): one list, for the data schema and for the
conditions a reference states (a number published for the Keras download is not one for a file)."""

from __future__ import annotations

from typing import Literal, get_args

DataSource = Literal["keras", "builtin", "file", "dir", "synthetic"]

REAL_SOURCES = tuple(source for source in get_args(DataSource) if source != "synthetic")
"""The sources with real data: what a published number can have been measured on."""
