"""RDN: residual dense network (Zhang et al., CVPR 2018), also the large encoder of LIIF and MSIT.

Configuration 'B' of the public code (sanghyun-son/EDSR-PyTorch ``src/model/rdn.py``, copied by
yinboc/liif ``models/rdn.py``): G0 = 64 features, D = 16 residual dense blocks of C = 8 densely
connected conv-ReLU layers with growth G = 64. Module names (``SFENet1``, ``RDBs``, ``LFF``, ``GFF``,
``UPNet``) are the release's, so its state_dicts load unchanged. No mean shift; input and output
are RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.registry import option, register

__all__ = ["RDN", "ResidualDenseBlock", "DenseLayer"]


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


class DenseLayer(nn.Module):
    """conv-ReLU whose ``growth`` new channels are appended to its input."""

    def __init__(self, in_channels: int, growth: int):
        super().__init__()
        self.conv = nn.Sequential(conv3x3(in_channels, growth), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(x)], dim=1)


class ResidualDenseBlock(nn.Module):
    """``num_layers`` dense layers, local feature fusion (1x1 back to ``channels``), local residual."""

    def __init__(self, channels: int, growth: int, num_layers: int):
        super().__init__()
        self.convs = nn.Sequential(*(DenseLayer(channels + i * growth, growth) for i in range(num_layers)))
        self.LFF = nn.Conv2d(channels + num_layers * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LFF(self.convs(x)) + x


class RDN(nn.Module):
    def __init__(self, scale: int, channels: int = 64, num_blocks: int = 16, num_layers: int = 8,
                 growth: int = 64, no_upsampling: bool = False):
        super().__init__()
        self.scale = scale
        self.no_upsampling = no_upsampling
        self.SFENet1 = conv3x3(3, channels)
        self.SFENet2 = conv3x3(channels, channels)
        self.RDBs = nn.ModuleList(ResidualDenseBlock(channels, growth, num_layers) for _ in range(num_blocks))
        # Global feature fusion over the outputs of every block.
        self.GFF = nn.Sequential(nn.Conv2d(num_blocks * channels, channels, 1), conv3x3(channels, channels))
        if no_upsampling:
            self.out_dim = channels
            return
        self.out_dim = 3
        if scale in (2, 3):
            self.UPNet = nn.Sequential(conv3x3(channels, growth * scale * scale), nn.PixelShuffle(scale),
                                       conv3x3(growth, 3))
        elif scale == 4:
            self.UPNet = nn.Sequential(conv3x3(channels, growth * 4), nn.PixelShuffle(2),
                                       conv3x3(growth, growth * 4), nn.PixelShuffle(2),
                                       conv3x3(growth, 3))
        else:
            raise ValueError(f"RDN's upsampler supports x2, x3 and x4, not x{scale}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.SFENet1(x)
        x = self.SFENet2(shallow)
        block_outputs = []
        for block in self.RDBs:
            x = block(x)
            block_outputs.append(x)
        x = self.GFF(torch.cat(block_outputs, dim=1)) + shallow
        return x if self.no_upsampling else self.UPNet(x)


@dataclass(frozen=True)
class RDNConfig:
    no_upsampling: bool = option(False, "LIIF's encoder: the features, no upsampler")


@register("rdn", paper="RDN (CVPR 2018)", scales=(2, 3, 4), config=RDNConfig)
def rdn(scale: int, no_upsampling: bool = False) -> RDN:
    """RDN, configuration B: 16 blocks x 8 layers, 64 features, growth 64 (~22M params)

    ``no_upsampling`` drops the upsampler and returns the 64-channel features (the LIIF encoder).
    """
    return RDN(scale, no_upsampling=no_upsampling)
