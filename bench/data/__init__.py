"""Locating, verifying, loading and degrading images."""
