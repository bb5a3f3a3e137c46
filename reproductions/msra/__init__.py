"""MSRA-SR (ICCV 2023): image SR Transformer with multi-scale shared representation acquisition.

Unofficial reconstruction (no code was published): see ``model.py`` for the design and the source
of every choice. The Table 4 ablation rows are registered variants (``msra-light.wo-ga`` ...), named as
in ``reported.csv``; rows marked ‡ in the paper had their depth/width re-tuned by the authors in ways
the paper does not give, so those variants remove the component only.
"""

from dataclasses import dataclass

from bench.registry import Variant, option, register
from reproductions.msra.model import MSRASR
from reproductions.msra.recipe import recipe


@dataclass(frozen=True)
class MSRALightConfig:
    embed_dim: int = option(60, "paper: C = 60 (lightweight)")
    depths: tuple[int, ...] = option((4, 4, 4, 4), "paper: 4 MSTB groups of depth 4")
    window: int = option(16, "paper: window 16")
    mlp_ratio: float = option(2.0, "paper")
    ssa_dim: int = option(30, "spec msra_v2.md: half the channels for SSA, the rest for CSA")
    ssa_heads: int = option(2, "spec msra_v2.md: fits Table 1's params")
    csa_scales: tuple[int, ...] = option((1, 2, 4), "paper: cross-scale attention at 1, 2, 4")
    f_kernel: int = option(3, "paper Table 4: the 3x3 DWC row is the chosen one")
    shared_attention: bool = option(True, "paper: attention maps shared across layers")
    ga_hidden: int | None = option(35, "spec msra_v2.md: fits Table 1's params; None drops the global branch")
    dwc_kernels: tuple[int, ...] = option((1, 3, 5, 7), "paper: multi-scale depth-wise conv 1/3/5/7")
    upsampler: str = option("pixelshuffledirect", "spec: SwinIR-light's one-step head (the x2->x3->x4 params steps)")


@dataclass(frozen=True)
class MSRAClassicalConfig(MSRALightConfig):
    embed_dim: int = option(192, "paper: C = 192 (classical)")
    depths: tuple[int, ...] = option((4,) * 6, "paper: 6 groups of depth 4")
    ssa_dim: int = option(96, "inf: the light fit's SSA/CSA split, scaled")
    ga_hidden: int | None = option(112, "spec msra_v2.md: CA hidden 112")
    upsampler: str = option("pixelshuffle", "inf: SwinIR-classical's upsampler")


_RETUNED = "a \u2021 row: re-tuned by the authors in a way the paper does not give; here the component only"
# Table 4 rows.
VARIANTS = {
    "ga-csa": Variant({}, "Table 4: GA + CSA (the full model)"),
    "wo-ga": Variant({"ga_hidden": None}, "Table 4: w/o global attention; " + _RETUNED),
    "wo-csa": Variant({"csa_scales": (), "ssa_dim": 60}, "Table 4: w/o cross-scale attention, SSA over all "
                      "channels [inferred]; " + _RETUNED),
    "w-shared-attn": Variant({}, "Table 4: with shared attention (the full model)"),
    "wo-shared-attn": Variant({"shared_attention": False}, "Table 4: every layer computes its own attention"),
    "wo-ms-dwc": Variant({"dwc_kernels": ()}, "Table 4: no depth-wise conv in the FFN"),
    "single-dwc-k7": Variant({"dwc_kernels": (7,)}, "Table 4: one 7x7 depth-wise conv"),
    "ms-dwc": Variant({}, "Table 4: the multi-branch MS-DWC, counted before reparameterisation",
                      form="as-trained"),
    "ms-dwc-reparam": Variant({}, "Table 4: MS-DWC merged into one 7x7 (the deployed model)"),
    "window-8": Variant({"window": 8}, "Table 4: window 8; " + _RETUNED),
    "window-16": Variant({}, "Table 4: window 16 (the full model)"),
    "f-identity": Variant({"f_kernel": 0}, "Table 4: F = identity"),
    "f-dwc-1x1": Variant({"f_kernel": 1}, "Table 4: F = 1x1 DWC"),
    "f-dwc-3x3": Variant({}, "Table 4: F = 3x3 DWC (the full model)"),
    "f-dwc-5x5": Variant({"f_kernel": 5}, "Table 4: F = 5x5 DWC"),
}


@register("msra-light", paper="MSRA-SR (ICCV 2023)", scales=(2, 3, 4), config=MSRALightConfig, variants=VARIANTS,
          recipe=lambda scale: recipe("msra-light"),
          description="MSRA-SR lightweight (unofficial reconstruction V2): 4x4 MSTB, C=60, window 16")
def msra_light(scale: int, **config) -> MSRASR:
    return MSRASR(scale, **config)


@register("msra-classical", paper="MSRA-SR (ICCV 2023)", scales=(2, 3, 4), config=MSRAClassicalConfig,
          recipe=lambda scale: recipe("msra-classical"),
          description="MSRA-SR classical (unofficial reconstruction): 6x4 MSTB, C=192, window 16")
def msra_classical(scale: int, **config) -> MSRASR:
    return MSRASR(scale, **config)
