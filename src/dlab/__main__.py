"""Allow ``python -m dlab``."""

from dlab.cli import main
from dlab.scaleout.processes import watch_parent

watch_parent()  # a sweep's run started with the watchdog pipe stops when the sweep is gone
main()
