"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import (  # noqa: F401
    bicubic,
    carn,
    clit,
    edsr,
    imdn,
    liif,
    lte,
    metasr,
    rdn,
    swinir,
    ultrasr,
    zoo,
)
