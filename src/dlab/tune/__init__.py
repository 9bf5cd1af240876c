"""Tuning: the keras-tuner search space of a config and the search itself (trials, resume, best config)."""
