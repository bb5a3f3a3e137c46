"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import bicubic, carn, edsr, imdn, liif, rdn, swinir, zoo  # noqa: F401
