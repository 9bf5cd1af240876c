"""Running many processes: children with a parent watchdog, and a local or remote Ray cluster.

Sweeps and distributed tune both start processes; neither owns them, so they live here.
"""
