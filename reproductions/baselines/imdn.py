"""IMDN: information multi-distillation network (Hui et al., ACM MM 2019).

Built to match the authors' public code (Zheng222/IMDN, ``model/architecture.py`` class ``IMDN`` and
``model/block.py``) so their released checkpoints load strictly: 64 features, 6 IMDBs with distillation
rate 1/4, LeakyReLU(0.05), contrast-aware channel attention, one 3x3 conv + pixel shuffle upsampler.
Input and output are RGB in [0, 1]. Module names follow the release; ``remap_official`` handles the
few that differ.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from bench.registry import register

__all__ = ["IMDN", "IMDBlock", "ContrastChannelAttention", "remap_official"]

NEG_SLOPE = 0.05


def conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """A biased, stride-1 conv that keeps the spatial size."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class ContrastChannelAttention(nn.Module):
    """CCA layer: channel weights from each channel's contrast (std + mean over the plane)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()  # population std, as released
        return x * self.conv_du(std + mean)


class IMDBlock(nn.Module):
    """Information multi-distillation block: three 3x3 steps each keep ``distilled`` channels aside and
    pass the rest on; a fourth step yields the last ``distilled``; the concat goes through CCA and a
    1x1 fusion conv, plus the block input."""

    def __init__(self, channels: int, distillation_rate: float = 0.25):
        super().__init__()
        self.distilled = int(channels * distillation_rate)
        self.remaining = channels - self.distilled
        self.c1 = conv(channels, channels, 3)
        self.c2 = conv(self.remaining, channels, 3)
        self.c3 = conv(self.remaining, channels, 3)
        self.c4 = conv(self.remaining, self.distilled, 3)
        self.act = nn.LeakyReLU(NEG_SLOPE, inplace=True)
        self.c5 = conv(4 * self.distilled, channels, 1)
        self.cca = ContrastChannelAttention(4 * self.distilled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = []
        out = x
        for step in (self.c1, self.c2, self.c3):
            distilled, out = torch.split(self.act(step(out)), (self.distilled, self.remaining), dim=1)
            kept.append(distilled)
        kept.append(self.c4(out))
        return self.c5(self.cca(torch.cat(kept, dim=1))) + x


class IMDN(nn.Module):
    def __init__(self, scale: int, in_channels: int = 3, out_channels: int = 3, nf: int = 64, num_blocks: int = 6):
        super().__init__()
        self.scale = scale
        self.fea_conv = conv(in_channels, nf, 3)
        self.blocks = nn.ModuleList(IMDBlock(nf) for _ in range(num_blocks))
        self.c = nn.Sequential(conv(nf * num_blocks, nf, 1), nn.LeakyReLU(NEG_SLOPE, inplace=True))
        self.lr_conv = conv(nf, nf, 3)
        self.upsampler = nn.Sequential(conv(nf, out_channels * scale**2, 3), nn.PixelShuffle(scale))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.fea_conv(lr)
        outputs = []
        out = features
        for block in self.blocks:
            out = block(out)
            outputs.append(out)
        fused = self.lr_conv(self.c(torch.cat(outputs, dim=1))) + features
        return self.upsampler(fused)


def remap_official(state: dict[str, Any]) -> dict[str, Any]:
    """The authors' keys -> ours: drop DataParallel's ``module.``; ``IMDB<n>`` -> ``blocks.<n-1>``;
    ``LR_conv`` -> ``lr_conv``. Our own keys pass through unchanged."""
    remapped = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        key = re.sub(r"^IMDB(\d+)\.", lambda m: f"blocks.{int(m.group(1)) - 1}.", key)
        key = re.sub(r"^LR_conv\.", "lr_conv.", key)
        remapped[key] = value
    return remapped


@register("imdn", paper="IMDN (ACM MM 2019)", scales=(2, 3, 4), remap_weights=remap_official)
def imdn(scale: int) -> IMDN:
    """IMDN, the authors' configuration (nf=64, 6 IMDBs, ~0.7M params)"""
    return IMDN(scale)
