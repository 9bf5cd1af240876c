"""Where a search keeps its files inside its run directory."""

TUNER_DIR = "tuner"
"""The keras-tuner directory inside a run directory (its project is ``search``)."""
PROJECT_NAME = "search"
FINGERPRINT_FILE = "dlab-search.json"
"""What the search depends on, written into the tuner directory and checked by ``--resume``."""
BEST_CONFIG_FILE = "best-config.yaml"
RESUMABLE_CHANGES = ("max_trials", "max_consecutive_failed_trials", "retrain_epochs", "retrain_batch_size")
"""``model:`` keys that ``--resume`` may change: they do not change the finished trials."""
