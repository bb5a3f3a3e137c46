"""MSIT: multi-scale implicit transformer with re-parameterisation for arbitrary-scale SR (arXiv 2403.06536,
2024; venue not stated).

``msit-edsr`` and ``msit-rdn`` are the paper's final models: stage B, the multi-scale convolutions in
RIM form (``conv="rim"``); ``msit-edsr.plain-conv`` is stage A and ``msit-edsr.refconv`` Table III's Ref
column. The rows of Tables III-V are registered variants, named as in ``reported.csv``; rows that differ
only in training (Table V's scale ranges) differ in their recipe alone.
"""

from dataclasses import dataclass

from bench.registry import Variant, option, register
from reproductions.msit.model import MSIT
from reproductions.msit.recipe import recipe
from reproductions.msit.remap import remap_official


@dataclass(frozen=True)
class MSITConfig:
    conv: str = option("rim", "paper+src: stage B's RIM convolutions ('plain': stage A; 'refconv': Table III)")
    msc_groups: int = option(16, "src: t = 16 multi-scale conv groups")
    proj_matrices: int = option(4, "src: n = 4 projection matrices")
    fem: bool = option(True, "paper: the feature enhancement module")
    sim: bool = option(True, "paper: the scale-interaction module")
    msno: bool = option(True, "paper: the multi-scale neural operator")
    attention: str = option("multiscale", "paper: multi-scale self-attention ('conventional': Table III)")


_A = {"stage": "a"}  # stage-A models (plain convs) train with stage A's recipe [spec §4.3]
VARIANTS = {
    "rim": Variant({}, "Table III: RIM (the final stage-B model)"),
    "plain-conv": Variant({"conv": "plain"}, "Table III: plain convolutions (stage A)", _A),
    "original": Variant({"conv": "plain"}, "Table V: the stage-A model before RIM", _A),
    "refconv": Variant({"conv": "refconv"}, "Table III: RefConv"),
    "conventional-sa": Variant({"conv": "plain", "attention": "conventional"}, "Table III: conventional SA", _A),
    "no-msno-conventional-sa": Variant({"conv": "plain", "msno": False, "attention": "conventional"},
                                       "Table III: no MSNO, conventional SA", _A),
    **{f"t-{t}": Variant({"conv": "plain", "msc_groups": t}, f"Table IV: t = {t}", _A) for t in (1, 2, 4, 8, 16)},
    **{f"n-{n}": Variant({"conv": "plain", "proj_matrices": n}, f"Table IV: n = {n}", _A) for n in (1, 2, 4, 8, 16)},
    "no-fem": Variant({"conv": "plain", "fem": False}, "Table IV: no FEM", _A),
    "no-sim": Variant({"conv": "plain", "sim": False}, "Table IV: no SIM", _A),
    **{f"rim-u{lo}-{hi}": Variant({}, f"Table V: stage B trained on U({lo}, {hi})", {"scale_range": (lo, hi)})
       for lo, hi in ((1, 4), (1, 8), (4, 12), (1, 12))},
}


def _build(encoder_name: str, scale: float, **config) -> MSIT:
    from bench import registry

    # LIIF's encoders: no upsampler, no mean shift (the input is already (x - 0.5) / 0.5) [src].
    extra = {"mean_shift": False} if encoder_name == "edsr-baseline" else {}
    encoder = registry.make(encoder_name, scale=2, no_upsampling=True, **extra)
    return MSIT(encoder, scale, **config)


def _recipe(scale: float, stage: str = "b", **row):
    return recipe(stage, **row)


# scales=None: any scale, fractional ones too (e.g. 1.5).
@register("msit-edsr", paper="MSIT (arXiv 2024)", scales=None, config=MSITConfig, variants=VARIANTS, recipe=_recipe,
          remap_weights=remap_official,
          description="MSIT on EDSR-baseline, stage B (RIM): 6.0M params (official count), 8.1M deployed")
def msit_edsr(scale: float, **config) -> MSIT:
    return _build("edsr-baseline", scale, **config)


@register("msit-rdn", paper="MSIT (arXiv 2024)", scales=None, config=MSITConfig, recipe=_recipe,
          remap_weights=remap_official,
          variants={"plain-conv": VARIANTS["plain-conv"]},
          description="MSIT on RDN, stage B (RIM): 26.8M params, 28.9M deployed")
def msit_rdn(scale: float, **config) -> MSIT:
    return _build("rdn", scale, **config)
