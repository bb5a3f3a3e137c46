"""MESR: multistage enhancement network for image SR (IEEE Access 2022).

Two stages: a coarse image from 24 multi-scale blocks and a refinement block. Unofficial reconstruction (no
code was published): see ``model.py`` for the design and the source of every choice. The paper's Tables 1-4
were lost from the text we have; ``reported.csv`` holds the two Table 1 values its text states, and every
other reference cell is "not available" (never invented). The ablation rows of Table 1 (cumulative: baseline,
+MSFEB, +RFFB, +RB) and Table 2's RB-dagger are registered variants (``mesr.with-rffb`` ...), named as in
``reported.csv``; ``mesr.coarse`` is the first stage's image of the same weights.
"""

from dataclasses import dataclass

from bench.registry import Variant, option, register
from reproductions.mesr.model import MESR
from reproductions.mesr.recipe import recipe


@dataclass(frozen=True)
class MESRConfig:
    width: int = option(27, "spec 2.4: C is not given; 27 fits 'nearly 1/6 fewer parameters than MSRN/DASR'")
    blocks: int = option(24, "paper: N = 24")
    units: int = option(5, "paper: each MSFEB contains five BFE modules")
    unit: str = option("funnel", "paper; 'single-scale' is Table 1's baseline extractor (layout inferred)")
    branches: str = option("shared", "paper Eqs. 12-16: the equations share their convs [spec 2.6 #3]")
    skips: str = option("merged", "spec 2.6 #1: Eq. 18's beta merged into Eq. 7's lambda; 'literal' explodes")
    eca_k: int = option(5, "paper: k = 5")
    weight_norm: bool = option(True, "paper: WN on MSFEB and GFFB convs [scope: spec 2.6 #6]")
    rffb: bool = option(True, "paper: GFFB + global residual (Table 1's +RFFB)")
    refine: bool = option(True, "paper: the second stage (Table 1's +RB)")
    rb_channels: int = option(64, "spec 2.1")
    rb_init: str = option("near-identity", "inf: the paper gives no init; PyTorch's starts I_SR2 at ~1.5 I_SR1")
    rgb_mean: bool = option(True, "spec 2.1: the EDSR/MSRN-codebase DIV2K mean shift")
    rb_space: str = option("centred", "inf: Eq. 19 on I_SR1 - mean (on the image it can only brighten; rb-probe)")
    output: str = option("auto", "inf: train on every output, evaluate the refined image ('coarse': the first)")


_ONE_IMAGE = {"loss_weights": (1.0,)}  # without the RB the coarse image is the only output
_CI = {"width": 8, "blocks": 2}
VARIANTS = {
    # Table 1 [paper, Sec. IV-C1]: "a single-scale convolution kernel of 3x3 as the feature extraction
    # module, and the network structure without the RFFB and RB modules as the baseline", then each added.
    "single-scale": Variant({"unit": "single-scale", "rffb": False, "refine": False}, "Table 1: the baseline",
                            _ONE_IMAGE),
    "with-msfeb": Variant({"rffb": False, "refine": False}, "Table 1: baseline + MSFEB", _ONE_IMAGE),
    "with-rffb": Variant({"refine": False}, "Table 1: baseline + MSFEB + RFFB", _ONE_IMAGE),
    "with-rb": Variant({}, "Table 1: + RB, the full MESR"),
    "rb-dagger": Variant({}, "Table 2: RB-dagger, the full model trained with w1 = 0, w2 = 1",
                         {"loss_weights": (0.0, 1.0)}),
    "coarse": Variant({"output": "coarse"}, "the first stage's image of the full model's weights", _ONE_IMAGE),
    "literal-skips": Variant({"skips": "literal"}, "Eqs. 6-8 and 18 as printed (explodes at init)"),
    "ci-reduced": Variant(_CI, "the registered code at width 8, 2 blocks: the ci engine guard, no result"),
    "ci-reduced-coarse": Variant({**_CI, "output": "coarse"}, "ci-reduced's first-stage image", _ONE_IMAGE),
}


@register("mesr", paper="MESR (IEEE Access 2022)", scales=(2, 3, 4), config=MESRConfig, variants=VARIANTS,
          recipe=lambda scale, **row: recipe(scale, **row),
          description="MESR (unofficial reconstruction): 24 MSFEBs of 5 funnel units, C=27, GFFB, RB; ~5.1M params")
def mesr(scale: int, **config) -> MESR:
    return MESR(scale, **config)
