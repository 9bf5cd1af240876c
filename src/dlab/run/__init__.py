"""One run: its context, guard (signals, NaN, wall time), directory, history, resume, device, runtime.

Below training: the training loop reports through the run context and writes
into the run directory, so this package never imports training or experiments.
"""
