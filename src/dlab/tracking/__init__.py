"""Speaking the ecosystem's formats: TensorBoard event files and HParams, MLflow runs.

Owns the writers only: Keras's TensorBoard callback for a run, HParams summaries for
sweeps and searches, the ``tensorboard`` server, and MLflow runs logged from what a run
directory holds (history, metrics.json, config, artifacts). Above :mod:`dlab.run` (it
reads run directories and the run's settings), below :mod:`dlab.training` (whose fit
adds the TensorBoard callback); sweeps, tune and the API feed it finished runs.
"""
