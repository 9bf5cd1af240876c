"""Using what a run trained: load a saved run, read raw inputs, predict, generate, evaluate, export.

It sits above the experiment modules (:mod:`dlab.experiments`) because a saved run
is only understood through its experiment: evaluation reloads data the way the
experiment loaded it, generation rebuilds the character model for one step at a
time, and loading a model registers dlab's own layers and metrics first. Nothing
below it imports it; :mod:`dlab.api` calls it.
"""
