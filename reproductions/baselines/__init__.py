"""Reference models the papers compare against. Importing this package registers them."""

from reproductions.baselines import (  # noqa: F401
    art,
    bicubic,
    carn,
    clit,
    edsr,
    imdn,
    lapar,
    lapsrn,
    latticenet,
    liif,
    lte,
    metasr,
    msrn,
    rcan,
    rdn,
    srmd,
    swinir,
    ultrasr,
    zoo,
)
