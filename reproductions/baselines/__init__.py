"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import art, bicubic, carn, edsr, imdn, lapar, liif, rdn, swinir, zoo  # noqa: F401
