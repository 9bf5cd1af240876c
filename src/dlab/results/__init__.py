"""Results: read run directories from disk (never TensorFlow) to index, compare, gate, check, list, report."""
