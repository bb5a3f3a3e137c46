"""LTE: local texture estimator (Lee & Jin, CVPR 2022), on LIIF's encoders.

Follows jaewon-lee-b/lte (``models/lte.py``; ``configs/train-div2k/train_{edsr-baseline,rdn}-lte.yaml``). From
the encoder's features two 3x3 convs estimate, per latent code, 256 amplitudes (``coef``) and 128 2-D
frequencies (``freq``); a bias-free linear layer maps the query's cell to 128 phases (``phase``). For a query at
relative coordinate d (in LR pixels) the MLP (three hidden layers of 256, ReLU) reads
``coef * [cos(pi (F d + phase)), sin(pi (F d + phase))]``. As in LIIF, the four nearest codes are blended by
area; unlike LIIF, the bilinear upsampling of the (normalised) input is added to the result. LTE's test
script decodes scales beyond the training range (x4) with the cell of x4 (``scale_max``); ``forward`` does too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench import registry
from bench.registry import option, register
from reproductions.baselines.liif import MLP, ImplicitSR, make_coord, sample_nearest, unwrap_liif_checkpoint

__all__ = ["LTE", "bilinear_skip"]


@dataclass(frozen=True)
class LTEConfig:
    hidden_dim: int = option(256, "LTE configs: hidden_dim 256 (coef and freq channels)")
    mlp_hidden: tuple[int, ...] = option((256, 256, 256), "LTE configs: imnet hidden_list [256, 256, 256]")
    scale_max: float = option(4, "LTE test.py: beyond the training range the cell is clipped to x4's")


def bilinear_skip(image: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
    """(B, Q, C) bilinear samples of ``image`` at ``coord`` (B, Q, 2), the border repeated (LTE and CLIT)."""
    return F.grid_sample(image, coord.flip(-1).unsqueeze(1), mode="bilinear", padding_mode="border",
                         align_corners=False)[:, :, 0].transpose(1, 2)


class LTE(ImplicitSR):
    def __init__(self, encoder: nn.Module, scale: float, hidden_dim: int = 256,
                 mlp_hidden: tuple[int, ...] = (256, 256, 256), scale_max: float = 4, chunk: int = 30000):
        super().__init__()
        self.scale = scale
        self.scale_max = scale_max
        self.chunk = chunk
        self.encoder = encoder
        self.coef = nn.Conv2d(encoder.out_dim, hidden_dim, 3, padding=1)
        self.freq = nn.Conv2d(encoder.out_dim, hidden_dim, 3, padding=1)
        self.phase = nn.Linear(2, hidden_dim // 2, bias=False)
        self.imnet = MLP(hidden_dim, 3, mlp_hidden)

    def test_cell(self, cell: torch.Tensor) -> torch.Tensor:
        # LTE's test.py: cell * max(scale / scale_max, 1), i.e. x6 and up decode with the cell of x(scale_max)
        return cell * max(self.scale / self.scale_max, 1)

    def features(self, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (lr - 0.5) / 0.5
        feat = self.encoder(x)
        return x, self.coef(feat), self.freq(feat)

    def decode(self, state: tuple[torch.Tensor, torch.Tensor, torch.Tensor], coord: torch.Tensor,
               cell: torch.Tensor) -> torch.Tensor:
        x, coef, freq = state
        b, _, h, w = coef.shape
        feat_coord = make_coord((h, w), coef.device, coef.dtype).permute(2, 0, 1).expand(b, 2, h, w)
        size = coord.new_tensor([h, w])
        eps = 1e-6

        preds, areas = [], []
        for dy, dx in [(-1, -1), (-1, 1), (1, -1), (1, 1)]:  # the four nearest codes, as LIIF
            shifted = (coord + coord.new_tensor([dy / h + eps, dx / w + eps])).clamp(-1 + 1e-6, 1 - 1e-6)
            rel_coord = (coord - sample_nearest(feat_coord, shifted)) * size
            # channels (2k, 2k + 1) of freq are the k-th frequency's (row, column) components
            q_freq = sample_nearest(freq, shifted)
            q_freq = (q_freq.view(*q_freq.shape[:-1], -1, 2) * rel_coord.unsqueeze(-2)).sum(dim=-1)
            q_freq = q_freq + self.phase(cell * size)
            basis = torch.cat([torch.cos(math.pi * q_freq), torch.sin(math.pi * q_freq)], dim=-1)
            preds.append(self.imnet(sample_nearest(coef, shifted) * basis))
            areas.append((rel_coord[..., 0] * rel_coord[..., 1]).abs() + 1e-9)

        total = torch.stack(areas).sum(dim=0)
        areas.reverse()  # each code is weighted by the area of the rectangle diagonally opposite it
        blended = sum(pred * (area / total).unsqueeze(-1) for pred, area in zip(preds, areas, strict=True))
        return blended + bilinear_skip(x, coord)


@register("lte-edsr-baseline", paper="LTE (CVPR 2022)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=LTEConfig)
def lte_edsr_baseline(scale: float, **config) -> LTE:
    """LTE on LIIF's EDSR-baseline encoder (~1.7M params)"""
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    return LTE(encoder, scale, **config)


@register("lte-rdn", paper="LTE (CVPR 2022)", scales=None, remap_weights=unwrap_liif_checkpoint, config=LTEConfig)
def lte_rdn(scale: float, **config) -> LTE:
    """LTE on LIIF's RDN encoder (~22.5M params)"""
    return LTE(registry.make("rdn", scale=2, no_upsampling=True), scale, **config)
