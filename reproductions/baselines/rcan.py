"""RCAN: residual channel attention networks (Zhang et al., ECCV 2018), built for its size (no weights here).

From the paper and the authors' code (yulunzhang/RCAN, ``RCAN_TrainCode/code/model/rcan.py``), with
their module names:

* residual in residual: 10 residual groups, each 20 residual channel attention blocks (RCAB) and a closing
  3x3 conv with a skip over the group; a body-closing conv and a long skip over the whole body;
* RCAB: conv3x3, ReLU, conv3x3, channel attention, + input (no residual scaling: the code stores
  ``res_scale`` but never applies it);
* channel attention: global average pool, 1x1 conv to C/16 (bias), ReLU, 1x1 conv back to C (bias), sigmoid,
  and the features scaled by it;
* EDSR's head conv, pixel-shuffle upsampler (no activation) and output conv, and its frozen DIV2K mean shift.

Size: 15,592,355 trainable parameters at x4, 15,592,379 with the two frozen 1x1 mean-shift convs (MSRA-SR's
Table 3: 15.6M, either way). MSRA-SR's 832G Mult-Adds at HR 1024x720 are RCAN's count at the LR its own
Transformer is counted at, (HR // s // 16 + 1) * 16 per side (272x192 at x4): ``lr_pad="swinir-16"``
(see tests/test_compared_sizes.py); at the unpadded LR 256x180 it is 734G.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.registry import option, register
from reproductions.baselines.edsr import MeanShift, Upsampler, conv3x3

__all__ = ["RCAN"]


class CALayer(nn.Module):
    """Channel attention: x * sigmoid(conv1(relu(conv1(avgpool(x)))))."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.avg_pool(x))


class RCAB(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), nn.ReLU(inplace=True), conv3x3(channels, channels),
                                  CALayer(channels, reduction))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class ResidualGroup(nn.Module):
    def __init__(self, channels: int, reduction: int, num_blocks: int):
        super().__init__()
        self.body = nn.Sequential(*(RCAB(channels, reduction) for _ in range(num_blocks)), conv3x3(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class RCAN(nn.Module):
    """RGB in [0, 1] in and out (the authors' code runs at rgb_range 255; the mean shift scales with it)."""

    def __init__(self, scale: int, num_groups: int = 10, num_blocks: int = 20, channels: int = 64,
                 reduction: int = 16):
        super().__init__()
        self.scale = scale
        self.sub_mean = MeanShift(1.0, sign=-1)
        self.add_mean = MeanShift(1.0, sign=1)
        self.head = nn.Sequential(conv3x3(3, channels))
        self.body = nn.Sequential(*(ResidualGroup(channels, reduction, num_blocks) for _ in range(num_groups)),
                                  conv3x3(channels, channels))
        self.tail = nn.Sequential(Upsampler(scale, channels), conv3x3(channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(x))
        x = self.body(x) + x
        return self.add_mean(self.tail(x))


@dataclass(frozen=True)
class RCANConfig:
    num_groups: int = option(10, "paper / code: --n_resgroups 10")
    num_blocks: int = option(20, "paper / code: --n_resblocks 20 RCABs per group")
    channels: int = option(64, "paper / code: --n_feats 64")
    reduction: int = option(16, "paper / code: --reduction 16 in channel attention")


@register("rcan", paper="RCAN (ECCV 2018)", scales=(2, 3, 4), config=RCANConfig, params_count="params_trainable",
          description="RCAN, the authors' configuration (10 residual groups x 20 RCABs, 64 features); size only")
def rcan(scale: int, num_groups: int = 10, num_blocks: int = 20, channels: int = 64, reduction: int = 16) -> RCAN:
    return RCAN(scale, num_groups, num_blocks, channels, reduction)
