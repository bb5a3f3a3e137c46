"""MSTN: multi-scale multi-stage SR with a Transformer feature-sharing module (seed paper 000).

Unofficial reconstruction (no code, and its base network C3Net could not be identified): see
``model.py`` for the design and the source of every choice. One registered model, ``mstn``, trained
once at x4; the same weights serve x2 (``scale=2`` selects its x2 head), see ``model.py``. The paper
has no ablation table: ``VARIANTS`` are the spec's alternative readings (``shared/specs/mstn_mesr_amms.md``
§1.6), none with a reported twin.
"""

from bench.registry import register
from reproductions.mstn.model import MSTN
from reproductions.mstn.recipe import recipe

PAPER_TITLES = {"mstn": "MSTN: multi-scale multi-stage SR with a Transformer feature-sharing module (seed 000)"}

# Width/depth calibrated to Table II's 1.68M [spec §1.3]: C 64, growth 48, 5 dense layers, 4 RDBs give
# 1,671,709 (-0.5 %); per RDB 9 G sum_i (C + i G) + (C + L G) C + CCA = 365,940, the rest 208,949.
_OPTIONS = dict(width=64, growth=48, dense_layers=5, blocks=4, reduction=16, stages=3, heads=4, ffn_expansion=2,
                attention="channel", attention_window=8, outputs="one-model", loss_weighting="fixed",
                head_init="zero")

VARIANTS: dict[str, dict] = {
    "stages-1": {"stages": 1},  # the T sweep [spec §1.6 #3]; the weights are shared, the size is the same
    "stages-2": {"stages": 2},
    "stages-4": {"stages": 4},
    "tfm-window-8": {"attention": "window"},  # spatial window attention in the TFM [spec §1.6 #4]
    "per-scale": {"outputs": "per-scale"},  # reading B: one model per scale [spec §1.2]
    "uncertainty-loss": {"loss_weighting": "uncertainty"},  # learnable omegas [spec §1.6 #5]
}

# Reported numbers no design reaches, and why (shown in the report beside the cell).
KNOWN_DIFFERENCES = {
    ("mstn", "mstn", "", "2", "ssim", "Set5"): (
        "Table I prints 0.9610 and Table II 0.9611 for the same model, set and scale; one "
        "measurement can match at most one of them (treat +-0.0001 as a tie) [spec \u00a71.6 #7]"),
}


@register("mstn", paper="MSTN (seed paper 000)", scales=(2, 4), **_OPTIONS,
          recipe=lambda scale: recipe(),
          description="MSTN (unofficial reconstruction): 3 shared stages of RDB+CCA and a TFM on a bilinear x4 "
                      "grid, x1/x2/x4 heads; one model trained at x4 serves x2 and x4")
def mstn(scale: int, **options) -> MSTN:
    return MSTN(scale, **options)
