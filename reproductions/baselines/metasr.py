"""Meta-SR: the meta-upscale module (Hu et al., CVPR 2019) on LIIF's encoders, as LIIF (CVPR 2021) and LTE
(CVPR 2022) rebuilt and compared it, and MSIT (arXiv 2024) copied their numbers.

Follows yinboc/liif ``models/misc.py`` (class ``MetaSR``; the same file in jaewon-lee-b/lte). The weight
prediction network maps, for each HR pixel, its offset inside the LR pixel it falls in and the inverse scale,
(offset_row, offset_col, 1 / scale), through one hidden layer of 256 to a 3x3 x 64 -> 3 filter, which is applied
to the 3x3 neighbourhood of that LR pixel's latent code (a per-pixel matrix product, no bias). Meta-SR's own
release is the same module on RDN's features (FC 3 -> 256 -> k*k*C_in*C_out); the counts MSIT prints are the
LIIF code's (``params`` below), the encoders without their upsamplers.

Coordinates follow LIIF (see ``liif.py``): an HR pixel is found by its top-left corner, ``coord - cell / 2``,
and the offset is measured from the top-left corner of the LR pixel that contains it, in LR pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench import registry
from bench.registry import option, register
from reproductions.baselines.liif import MLP, ImplicitSR, make_coord, sample_nearest, unwrap_liif_checkpoint

__all__ = ["MetaSR"]


@dataclass(frozen=True)
class MetaSRConfig:
    hidden: int = option(256, "Meta-SR paper and LIIF's models/misc.py: one hidden layer of 256")


class MetaSR(ImplicitSR):
    def __init__(self, encoder: nn.Module, scale: float, hidden: int = 256, chunk: int = 30000):
        super().__init__()
        self.scale = scale
        self.chunk = chunk
        self.encoder = encoder
        # one 3x3 x C -> 3 filter per query, flattened (C * 9 inputs) x (3 outputs)
        self.imnet = MLP(3, encoder.out_dim * 9 * 3, (hidden,))

    def decode(self, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        b, _, h, w = feat.shape
        feat = F.unfold(feat, 3, padding=1).view(b, -1, h, w)
        size = coord.new_tensor([h, w])
        corners = make_coord((h, w), feat.device, feat.dtype) - 1 / size  # top-left corner of each LR pixel
        corners = corners.permute(2, 0, 1).expand(b, 2, h, w)

        top_left = coord - cell / 2
        inside = (top_left + 1e-6).clamp(-1 + 1e-6, 1 - 1e-6)  # eps: a corner on an LR border belongs right/below
        offset = (top_left - sample_nearest(corners, inside)) * size / 2  # in LR pixels, in [0, 1)
        inverse_scale = cell[..., :1] * h / 2  # the row cell only, as the release
        weights = self.imnet(torch.cat([offset, inverse_scale], dim=-1))
        weights = weights.view(*coord.shape[:2], feat.shape[1], 3)
        return torch.matmul(sample_nearest(feat, inside).unsqueeze(-2), weights).squeeze(-2)


@register("metasr-edsr-baseline", paper="Meta-SR (CVPR 2019)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=MetaSRConfig)
def metasr_edsr_baseline(scale: float, hidden: int = 256) -> MetaSR:
    """Meta-SR's meta-upscale on LIIF's EDSR-baseline encoder (~1.7M params)"""
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    return MetaSR(encoder, scale, hidden=hidden)


@register("metasr-rdn", paper="Meta-SR (CVPR 2019)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=MetaSRConfig)
def metasr_rdn(scale: float, hidden: int = 256) -> MetaSR:
    """Meta-SR's meta-upscale on LIIF's RDN encoder (~22.4M params)"""
    return MetaSR(registry.make("rdn", scale=2, no_upsampling=True), scale, hidden=hidden)
