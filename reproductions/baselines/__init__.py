"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import bicubic, edsr, imdn, liif, rdn, swinir  # noqa: F401

PAPER_TITLES = {
    "imdn": "IMDN: lightweight image SR with information multi-distillation (ACM MM 2019), public checkpoints",
}
