"""MESR (IEEE Access 2022): two-stage SR, a coarse image from 24 multi-scale blocks and a refinement block.

Unofficial reconstruction (no code was published): see ``model.py`` for the design and the source of every
choice. The seed text lost Tables 1-4; ``reported.csv`` holds the two Table 1 values the text states, and
every other reference cell is "not available" (never invented). ``VARIANTS`` are the ablation rows of
Table 1 (cumulative: baseline, +MSFEB, +RFFB, +RB) and Table 2's RB-dagger, as (model config overrides,
recipe overrides), named as in ``reported.csv``.
"""

import inspect
from typing import NamedTuple

from bench.registry import register
from reproductions.mesr.model import MESR
from reproductions.mesr.recipe import recipe

PAPER_TITLES = {"mesr": "MESR: multistage enhancement network for image SR (IEEE Access 2022, seed 002)"}


class Variant(NamedTuple):
    model: dict  # overrides of the registered config
    train: dict  # overrides of recipe()'s arguments


_ONE_IMAGE = {"loss_weights": (1.0,)}  # without the RB the coarse image is the only output
VARIANTS: dict[str, Variant] = {
    # Table 1 [paper, Sec. IV-C1]: "a single-scale convolution kernel of 3x3 as the feature extraction
    # module, and the network structure without the RFFB and RB modules as the baseline", then each added.
    "single-scale": Variant({"unit": "single-scale", "rffb": False, "refine": False}, _ONE_IMAGE),
    "with-msfeb": Variant({"rffb": False, "refine": False}, _ONE_IMAGE),
    "with-rffb": Variant({"refine": False}, _ONE_IMAGE),  # baseline + MSFEB + RFFB
    "with-rb": Variant({}, {}),  # + RB: the full MESR
    # Table 2 [paper, Sec. IV-C2]: RB-dagger, the full model trained with w1 = 0, w2 = 1.
    "rb-dagger": Variant({}, {"loss_weights": (0.0, 1.0)}),
}

_TABLE_1_BUDGET = "the paper does not say how long the Table 1 models trained (the full recipe is assumed)"
# Reported numbers no design of this reconstruction is sure to reach, and why (shown in the report beside the cell).
KNOWN_DIFFERENCES = {
    ("mesr", "mesr", "single-scale", "4", "psnr"): (
        "the paper names only 'a single-scale 3x3 kernel' for the baseline's extractor; here each funnel unit "
        "becomes 3x3-ReLU-3x3 inside the same block (an inferred layout); " + _TABLE_1_BUDGET),
    ("mesr", "mesr", "with-msfeb", "4", "psnr"): (
        "derived from the text (28.18 + 0.19 dB), not a printed cell; " + _TABLE_1_BUDGET),
}

# The registered config: MESR's constructor defaults, each tagged with its source in model.py.
_OPTIONS = {name: p.default for name, p in inspect.signature(MESR).parameters.items() if name != "scale"}


@register("mesr", paper="MESR (IEEE Access 2022)", scales=(2, 3, 4), recipe=recipe, **_OPTIONS,
          description="MESR (unofficial reconstruction): 24 MSFEBs of 5 funnel units, C=27, GFFB, RB; ~5.1M params")
def mesr(scale: int, **options) -> MESR:
    return MESR(scale, **options)
