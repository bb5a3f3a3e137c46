"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import bicubic, carn, edsr, imdn, liif, msrn, rcan, rdn, srmd, swinir, zoo  # noqa: F401
