"""One run: its context, guard (signals, NaN, wall time), directory writer, history, resume, device and runtime.

Below training: the training loop reports through the run context and writes
into the run directory, so this package never imports training or experiments.
"""
