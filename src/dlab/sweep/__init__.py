"""Sweeps: plan many runs (studies, globs, grids, seeds), execute them as processes, summarize them."""
