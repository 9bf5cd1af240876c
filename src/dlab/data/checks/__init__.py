"""Checks every dataset passes before training: split balance, values, orders and splits."""
