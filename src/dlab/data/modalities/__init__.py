"""Loaders shared by datasets of one kind: images, word-index text, tables, class-folder trees,
masks and characters."""
