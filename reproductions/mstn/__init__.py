"""MSTN: multi-scale multi-stage SR with a Transformer feature-sharing module (venue not stated).

Unofficial reconstruction (no code, and its base network C3Net could not be identified): see
``model.py`` for the design and the source of every choice. One registered model, ``mstn``, trained
once at x4; the same weights serve x2 (``scale=2`` selects its x2 head), see ``model.py``. The paper
has no ablation table: the variants are the spec's alternative readings (spec §1.6), none with a
reported twin, and ``mstn.ci-narrow``, the same code at a fraction of its width (the ci engine guard).
"""

from dataclasses import dataclass

from bench.registry import Variant, option, register
from reproductions.mstn.model import MSTN
from reproductions.mstn.recipe import recipe

_FIT = "spec §1.3: calibrated to Table II's 1.68M (1,671,709, -0.5%)"


@dataclass(frozen=True)
class MSTNConfig:
    width: int = option(64, _FIT)
    growth: int = option(48, _FIT)
    dense_layers: int = option(5, _FIT)
    blocks: int = option(4, _FIT)
    reduction: int = option(16, "inf: RCAN's channel-attention reduction")
    stages: int = option(3, "paper: T = 3 shared stages")
    heads: int = option(4, "inf: the TFM's attention heads")
    ffn_expansion: int = option(2, "inf")
    attention: str = option("channel", "spec §1.6 #4: channel attention in the TFM ('window': spatial windows)")
    attention_window: int = option(8, "inf: used by attention='window'")
    outputs: str = option("one-model", "spec §1.2 reading A: one model, x1/x2/x4 heads, trained at x4")
    loss_weighting: str = option("fixed", "inf: fixed omegas; learnable ones collapse (loss.py)")
    head_init: str = option("zero", "inf: heads start at the bilinear image")


VARIANTS = {
    # the T sweep [spec §1.6 #3]; the weights are shared, the size is the same
    **{f"stages-{t}": Variant({"stages": t}, f"T = {t} stages", recipe={"stages": t}) for t in (1, 2, 4)},
    "tfm-window-8": Variant({"attention": "window"}, "spatial window attention in the TFM [spec §1.6 #4]"),
    "per-scale": Variant({"outputs": "per-scale"}, "reading B: one model per scale [spec §1.2]"),
    "uncertainty-loss": Variant({"loss_weighting": "uncertainty"}, "learnable omegas [spec §1.6 #5]"),
    "ci-narrow": Variant(dict(width=16, growth=8, dense_layers=2, blocks=1, stages=2, heads=2),
                         "the registered code at a fraction of its width and depth: the ci engine guard, no result",
                         recipe={"stages": 2}),
}


@register("mstn", paper="MSTN (venue not stated)", scales=(2, 4), config=MSTNConfig, variants=VARIANTS,
          recipe=lambda scale, **rows: recipe(**rows),
          description="MSTN (unofficial reconstruction): 3 shared stages of RDB+CCA and a TFM on a bilinear x4 "
                      "grid, x1/x2/x4 heads; one model trained at x4 serves x2 and x4")
def mstn(scale: int, **config) -> MSTN:
    return MSTN(scale, **config)
