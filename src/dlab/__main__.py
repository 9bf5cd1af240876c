"""Allow ``python -m dlab``."""

from dlab.cli import main

main()
