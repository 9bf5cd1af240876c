"""Experiment modules, one per experiment family (installed as ``dlab.experiments``).

Every module here is imported by :func:`dlab.framework.registry.discover`; its classes
register themselves with ``@register``. Modules import Keras and NumPy only inside their
methods, so discovering them stays cheap (``dlab list`` and ``dlab show`` import neither);
the same goes for dlab's modules that import them (``# lazy: imports keras`` / ``numpy``)
and for the tuner's search (``# lazy: keeps dlab list light``). The rest is imported at the top.
"""
