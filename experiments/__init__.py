"""Experiment modules, one per experiment family (installed as ``dlab.experiments``).

Every module here is imported by :func:`dlab.framework.registry.discover`; its classes
register themselves with ``@register``. Modules import Keras only inside their
methods, so discovering them stays cheap.
"""
