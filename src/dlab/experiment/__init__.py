"""Experiments: the registry, the ``Experiment`` base and its recipes, and the config factory.

An experiment module (in the top-level ``experiments/`` folder, packaged as
``dlab.experiments``) subclasses :class:`dlab.experiment.base.Experiment` or a
recipe and registers itself with :func:`dlab.experiment.registry.register`;
:mod:`dlab.experiment.factory` turns a config name into a validated config
for the registered experiment it names.
"""
