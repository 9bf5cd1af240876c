"""Models: reusable Keras blocks, transfer backbones, NumPy models, stateful sequence helpers, embeddings.

Models use the ``keras`` API only (no ``tf.*``), so they can run on any Keras backend.
"""
