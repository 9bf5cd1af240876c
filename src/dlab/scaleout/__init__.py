"""Running many processes: children with a parent watchdog, a local or remote Ray cluster, and a
reaper that ends the local Ray's processes with the dlab process that started them.

Sweeps and distributed tune both start processes; neither owns them, so they live here.
"""
