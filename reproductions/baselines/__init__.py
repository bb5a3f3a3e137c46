"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import bicubic  # noqa: F401
