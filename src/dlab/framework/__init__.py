"""Experiments: the registry, the ``Experiment`` base and its recipes, and the config factory.

An experiment module (in the top-level ``experiments/`` folder, packaged as
``dlab.experiments``) subclasses :class:`dlab.framework.base.Experiment` or a
recipe and registers itself with :func:`dlab.framework.registry.register`;
:mod:`dlab.framework.factory` turns a config name into a validated config
for the registered experiment it names.
"""
