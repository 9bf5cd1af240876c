"""dlab: a command-line experiment suite for Keras.

Importing ``dlab`` is cheap on purpose: TensorFlow and Keras are imported only
inside the functions that train, so ``dlab --help``, ``dlab list`` and
``dlab show`` answer in a fraction of a second.
"""

__version__ = "0.1.0"
